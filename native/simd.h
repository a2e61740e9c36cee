// Vector traits: the operations the SIMD kernels are written in, once per instruction set, so
// that the exp/tanh/sigmoid/log polynomials (simd_math.h), the max-pooling loops (pool1d_simd.h,
// pool2d_simd.h), the direct convolutions (conv1d_direct.h, conv2d_direct.h) and batch normalisation
// (batchnorm_simd.h) are written once and instantiated by each per-ISA file (*_avx2.cc,
// *_avx512.cc, *_neon.cc).
//
// Included only by the files compiled with SIMD flags, and everything here and in the headers
// written over it lives in an anonymous namespace: each translation unit gets its own copy
// with internal linkage, so the linker can never hand a baseline caller a copy compiled for
// AVX2 or AVX-512 (an ordinary inline function or template, merged across translation units,
// would allow that; test/build-files.test.ts checks that the SIMD objects export no weak
// symbol). For the same reason only intrinsics are called, no inline library function.
//
// Every operation is what the hand-written kernels before it used, instruction for
// instruction where the bits could depend on it (NaN operand order, rounding), so each path
// keeps its results. A new instruction set is one more traits struct here (NEON was).
//
// A traits struct V has:
//   F, I, M          float vector, int32 vector, lane mask;  kLanes lanes
//   zero, set1, load/store (full vector), loadFirst/storeFirst (masked: the lanes of M only,
//   zero elsewhere; memory past them is not touched), firstLanes(n): the first n lanes
//   add, sub, mul, div, fma(a, b, c) = a·b + c rounded once, fnma(a, b, c) = c − a·b
//   min/max: MINPS/MAXPS semantics, the second operand when either is NaN
//   roundNearest, abs, withSignOf(magnitude, x): the sign bit of x ORed into magnitude
//   scale2n(p, n): p · 2^n for integral n in [-150, 128], rounding once
//   lt/gt (ordered), notLessEqual(a, b) = !(a <= b) (a > b, or either is NaN), isNan, notNan,
//   both (mask and), either (mask or), select(m, a, b) = m ? a : b
//   addWhere(m, acc, v) = acc + v in the lanes of m, acc elsewhere; keep(m, v) = v in the lanes
//   of m, +0 elsewhere; sumLanes; laneSums(v): for kLanes vectors, the vector whose lane i is
//   the sum of v[i]'s lanes (a tree of shuffles and adds: about 3 operations a sum, where
//   sumLanes on each costs 6 to 8)
//   iota (0, 1, ...), set1i, addi, selecti, loadi/storei, loadFirsti/storeFirsti, equal(a, b), equalWhere(valid, a, b)
//   countHits(counts, m): counts + 1 in the lanes of m;  totalCount(counts);  anyLane(m)
//   AVX-512 only: permute2(lo, index, hi), permute2i(lo, index, hi): lane l takes lane index[l]
//   of the 2·kLanes lanes of lo then hi
//   kCheapMaskedStores: whether storeFirst costs about what store does (AVX-512's mask
//   registers); AVX2's VMASKMOVPS costs AMD cores about a dozen cycles, NEON's goes lane by lane
//   splitExponent(x, m, e): x = m · 2^e, m in [1, 2), for x >= 0 (log); 0 gives e = -Inf, +Inf
//   and NaN give e = x
//   interleave6(planes, out): out[6p + c] = planes[c] lane p, for 6 vectors of one value per
//   pixel (channels-last runs of 6 channels from per-channel vectors); deinterleave6(in, planes)
//   the inverse. In-register shuffles: a scalar copy takes about a load, a store and an insert
//   per float, as long as the 6 multiply-adds per pixel they surround
//   inRegister(v): v, which the compiler must then hold in a register (GCC and Clang; a no-op
//   elsewhere): a loaded vector used by a few multiply-adds is otherwise re-read by each of
//   them as a memory operand, and a loop bound by loads pays for it
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <cstdint>
#include <limits>

#include "isa.h"

