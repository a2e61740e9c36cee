// Nearest-neighbour upsampling of channels-last images, and its gradient:
//
//   x (batch, height, width, chan)  ->  y (batch, height · scaleHeight, width · scaleWidth, chan),
//   y[b, oy, ox, c] = x[b, oy / scaleHeight, ox / scaleWidth, c]
//
// The backward pass sums each pixel's scaleHeight × scaleWidth copies of the gradient in float,
// row by row from zero, the order of the js backend, so both give the same bits. These functions
// trust their shapes: the binding validates them.
#pragma once

#include <cstdint>

#include "threadpool.h"

namespace neurone {

struct Upsample2dShape {
  int64_t batch = 0, height = 0, width = 0, chan = 0, scaleHeight = 1, scaleWidth = 1;
  int64_t outHeight() const { return height * scaleHeight; }
  int64_t outWidth() const { return width * scaleWidth; }
};

void upsample2dForward(const Upsample2dShape& s, const float* x, float* y, ThreadPool* pool);
// dx is overwritten.
void upsample2dBackward(const Upsample2dShape& s, const float* dy, float* dx, ThreadPool* pool);

}  // namespace neurone
