// 2-D max and average pooling on channels-last images.
//
//   x (batch, height, width, chan)  ->  y (batch, outHeight, outWidth, chan),
//   outHeight = (height − kHeight) / strideHeight + 1, likewise outWidth.
//
// Max pooling records, for every output, the flat index into x of the window's maximum (the
// first in row-major window order on ties; NaN wins so it is not hidden), and the backward pass
// routes each output gradient to that index, adding where windows overlap. These functions
// trust their shapes: the binding validates them. argmax in the backward pass may hold anything.
#pragma once

#include <cstdint>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

struct Pool2dShape {
  int64_t batch = 0, height = 0, width = 0, chan = 0, kHeight = 1, kWidth = 1, strideHeight = 1, strideWidth = 1;
  int64_t outHeight() const { return height < kHeight ? 0 : (height - kHeight) / strideHeight + 1; }
  int64_t outWidth() const { return width < kWidth ? 0 : (width - kWidth) / strideWidth + 1; }
};

void maxPool2dForward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, KernelPath path,
                      ThreadPool* pool);
// dx = 0, then dx[argmax[i]] += dy[i] for every entry that lies in its own window; an entry that
// does not (whatever it holds) is never used as an address: the loops compare entries with the
// window's pixels. Returns how many entries were routed; fewer than the outputs means some entry
// lies outside its window (the binding then clears dx and names the first).
int64_t maxPool2dBackward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, KernelPath path,
                          ThreadPool* pool);
// Whether argmax entry i (a flat index into x) lies in output i's window.
bool maxPool2dInWindow(const Pool2dShape& s, int64_t i, int64_t argmax);
void avgPool2dForward(const Pool2dShape& s, const float* x, float* y, KernelPath path, ThreadPool* pool);
void avgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, KernelPath path, ThreadPool* pool);

// Max and average pooling's per-sample loops, per kernel path: pool2d_simd.h's over the vector
// traits on the SIMD paths, the plain loops of pool2d.cc and pool2d_loops.h on the scalar path. The
// same select, sums and products, taken in the same order or merged to the same result
// (pool2d_simd.h), so the same results, argmax and gradients bit for bit on every path. The 2×2
// entries serve 2×2 windows only (the SIMD paths' unrolled forms); the scalar path's are its
// general loops.
struct Pool2dKernels {
  using ForwardSample = void (*)(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b);
  // The backward pass of side-by-side windows (stride = window): sample b's dx written densely;
  // returns how many argmax entries matched their pixel (see maxPool2dBackward in pool2d.cc).
  using BackwardSample = int64_t (*)(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                                     int64_t b);
  ForwardSample maxForwardSample;
  BackwardSample maxBackwardSideBySideSample;
  ForwardSample maxForward2x2Sample;
  BackwardSample maxBackwardSideBySide2x2Sample;
  // Any other stride (overlapping windows, or gaps between them): sample b's dx cleared, then each
  // window's gradient added at its argmax pixel; returns how many entries matched, as above.
  BackwardSample maxBackwardOverlappingSample;
  // Average pooling's per-sample passes: x to y (forward), dy to dx (backward, dx written whole).
  using AvgSample = void (*)(const Pool2dShape& s, const float* in, float* out, int64_t b);
  AvgSample avgForwardSample;
  AvgSample avgBackwardSample;
};
const Pool2dKernels& pool2dKernelsAvx2();
const Pool2dKernels& pool2dKernelsAvx512();
const Pool2dKernels& pool2dKernelsNeon();

// Plain loops, the oracle for the tests.
void maxPool2dForwardReference(const Pool2dShape& s, const float* x, float* y, int32_t* argmax);
void avgPool2dForwardReference(const Pool2dShape& s, const float* x, float* y);

}  // namespace neurone
