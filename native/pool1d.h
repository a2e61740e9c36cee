// 1-D max and average pooling on channels-last tensors.
//
//   x (batch, length, chan)  ->  y (batch, outLength, chan),  outLength = (length - kSize) / stride + 1
//
// Max pooling records, for every output, the flat index into x of the window's
// maximum (the first on ties; NaN wins so it is not hidden). The backward pass
// routes each output gradient to that index only, adding where windows overlap.
// These functions trust their arguments: the binding validates them.
#pragma once

#include <cstdint>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

struct Pool1dShape {
  int64_t batch = 0, length = 0, chan = 0, kSize = 0, stride = 1;
  int64_t outLength() const { return length < kSize ? 0 : (length - kSize) / stride + 1; }
};

void maxPool1dForward(const Pool1dShape& s, const float* x, float* y, int32_t* argmax, KernelPath path,
                      ThreadPool* pool);
// dx is overwritten; argmax is only read and compared, never used as an address, so any values are
// safe. An entry outside its window (whatever it holds) is not routed anywhere, and the return
// value, the number of entries that were, is then below batch*outLength*chan (the binding then
// clears dx and throws).
int64_t maxPool1dBackward(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx, KernelPath path,
                          ThreadPool* pool);
void avgPool1dForward(const Pool1dShape& s, const float* x, float* y, ThreadPool* pool);
void avgPool1dBackward(const Pool1dShape& s, const float* dy, float* dx, ThreadPool* pool);

// Plain loops, the oracle for the tests.
void maxPool1dForwardReference(const Pool1dShape& s, const float* x, float* y, int32_t* argmax);
// The scatter formulation: dx = 0, then dx[argmax[i]] += dy[i].
void maxPool1dBackwardReference(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx);
void avgPool1dForwardReference(const Pool1dShape& s, const float* x, float* y);

// The per-sample max-pooling loops of pool1d_loops.h, one table per KernelPath
// (pool1d_simd.h instantiated by pool1d_avx2.cc, pool1d_avx512.cc and pool1d_neon.cc; the scalar
// one in pool1d.cc).
// maxBackwardSample writes sample b's gradient to dxSample (length * chan floats: dx of the
// sample, or scratch of a fused kernel); argmax entries stay flat indices into the whole batch.
struct PoolKernels {
  void (*maxForwardSample)(const Pool1dShape& s, const float* x, float* y, int32_t* argmax, int64_t b);
  int64_t (*maxBackwardSample)(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dxSample,
                               int64_t b);
};
const PoolKernels& poolKernelsAvx2();
const PoolKernels& poolKernelsNeon();
const PoolKernels& poolKernelsAvx512();
// The table for `path`, by the fallback rule of cpu.h (dispatchPath); for fused kernels.
const PoolKernels& poolKernelsFor(KernelPath path);

}  // namespace neurone
