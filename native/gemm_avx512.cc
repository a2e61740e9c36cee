// AVX-512 SGEMM microkernel and packers (compiled with -mavx512f/dq/bw/vl -mfma).
//
// Tile 14x32: 28 zmm accumulators (14 rows x 2 vectors of 16 columns) + 2 zmm
// for the B row leaves 2 of the 32 registers spare. Each k step issues 2
// vector loads of B and 14 broadcasts of A folded into the FMAs as embedded
// broadcasts ({1to16}): 16 loads for 28 FMAs, under the 2 loads/cycle the
// core sustains next to 2 FMAs/cycle, and 28 independent chains cover the
// 4-cycle FMA latency on both FMA ports.
//
// Edge tiles get their own instantiation (rows 1..14 x 16 or 32 columns), so
// a 32-row batch (the driver splits it 11 + 11 + 10) or a 100-wide output
// (3x32 + 16) spends no FMAs on padding rows and at most one partial vector;
// that vector is written with a masked store. Every tile also comes in a form
// that stores C transposed (TransC), for the driver's swapped products.
//
// Blocking: KC = 384 keeps the A micro-panel (14 x 384 x 4 B = 21 KiB) in the
// 48 KiB L1 next to the streaming B rows; NC = 512 keeps a packed B block
// (384 x 512 x 4 B = 768 KiB) well inside the 2 MiB L2.
#include <immintrin.h>

#include <array>
#include <utility>

#include "avx512_lanes.h"
#include "gemm_kernels.h"
#include "gemm_pack.h"
#include "gemm_tiles.h"

namespace neurone {
namespace gemm {
namespace {

constexpr int kMR = 14;
constexpr int kNR = 32;

// B read in place (a row-major weight matrix, rows ldb apart) is a strided
// stream the hardware prefetchers do not follow across pages, and in a
// training step the weights come from L3 rather than L2: without help each
// row costs a full L3 round trip. Requesting the row kPrefetchRows steps ahead
// (about 30 FMA steps of ~11 cycles, longer than an L3 miss) hides it.
constexpr int64_t kPrefetchRows = 24;

// The shuffles below use the zero-masking forms with all lanes (kAll16, kAll8 of avx512_lanes.h).

// In-register 16x16 transpose: r[i] holds row i on entry, column i on exit.
// Two rounds of in-lane unpacks build 4x4 blocks, two rounds of 128-bit lane
// shuffles put the blocks in place.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(kAll16, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(kAll16, r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    const __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[g + 2]), t3 = _mm512_castps_pd(t[g + 3]);
    r[g] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, t0, t2));
    r[g + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, t0, t2));
    r[g + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, t1, t3));
    r[g + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, t1, t3));
  }
  // r[4g + c], lane L: rows 4g..4g+3 of column 4L + c.
  for (int c = 0; c < 4; c++) {
    const __m512 v0 = _mm512_maskz_shuffle_f32x4(kAll16, r[c], r[4 + c], 0x44);
    const __m512 w0 = _mm512_maskz_shuffle_f32x4(kAll16, r[c], r[4 + c], 0xee);
    const __m512 v1 = _mm512_maskz_shuffle_f32x4(kAll16, r[8 + c], r[12 + c], 0x44);
    const __m512 w1 = _mm512_maskz_shuffle_f32x4(kAll16, r[8 + c], r[12 + c], 0xee);
    t[c] = _mm512_maskz_shuffle_f32x4(kAll16, v0, v1, 0x88);
    t[4 + c] = _mm512_maskz_shuffle_f32x4(kAll16, v0, v1, 0xdd);
    t[8 + c] = _mm512_maskz_shuffle_f32x4(kAll16, w0, w1, 0x88);
    t[12 + c] = _mm512_maskz_shuffle_f32x4(kAll16, w0, w1, 0xdd);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}

