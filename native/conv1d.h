// Strided 1-D convolution on channels-last tensors, forward and backward.
//
//   x  (batch, length, chanIn)      w  (kSize, chanIn, chanOut)      bias (chanOut)
//   y  (batch, outLength, chanOut)  outLength = (length - kSize) / stride + 1
//
// These functions trust their arguments: the binding validates them.
#pragma once

#include <cstdint>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

struct Conv1dShape {
  int64_t batch = 0, length = 0, chanIn = 0, chanOut = 0, kSize = 0, stride = 1;
  int64_t outLength() const { return length < kSize ? 0 : (length - kSize) / stride + 1; }
};

// y = conv(x, w) + bias (bias may be null). y is overwritten.
void conv1dForward(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool);
// y = maxPool(conv(x, w) + bias) over windows of poolSize conv positions moved by poolStride,
// y (batch, pooledLength, chanOut) overwritten, without storing the convolution: each thread
// convolves one sample into a scratch block that stays in cache and pools it from there. argmax,
// when not null, receives what maxPool1dForward would record on the convolution's output (flat
// indices into (batch, convLength, chanOut)); inference passes null. The values of conv1dForward
// then maxPool1dForward (the same GEMM, the same pooling loop; a chunk of a few positions may take
// the GEMM's unpacked path and differ in the last bit), without a round trip of the whole
// activation through memory.
void conv1dMaxPoolForward(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x, const float* w,
                          const float* bias, float* y, int32_t* argmax, KernelPath path, ThreadPool* pool);
// Training's backward through the same pair, for a convolution whose input needs no gradient:
// dw += conv1dBackwardWeight(x, maxPool1dBackward(dy, argmax)), with each sample's convolution
// gradient gathered into a scratch block that stays in cache. argmax is checked as
// maxPool1dBackward checks it: returns the number of entries routed, and when that is below
// batch * pooledLength * chanOut (an entry outside its window) dw is left untouched. When dw
// starts at zero the result is bitwise that of the two kernels (same gathers, same GEMMs, same
// order of sums).
int64_t conv1dMaxPoolBackwardWeight(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x,
                                    const float* dy, const int32_t* argmax, float* dw, KernelPath path,
                                    ThreadPool* pool);
// dx = dL/dx, overwritten (positions no window reaches get 0).
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool);
// dw += dL/dw, summed over the batch.
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool);

// On the SIMD paths the joint passes above run small windows (kSize * chanIn <= kDirectMaxDepth)
// as direct loops (conv1d_direct.h) instead of per-sample GEMMs, with the same bits, and so does
// conv1dForward up to the path's convolutionMaxDepth; their arguments and entry points.
constexpr int64_t kDirectMaxDepth = 16;
constexpr int64_t kConvLanes = 16;
struct ConvPoolArgs {
  const Conv1dShape* s;
  int64_t poolSize, poolStride;
  const float* x;
  const float* w;     // forward: the weights lane-blocked, [ceil(chanOut / kConvLanes)][kSize * chanIn][kConvLanes],
                      // zero-padded
  const float* bias;  // forward: may be null
  float* y;           // forward: pooled output
  int32_t* argmax;    // forward: flat indices into the convolution's output, or null
  const float* dy;    // backward: the pooled output's gradient
  const int32_t* argmaxIn;  // backward: what the forward recorded
  int64_t depthBlock;       // backward: sgemmDepthBlock(path, convolution length)
};
struct ConvPoolKernels {
  void (*forwardSample)(const ConvPoolArgs& a, int64_t b);
  // dw = (overwrite ? 0 : dw) + sample b's weight gradient; returns the argmax entries routed.
  int64_t (*weightGradientSample)(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite);
  // The deepest window conv1dForward runs through forwardSample, as a pooling of one position,
  // rather than per-sample GEMMs: past it the taps no longer stay in registers beside the sums.
  int64_t convolutionMaxDepth;
};
const ConvPoolKernels& convPoolKernelsAvx2();
const ConvPoolKernels& convPoolKernelsAvx512();
const ConvPoolKernels& convPoolKernelsNeon();

// Plain loops, the oracle for the tests.
void conv1dForwardReference(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y);
void conv1dBackwardInputReference(const Conv1dShape& s, const float* dy, const float* w, float* dx);
void conv1dBackwardWeightReference(const Conv1dShape& s, const float* x, const float* dy, float* dw);

}  // namespace neurone
