// The lane mask every AVX-512 kernel file needs for a ragged last vector. Included only by the
// files compiled with -mavx512f (*_avx512.cc).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace neurone {

// The first n of 16 lanes (all of them from 16 on; none for n <= 0).
inline __mmask16 firstLanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1u);
}

}  // namespace neurone
