// 2-D convolution on channels-last images, forward and backward.
//
//   x (batch, height, width, chanIn)        w (kHeight, kWidth, chanIn, chanOut)      bias (chanOut)
//   y (batch, outHeight, outWidth, chanOut) outHeight = (height + 2·padHeight − kHeight) / strideHeight + 1
//
// Cross-correlation with zero padding, as PyTorch's conv2d. These functions trust their
// arguments: the binding validates them.
#pragma once

#include <cstdint>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

struct Conv2dShape {
  int64_t batch = 0, height = 0, width = 0, chanIn = 0, chanOut = 0;
  int64_t kHeight = 1, kWidth = 1, strideHeight = 1, strideWidth = 1, padHeight = 0, padWidth = 0;
  int64_t outHeight() const {
    const int64_t padded = height + 2 * padHeight;
    return padded < kHeight ? 0 : (padded - kHeight) / strideHeight + 1;
  }
  int64_t outWidth() const {
    const int64_t padded = width + 2 * padWidth;
    return padded < kWidth ? 0 : (padded - kWidth) / strideWidth + 1;
  }
  // The depth of the GEMMs: one window's values, kHeight · kWidth · chanIn.
  int64_t windowSize() const { return kHeight * kWidth * chanIn; }
};

// y = conv(x, w) + bias (bias may be null). y is overwritten.
void conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool);
// dx = dL/dx, overwritten (pixels no window reaches get 0).
void conv2dBackwardInput(const Conv2dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool);
// dw += dL/dw, summed over the batch.
void conv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool);

// Plain loops in double precision, the oracle for the tests.
void conv2dForwardReference(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y);
void conv2dBackwardInputReference(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void conv2dBackwardWeightReference(const Conv2dShape& s, const float* x, const float* dy, float* dw);

}  // namespace neurone
