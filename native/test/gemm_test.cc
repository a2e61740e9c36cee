// sgemm against sgemmReference on every kernel path this CPU supports: edge
// shapes around each tile size, all transpose combinations, padded strides,
// alpha/beta variants (beta = 0 over NaN-filled C), k = 0, shapes crossing
// every blocking boundary, and 1-3 thread pools (which must agree bitwise
// with the single-thread result); and each SIMD path's packers against the
// contract of gemm_kernels.h (checkPackers).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu.h"
#include "gemm.h"
#include "gemm_kernels.h"
#include "test_paths.h"
#include "threadpool.h"

using neurone::GemmArgs;
using neurone::KernelPath;

namespace {

int failures = 0;
int checks = 0;

const neurone::GemmForm kForms[] = {neurone::GemmForm::Plain, neurone::GemmForm::Swapped,
                                    neurone::GemmForm::SplitRagged};

struct Case {
  bool transA, transB;
  int64_t m, n, k;
  int64_t padA, padB, padC;  // extra row-stride elements
  float alpha, beta;
};

// Fills with values in [-1, 1).
void fill(std::vector<float>& v, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (auto& x : v) x = d(rng);
}

// Runs `c` through sgemm(path, pool) and the reference; returns false (and
// reports) on mismatch. When `out` is non-null the fast result is stored there.
bool runCase(const Case& cs, KernelPath path, neurone::ThreadPool* pool, std::mt19937& rng,
             std::vector<float>* out = nullptr, const std::vector<float>* expectExact = nullptr,
             neurone::GemmForm form = neurone::GemmForm::Auto) {
  const int64_t aRows = cs.transA ? cs.k : cs.m, aCols = cs.transA ? cs.m : cs.k;
  const int64_t bRows = cs.transB ? cs.n : cs.k, bCols = cs.transB ? cs.k : cs.n;
  const int64_t lda = aCols + cs.padA, ldb = bCols + cs.padB, ldc = cs.n + cs.padC;
  std::vector<float> a(static_cast<size_t>(std::max<int64_t>(1, aRows * lda)));
  std::vector<float> b(static_cast<size_t>(std::max<int64_t>(1, bRows * ldb)));
  std::vector<float> c0(static_cast<size_t>(std::max<int64_t>(1, cs.m * ldc)));
  fill(a, rng);
  fill(b, rng);
  fill(c0, rng);
  if (cs.beta == 0.0f) std::fill(c0.begin(), c0.end(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> cFast = c0, cRef = c0;

  GemmArgs g;
  g.transA = cs.transA;
  g.transB = cs.transB;
  g.m = cs.m;
  g.n = cs.n;
  g.k = cs.k;
  g.alpha = cs.alpha;
  g.beta = cs.beta;
  g.a = a.data();
  g.lda = lda;
  g.b = b.data();
  g.ldb = ldb;
  g.ldc = ldc;
  g.c = cRef.data();
  neurone::sgemmReference(g);
  g.c = cFast.data();
  neurone::sgemm(g, path, pool, form);

  checks++;
  const double tol = 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(cs.k, 1))) + 1e-6;
  int64_t bad = 0;
  for (int64_t i = 0; i < cs.m && bad < 5; i++) {
    for (int64_t j = 0; j < ldc && bad < 5; j++) {
      const size_t idx = static_cast<size_t>(i * ldc + j);
      if (j >= cs.n) {
        // Padding columns must be untouched.
        bool same = std::memcmp(&cFast[idx], &c0[idx], sizeof(float)) == 0;
        if (!same) {
          std::printf("  wrote padding C[%lld,%lld]\n", (long long)i, (long long)j);
          bad++;
        }
        continue;
      }
      double mag = 0;
      for (int64_t p = 0; p < cs.k; p++) {
        float av = cs.transA ? a[p * lda + i] : a[i * lda + p];
        float bv = cs.transB ? b[j * ldb + p] : b[p * ldb + j];
        mag += std::fabs(static_cast<double>(av) * bv);
      }
      mag = std::fabs(cs.alpha) * mag + (cs.beta != 0.0f ? std::fabs(cs.beta * c0[idx]) : 0.0);
      const double diff = std::fabs(static_cast<double>(cFast[idx]) - cRef[idx]);
      if (!(diff <= tol * std::max(mag, 1e-3))) {
        std::printf("  C[%lld,%lld] = %.9g, reference %.9g (mag %.3g)\n", (long long)i, (long long)j, cFast[idx],
                    cRef[idx], mag);
        bad++;
      }
      if (expectExact && std::memcmp(&cFast[idx], &(*expectExact)[idx], sizeof(float)) != 0) {
        std::printf("  C[%lld,%lld] = %.9g differs from the 1-thread automatic form's %.9g\n", (long long)i,
                    (long long)j, cFast[idx], (*expectExact)[idx]);
        bad++;
      }
    }
  }
  if (out) *out = cFast;
  if (bad) {
    failures++;
    std::printf(
        "FAIL path=%s threads=%d form=%d transA=%d transB=%d m=%lld n=%lld k=%lld pad=%lld/%lld/%lld alpha=%g "
        "beta=%g\n",
        neurone::kernelPathName(path), pool ? pool->threads() : 0, static_cast<int>(form), cs.transA, cs.transB,
        (long long)cs.m, (long long)cs.n, (long long)cs.k, (long long)cs.padA, (long long)cs.padB, (long long)cs.padC,
        cs.alpha, cs.beta);
    return false;
  }
  return true;
}

// The packers of a SIMD path's table, or null for the scalar path (whose packers are the strided
// loops the others fall back on) and for paths not compiled into this build.
const neurone::gemm::GemmKernels* simdKernels(KernelPath path) {
  switch (path) {
    case KernelPath::Avx2:
      return NEURONE_IF_AVX2(neurone::gemm::gemmKernelsAvx2());
    case KernelPath::Avx512:
      return NEURONE_IF_AVX512(neurone::gemm::gemmKernelsAvx512());
    case KernelPath::Neon:
      return NEURONE_IF_NEON(neurone::gemm::gemmKernelsNeon());
    default:
      return nullptr;
  }
}

// The packers against their contract (gemm_kernels.h), element by element: every row (A) or
// column (B) count up to the tile, depths around the 16-step blocks of the transposing packers,
// each source layout (contiguous rows, contiguous columns: the transposing case, neither), the
// padding lanes zero (dst starts as NaN), nothing written past the panel. The products above
// cannot see the padding: the tiles never store what it produces.
void checkPackers(KernelPath path) {
  const neurone::gemm::GemmKernels* kt = simdKernels(path);
  if (!kt) return;
  const int64_t depths[] = {1, 3, 15, 16, 17, 32, 47, 100};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::mt19937 rng(77);
  for (const bool packA : {true, false}) {
    const int64_t width = packA ? kt->mr : kt->nr;
    for (int layout = 0; layout < 3; layout++) {
      for (int64_t count = 1; count <= width; count++) {
        for (int64_t kc : depths) {
          // Source element (i, p) for i < count (a row of A or a column of B), p < kc.
          const int64_t ld = (layout == 1 ? count : kc) + 3;
          const int64_t iStride = layout == 0 ? ld : layout == 1 ? 1 : 2 * ld;
          const int64_t pStride = layout == 0 ? 1 : layout == 1 ? ld : 2;
          std::vector<float> src(static_cast<size_t>((count - 1) * iStride + (kc - 1) * pStride + 1));
          fill(src, rng);
          std::vector<float> got(static_cast<size_t>(kc * width + 16), nan), want(got.size(), nan);
          for (int64_t p = 0; p < kc; p++)
            for (int64_t i = 0; i < width; i++) want[p * width + i] = i < count ? src[i * iStride + p * pStride] : 0.0f;
          if (packA) {
            kt->packA(count, kc, src.data(), iStride, pStride, got.data());
          } else {
            kt->packB(kc, count, src.data(), pStride, iStride, got.data());
          }
          checks++;
          if (std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0) {
            failures++;
            std::printf("FAIL path=%s pack%s count=%lld kc=%lld layout=%d\n", neurone::kernelPathName(path),
                        packA ? "A" : "B", (long long)count, (long long)kc, layout);
          }
        }
      }
    }
  }
}

}  // namespace

