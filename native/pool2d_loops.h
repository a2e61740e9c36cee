// Average pooling's backward loop (2-D), in plain C++: the scalar path's, and every path's for
// fewer channels than a vector holds (LeNet's 6), where pool2d_simd.h's gather along whole vectors
// took longer than this loop, vectorised by the compiler for the path's instructions. Its bits are
// the ones pool2d_simd.h's gather keeps.
//
// `static` (internal linkage): each translation unit keeps its own copy, so a SIMD copy can never
// be linked into baseline code.
#pragma once

#include <cstdint>
#include <cstring>

#include "pool2d.h"

namespace neurone {
namespace pool {

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
