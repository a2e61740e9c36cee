// 2-D max pooling's forward over the vector traits of simd.h, V::kLanes channels per register:
// written once, instantiated by pool2d_avx2.cc, pool2d_avx512.cc and pool2d_neon.cc. The
// window's positions are taken in row-major order with pool1d_simd.h's select (the first
// maximum wins, and the first NaN), so the results and argmax are those of pool2d.cc's loop bit
// for bit. Internal linkage, as simd.h explains.
#pragma once

#include <cstdint>

#include "pool1d_simd.h"
#include "pool2d.h"
#include "simd.h"

namespace neurone {
namespace {

// Each output pixel's channels in registers across its whole window, stored once. A ragged last
// vector of channels (all of them for LeNet's 6 on AVX2) is stored whole when the lanes past it
// stay inside this sample's outputs: they land on the next pixel's first channels, which are
// written after it (a masked store costs an AVX2 core on AMD a dozen cycles). The sample's
// last pixel stores masked, so nothing is written past the sample another thread may own.
template <typename V>
void maxForward2dSampleV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const int64_t sampleEnd = (b + 1) * oh * ow * chan;
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      const int64_t out = ((b * oh + oy) * ow + ox) * chan;
      const int64_t first = ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      for (int64_t c = 0; c < chan; c += V::kLanes) {
        const bool full = chan - c >= V::kLanes;
        const auto m = V::firstLanes(chan - c);
        const float* x0 = x + first + c;
        auto best = full ? V::load(x0) : V::loadFirst(m, x0);
        auto offset = V::set1i(0);
        for (int64_t ky = 0; ky < s.kHeight; ky++)
          for (int64_t kx = ky == 0 ? 1 : 0; kx < s.kWidth; kx++) {
            const int64_t d = (ky * s.width + kx) * chan;
            const auto v = full ? V::load(x0 + d) : V::loadFirst(m, x0 + d);
            const auto take = maxTakes<V>(v, best);
            best = V::select(take, v, best);
            offset = V::selecti(take, V::set1i(static_cast<int32_t>(d)), offset);
          }
        const auto at = V::addi(offset, V::addi(V::set1i(static_cast<int32_t>(first + c)), V::iota()));
        if (full || out + c + V::kLanes <= sampleEnd) {
          V::store(y + out + c, best);
          V::storei(argmax + out + c, at);
        } else {
          V::storeFirst(y + out + c, m, best);
          V::storeFirsti(argmax + out + c, m, at);
        }
      }
    }
}

}  // namespace
}  // namespace neurone
