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
// a 32-row batch (14 + 14 + 4) or a 100-wide output (3x32 + 16) spends no FMAs
// on padding beyond the last partial vector; the last vector is written with a
// masked store.
//
// Blocking: KC = 384 keeps the A micro-panel (14 x 384 x 4 B = 21 KiB) in the
// 48 KiB L1 next to the streaming B rows; NC = 512 keeps a packed B block
// (384 x 512 x 4 B = 768 KiB) well inside the 2 MiB L2.
#include <immintrin.h>

#include <cstring>
#include <utility>

#include "gemm_kernels.h"

namespace neurone {
namespace gemm {
namespace {

constexpr int kMR = 14;
constexpr int kNR = 32;

template <int R, int NV>
void tile(int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c, int64_t ldc,
          float alpha, float beta) {
  __m512 acc[R][NV];
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    __m512 bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
    for (int i = 0; i < R; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += as;
    b += bs;
  }
  __mmask16 mask[NV];
  for (int v = 0; v < NV; v++) {
    int64_t cols = nr - 16 * v;
    mask[v] = cols >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << cols) - 1u);
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], _mm512_mul_ps(va, acc[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < R; i++)
      for (int v = 0; v < NV; v++) {
        float* cp = c + i * ldc + 16 * v;
        __m512 old = _mm512_maskz_loadu_ps(mask[v], cp);
        _mm512_mask_storeu_ps(cp, mask[v], _mm512_fmadd_ps(vb, old, _mm512_mul_ps(va, acc[i][v])));
      }
  }
}

using TileFn = void (*)(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, float, float);

template <size_t... R>
struct TileTable {
  TileFn half[sizeof...(R)] = {&tile<R + 1, 1>...};
  TileFn full[sizeof...(R)] = {&tile<R + 1, 2>...};
};

template <size_t... R>
constexpr TileTable<R...> makeTileTable(std::index_sequence<R...>) {
  return TileTable<R...>{};
}

const auto kTiles = makeTileTable(std::make_index_sequence<kMR>());

void sgemm_kernel_14x32_avx512(int64_t mr, int64_t nr, int64_t kc, const float* a, int64_t as, const float* b,
                               int64_t bs, float* c, int64_t ldc, float alpha, float beta) {
  TileFn fn = nr > 16 ? kTiles.full[mr - 1] : kTiles.half[mr - 1];
  fn(nr, kc, a, as, b, bs, c, ldc, alpha, beta);
}

void packA14_avx512(int64_t mr, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  for (int64_t p = 0; p < kc; p++) {
    const float* src = a + p * cs;
    float* d = dst + p * kMR;
    int64_t i = 0;
    for (; i < mr; i++) d[i] = src[i * rs];
    for (; i < kMR; i++) d[i] = 0.0f;
  }
}

void packB32_avx512(int64_t kc, int64_t nr, const float* b, int64_t rs, int64_t cs, float* dst) {
  for (int64_t p = 0; p < kc; p++) {
    const float* src = b + p * rs;
    float* d = dst + p * kNR;
    int64_t j = 0;
    if (cs == 1) {
      std::memcpy(d, src, static_cast<size_t>(nr) * sizeof(float));
      j = nr;
    } else {
      for (; j < nr; j++) d[j] = src[j * cs];
    }
    for (; j < kNR; j++) d[j] = 0.0f;
  }
}

const GemmKernels kKernels = {kMR, kNR, 384, 512, sgemm_kernel_14x32_avx512, packA14_avx512, packB32_avx512};

}  // namespace

const GemmKernels& gemmKernelsAvx512() { return kKernels; }

}  // namespace gemm
}  // namespace neurone
