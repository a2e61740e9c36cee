// Which instruction set the compiler targets in the file being compiled, for the guards of the
// per-path files (*_avx2.cc) and the vector traits of simd.h. Preprocessor only.
//
// NEURONE_TARGET_AVX2: AVX2 with FMA. GCC and Clang define __AVX2__ and __FMA__ under -mavx2
// -mfma; MSVC's /arch:AVX2 defines __AVX2__ alone (its AVX2 includes FMA, and it has no __FMA__),
// where a guard on __FMA__ compiled every AVX2 file empty and the addon failed to link.
#pragma once

#if defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define NEURONE_TARGET_AVX2 1
#endif
