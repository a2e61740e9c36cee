// AVX-512 versions of the exp-based elementwise functions, and the loops of
// elementwise_loops.h (optimiser steps, non-finite scan) compiled for AVX-512.
// Compiled with -mavx512f (and friends) only; reached solely through
// kernelsAvx512(), after CPUID said yes. Only intrinsics, functions local to
// this file and the internal-linkage loops are used, so no inline function
// shared with other translation units is emitted with AVX-512 code.
#if defined(__AVX512F__)
#include <immintrin.h>

#include "avx512_lanes.h"
#include "elementwise.h"
#include "elementwise_loops.h"

namespace neurone {
namespace {

// exp(x) = 2^n · exp(r), n = round(x / ln 2), |r| <= ln2 / 2; exp(r) by a
// degree-6 Taylor polynomial (truncation error < 2e-8 relative on that range),
// 2^n applied by vscalefps, which also handles the under/overflow ends.
inline __m512 exp512(__m512 x) {
  // MINPS/MAXPS return their second operand when either is NaN: x goes second so NaN survives.
  x = _mm512_maskz_max_ps(kAll16, _mm512_set1_ps(-104.0f), _mm512_maskz_min_ps(kAll16, _mm512_set1_ps(88.7f), x));
  __m512 n = _mm512_maskz_roundscale_ps(kAll16, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT);
  // ln 2 split in two so n·ln2 is exact to float precision.
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(kAll16, p, n);
}

// The sum of the 16 lanes in the order GCC's _mm512_reduce_add_ps uses (halves, quarters, then
// pairs), so the bits are those of earlier builds, written out because that expansion warns
// (see kAll16 in avx512_lanes.h) and other compilers need not share its order.
inline float sumLanes(__m512 v) {
  alignas(64) float lane[16];
  _mm512_store_ps(lane, v);
  float half[8], quarter[4];
  for (int i = 0; i < 8; i++) half[i] = lane[8 + i] + lane[i];
  for (int i = 0; i < 4; i++) quarter[i] = half[4 + i] + half[i];
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

inline __m512 abs512(__m512 x) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x); }

// tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|), sign restored after. Near 0
// that difference cancels, so below 0.3 an odd Taylor polynomial takes over
// (x^11 term < 2e-8 · x there).
inline __m512 tanh512(__m512 x) {
  __m512 a = abs512(x);
  __m512 e = exp512(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
  __m512 big = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  __m512 a2 = _mm512_mul_ps(a, a);
  __m512 p = _mm512_set1_ps(-1382.0f / 155925);
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(62.0f / 2835));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-17.0f / 315));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(2.0f / 15));
  p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(-1.0f / 3));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, a2), a, a);
  __mmask16 isSmall = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.3f), _CMP_LT_OQ);
  __m512 t = _mm512_mask_blend_ps(isSmall, big, small);
  // Copy the sign of x (NaN passes through both branches as NaN).
  return _mm512_or_ps(t, _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
}

// sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) otherwise, e = exp(-|x|): never overflows.
inline __m512 sigmoid512(__m512 x) {
  __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), abs512(x)));
  __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(r, negative, r, e);
}

// log(x) for x > 0: x = m · 2^e with m in [1, 2) (vgetmant / vgetexp), m folded into
// [√½, √2) so that s = (m − 1)/(m + 1) stays within ±0.172, then
// log m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9) (next term < 2e-9), plus e·ln 2.
// x = 0 gives -Inf (vgetexp(0) = -Inf); NaN stays NaN.
inline __m512 log512(__m512 x) {
  __m512 m = _mm512_maskz_getmant_ps(kAll16, x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
  __m512 e = _mm512_maskz_getexp_ps(kAll16, x);
  __mmask16 high = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, high, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, high, e, _mm512_set1_ps(1.0f));
  __m512 s = _mm512_div_ps(_mm512_sub_ps(m, _mm512_set1_ps(1.0f)), _mm512_add_ps(m, _mm512_set1_ps(1.0f)));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_set1_ps(2.0f / 9);
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 7));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 5));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f / 3));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(2.0f));
  __m512 logm = _mm512_mul_ps(p, s);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147181f), logm);
}

void bceTermsAvx512(const float* p, const float* y, float* term, float* grad, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), floor = _mm512_set1_ps(-100.0f), tiny = _mm512_set1_ps(1e-12f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = firstLanes(n - i);
    __m512 pv = _mm512_maskz_loadu_ps(m, p + i);
    __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
    __m512 qv = _mm512_sub_ps(one, pv);
    // The clamp's constant goes first so a NaN log (from NaN p) survives it.
    __m512 logP = _mm512_maskz_max_ps(kAll16, floor, log512(pv));
    __m512 logQ = _mm512_maskz_max_ps(kAll16, floor, log512(qv));
    __m512 t = _mm512_fmadd_ps(yv, logP, _mm512_mul_ps(_mm512_sub_ps(one, yv), logQ));
    _mm512_mask_storeu_ps(term + i, m, t);
    if (grad) {
      __m512 g = _mm512_sub_ps(_mm512_div_ps(_mm512_sub_ps(one, yv), _mm512_maskz_max_ps(kAll16, tiny, qv)),
                               _mm512_div_ps(yv, _mm512_maskz_max_ps(kAll16, tiny, pv)));
      _mm512_mask_storeu_ps(grad + i, m, g);
    }
  }
}

template <__m512 (*F)(__m512)>
void apply(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = firstLanes(n - i);
    _mm512_mask_storeu_ps(y + i, m, F(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void tanhAvx512(const float* x, float* y, int64_t n) { apply<tanh512>(x, y, n); }
void sigmoidAvx512(const float* x, float* y, int64_t n) { apply<sigmoid512>(x, y, n); }

float expShiftSumAvx512(const float* x, float shift, float* y, int64_t n) {
  __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    _mm512_storeu_ps(y + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    __mmask16 m = firstLanes(n - i);
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
    _mm512_mask_storeu_ps(y + i, m, e);
    acc = _mm512_mask_add_ps(acc, m, acc, e);
  }
  return sumLanes(acc);
}

const elementwise::Kernels kAvx512{tanhAvx512, sigmoidAvx512, expShiftSumAvx512, bceTermsAvx512,
                                  elementwise::sgdStepLoop, elementwise::adamStepLoop, elementwise::nonFiniteIndexLoop};

}  // namespace

const elementwise::Kernels& elementwise::kernelsAvx512() { return kAvx512; }

}  // namespace neurone
#endif
