// The strided packing loops every GEMM path falls back on: a panel of A (MR wide) or B (NR wide)
// copied element by element from any row and column strides, zero-padded to the tile. The
// SIMD files handle the common layouts (contiguous rows, transposes) with vector code and send
// everything else here, so the fallback is written once.
//
// Included by the baseline driver and by the files compiled with SIMD flags: everything here
// has internal linkage (an anonymous namespace, as simd.h explains), so no copy compiled for
// one instruction set can be linked into another's caller.
#pragma once

#include <cstdint>
#include <cstring>

namespace neurone {
namespace gemm {
namespace {

// dst[p * MR + i] = A(i, p) = a[i * rs + p * cs] for i < mr, zero for mr <= i < MR.
template <int MR>
void packAStrided(int64_t mr, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  for (int64_t p = 0; p < kc; p++) {
    const float* src = a + p * cs;
    float* d = dst + p * MR;
    int64_t i = 0;
    for (; i < mr; i++) d[i] = src[i * rs];
    for (; i < MR; i++) d[i] = 0.0f;
  }
}

// dst[p * NR + j] = B(p, j) = b[p * rs + j * cs] for j < nr, zero for nr <= j < NR.
template <int NR>
void packBStrided(int64_t kc, int64_t nr, const float* b, int64_t rs, int64_t cs, float* dst) {
  for (int64_t p = 0; p < kc; p++) {
    const float* src = b + p * rs;
    float* d = dst + p * NR;
    int64_t j = 0;
    if (cs == 1) {
      std::memcpy(d, src, static_cast<size_t>(nr) * sizeof(float));
      j = nr;
    } else {
      for (; j < nr; j++) d[j] = src[j * cs];
    }
    for (; j < NR; j++) d[j] = 0.0f;
  }
}

}  // namespace
}  // namespace gemm
}  // namespace neurone
