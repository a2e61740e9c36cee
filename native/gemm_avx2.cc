// AVX2+FMA SGEMM microkernel and packers (compiled with -mavx2 -mfma only).
//
// Tile 6x16: 12 ymm accumulators (6 rows x 2 vectors of 8 columns) + 2 ymm for
// the B row + 1 for the broadcast A value = 15 of the 16 ymm registers. Each k
// step: 2 loads of B, 6 broadcasts, 12 FMAs; 12 independent chains cover the
// FMA latency on two ports. Edge tiles get their own instantiation (rows 1..6
// x 8 or 16 columns); the ragged last vector is stored piecewise (storeFirst). As on
// AVX-512, every tile also comes reading a row-major A in place (kernelRowA)
// and storing C transposed (TransC), so the driver's swapped and in-place
// forms run here too: on one Zen 5 core they took the skinny training shapes
// from 61-84 % of the FMA peak to 83-95 % (32x4064x100 Bt 88.7 -> 109.5
// GFLOP/s, 4064x100x32 At 70.6 -> 102.8, 32x32x256 76.1 -> 100.7).
//
// Blocking: KC = 256 keeps the A micro-panel (6 x 256 x 4 B = 6 KiB) and a
// B micro-panel row stream comfortably in a 32-48 KiB L1; NC = 512 keeps a
// packed B block (256 x 512 x 4 B = 512 KiB) inside a 1-2 MiB L2 (and is
// still reasonable for the 256 KiB L2 of older AVX2 parts, where it spills to
// L3 at a small cost).
#include <immintrin.h>

#include <cstring>
#include <utility>

#include "gemm_kernels.h"
#include "gemm_pack.h"
#include "gemm_tiles.h"

namespace neurone {
namespace gemm {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

inline __m256i tailMask(int64_t cols) {
  alignas(32) static const int kOnes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes + 8 - cols));
}

// The first `count` (< 8) floats of a vector stored, or loaded with zeros after them, by plain
// 128-, 64- and 32-bit moves: on AMD a vmaskmovps store costs about a dozen cycles, and a tile
// stored transposed made one per column. On one Zen 3 core, GFLOP/s: 32x100x4064 78 -> 86,
// 32x4064x100 Bt 71 -> 89, 4064x100x32 At 63 -> 78 (its transposed A packed), 32x256x784 74 ->
// 80. With a constant count, as in the tiles, the branches fold away.
inline void storeFirst(float* p, __m256 v, int64_t count) {
  __m128 part = _mm256_castps256_ps128(v);
  if (count >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    count -= 4;
  }
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    count -= 2;
  }
  if (count >= 1) _mm_store_ss(p, part);
}

inline __m128 loadFirst4(const float* p, int64_t count) {
  if (count >= 4) return _mm_loadu_ps(p);
  if (count == 3)
    return _mm_movelh_ps(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p)), _mm_load_ss(p + 2));
  if (count == 2) return _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p));
  return count == 1 ? _mm_load_ss(p) : _mm_setzero_ps();
}

inline __m256 loadFirst(const float* p, int64_t count) {
  const __m128 low = loadFirst4(p, count);
  const __m128 high = count > 4 ? loadFirst4(p + 4, count - 4) : _mm_setzero_ps();
  return _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1);
}

// B read in place is a strided stream the hardware prefetchers do not follow
// across pages (see gemm_avx512.cc): request rows ahead, and C's lines early.
// Eight rows, not more: with a 1 KiB row stride (a 256-unit layer's weight)
// every row of the stream falls into the same 4 of L1's 64 sets, and 24 rows
// in flight evicted lines before the tile read them (32x256x784 on one Zen 3
// core: 58.7 GFLOP/s at 24 rows, 73.0 at 8; the other shapes of the kernel
// table the same or up to 4 % faster). A row of 16 floats that is not 64-byte
// aligned (a Float32Array from malloc is 16-byte aligned) spans two lines:
// both are requested, or the second misses on every row.
constexpr int64_t kPrefetchRows = 8;

// In-register 8x8 transpose: r[i] holds row i on entry, column i on exit.
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
  }
  // u[4h + c], lane L: rows 4h..4h+3 of column 4L + c.
  for (int c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// One tile for both layouts of A, as in the AVX-512 file: packed (A(i, p) = a[p * as + i], as =
// kMR, or a transposed A read in place with as = lda) or, for kernelRowA, row-major in place
// (A(i, p) = a[i * as + p]). TransC stores the tile transposed, C(i, j) = c[j * ldc + i], for the
// driver's Cᵀ = Bᵀ·Aᵀ form: each 8-column vector of the R (<= 6) accumulator rows becomes, after
// an 8x8 in-register transpose with the missing rows zero, up to 8 runs of R consecutive floats.
template <int R, int NV, bool InPlaceB, bool RowMajorA, bool TransC>
void tile(int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c, int64_t ldc,
          float alpha, float beta) {
  // Loops indexing acc are unrolled in full, so that it stays in registers (see the AVX-512
  // tile): a 6x16 tile of depth 32 takes 225 cycles instead of 255.
  __m256 acc[R][NV];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
  if (TransC) {
    for (int64_t j = 0; j < nr; j++) _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc), _MM_HINT_T0);
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
  // A transposed and read in place is the same strided stream as B in place (see the AVX-512
  // tile): over a long panel, request it ahead too.
  const bool prefetchA = !RowMajorA && as != kMR && kc > 4 * kPrefetchRows;
  // Unrolled so the loop overhead and the pointer bumps stay off the FMA ports.
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; p++) {
    if (prefetchA) _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchRows * as), _MM_HINT_T0);
    if (InPlaceB) {
      _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * bs), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * bs + 8 * NV - 1), _MM_HINT_T0);
    }
    __m256 bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      __m256 ai = _mm256_broadcast_ss(RowMajorA ? a + i * as + p : a + i);
      for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    if (!RowMajorA) a += as;
    b += bs;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  if (TransC) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; i++) r[i] = i < R ? acc[i][v] : _mm256_setzero_ps();
      transpose8x8(r);
      const int64_t cols = nr - 8 * v < 8 ? nr - 8 * v : 8;
