// AVX2+FMA versions of the exp-based elementwise functions; the same maths as
// elementwise_avx512.cc (see the derivations there) on 8-wide registers. Also
// the loops of elementwise_loops.h (optimiser steps, non-finite scan) compiled
// for AVX2.
// Compiled with -mavx2 -mfma only; reached solely through kernelsAvx2().
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "elementwise.h"
#include "elementwise_loops.h"

namespace neurone {
namespace {

// exp(x) as in elementwise_avx512.cc: 2^n · exp(r) with a degree-6 polynomial for exp(r).
// AVX2 has no vscalefps, so 2^n is applied as two factors 2^(n - h) · 2^h, h = floor(n / 2),
// each a normal float built in the exponent field. n then spans [-150, 128] (the AVX-512 clamp,
// [-104, 88.7]) without leaving the exponent range, the first product is exact, and the second
// rounds once, into the subnormals or to zero: exp(-1e4) is 0 and exp(-100) is 3.7e-44, as on
// the scalar and AVX-512 paths, where a single 2^n factor would stop at the clamp's 1.2e-38.
inline __m256 exp256(__m256 x) {
  // MINPS/MAXPS return their second operand when either is NaN: x goes second so NaN survives.
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_min_ps(_mm256_set1_ps(88.7f), x));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 split in two so n·ln2 is exact to float precision.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);  // NaN gives INT_MIN; p is NaN then and stays NaN
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256i rest = _mm256_sub_epi32(ni, half);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 scaleHalf = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
  const __m256 scaleRest = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, scaleRest), scaleHalf);
}

inline __m256 abs256(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

inline __m256 tanh256(__m256 x) {
  __m256 a = abs256(x);
  __m256 e = exp256(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
  __m256 big = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  __m256 a2 = _mm256_mul_ps(a, a);
  __m256 p = _mm256_set1_ps(-1382.0f / 155925);
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(62.0f / 2835));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-17.0f / 315));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(2.0f / 15));
  p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-1.0f / 3));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, a2), a, a);
  __m256 isSmall = _mm256_cmp_ps(a, _mm256_set1_ps(0.3f), _CMP_LT_OQ);
  __m256 t = _mm256_blendv_ps(big, small, isSmall);
  return _mm256_or_ps(t, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
}

inline __m256 sigmoid256(__m256 x) {
  __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), abs256(x)));
  __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(r, _mm256_mul_ps(r, e), negative);
}

// Lanes [0, left) of the ragged end: maskload/maskstore keep it in bounds.
inline __m256i tailMask(int64_t left) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lanes);
}

template <__m256 (*F)(__m256)>
void apply(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, F(_mm256_loadu_ps(x + i)));
  if (i < n) {
    __m256i m = tailMask(n - i);
    _mm256_maskstore_ps(y + i, m, F(_mm256_maskload_ps(x + i, m)));
  }
}

void tanhAvx2(const float* x, float* y, int64_t n) { apply<tanh256>(x, y, n); }
void sigmoidAvx2(const float* x, float* y, int64_t n) { apply<sigmoid256>(x, y, n); }

float expShiftSumAvx2(const float* x, float shift, float* y, int64_t n) {
  __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    __m256i m = tailMask(n - i);
    __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), s)), _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(y + i, m, e);
    acc = _mm256_add_ps(acc, e);
  }
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

const elementwise::Kernels kAvx2{tanhAvx2, sigmoidAvx2, expShiftSumAvx2, elementwise::bceTermsScalar,
                                  elementwise::sgdStepLoop, elementwise::adamStepLoop, elementwise::nonFiniteIndexLoop};

}  // namespace

const elementwise::Kernels& elementwise::kernelsAvx2() { return kAvx2; }

}  // namespace neurone
#endif
