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
void conv1dForward(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y,
                   KernelPath path, ThreadPool* pool);
// Inference: y = maxPool(conv(x, w) + bias) over windows of poolSize conv positions moved by
// poolStride, y (batch, pooledLength, chanOut) overwritten, with no argmax and without storing
// the convolution: each thread convolves one sample into a scratch block that stays in cache and
// pools it from there. The values of conv1dForward then maxPool1dForward (the same GEMM, the same
// pooling loop; a chunk of a few positions may take the GEMM's unpacked path and differ in the
// last bit), without a round trip of the whole activation through memory.
void conv1dMaxPoolForward(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x, const float* w,
                          const float* bias, float* y, KernelPath path, ThreadPool* pool);
// dx = dL/dx, overwritten (positions no window reaches get 0).
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* w, float* dx,
                         KernelPath path, ThreadPool* pool);
// dw += dL/dw, summed over the batch.
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dw,
                          KernelPath path, ThreadPool* pool);

// Plain loops, the oracle for the tests.
void conv1dForwardReference(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y);
void conv1dBackwardInputReference(const Conv1dShape& s, const float* dy, const float* w, float* dx);
void conv1dBackwardWeightReference(const Conv1dShape& s, const float* x, const float* dy, float* dw);

}  // namespace neurone
