// The lane masks of the AVX-512 GEMM: all lanes, and the first n for a ragged last
// vector. Included only by gemm_avx512.cc (compiled with -mavx512f); the other AVX-512 files
// use the Avx512 traits of simd.h.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace neurone {

// All lanes, for the zero-masking forms of intrinsics: they compile to the same instructions as
// the plain forms, but GCC 12's headers pass an "undefined" vector through the plain ones, which
// then warn about an uninitialised value once inlined.
constexpr __mmask16 kAll16 = 0xffff;
constexpr __mmask8 kAll8 = 0xff;

// The first n of 16 lanes (all of them from 16 on; none for n <= 0).
inline __mmask16 firstLanes(int64_t n) {
  return n >= 16  ? static_cast<__mmask16>(0xffff)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace neurone