namespace neurone {
namespace {

// +Infinity as a float constant (MSVC has no __builtin_inff).
constexpr float kInfinity = std::numeric_limits<float>::infinity();

#if defined(NEURONE_TARGET_AVX2)
struct Avx2 {
  using F = __m256;
  using I = __m256i;
  using M = __m256i;  // all ones in a lane that is set
  static constexpr int kLanes = 8;
  static constexpr bool kCheapMaskedStores = false;
  // Sums a register block of the direct convolution kernels keeps (conv2d_direct.h): 12 of the
  // 16 registers, the rest for the loaded and broadcast operands.
  static constexpr int kBlockSums = 12;

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static M firstLanes(int64_t n) {
    const int32_t count = n >= kLanes ? kLanes : n <= 0 ? 0 : static_cast<int32_t>(n);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), iota());
  }
  static F loadFirst(M m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void storeFirst(float* p, M m, F v) { _mm256_maskstore_ps(p, m, v); }

  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fnma(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F roundNearest(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F abs(F v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
  static F withSignOf(F magnitude, F x) { return _mm256_or_ps(magnitude, _mm256_and_ps(x, _mm256_set1_ps(-0.0f))); }
  // AVX2 has no vscalefps, so 2^n is applied as two factors 2^(n − h) · 2^h, h = floor(n / 2),
  // each a normal float built in the exponent field. n then spans [-150, 128] without leaving
  // the exponent range, the first product is exact and the second rounds once, into the
  // subnormals or to zero (exp(-100) is 3.7e-44, as with vscalefps). NaN n converts to
  // INT_MIN; p is NaN then and stays NaN.
  static F scale2n(F p, F n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i half = _mm256_srai_epi32(ni, 1);
    const __m256i rest = _mm256_sub_epi32(ni, half);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 scaleHalf = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    const __m256 scaleRest = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, scaleRest), scaleHalf);
  }

  static M lt(F a, F b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static M gt(F a, F b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static M notLessEqual(F a, F b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_NLE_UQ)); }
  static M isNan(F a) { return _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
  static M notNan(F a) { return _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_ORD_Q)); }
  static M both(M a, M b) { return _mm256_and_si256(a, b); }
  static M either(M a, M b) { return _mm256_or_si256(a, b); }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m)); }
  static F addWhere(M m, F acc, F v) { return _mm256_add_ps(acc, _mm256_and_ps(v, _mm256_castsi256_ps(m))); }
  static F keep(M m, F v) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }
  static float sumLanes(F v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
  }
  // Halves first, pairing v[i] with v[i + 4] in one register ([v_i's half sums | v_{i+4}'s]),
  // then two rounds of horizontal adds, which leave lane i of each 128-bit half to v[i] and v[i + 4].
  static F laneSums(const F (&v)[kLanes]) {
    F halves[4];
    for (int i = 0; i < 4; i++)
      halves[i] =
          _mm256_add_ps(_mm256_permute2f128_ps(v[i], v[i + 4], 0x20), _mm256_permute2f128_ps(v[i], v[i + 4], 0x31));
    return _mm256_hadd_ps(_mm256_hadd_ps(halves[0], halves[1]), _mm256_hadd_ps(halves[2], halves[3]));
  }

  // log's split x = m · 2^e, m in [1, 2), as AVX-512's vgetmant / vgetexp give it for x >= 0
  // (logV's callers clamp negative arguments to 0), read from the bit fields. Those hold m and e
  // as they are only for a positive normal x, which is what the arguments nearly always are:
  // one test of the whole vector then skips the fix-ups, which took a third of log's time. A
  // subnormal x is first scaled by 2^23 into the normal range; zero has exponent -Inf, as with
  // vgetexp; +Inf and NaN are their own exponent, so log(+Inf) = +Inf and NaN stays NaN.
  static void splitExponent(F x, F& m, F& e) {
    const __m256 normal = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_GE_OQ),
                                        _mm256_cmp_ps(x, _mm256_set1_ps(kInfinity), _CMP_LT_OQ));
    if (_mm256_movemask_ps(normal) == 0xff) {
      splitNormal(x, m, e);
      return;
    }
    const __m256 subnormal = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
    // Scaled by 2^23, exactly: the bit fields then hold m and e + 23.
    splitNormal(_mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), subnormal), m, e);
    e = _mm256_sub_ps(e, _mm256_and_ps(subnormal, _mm256_set1_ps(23.0f)));
    e = _mm256_blendv_ps(e, _mm256_set1_ps(-kInfinity), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
    e = _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, _mm256_set1_ps(kInfinity), _CMP_NLT_UQ));
  }
  static void splitNormal(F x, F& m, F& e) {
    const __m256i bits = _mm256_castps_si256(x);
    m = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
    e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  }

  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static I selecti(M m, I a, I b) { return _mm256_blendv_epi8(b, a, m); }
  static I loadFirsti(M m, const int32_t* p) { return _mm256_maskload_epi32(p, m); }
  static void storeFirsti(int32_t* p, M m, I v) { _mm256_maskstore_epi32(p, m, v); }
  static I loadi(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static F inRegister(F v) {
#if defined(__GNUC__)
    asm("" : "+x"(v));
#endif
    return v;
  }
  static void storei(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static M equal(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static M equalWhere(M valid, I a, I b) { return _mm256_and_si256(_mm256_cmpeq_epi32(a, b), valid); }
  static bool anyLane(M m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m)) != 0; }

  // Pixel p's pair (c, c + 1) is one 64-bit slot; the 8 pixels' 24 slots are 3p + pair. The
  // in-lane unpacks give the pairs of pixels (0, 1 | 4, 5) and (2, 3 | 6, 7); per 128-bit lane a
  // double shuffle makes [A0 B0], [C0 A1], [B1 C1] (A, B, C the three pairs), and the halves are
  // then put in memory order.
  static void interleave6(const F planes[6], float* out) {
    __m256d pairs[2][3];
    for (int j = 0; j < 3; j++) {
      pairs[0][j] = _mm256_castps_pd(_mm256_unpacklo_ps(planes[2 * j], planes[2 * j + 1]));
      pairs[1][j] = _mm256_castps_pd(_mm256_unpackhi_ps(planes[2 * j], planes[2 * j + 1]));
    }
    __m256d runs[2][3];  // [h][r]: run r of pixels (2h, 2h + 1) in lane 0, (2h + 4, 2h + 5) in lane 1
    for (int h = 0; h < 2; h++) {
      runs[h][0] = _mm256_shuffle_pd(pairs[h][0], pairs[h][1], 0x0);
      runs[h][1] = _mm256_shuffle_pd(pairs[h][2], pairs[h][0], 0xa);
      runs[h][2] = _mm256_shuffle_pd(pairs[h][1], pairs[h][2], 0xf);
    }
    // Memory order, 128 bits each: pixels 0-1 (runs[0] lane 0), 2-3 (runs[1] lane 0), 4-5, 6-7.
    const __m256d order[6] = {
        _mm256_permute2f128_pd(runs[0][0], runs[0][1], 0x20), _mm256_permute2f128_pd(runs[0][2], runs[1][0], 0x20),
        _mm256_permute2f128_pd(runs[1][1], runs[1][2], 0x20), _mm256_permute2f128_pd(runs[0][0], runs[0][1], 0x31),
        _mm256_permute2f128_pd(runs[0][2], runs[1][0], 0x31), _mm256_permute2f128_pd(runs[1][1], runs[1][2], 0x31)};
    for (int k = 0; k < 6; k++) _mm256_storeu_pd(reinterpret_cast<double*>(out) + 4 * k, order[k]);
  }
  static void deinterleave6(const float* in, F planes[6]) {
    __m256d order[6];
    for (int k = 0; k < 6; k++) order[k] = _mm256_loadu_pd(reinterpret_cast<const double*>(in) + 4 * k);
    __m256d runs[2][3];
    runs[0][0] = _mm256_permute2f128_pd(order[0], order[3], 0x20);
    runs[0][1] = _mm256_permute2f128_pd(order[0], order[3], 0x31);
    runs[0][2] = _mm256_permute2f128_pd(order[1], order[4], 0x20);
    runs[1][0] = _mm256_permute2f128_pd(order[1], order[4], 0x31);
    runs[1][1] = _mm256_permute2f128_pd(order[2], order[5], 0x20);
    runs[1][2] = _mm256_permute2f128_pd(order[2], order[5], 0x31);
    __m256 pairs[2][3];
    for (int h = 0; h < 2; h++) {
      pairs[h][0] = _mm256_castpd_ps(_mm256_shuffle_pd(runs[h][0], runs[h][1], 0xa));
      pairs[h][1] = _mm256_castpd_ps(_mm256_shuffle_pd(runs[h][0], runs[h][2], 0x5));
      pairs[h][2] = _mm256_castpd_ps(_mm256_shuffle_pd(runs[h][1], runs[h][2], 0xa));
    }
    for (int j = 0; j < 3; j++) {
      planes[2 * j] = _mm256_shuffle_ps(pairs[0][j], pairs[1][j], _MM_SHUFFLE(2, 0, 2, 0));
      planes[2 * j + 1] = _mm256_shuffle_ps(pairs[0][j], pairs[1][j], _MM_SHUFFLE(3, 1, 3, 1));
    }
  }
  // A set lane is -1: counted downwards, negated at the end.
  static I countHits(I counts, M m) { return _mm256_sub_epi32(counts, m); }
  static int64_t totalCount(I counts) {
    alignas(32) int32_t lane[kLanes];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lane), counts);
    int64_t total = 0;
    for (int32_t v : lane) total += v;
    return total;
  }
};
#endif

