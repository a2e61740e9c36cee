// Single-precision matrix multiply: C = alpha * op(A) * op(B) + beta * C.
//
// Row-major. op(A) is (m, k): A is stored (m, k) with row stride lda, or
// (k, m) when transA. op(B) is (k, n): B is stored (k, n), or (n, k) when
// transB. C is (m, n) with row stride ldc. When beta == 0, C is not read.
// These functions trust their arguments: the binding validates them.
#pragma once

#include <cstdint>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

struct GemmArgs {
  bool transA = false;
  bool transB = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 0;
};

// The plain triple loop: the oracle the tests compare every fast path with.
void sgemmReference(const GemmArgs& args);

// How the fast path computes a product: as C = A·B (Plain), as Cᵀ = Bᵀ·Aᵀ with the tiles
// stored transposed (Swapped), or Plain for the first n - n % 16 columns and Swapped for the
// rest (SplitRagged). Each C element gets the same products in the same order in every form,
// so the bits do not depend on it. Auto picks by shape (see chooseForm in gemm.cc); the others
// are for the tests, and fall back to Plain where the kernels lack the transposed store.
enum class GemmForm { Auto, Plain, Swapped, SplitRagged };

// The fast path: blocked, packed, SIMD microkernel for `path`, split across
// `pool` when the work is large enough to pay for it (pool may be null).
void sgemm(const GemmArgs& args, KernelPath path, ThreadPool* pool, GemmForm form = GemmForm::Auto);

// How sgemm sums, for kernels that must reproduce its bits without calling it. A product with
// m·n·k <= kSgemmPlainMnk is a plain loop (separate multiply and add, alpha·sum + beta·C). Any
// other gives C(i, j) by depth blocks of sgemmDepthBlock(path, k) consecutive terms: each block
// summed from zero in depth order with the path's multiply-add (fused on AVX2 and AVX-512,
// separately rounded on the scalar path), then C = alpha·block + beta·C for the first block
// and alpha·block + C for the others.
constexpr int64_t kSgemmPlainMnk = 256;
int64_t sgemmDepthBlock(KernelPath path, int64_t k);

// The ceiling the microkernels are measured against: runs `steps` rounds of independent
// multiply-add chains on the calling thread, with the vector width of `path` and enough chains
// to fill every FMA unit, and returns the floating-point operations done (a multiply-add counts
// two). Timed by the caller, FLOPs / seconds is one core's FMA throughput at the clock it
// actually sustains under that load, which a nominal clock times FLOPs per cycle overstates.
double fmaProbe(KernelPath path, int64_t steps);

}  // namespace neurone
