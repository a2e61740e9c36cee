// The lane masks every AVX-512 kernel file needs: all lanes, and the first n for a ragged last
// vector. Included only by the files compiled with -mavx512f (*_avx512.cc).
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
  return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace neurone
