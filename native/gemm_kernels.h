// Internal to the GEMM: the per-KernelPath dispatch table shared by gemm.cc
// (baseline x86-64 driver) and gemm_avx2.cc / gemm_avx512.cc (compiled with
// SIMD flags). Only plain declarations and POD types live here, so nothing
// compiled with AVX can be inlined into baseline code: the driver reaches the
// SIMD code solely through the function pointers of a GemmKernels table,
// chosen at run time.
#pragma once

#include <cstdint>

namespace neurone {
namespace gemm {

// Computes one MR x NR tile of C:
//   C[i, j] = alpha * sum_{p < kc} A(i, p) * B(p, j) + beta * C[i, j]
// for i < mr (<= MR), j < nr (<= NR), where A(i, p) = a[p * as + i] and
// B(p, j) = b[p * bs + j]. Rows i >= mr of A are never read; B must have NR
// readable columns per row (the driver zero-pads ragged panels), only the
// first nr columns of C are written. beta == 0 means C is not read.
using Microkernel = void (*)(int64_t mr, int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs,
                             float* c, int64_t ldc, float alpha, float beta);

// Packs rows [0, mr) x depth [0, kc) of A into dst[p * MR + i], zero-padding
// rows mr..MR-1. A(i, p) = a[i * rs + p * cs].
using PackA = void (*)(int64_t mr, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst);

// Packs depth [0, kc) x columns [0, nr) of B into dst[p * NR + j],
// zero-padding columns nr..NR-1. B(p, j) = b[p * rs + j * cs].
using PackB = void (*)(int64_t kc, int64_t nr, const float* b, int64_t rs, int64_t cs, float* dst);

using NarrowEdgeFn = void (*)(int64_t rows, int64_t cols, int64_t kc, const float* a, int64_t lda, const float* bx,
                              float* c, int64_t ldc, float alpha, float beta);

struct GemmKernels {
  int mr, nr;  // register tile
  int64_t kc;  // depth block: an A micro-panel (MR x KC) stays in L1
  int64_t nc;  // width block: a packed B block (KC x NC) stays in L2
  Microkernel kernel;
  // Packing for this tile shape. The SIMD files supply transposing packers
  // (the expensive case); generic strided copies otherwise.
  PackA packA;
  PackB packB;
  // Optional (null where absent): the microkernel reading A in place, row-major,
  // A(i, p) = a[i * as + p], for products whose A panel would be reused by too
  // few column panels to repay packing it.
  Microkernel kernelRowA;
  // Optional: kernel and kernelRowA storing C transposed, C(i, j) = c[j * ldc + i]. With them
  // the driver may compute C = A·B as Cᵀ = Bᵀ·Aᵀ (see sgemm in gemm.cc).
  Microkernel kernelTransC;
  Microkernel kernelRowATransC;
  // Optional: the last n % 16 <= 4 columns of a product with A transposed, read in place
  // (A(i, p) = a[p * lda + i]), from B's columns expanded, bx[16p + 4j + r] = B(p, j) for all
  // r < 4 (zero for j >= cols); rows x cols of C with the microkernel's arithmetic.
  NarrowEdgeFn narrowEdge;
  // Runs `steps` rounds of independent multiply-add chains as wide as this path's
  // registers, enough of them to keep every FMA unit busy; returns the FLOPs done.
  double (*fmaProbe)(int64_t steps);
};

// Defined in gemm_avx2.cc / gemm_avx512.cc; only called when the CPU has the
// instructions (kernelPathSupported).
const GemmKernels& gemmKernelsAvx2();
const GemmKernels& gemmKernelsAvx512();
const GemmKernels& gemmKernelsNeon();

}  // namespace gemm
}  // namespace neurone
