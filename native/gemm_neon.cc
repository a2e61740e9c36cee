// NEON SGEMM microkernel (aarch64, where Advanced SIMD is baseline: no flags, no dispatch).
//
// Tile 8x12: 24 accumulators (8 rows x 3 vectors of 4 columns) + 3 registers for the B row + 1
// for the broadcast A value = 28 of the 32 vector registers. Each k step: 3 loads of B, 8
// broadcast loads of A (LD1R) and 24 FMLAs, 24 independent chains: enough for two 128-bit FMA
// pipes at a 4-cycle latency, with loads to spare on cores that issue two or three a cycle.
// 8x12 rather than 12x8: the vector dimension is the output's columns (row-major C, as on x86),
// and three vectors of B against eight broadcasts keeps loads per FMA at 11/24; twelve rows
// would need 12 broadcasts for 16 FMAs. Edge tiles get their own instantiation (rows 1..8 x 1..3
// vectors); a ragged last vector is stored lane by lane.
//
// Blocking as on AVX2: KC = 256 (an 8 x 256 A micro-panel, 8 KiB, in a 64 KiB L1), NC = 384 (a
// packed B block of 384 KiB in a 1 MiB L2). Packing uses the strided loops of gemm_pack.h; the
// driver reads B in place for skinny products. This path is checked under qemu here (correctness
// only: its speed on ARM hardware has not been measured).
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cmath>
#include <utility>

#include "gemm_kernels.h"
#include "gemm_pack.h"

namespace neurone {
namespace gemm {
namespace {

constexpr int kMR = 8;
constexpr int kNR = 12;

template <int R, int NV>
void tile(int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c, int64_t ldc,
          float alpha, float beta) {
  float32x4_t acc[R][NV];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = vdupq_n_f32(0.0f);
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; p++) {
    float32x4_t bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = vld1q_f32(b + 4 * v);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      const float32x4_t ai = vld1q_dup_f32(a + i);
      for (int v = 0; v < NV; v++) acc[i][v] = vfmaq_f32(acc[i][v], ai, bv[v]);
    }
    a += as;
    b += bs;
  }
  const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
    float* ci = c + i * ldc;
    for (int v = 0; v < NV; v++) {
      const int64_t cols = nr - 4 * v;
      if (cols >= 4) {
        float32x4_t r = vmulq_f32(va, acc[i][v]);
        if (beta != 0.0f) r = vfmaq_f32(r, vb, vld1q_f32(ci + 4 * v));
        vst1q_f32(ci + 4 * v, r);
      } else {
        alignas(16) float lane[4];
        vst1q_f32(lane, acc[i][v]);
        for (int64_t j = 0; j < cols; j++) {
          float* cp = ci + 4 * v + j;
          // The vector epilogue's arithmetic, lane by lane: alpha·acc, then beta·C fused onto it.
          const float r = alpha * lane[j];
          *cp = beta != 0.0f ? std::fma(beta, *cp, r) : r;
        }
      }
    }
  }
}

using TileFn = void (*)(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, float, float);

template <size_t... R>
struct TileTable {
  // [vectors - 1][rows - 1]
  TileFn fn[3][sizeof...(R)] = {{&tile<R + 1, 1>...}, {&tile<R + 1, 2>...}, {&tile<R + 1, 3>...}};
};

template <size_t... R>
constexpr TileTable<R...> makeTileTable(std::index_sequence<R...>) {
  return TileTable<R...>{};
}

void kernel8x12(int64_t mr, int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c,
                int64_t ldc, float alpha, float beta) {
  static constexpr auto kTiles = makeTileTable(std::make_index_sequence<kMR>());
  kTiles.fn[(nr + 3) / 4 - 1][mr - 1](nr, kc, a, as, b, bs, c, ldc, alpha, beta);
}

// 24 chains of 4 lanes, as the tile's accumulators.
double fmaProbe(int64_t steps) {
  float32x4_t acc[24];
  for (int i = 0; i < 24; i++) acc[i] = vdupq_n_f32(static_cast<float>(i));
  volatile float scale = 0.9999f, shift = 1e-4f;  // opaque: the chains cannot be folded away
  const float32x4_t m = vdupq_n_f32(scale), s = vdupq_n_f32(shift);
  for (int64_t k = 0; k < steps; k++)
    for (int i = 0; i < 24; i++) acc[i] = vfmaq_f32(s, acc[i], m);
  alignas(16) float lanes[4];
  volatile float sink = 0.0f;
  for (int i = 0; i < 24; i++) {
    vst1q_f32(lanes, acc[i]);
    for (float v : lanes) sink = sink + v;
  }
  return 2.0 * 24 * 4 * static_cast<double>(steps);
}

const GemmKernels kKernels = {kMR,     kNR,     256,     384,     kernel8x12, packAStrided<kMR>, packBStrided<kNR>,
                              nullptr, nullptr, nullptr, nullptr, fmaProbe};

}  // namespace

const GemmKernels& gemmKernelsNeon() { return kKernels; }

}  // namespace gemm
}  // namespace neurone
#endif