// One tile for both layouts of A: packed (the driver's micro-panel, A(i, p) =
// a[p * as + i] with as = kMR, or a transposed A read in place with as = lda) or,
// for kernelRowA, read in place from row-major storage (A(i, p) = a[i * as + p],
// as = lda), so the driver need not pack an A panel that few column panels reuse.
// TransC stores the tile transposed, C(i, j) = c[j * ldc + i], for the driver's
// Cᵀ = Bᵀ·Aᵀ form: each 16-column vector of the R accumulator rows becomes, after an
// in-register transpose, up to 16 runs of R consecutive floats.
template <int R, int NV, bool InPlaceB, bool RowMajorA, bool TransC>
void tile(int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c, int64_t ldc,
          float alpha, float beta) {
  // Every loop indexing acc is unrolled in full (the pragmas below): with one of them left
  // rolled, GCC keeps acc in memory for the whole tile, 28 zero stores before the k loop and
  // 28 spills after it. Unrolled, a 14x32 tile of depth 32 takes 583-590 cycles instead of
  // 633-650, and one of depth 128 ~2050 instead of ~2225.
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  // C is touched only after the k loop (read when beta != 0, written always): ask for its
  // lines now so they have arrived by then; a weight gradient does not fit in L2.
  if (TransC) {
    for (int64_t j = 0; j < nr; j++) _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc), _MM_HINT_T0);
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * v), _MM_HINT_T0);
  }

  // Unrolled so the loop overhead and the pointer bumps stay off the FMA ports.
  // A transposed and read in place (a weight matrix, lda apart) is the same strided stream
  // as B in place; over a long panel it pays to request it ahead too (32x4064x100 swapped:
  // +5 %), over the 32-deep panels of a weight gradient the requests only cost issue slots.
  const bool prefetchA = !RowMajorA && as != kMR && kc > 4 * kPrefetchRows;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; p++) {
    if (prefetchA) {
      _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchRows * as), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(a + kPrefetchRows * as + R - 1), _MM_HINT_T0);
    }
    if (InPlaceB)
      for (int v = 0; v < NV; v++)
        _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * bs + 16 * v), _MM_HINT_T0);
    __m512 bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
      __m512 ai = _mm512_set1_ps(RowMajorA ? a[i * as + p] : a[i]);
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    if (!RowMajorA) a += as;
    b += bs;
  }
  if (TransC) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 rows = static_cast<__mmask16>((1u << R) - 1u);
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) r[i] = i < R ? acc[i][v] : _mm512_setzero_ps();
      transpose16x16(r);
      const int64_t cols = nr - 16 * v < 16 ? nr - 16 * v : 16;