#pragma GCC unroll 8
      for (int64_t j = 0; j < cols; j++) {
        float* cp = c + (8 * v + j) * ldc;
        __m256 out = _mm256_mul_ps(va, r[j]);
        if (beta != 0.0f) out = _mm256_fmadd_ps(vb, loadFirst(cp, R), out);
        storeFirst(cp, out, R);
      }
    }
    return;
  }
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    int64_t cols = nr - 8 * v;
    if (cols >= 8) {
#pragma GCC unroll 8
      for (int i = 0; i < R; i++) {
        float* cp = c + i * ldc + 8 * v;
        __m256 r = _mm256_mul_ps(va, acc[i][v]);
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cp), r);
        _mm256_storeu_ps(cp, r);
      }
    } else {
#pragma GCC unroll 8
      for (int i = 0; i < R; i++) {
        float* cp = c + i * ldc + 8 * v;
        __m256 r = _mm256_mul_ps(va, acc[i][v]);
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, loadFirst(cp, cols), r);
        storeFirst(cp, r, cols);
      }
    }
  }
}

// The tile functions for gemm_tiles.h's table.
struct Tiles {
  template <int R, int NV, bool InPlaceB, bool RowMajorA, bool TransC>
  static constexpr TileFn of = &tile<R, NV, InPlaceB, RowMajorA, TransC>;
};

// The Microkernel entry points, one per layout of A and C.
template <bool RowMajorA, bool TransC>
constexpr auto kernel6x16 = &microkernel<Tiles, kMR, kNR, RowMajorA, TransC>;

// dst[p * dstStride + r] = src[r * ld + p] for r < rows, p < kc, zero for
// rows <= r < 8; `lanes` of each transposed column are stored. The
// transposing case of packing (A not transposed, B transposed).
void transposePack(int64_t rows, int64_t kc, const float* src, int64_t ld, float* dst, int64_t dstStride,
                   int64_t lanes) {
  for (int64_t p = 0; p < kc; p += 8) {
    const int64_t depth = kc - p < 8 ? kc - p : 8;
    __m256 r[8];
    if (depth == 8) {
      for (int64_t i = 0; i < 8; i++) r[i] = i < rows ? _mm256_loadu_ps(src + i * ld + p) : _mm256_setzero_ps();
    } else {
      const __m256i load = tailMask(depth);
      for (int64_t i = 0; i < 8; i++)
        r[i] = i < rows ? _mm256_maskload_ps(src + i * ld + p, load) : _mm256_setzero_ps();
    }
    transpose8x8(r);
    if (lanes == 8) {
      for (int64_t c = 0; c < depth; c++) _mm256_storeu_ps(dst + (p + c) * dstStride, r[c]);
    } else {
      for (int64_t c = 0; c < depth; c++) storeFirst(dst + (p + c) * dstStride, r[c], lanes);
    }
  }
}

void packA6_avx2(int64_t mr, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  if (cs == 1) {
    transposePack(mr, kc, a, rs, dst, kMR, kMR);
    return;
  }
  if (rs == 1) {
    // Transposed A: each depth step is a contiguous run of mr values (a weight gradient's
    // 4064x32 input, 130k values copied one by one, cost 40 of its 370 µs).
    const __m256i load = tailMask(mr);
    for (int64_t p = 0; p < kc; p++) storeFirst(dst + p * kMR, _mm256_maskload_ps(a + p * cs, load), kMR);
    return;
  }
  packAStrided<kMR>(mr, kc, a, rs, cs, dst);
}

void packB16_avx2(int64_t kc, int64_t nr, const float* b, int64_t rs, int64_t cs, float* dst) {
  if (rs == 1) {
    transposePack(nr < 8 ? nr : 8, kc, b, cs, dst, kNR, 8);
    transposePack(nr > 8 ? nr - 8 : 0, kc, b + 8 * cs, cs, dst + 8, kNR, 8);
    return;
  }
  packBStrided<kNR>(kc, nr, b, rs, cs, dst);
}

// 12 chains of 8 lanes (the tile's 6x2 accumulators): enough for 2 FMA units x 4-5 cycles.
double fmaProbe(int64_t steps) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  volatile float scale = 0.9999f, shift = 1e-4f;  // opaque: the chains cannot be folded away
  const __m256 m = _mm256_set1_ps(scale), c = _mm256_set1_ps(shift);
  for (int64_t s = 0; s < steps; s++)
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  alignas(32) float lanes[8];
  volatile float sink = 0.0f;
  for (int i = 0; i < 12; i++) {
    _mm256_store_ps(lanes, acc[i]);
    for (float v : lanes) sink = sink + v;
  }
  return 2.0 * 12 * 8 * static_cast<double>(steps);
}

const GemmKernels kKernels = {kMR,
                              kNR,
                              256,
                              512,
                              kernel6x16<false, false>,
                              packA6_avx2,
                              packB16_avx2,
                              kernel6x16<true, false>,
                              kernel6x16<false, true>,
                              kernel6x16<true, true>,
                              nullptr,
                              fmaProbe};

}  // namespace

const GemmKernels& gemmKernelsAvx2() { return kKernels; }

}  // namespace gemm
}  // namespace neurone