#if defined(__AVX512F__)
struct Avx512 {
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr bool kCheapMaskedStores = true;
  // 24 of the 32 registers (conv2d_direct.h).
  static constexpr int kBlockSums = 24;
  // All lanes, for the zero-masking forms of intrinsics: they compile to the same instructions
  // as the plain forms, but GCC 12's headers pass an "undefined" vector through the plain ones,
  // which then warn about an uninitialised value once inlined.
  static constexpr __mmask16 kAll = 0xffff;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static M firstLanes(int64_t n) {
    return n >= 16 ? static_cast<M>(0xffff) : n <= 0 ? static_cast<M>(0) : static_cast<M>((1u << n) - 1u);
  }
  static F loadFirst(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeFirst(float* p, M m, F v) { _mm512_mask_storeu_ps(p, m, v); }

  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fnma(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
  static F min(F a, F b) { return _mm512_maskz_min_ps(kAll, a, b); }
  static F max(F a, F b) { return _mm512_maskz_max_ps(kAll, a, b); }
  static F roundNearest(F v) { return _mm512_maskz_roundscale_ps(kAll, v, _MM_FROUND_TO_NEAREST_INT); }
  static F abs(F v) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), v); }
  static F withSignOf(F magnitude, F x) { return _mm512_or_ps(magnitude, _mm512_and_ps(x, _mm512_set1_ps(-0.0f))); }
  // vscalefps: p · 2^n in one rounding, under- and overflow included.
  static F scale2n(F p, F n) { return _mm512_maskz_scalef_ps(kAll, p, n); }

  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M notLessEqual(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ); }
  static M isNan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M notNan(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q); }
  static M both(M a, M b) { return static_cast<M>(a & b); }
  static M either(M a, M b) { return static_cast<M>(a | b); }
  static F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }
  static F addWhere(M m, F acc, F v) { return _mm512_mask_add_ps(acc, m, acc, v); }
  static F keep(M m, F v) { return _mm512_maskz_mov_ps(m, v); }
  // The sum of the 16 lanes in the order GCC's _mm512_reduce_add_ps uses (halves, quarters,
  // then pairs), so the bits are those of earlier builds, written out because that expansion
  // warns (see kAll) and other compilers need not share its order.
  static float sumLanes(F v) {
    alignas(64) float lane[16];
    _mm512_store_ps(lane, v);
    float half[8], quarter[4];
    for (int i = 0; i < 8; i++) half[i] = lane[8 + i] + lane[i];
    for (int i = 0; i < 4; i++) quarter[i] = half[4 + i] + half[i];
    return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
  }
  // Four rounds, each halving the partial sums a vector has: 128-bit blocks of two vectors
  // (shuffle_f32x4), again to one block per vector ([u0 | u1 | u2 | u3]), then within the blocks
  // (unpack, then shuffle_ps). The last round leaves lane 4k + m to the vector taken as u[4m + k],
  // so u is v with that index transposed.
  static F laneSums(const F (&v)[kLanes]) {
    F u[16], s[8], q[4];
    for (int i = 0; i < 16; i++) u[i] = v[(i % 4) * 4 + i / 4];
    for (int i = 0; i < 8; i++)
      s[i] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, u[2 * i], u[2 * i + 1], 0x44),
                           _mm512_maskz_shuffle_f32x4(kAll, u[2 * i], u[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++)
      q[i] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(kAll, s[2 * i], s[2 * i + 1], 0x88),
                           _mm512_maskz_shuffle_f32x4(kAll, s[2 * i], s[2 * i + 1], 0xDD));
    const F low = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, q[0], q[1]), _mm512_maskz_unpackhi_ps(kAll, q[0], q[1]));
    const F high =
        _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, q[2], q[3]), _mm512_maskz_unpackhi_ps(kAll, q[2], q[3]));
    return _mm512_add_ps(_mm512_maskz_shuffle_ps(kAll, low, high, 0x44),
                         _mm512_maskz_shuffle_ps(kAll, low, high, 0xEE));
  }
  // log's split x = m · 2^e, m in [1, 2) (vgetmant / vgetexp).
  static void splitExponent(F x, F& m, F& e) {
    m = _mm512_maskz_getmant_ps(kAll, x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    e = _mm512_maskz_getexp_ps(kAll, x);
  }

  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static I selecti(M m, I a, I b) { return _mm512_mask_mov_epi32(b, m, a); }
  static I loadFirsti(M m, const int32_t* p) { return _mm512_maskz_loadu_epi32(m, p); }
  static void storeFirsti(int32_t* p, M m, I v) { _mm512_mask_storeu_epi32(p, m, v); }
  static I loadi(const int32_t* p) { return _mm512_loadu_si512(p); }
  static F permute2(F lo, I index, F hi) { return _mm512_maskz_permutex2var_ps(kAll, lo, index, hi); }
  static I permute2i(I lo, I index, I hi) { return _mm512_maskz_permutex2var_epi32(kAll, lo, index, hi); }
  static F inRegister(F v) {
#if defined(__GNUC__)
    asm("" : "+v"(v));
#endif
    return v;
  }
  static void storei(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static M equal(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static M equalWhere(M valid, I a, I b) { return _mm512_mask_cmpeq_epi32_mask(valid, a, b); }
  static bool anyLane(M m) { return m != 0; }

  // Pixel p's pair (c, c + 1) is one 64-bit slot; the 16 pixels' 48 slots are 3p + pair. A
  // two-source permute makes each pair's slots in pixel order (pixels 0-7, 8-15); each output
  // vector of 8 slots then comes from the three pairs of its pixels: a two-source permute from
  // the first two, and the third's slots merged in.
  static void interleave6(const F planes[6], float* out) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512d pairs[2][3];
    for (int j = 0; j < 3; j++) {
      pairs[0][j] = _mm512_castps_pd(_mm512_maskz_permutex2var_ps(kAll, planes[2 * j], low, planes[2 * j + 1]));
      pairs[1][j] = _mm512_castps_pd(_mm512_maskz_permutex2var_ps(kAll, planes[2 * j], high, planes[2 * j + 1]));
    }
    // Slots 8k .. 8k + 7 of 8 pixels: A0 B0 C0 A1 B1 C1 A2 B2 | C2 A3 B3 C3 A4 B4 C4 A5 | B5 C5 A6 B6 C6 A7 B7 C7.
    const __m512i fromAB[3] = {_mm512_setr_epi64(0, 8, 0, 1, 9, 0, 2, 10), _mm512_setr_epi64(0, 3, 11, 0, 4, 12, 0, 5),
                               _mm512_setr_epi64(13, 0, 6, 14, 0, 7, 15, 0)};
    const __m512i fromC[3] = {_mm512_setr_epi64(0, 0, 0, 0, 0, 1, 0, 0), _mm512_setr_epi64(2, 0, 0, 3, 0, 0, 4, 0),
                              _mm512_setr_epi64(0, 5, 0, 0, 6, 0, 0, 7)};
    const __mmask8 slotsOfC[3] = {0x24, 0x49, 0x92};
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < 3; k++) {
        __m512d v = _mm512_maskz_permutex2var_pd(0xff, pairs[h][0], fromAB[k], pairs[h][1]);
        v = _mm512_mask_permutexvar_pd(v, slotsOfC[k], fromC[k], pairs[h][2]);
        _mm512_storeu_pd(reinterpret_cast<double*>(out) + 24 * h + 8 * k, v);
      }
  }
  static void deinterleave6(const float* in, F planes[6]) {
    // Pair j of pixel m is slot 3m + j of 24: in the first two vectors (a two-source permute)
    // below 16, else in the third.
    const __m512i fromFirstTwo[3] = {_mm512_setr_epi64(0, 3, 6, 9, 12, 15, 0, 0),
                                     _mm512_setr_epi64(1, 4, 7, 10, 13, 0, 0, 0),
                                     _mm512_setr_epi64(2, 5, 8, 11, 14, 0, 0, 0)};
    const __m512i fromThird[3] = {_mm512_setr_epi64(0, 0, 0, 0, 0, 0, 2, 5), _mm512_setr_epi64(0, 0, 0, 0, 0, 0, 3, 6),
                                  _mm512_setr_epi64(0, 0, 0, 0, 0, 1, 4, 7)};
    const __mmask8 slotsOfThird[3] = {0xc0, 0xe0, 0xe0};
    __m512 pairs[2][3];
    for (int h = 0; h < 2; h++) {
      const double* source = reinterpret_cast<const double*>(in) + 24 * h;
      const __m512d v0 = _mm512_loadu_pd(source), v1 = _mm512_loadu_pd(source + 8), v2 = _mm512_loadu_pd(source + 16);
      for (int j = 0; j < 3; j++) {
        const __m512d p = _mm512_maskz_permutex2var_pd(0xff, v0, fromFirstTwo[j], v1);
        pairs[h][j] = _mm512_castpd_ps(_mm512_mask_permutexvar_pd(p, slotsOfThird[j], fromThird[j], v2));
      }
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int j = 0; j < 3; j++) {
      planes[2 * j] = _mm512_maskz_permutex2var_ps(kAll, pairs[0][j], even, pairs[1][j]);
      planes[2 * j + 1] = _mm512_maskz_permutex2var_ps(kAll, pairs[0][j], odd, pairs[1][j]);
    }
  }
  // Counted per lane: a popcount per step would be a library call without -mpopcnt.
  static I countHits(I counts, M m) { return _mm512_mask_add_epi32(counts, m, counts, _mm512_set1_epi32(1)); }
  static int64_t totalCount(I counts) {
    alignas(64) int32_t lane[kLanes];  // summed in memory: GCC 12's _mm512_reduce_add_epi32 warns
    _mm512_store_si512(lane, counts);
    int64_t total = 0;
    for (int32_t v : lane) total += v;
    return total;
  }
};
#endif