#pragma GCC unroll 16
      for (int64_t j = 0; j < cols; j++) {
        float* cp = c + (16 * v + j) * ldc;
        __m512 out = alpha == 1.0f ? r[j] : _mm512_mul_ps(va, r[j]);
        if (beta != 0.0f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(rows, cp), out);
        _mm512_mask_storeu_ps(cp, rows, out);
      }
    }
    return;
  }
  __mmask16 mask[NV];
  for (int v = 0; v < NV; v++) {
    int64_t cols = nr - 16 * v;
    mask[v] = firstLanes(cols);
  }
  const __m512 va = _mm512_set1_ps(alpha);
  // alpha == 1 (every call from the modules) skips the scaling: 1 * x is exact, so the bits
  // are those of the general form, and a 32-deep tile (a weight gradient) saves ~3 % of its
  // FMA-port work.
  if (alpha == 1.0f && beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], acc[i][v]);
  } else if (alpha == 1.0f && beta == 1.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) {
        float* cp = c + i * ldc + 16 * v;
        _mm512_mask_storeu_ps(cp, mask[v], _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], cp), acc[i][v]));
      }
  } else if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], _mm512_mul_ps(va, acc[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) {
        float* cp = c + i * ldc + 16 * v;
        __m512 old = _mm512_maskz_loadu_ps(mask[v], cp);
        _mm512_mask_storeu_ps(cp, mask[v], _mm512_fmadd_ps(vb, old, _mm512_mul_ps(va, acc[i][v])));
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
constexpr auto kernel14x32 = &microkernel<Tiles, kMR, kNR, RowMajorA, TransC>;

// dst[p * dstStride + r] = src[r * ld + p] for r < rows, p < kc, zero for
// rows <= r < 16; only the lanes in `store` are written. The transposing
// case of packing (A not transposed, B transposed), 16 depth steps at a time.
void transposePack(int64_t rows, int64_t kc, const float* src, int64_t ld, float* dst, int64_t dstStride,
                   __mmask16 store) {
  for (int64_t p = 0; p < kc; p += 16) {
    const int64_t depth = kc - p < 16 ? kc - p : 16;
    const __mmask16 load = firstLanes(depth);
    __m512 r[16];
    for (int64_t i = 0; i < 16; i++)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(load, src + i * ld + p) : _mm512_setzero_ps();
    transpose16x16(r);
    for (int64_t c = 0; c < depth; c++) _mm512_mask_storeu_ps(dst + (p + c) * dstStride, store, r[c]);
  }
}

void packA14_avx512(int64_t mr, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  if (cs == 1) {
    transposePack(mr, kc, a, rs, dst, kMR, firstLanes(kMR));
    return;
  }
  if (rs == 1) {
    // Transposed A: each depth step is a contiguous run of mr values.
    const __mmask16 load = firstLanes(mr);
    for (int64_t p = 0; p < kc; p++)
      _mm512_mask_storeu_ps(dst + p * kMR, firstLanes(kMR), _mm512_maskz_loadu_ps(load, a + p * cs));
    return;
  }
  packAStrided<kMR>(mr, kc, a, rs, cs, dst);
}

void packB32_avx512(int64_t kc, int64_t nr, const float* b, int64_t rs, int64_t cs, float* dst) {
  if (cs == 1) {
    const __mmask16 m0 = firstLanes(nr), m1 = firstLanes(nr > 16 ? nr - 16 : 0);
    for (int64_t p = 0; p < kc; p++) {
      const float* src = b + p * rs;
      _mm512_storeu_ps(dst + p * kNR, _mm512_maskz_loadu_ps(m0, src));
      _mm512_storeu_ps(dst + p * kNR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
    return;
  }
  if (rs == 1) {
    // Both 16-column halves of each 16-deep chunk in turn, so that each packed row's line is
    // written whole while it is in L1 (one half over all of kc, then the other, fetched every
    // line twice: the 32x4064 of a forward packed in 20 -> 15 µs, L2-resident).
    for (int64_t p = 0; p < kc; p += 16) {
      const int64_t depth = kc - p < 16 ? kc - p : 16;
      transposePack(nr < 16 ? nr : 16, depth, b + p, cs, dst + p * kNR, kNR, 0xffff);
      transposePack(nr > 16 ? nr - 16 : 0, depth, b + 16 * cs + p, cs, dst + p * kNR + 16, kNR, 0xffff);
    }
    return;
  }
  packBStrided<kNR>(kc, nr, b, rs, cs, dst);
}

// The last n % 16 <= 4 columns of a product with A transposed (a weight gradient XᵀdY, 100
// outputs = 6 x 16 + 4): the tile would fill a quarter of a vector with them, and the swapped
// form reads all of A again as vectors for 4 columns, 8 chains deep. Here a vector holds 4 rows
// x 4 columns instead, lane 4j + r = C(i + r, j): the 4 values A(i..i+3, p), contiguous in a
// transposed A, are one 128-bit broadcast load, and B's row p comes expanded (bx[16p + 4j + r] =
// B(p, j), zero past the last column), so a depth step is one load and one FMA per 4 rows, with
// no shuffles. G groups (4G rows) run as G chains. Each C element is the tile's sum, in the same
// order, with the tile's epilogue arithmetic: the same bits.
template <int G>
void narrowBlock(int64_t rows, int64_t cols, int64_t kc, const float* a, int64_t lda, const float* bx, float* c,
                 int64_t ldc, float alpha, float beta) {
  __m512 acc[G];
#pragma GCC unroll 16
  for (int g = 0; g < G; g++) acc[g] = _mm512_setzero_ps();
  // A partial last group loads only its rows: reading past them could leave the matrix.
  const __mmask8 lastRows = static_cast<__mmask8>(firstLanes(rows - 4 * (G - 1)));
  for (int64_t p = 0; p < kc; p++) {
    const __m512 bv = _mm512_loadu_ps(bx + 16 * p);
    const float* ap = a + p * lda;
#pragma GCC unroll 16
    for (int g = 0; g < G - 1; g++)
      acc[g] = _mm512_fmadd_ps(_mm512_maskz_broadcast_f32x4(kAll16, _mm_loadu_ps(ap + 4 * g)), bv, acc[g]);
    acc[G - 1] = _mm512_fmadd_ps(_mm512_maskz_broadcast_f32x4(kAll16, _mm_maskz_loadu_ps(lastRows, ap + 4 * (G - 1))),
                                 bv, acc[G - 1]);
  }
  // Lane 4j + r to lane 4r + j: 128-bit lane r is then row i + r.
  const __m512i byRow = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __mmask8 store = static_cast<__mmask8>(firstLanes(cols));
  const __m128 va = _mm_set1_ps(alpha), vb = _mm_set1_ps(beta);
#pragma GCC unroll 16
  for (int g = 0; g < G; g++) {
    const __m512 t = _mm512_maskz_permutexvar_ps(kAll16, byRow, acc[g]);
    alignas(64) float byRows[16];  // read back 4 floats at a time: store-forwarded, no shuffles
    _mm512_store_ps(byRows, t);
    for (int r = 0; r < 4 && 4 * g + r < rows; r++) {
      float* cp = c + (4 * g + r) * ldc;
      const __m128 row = _mm_load_ps(byRows + 4 * r);
      if (alpha == 1.0f && beta == 0.0f) {
        _mm_mask_storeu_ps(cp, store, row);
      } else if (alpha == 1.0f && beta == 1.0f) {
        _mm_mask_storeu_ps(cp, store, _mm_add_ps(_mm_maskz_loadu_ps(store, cp), row));
      } else if (beta == 0.0f) {
        _mm_mask_storeu_ps(cp, store, _mm_mul_ps(va, row));
      } else {
        _mm_mask_storeu_ps(cp, store, _mm_fmadd_ps(vb, _mm_maskz_loadu_ps(store, cp), _mm_mul_ps(va, row)));
      }
    }
  }
}

template <size_t... G>
constexpr std::array<NarrowEdgeFn, sizeof...(G)> narrowBlocks(std::index_sequence<G...>) {
  return {&narrowBlock<G + 1>...};
}

// rows x cols of C, cols <= 4, in blocks of 64 rows (16 chains: 8 cover the FMA latency; the
// rest give the loads room).
void narrowEdge(int64_t rows, int64_t cols, int64_t kc, const float* a, int64_t lda, const float* bx, float* c,
                int64_t ldc, float alpha, float beta) {
  static constexpr auto kBlocks = narrowBlocks(std::make_index_sequence<16>());
  for (int64_t i = 0; i < rows; i += 64) {
    const int64_t r = rows - i < 64 ? rows - i : 64;
    kBlocks[(r + 3) / 4 - 1](r, cols, kc, a + i, lda, bx, c + i * ldc, ldc, alpha, beta);
  }
}

// 16 chains of 16 lanes: twice the 2 FMA units x 4-cycle latency, as the 28-chain tile is.
double fmaProbe(int64_t steps) {
  __m512 acc[16];
  for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  volatile float scale = 0.9999f, shift = 1e-4f;  // opaque: the chains cannot be folded away
  const __m512 m = _mm512_set1_ps(scale), c = _mm512_set1_ps(shift);
  for (int64_t s = 0; s < steps; s++)
    for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  alignas(64) float lanes[16];
  volatile float sink = 0.0f;
  for (int i = 0; i < 16; i++) {
    _mm512_store_ps(lanes, acc[i]);
    for (float v : lanes) sink = sink + v;
  }
  return 2.0 * 16 * 16 * static_cast<double>(steps);
}

const GemmKernels kKernels = {kMR,
                              kNR,
                              384,
                              512,
                              kernel14x32<false, false>,
                              packA14_avx512,
                              packB32_avx512,
                              kernel14x32<true, false>,
                              kernel14x32<false, true>,
                              kernel14x32<true, true>,
                              narrowEdge,
                              fmaProbe};

}  // namespace

const GemmKernels& gemmKernelsAvx512() { return kKernels; }

}  // namespace gemm
}  // namespace neurone