int main() {
  std::mt19937 rng(1234);
  const int64_t dims[] = {1, 2, 3, 5, 7, 13, 15, 16, 17, 31, 32, 33, 47, 64, 100, 257};
  const float alphas[] = {1.0f, 0.5f, -2.0f};
  const float betas[] = {0.0f, 1.0f, 0.25f};

  neurone::ThreadPool pool1(1), pool2(2), pool3(3);
  neurone::ThreadPool* pools[] = {nullptr, &pool1, &pool2, &pool3};
  // Under an emulator (the aarch64 build run by qemu, scripts/test-arm64.sh) the full set takes
  // minutes per path: NEURONE_TEST_QUICK=1 keeps every kind of case but samples fewer edge
  // shapes and leaves out the large products (over 2e7 multiply-adds).
  const bool quick = std::getenv("NEURONE_TEST_QUICK") != nullptr;

  for (KernelPath path : kAllPaths) {
    if (!pathUnderTest(path)) {
      std::printf("skip %s (not supported here, or not in NEURONE_TEST_PATHS)\n", neurone::kernelPathName(path));
      continue;
    }
    const int before = failures;
    checkPackers(path);

    // 1x1x1 and k = 0.
    for (float beta : betas) {
      runCase({false, false, 1, 1, 1, 0, 0, 0, 1.0f, beta}, path, nullptr, rng);
      runCase({false, false, 5, 7, 0, 0, 0, 0, 1.0f, beta}, path, nullptr, rng);
      runCase({true, true, 33, 17, 0, 1, 2, 3, -2.0f, beta}, path, nullptr, rng);
    }

    // Sampled edge shapes: every transpose combination, padded strides, alpha/beta mixes.
    std::uniform_int_distribution<int> pick(0, static_cast<int>(std::size(dims)) - 1);
    std::uniform_int_distribution<int> pick3(0, 2);
    std::uniform_int_distribution<int> pad(0, 5);
    for (int t = 0; t < (quick ? 120 : 400); t++) {
      Case cs;
      cs.transA = t & 1;
      cs.transB = (t >> 1) & 1;
      cs.m = dims[pick(rng)];
      cs.n = dims[pick(rng)];
      cs.k = dims[pick(rng)];
      cs.padA = (t % 3 == 0) ? 0 : pad(rng);
      cs.padB = (t % 3 == 0) ? 0 : pad(rng);
      cs.padC = (t % 3 == 0) ? 0 : pad(rng);
      cs.alpha = alphas[pick3(rng)];
      cs.beta = betas[pick3(rng)];
      // Every form of the product (plain, swapped, ragged columns swapped) gives the same bits.
      // The SIMD paths have the transposed store; on the scalar path every form is the plain one.
      std::mt19937 caseRng(rng());
      std::vector<float> automatic;
      std::mt19937 r0 = caseRng;
      if (!runCase(cs, path, nullptr, r0, &automatic) || path == KernelPath::Scalar) continue;
      for (neurone::GemmForm form : kForms) {
        std::mt19937 r = caseRng;
        runCase(cs, path, t % 2 ? &pool2 : nullptr, r, nullptr, &automatic, form);
      }
    }

    // The training shapes and larger ones crossing every blocking boundary, with
    // 0-3 threads; threaded results must equal the unthreaded one bitwise.
    const Case big[] = {
        {false, false, 32, 256, 784, 0, 0, 0, 1.0f, 0.0f},  // forward X*W
        {false, true, 32, 784, 256, 0, 0, 0, 1.0f, 0.0f},   // grad input delta*W^T
        {true, false, 784, 256, 32, 0, 0, 0, 1.0f, 1.0f},   // grad weight X^T*delta (accumulate)
        {false, false, 32, 100, 4064, 0, 0, 0, 1.0f, 0.0f},
        {false, false, 300, 530, 700, 3, 1, 2, 0.5f, 0.25f},
        {true, true, 300, 530, 700, 1, 3, 0, -2.0f, 0.0f},
        {true, false, 97, 1100, 401, 0, 0, 5, 1.0f, 1.0f},
        {false, true, 1030, 40, 390, 2, 0, 0, 1.0f, 0.25f},
        // The seed CNN's fc1, its 4064 inputs cut to 1000 (the sanitizer runs): input gradient
        // (swapped), weight gradient (ragged columns swapped), forward at batch 64 (swapped).
        {false, true, 32, 1000, 100, 0, 0, 0, 1.0f, 0.0f},
        {true, false, 1000, 100, 32, 0, 0, 0, 1.0f, 0.0f},
        {false, false, 64, 100, 1000, 0, 0, 0, 1.0f, 0.0f},
        {true, false, 500, 45, 70, 2, 1, 3, -2.0f, 0.25f},
        // Ragged last columns of 1-4 with A transposed (the narrow edge): several depth blocks,
        // row counts off the 4-row groups and the 64-row blocks, alpha and beta mixed (0.7 and
        // 0.3 scale inexactly, so a fused and an unfused multiply-add differ).
        {true, false, 333, 50, 800, 1, 2, 3, 0.7f, 0.3f},
        {true, true, 130, 35, 500, 0, 1, 2, -2.0f, 1.0f},
        {true, false, 67, 20, 1000, 3, 0, 1, 1.0f, 0.25f},
        {true, true, 70, 1, 390, 1, 1, 1, 0.5f, 0.0f},
        // Small C, long depth: threads split the depth (runSplitK), every transpose, alpha and
        // beta mixed, padded strides, depths that leave a short last block.
        {false, false, 32, 64, 2000, 1, 2, 3, -2.0f, 0.25f},
        {true, true, 30, 70, 2500, 0, 3, 1, 0.5f, 1.0f},
        {true, false, 16, 100, 3001, 2, 0, 0, 1.0f, 0.0f},
        {false, true, 40, 50, 4100, 0, 1, 2, 1.0f, 1.0f},
        // A square C: threads split its columns, not its rows (runPlan).
        {false, false, 200, 200, 300, 1, 2, 3, 0.5f, 0.25f},
    };
    for (const Case& cs : big) {
      if (quick && cs.m * cs.n * cs.k > 20000000) continue;
      std::vector<float> single;
      // Same seed for every thread count so the inputs match.
      std::mt19937 caseRng(rng());
      std::mt19937 r0 = caseRng;
      if (!runCase(cs, path, nullptr, r0, &single)) continue;
      for (neurone::ThreadPool* p : pools) {
        if (!p) continue;
        std::mt19937 r = caseRng;
        runCase(cs, path, p, r, nullptr, &single);
      }
      for (neurone::GemmForm form : kForms) {
        if (path == KernelPath::Scalar) break;
        std::mt19937 r = caseRng;
        runCase(cs, path, &pool2, r, nullptr, &single, form);
      }
    }
    // A pool used right after construction, before its workers have started:
    // this once lost the first job and hung.
    for (int t = 0; t < 20; t++) {
      neurone::ThreadPool fresh(2);
      runCase({false, false, 64, 256, 256, 0, 0, 0, 1.0f, 0.0f}, path, &fresh, rng);
    }
    std::printf("%s: %s\n", neurone::kernelPathName(path), failures == before ? "ok" : "FAILED");
  }
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