#if defined(__aarch64__)
// Advanced SIMD (NEON), 4 lanes. Baseline on AArch64, so no flags are needed to compile it; the
// files that use it are compiled only into aarch64 binaries. NEON has no masked loads or
// stores: the masked forms go lane by lane through memory and are used only for a ragged last
// vector. MINPS/MAXPS semantics (the second operand when either is NaN) are a compare and a
// select, since FMIN/FMAX return the NaN. FMLA/FMLS round once, as FMA does.
struct Neon {
  using F = float32x4_t;
  using I = int32x4_t;
  using M = uint32x4_t;  // all ones in a lane that is set
  static constexpr int kLanes = 4;
  static constexpr bool kCheapMaskedStores = false;
  // 12, AVX2's blocks (conv2d_direct.h): NEON has 32 registers, but larger blocks have not been
  // measured on ARM hardware.
  static constexpr int kBlockSums = 12;

  static F zero() { return vdupq_n_f32(0.0f); }
  static F set1(float v) { return vdupq_n_f32(v); }
  static F load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, F v) { vst1q_f32(p, v); }
  static M firstLanes(int64_t n) {
    const int32_t count = n >= kLanes ? kLanes : n <= 0 ? 0 : static_cast<int32_t>(n);
    return vcltq_s32(iota(), vdupq_n_s32(count));
  }
  // The lanes set in m, copied one by one (NEON has no masked loads or stores); used for a
  // ragged last vector only.
  template <typename T>
  static void copyLanes(M m, const T* from, T* to) {
    alignas(16) uint32_t set[4];
    vst1q_u32(set, m);
    for (int i = 0; i < 4; i++)
      if (set[i]) to[i] = from[i];
  }
  static F loadFirst(M m, const float* p) {
    alignas(16) float lane[4] = {};
    copyLanes(m, p, lane);
    return vld1q_f32(lane);
  }
  static void storeFirst(float* p, M m, F v) {
    alignas(16) float lane[4];
    vst1q_f32(lane, v);
    copyLanes<float>(m, lane, p);
  }

  static F add(F a, F b) { return vaddq_f32(a, b); }
  static F sub(F a, F b) { return vsubq_f32(a, b); }
  static F mul(F a, F b) { return vmulq_f32(a, b); }
  static F div(F a, F b) { return vdivq_f32(a, b); }
  static F fma(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static F fnma(F a, F b, F c) { return vfmsq_f32(c, a, b); }
  static F min(F a, F b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
  static F max(F a, F b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static F roundNearest(F v) { return vrndnq_f32(v); }
  static F abs(F v) { return vabsq_f32(v); }
  static F withSignOf(F magnitude, F x) {
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(magnitude), sign));
  }
  // As on AVX2 (no single scaling instruction): 2^(n − h) · 2^h, h = floor(n / 2), each factor a
  // normal float built in the exponent field, so the second product rounds once into the
  // subnormals or to zero. A NaN n converts to 0 here (INT_MIN on x86); p is NaN then anyway.
  static F scale2n(F p, F n) {
    const int32x4_t ni = vcvtnq_s32_f32(n);
    const int32x4_t half = vshrq_n_s32(ni, 1);
    const int32x4_t rest = vsubq_s32(ni, half);
    const int32x4_t bias = vdupq_n_s32(127);
    const F scaleHalf = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half, bias), 23));
    const F scaleRest = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(rest, bias), 23));
    return vmulq_f32(vmulq_f32(p, scaleRest), scaleHalf);
  }

  // log's split x = m · 2^e for x >= 0, from the bit fields, a positive normal x alone as on
  // AVX2 (see there).
  static void splitExponent(F x, F& m, F& e) {
    const M normal = vandq_u32(vcgeq_f32(x, vdupq_n_f32(1.17549435e-38f)), vcltq_f32(x, vdupq_n_f32(kInfinity)));
    if (vminvq_u32(normal) != 0) {
      splitNormal(x, m, e);
      return;
    }
    const M subnormal = vcltq_f32(x, vdupq_n_f32(1.17549435e-38f));
    splitNormal(vbslq_f32(subnormal, vmulq_f32(x, vdupq_n_f32(8388608.0f)), x), m, e);
    e = vsubq_f32(e, vreinterpretq_f32_u32(vandq_u32(subnormal, vreinterpretq_u32_f32(vdupq_n_f32(23.0f)))));
    e = vbslq_f32(vceqq_f32(x, vdupq_n_f32(0.0f)), vdupq_n_f32(-kInfinity), e);
    e = vbslq_f32(vcltq_f32(x, vdupq_n_f32(kInfinity)), e, x);
  }
  static void splitNormal(F x, F& m, F& e) {
    const uint32x4_t bits = vreinterpretq_u32_f32(x);
    m = vreinterpretq_f32_u32(vorrq_u32(vandq_u32(bits, vdupq_n_u32(0x007fffffu)), vdupq_n_u32(0x3f800000u)));
    e = vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(bits, 23)), vdupq_n_s32(127)));
  }

  static M lt(F a, F b) { return vcltq_f32(a, b); }
  static M gt(F a, F b) { return vcgtq_f32(a, b); }
  static M notLessEqual(F a, F b) { return vmvnq_u32(vcleq_f32(a, b)); }
  static M isNan(F a) { return vmvnq_u32(vceqq_f32(a, a)); }
  static M notNan(F a) { return vceqq_f32(a, a); }
  static M both(M a, M b) { return vandq_u32(a, b); }
  static M either(M a, M b) { return vorrq_u32(a, b); }
  static F select(M m, F a, F b) { return vbslq_f32(m, a, b); }
  static F addWhere(M m, F acc, F v) { return vaddq_f32(acc, keep(m, v)); }
  static F keep(M m, F v) { return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m)); }
  // Halves, then the pair: (v0 + v2) + (v1 + v3).
  static float sumLanes(F v) {
    const float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
  }
  // Pairwise adds: [v0 pairs, v1 pairs], [v2 pairs, v3 pairs], then the pairs.
  static F laneSums(const F (&v)[kLanes]) { return vpaddq_f32(vpaddq_f32(v[0], v[1]), vpaddq_f32(v[2], v[3])); }

  static I iota() { return I{0, 1, 2, 3}; }
  static I set1i(int32_t v) { return vdupq_n_s32(v); }
  static I addi(I a, I b) { return vaddq_s32(a, b); }
  static I selecti(M m, I a, I b) { return vbslq_s32(m, a, b); }
  static I loadi(const int32_t* p) { return vld1q_s32(p); }
  static F inRegister(F v) {
#if defined(__GNUC__)
    asm("" : "+w"(v));
#endif
    return v;
  }
  static void storei(int32_t* p, I v) { vst1q_s32(p, v); }
  static I loadFirsti(M m, const int32_t* p) {
    alignas(16) int32_t lane[4] = {};
    copyLanes(m, p, lane);
    return vld1q_s32(lane);
  }
  static void storeFirsti(int32_t* p, M m, I v) {
    alignas(16) int32_t lane[4];
    vst1q_s32(lane, v);
    copyLanes<int32_t>(m, lane, p);
  }
  static M equal(I a, I b) { return vceqq_s32(a, b); }
  static M equalWhere(M valid, I a, I b) { return vandq_u32(vceqq_s32(a, b), valid); }
  static bool anyLane(M m) { return vmaxvq_u32(m) != 0; }

  // Pixel p's pair (c, c + 1) is one 64-bit element: zips make the pairs of pixels (0, 1) and
  // (2, 3), and a 3-way interleaving store of 64-bit elements writes pixel by pixel.
  static void interleave6(const F planes[6], float* out) {
    float64x2x3_t low, high;
    for (int j = 0; j < 3; j++) {
      low.val[j] = vreinterpretq_f64_f32(vzip1q_f32(planes[2 * j], planes[2 * j + 1]));
      high.val[j] = vreinterpretq_f64_f32(vzip2q_f32(planes[2 * j], planes[2 * j + 1]));
    }
    vst3q_f64(reinterpret_cast<double*>(out), low);
    vst3q_f64(reinterpret_cast<double*>(out) + 6, high);
  }
  static void deinterleave6(const float* in, F planes[6]) {
    const float64x2x3_t low = vld3q_f64(reinterpret_cast<const double*>(in));
    const float64x2x3_t high = vld3q_f64(reinterpret_cast<const double*>(in) + 6);
    for (int j = 0; j < 3; j++) {
      const F a = vreinterpretq_f32_f64(low.val[j]), b = vreinterpretq_f32_f64(high.val[j]);
      planes[2 * j] = vuzp1q_f32(a, b);
      planes[2 * j + 1] = vuzp2q_f32(a, b);
    }
  }
  // A set lane is -1 as an integer: subtracting it counts one.
  static I countHits(I counts, M m) { return vsubq_s32(counts, vreinterpretq_s32_u32(m)); }
  static int64_t totalCount(I counts) {
    alignas(16) int32_t lane[4];
    vst1q_s32(lane, counts);
    int64_t total = 0;
    for (int32_t v : lane) total += v;
    return total;
  }
};
#endif

}  // namespace
}  // namespace neurone
