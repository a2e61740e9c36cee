// Max and average pooling's backward loops (2-D), in plain C++, that add each window's gradient
// over its pixels, and the select max pooling's side-by-side loop shares: the scalar path's, and
// every path's for fewer channels than a vector holds (LeNet's 6), where pool2d_simd.h's gathers
// along whole vectors took longer than these loops, vectorised by the compiler for the path's
// instructions. Their bits are the ones pool2d_simd.h's gathers keep.
//
// `static` (internal linkage): each translation unit keeps its own copy, so a SIMD copy can never
// be linked into baseline code.
#pragma once

#include <cstdint>
#include <cstring>

#include "pool2d.h"

namespace neurone {
namespace pool {

// Pixel base + c's share of the gradients g[c] whose argmax entry at[c] names it: g[c] where it
// does, +0 where not, written over d (Accumulate false: side-by-side windows) or added to it;
// returns how many entries named their pixel. Selected by a bit mask, not a branch: a quarter of
// the pixels of a 2×2 window win, in no pattern a predictor can learn, and a branch here ran
// twice as slow.
template <bool Accumulate>
static inline int32_t takeWinners(const int32_t* __restrict at, const float* __restrict g, float* __restrict d,
                                  int32_t base, int64_t chan) {
  int32_t hits = 0;
  for (int64_t c = 0; c < chan; c++) {
    const uint32_t mask = 0u - static_cast<uint32_t>(at[c] == base + static_cast<int32_t>(c));
    uint32_t bits;
    std::memcpy(&bits, g + c, sizeof bits);
    bits &= mask;
    float taken;
    std::memcpy(&taken, &bits, sizeof taken);
    if constexpr (Accumulate)
      d[c] += taken;
    else
      d[c] = taken;
    hits += static_cast<int32_t>(mask & 1u);
  }
  return hits;
}

// Max pooling's backward for any stride but the window's (overlapping windows, or gaps between
// them): the scalar path's loop (pool2d_simd.h's gather keeps its bits). Sample b's dx
// cleared, then, window by window in order, the window's gradient added at each of its pixels
// where the window's argmax is that pixel and +0 elsewhere (which leaves every sum as it was: none
// is −0, each starts at +0), by a bit mask as above. An entry is compared with the window's pixels,
// never used as an address. Returns how many entries matched: each valid entry matches once.
static inline int64_t maxBackwardOverlappingLoop(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                                 float* dx, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan, row = s.width * chan;
  std::memset(dx + b * s.height * row, 0, s.height * row * sizeof(float));
  int64_t matches = 0;
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      const int64_t out = ((b * oh + oy) * ow + ox) * chan;
      const int32_t* __restrict at = argmax + out;
      const float* __restrict g = dy + out;
      const int64_t first = ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      for (int64_t ky = 0; ky < s.kHeight; ky++)
        for (int64_t kx = 0; kx < s.kWidth; kx++) {
          const int64_t index = first + (ky * s.width + kx) * chan;
          float* __restrict d = dx + index;
          const int32_t base = static_cast<int32_t>(index);
          matches += takeWinners<true>(at, g, d, base, chan);
        }
    }
  return matches;
}

// Sample b of the backward pass: dx cleared, then each output's gradient times 1 / (kHeight · kWidth)
// added over its window, the windows in order (overlapping ones accumulate).
static inline void avgBackwardSampleLoop(const Pool2dShape& s, const float* dy, float* dx, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const float scale = 1.0f / static_cast<float>(s.kHeight * s.kWidth);
  float* dxb = dx + b * s.height * s.width * chan;
  std::memset(dxb, 0, s.height * s.width * chan * sizeof(float));
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      const float* __restrict dyo = dy + ((b * oh + oy) * ow + ox) * chan;
      for (int64_t ky = 0; ky < s.kHeight; ky++)
        for (int64_t kx = 0; kx < s.kWidth; kx++) {
          float* __restrict d = dxb + ((oy * s.strideHeight + ky) * s.width + ox * s.strideWidth + kx) * chan;
          for (int64_t c = 0; c < chan; c++) d[c] += dyo[c] * scale;
        }
    }
}

}  // namespace pool
}  // namespace neurone
