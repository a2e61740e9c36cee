// SGEMM driver: blocking, packing, threading, the reference loop and the
// portable scalar microkernel. Compiled for baseline x86-64 (no SIMD flags):
// the AVX2 / AVX-512 microkernels and packers are reached only through the
// GemmKernels tables of gemm_avx2.cc / gemm_avx512.cc.
//
// Loop nest (GotoBLAS/BLIS order, written for row-major C with the vector
// dimension along N):
//
//   task (M chunk x N chunk, N chunk <= NC)          <- threads split here
//     for pc in K step KC                            (kc balanced over k)
//       pack B[pc:+kc, chunk] into NR-wide panels    -> L2, reused by every row panel
//       for ir in chunk rows step MR
//         pack A[ir:+MR, pc:+kc] (MR x kc)           -> L1, reused across the chunk
//         for jr in chunk cols step NR
//           microkernel MR x NR, B streaming from L2
//
// The broadcast operand (A) sits in L1 and the vector operand (B) streams
// from L2, as BLIS does on Skylake-X: B supplies 2 zmm loads per k step
// against MR broadcasts, so it is the stream that best tolerates L2 latency.
//
// A small C with a long depth (a layer's forward at batch 32) is split across threads by
// depth blocks instead, with the blocks still summed in order (runSplitK).
//
// Skinny shapes (batch 32): when B is not transposed and only a few row
// panels reuse it, the microkernel reads B in place with row stride ldb; only
// the ragged last column panel is packed (zero-padded). Likewise a row-major A
// is read in place (kernelRowA) when only a few column panels reuse
// its panel, as is a transposed A, already in the packed layout. Some shapes
// run as Cᵀ = Bᵀ·Aᵀ instead, with the kernel storing its tiles transposed
// (chooseForm says which, and why). Tiny products skip packing entirely. Every
// C element is always computed with the same KC blocking in the same order, so
// results depend neither on the thread count nor on the form.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <memory>
#include <cstring>
#include <new>

#include "gemm_kernels.h"
#include "gemm_pack.h"

namespace neurone {

void sgemmReference(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; i++) {
    for (int64_t j = 0; j < g.n; j++) {
      double sum = 0;
      for (int64_t p = 0; p < g.k; p++) {
        float a = g.transA ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        float b = g.transB ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        sum += static_cast<double>(a) * b;
      }
      float* c = &g.c[i * g.ldc + j];
      double r = g.alpha * sum;
      if (g.beta != 0.0f) r += static_cast<double>(g.beta) * *c;
      *c = static_cast<float>(r);
    }
  }
}

namespace gemm {
namespace {

// ---- Portable path ---------------------------------------------------------
// 4x8: eight SSE2 accumulators out of sixteen xmm registers when the compiler
// vectorises the j loop at baseline, and still reasonable as plain scalar code.
constexpr int kScalarMR = 4;
constexpr int kScalarNR = 8;

void sgemm_kernel_4x8_scalar(int64_t mr, int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs,
                             float* c, int64_t ldc, float alpha, float beta) {
  float acc[kScalarMR][kScalarNR] = {};
  if (mr == kScalarMR) {
    for (int64_t p = 0; p < kc; p++) {
      const float* ap = a + p * as;
      const float* bp = b + p * bs;
      for (int i = 0; i < kScalarMR; i++)
        for (int j = 0; j < kScalarNR; j++) acc[i][j] += ap[i] * bp[j];
    }
  } else {
    for (int64_t p = 0; p < kc; p++) {
      const float* ap = a + p * as;
      const float* bp = b + p * bs;
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < kScalarNR; j++) acc[i][j] += ap[i] * bp[j];
    }
  }
  for (int64_t i = 0; i < mr; i++) {
    float* ci = c + i * ldc;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < nr; j++) ci[j] = alpha * acc[i][j];
    } else {
      for (int64_t j = 0; j < nr; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
  }
}

// Eight chains: the scalar tile's 4x8 accumulators are as many independent sums.
double fmaProbeScalar(int64_t steps) {
  float acc[8];
  for (int i = 0; i < 8; i++) acc[i] = static_cast<float>(i);
  volatile float scale = 0.9999f, shift = 1e-4f;  // opaque: the chains cannot be folded away
  const float m = scale, c = shift;
  for (int64_t s = 0; s < steps; s++)
    for (int i = 0; i < 8; i++) acc[i] = acc[i] * m + c;
  volatile float sink = 0.0f;
  for (int i = 0; i < 8; i++) sink = sink + acc[i];
  return 2.0 * 8 * static_cast<double>(steps);
}

const GemmKernels kScalarKernels = {
    kScalarMR, kScalarNR, 256,     512,     sgemm_kernel_4x8_scalar, packAStrided<kScalarMR>, packBStrided<kScalarNR>,
    nullptr,   nullptr,   nullptr, nullptr, fmaProbeScalar};

// The table for `path`, by the fallback rule of cpu.h.
const GemmKernels& kernelsFor(KernelPath path) {
  static const KernelTables<GemmKernels> tables{
      &kScalarKernels,
      {NEURONE_IF_AVX2(gemmKernelsAvx2), NEURONE_IF_AVX512(gemmKernelsAvx512), NEURONE_IF_NEON(gemmKernelsNeon)}};
  return *tables.forPath(path);
}

// ---- Tuning ----------------------------------------------------------------
// At or below this many multiply-adds the product is done by a plain loop:
// measured faster than packing only for ~4x4x4; from 8x8x8 up the packed
// microkernel path already wins.
constexpr int64_t kTinyMnk = kSgemmPlainMnk;
// Multiply-adds a thread must get before another thread is used: ~10 us of
// single-core work. Measured with the pool's workers spinning, 2 threads win
// from ~2M (32x256x256: 20 -> 14 us); at 1M the gain is within the cost of
// waking a sleeping worker.
constexpr int64_t kMnkPerThread = 1024 * 1024;
// B (not transposed) is read in place when at most this many row panels reuse
// it: packing would then cost a visible fraction of the multiply.
constexpr int64_t kInPlaceBMaxRows = 64;
// A (not transposed) is read in place, unpacked, when a task has at most this many column
// panels: measured 3-7 % faster for 32x100x4064 and the 122x64x192 products of a convolution,
// no different at 8 panels.
constexpr int64_t kRowAMaxPanels = 4;
// Threads split the depth instead of C when C has at most this many elements and every thread
// gets at least one depth block (see runSplitK), up to kSplitKMaxBlocks blocks: each block past
// the first thread's keeps its own copy of C until the join (at most 64 x 32 KiB). One block a
// thread is enough: split by columns instead, the MLP's forward at batch 32 (32x256 over 784
// inputs, two blocks) left each core its half of every row of W, and the optimiser's step, which
// takes W in two contiguous halves, then fetched half of each thread's share from the other core
// (in fit on an Intel Xeon the step on W took 34 us at 2 threads, 20 at one, and 16 with the
// depth split); fit on that MLP ran 1.13x as fast at 2 threads (quartiles 1.08-1.15).
constexpr int64_t kSplitKMaxOutput = 8192;
constexpr int64_t kSplitKMaxBlocks = 64;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Vector width of the tiles' columns: an n that is not a multiple leaves lanes empty.
constexpr int64_t kLanes = 16;
// A product with A transposed and at most this many columns runs swapped (see chooseForm).
constexpr int64_t kNarrowSwapCols = 12;

// Which form runs a product, from its shape and thread count (every form gives the same bits).
// Measured on AVX-512, one thread unless said:
//  - a transposed B much wider than a short A (a layer's input gradient dY·Wᵀ) would be
//    repacked, transposing, on every call; swapped, the weight is a row-major A read in place
//    and only the small dYᵀ is packed (32x100x4064: 108 -> 149 GFLOP/s; 32x256x784: 127 -> 181);
//  - an n leaving lanes empty (100 = 6 x 16 + 4) where m leaves none: swapped, the ragged side
//    is the tiles' row count, which costs nothing (32x4064x100: 123 -> 132); with 2 threads
//    only when the swapped product still splits by columns, since splitting its rows would
//    make every thread pack all of the transposed Aᵀ (there 217 -> 203);
//  - the same with A transposed (a weight gradient XᵀdY): swapping all of it leaves 12.5-row
//    tiles, as wasteful as the empty lanes, so only the ragged last columns are split off, and
//    their Aᵀ is read in place (4064x32x100: 118 -> 140; up to 4 of them through the kernels'
//    narrowEdge instead of swapped, +4 % more); with 2 threads that small part would run on one
//    of them while the other waits (250 -> 187, and with narrowEdge 241 -> 208), so the
//    product stays plain;
//  - but a transposed A with at most kNarrowSwapCols columns of C (a convolution's forward over
//    a tile's im2col columns into 6 channels, a 10-class layer's weight gradient) leaves most
//    lanes of a vector empty, while swapped its few rows fill the tiles' rows (AVX2, one Zen 3
//    core: 576x6x25 39 -> 65 GFLOP/s, 100x10x32 42 -> 50, 784x10x256 54 -> 75, 2000x12x300
//    63 -> 80; at 15 columns plain was faster, 78 against 72).
GemmForm chooseForm(const GemmArgs& g, const GemmKernels& kt, int64_t threads) {
  if (!g.transA && g.transB && g.m <= kInPlaceBMaxRows && g.n > g.m) return GemmForm::Swapped;
  if (roundUp(g.n, kLanes) * g.m <= roundUp(g.m, kLanes) * g.n) return GemmForm::Plain;
  if (g.transA) {
    if (g.n <= kNarrowSwapCols && (threads == 1 || ceilDiv(g.m, kt.nr) >= 2 * threads)) return GemmForm::Swapped;
    return g.n > kLanes && threads == 1 ? GemmForm::SplitRagged : GemmForm::Plain;
  }
  if (threads == 1 || ceilDiv(g.m, kt.nr) >= 2 * threads) return GemmForm::Swapped;
  return GemmForm::Plain;
}

// ---- Per-thread scratch ----------------------------------------------------
// Grown on demand and kept: steady-state calls do not allocate. Pool workers
// are persistent, so each keeps its own buffers.
struct Scratch {
  float* data = nullptr;
  size_t capacity = 0;
  ~Scratch() {
    if (data) ::operator delete(data, std::align_val_t(64));
  }
  float* get(size_t floats) {
    if (floats > capacity) {
      if (data) ::operator delete(data, std::align_val_t(64));
      data = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t(64)));
      capacity = floats;
    }
    return data;
  }
};

float* threadScratch(size_t floats) {
  thread_local Scratch scratch;
  return scratch.get(floats);
}

// The small-problem path: no packing, no threads.
void sgemmTiny(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; i++) {
    float* ci = g.c + i * g.ldc;
    for (int64_t j = 0; j < g.n; j++) {
      float sum = 0.0f;
      for (int64_t p = 0; p < g.k; p++) {
        float a = g.transA ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        float b = g.transB ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        sum += a * b;
      }
      ci[j] = g.beta == 0.0f ? g.alpha * sum : g.alpha * sum + g.beta * ci[j];
    }
  }
}

void scaleC(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; i++) {
    float* ci = g.c + i * g.ldc;
    if (g.beta == 0.0f) {
      for (int64_t j = 0; j < g.n; j++) ci[j] = 0.0f;
    } else if (g.beta != 1.0f) {
      for (int64_t j = 0; j < g.n; j++) ci[j] *= g.beta;
    }
  }
}

struct Plan {
  const GemmArgs* g;
  const GemmKernels* kt;
  int64_t kc;              // balanced depth block
  int64_t mChunk, nChunk;  // task extent (multiples of MR / NR)
  int64_t mTasks, nTasks;
  bool bInPlace;
  bool aInPlace;  // A read in place when few column panels reuse a panel (see runTask)
  bool transC;    // g describes Cᵀ = Bᵀ·Aᵀ: store tiles with kernelTransC / kernelRowATransC
};

void runTask(const Plan& plan, int64_t task) {
  const GemmArgs& g = *plan.g;
  const GemmKernels& kt = *plan.kt;
  const int64_t MR = kt.mr, NR = kt.nr;
  const int64_t i0 = (task % plan.mTasks) * plan.mChunk;
  const int64_t j0 = (task / plan.mTasks) * plan.nChunk;
  const int64_t i1 = std::min(g.m, i0 + plan.mChunk);
  const int64_t j1 = std::min(g.n, j0 + plan.nChunk);
  if (i0 >= i1 || j0 >= j1) return;
  const int64_t width = j1 - j0;
  const int64_t panels = ceilDiv(width, NR);

  // A(i, p) = a[i * aRs + p * aCs]; B(p, j) = b[p * bRs + j * bCs].
  const int64_t aRs = g.transA ? 1 : g.lda, aCs = g.transA ? g.lda : 1;
  const int64_t bRs = g.transB ? 1 : g.ldb, bCs = g.transB ? g.ldb : 1;

  const int64_t kc = plan.kc;
  // The packed B follows the packed A in the (64-byte aligned) scratch: rounded up to whole
  // cache lines, or with a depth block that is not a multiple of 8 (370 for k = 4064) every
  // vector load of B straddles two lines (32x4064x100: 210 -> 184-192 µs).
  const int64_t aFloats = roundUp(MR * kc, 16);
  const int64_t bFloats = plan.bInPlace ? NR * kc : panels * NR * kc;
  float* scratch = threadScratch(static_cast<size_t>(aFloats + bFloats));
  float* aPack = scratch;
  float* bPack = scratch + aFloats;

  for (int64_t pc = 0; pc < g.k; pc += kc) {
    const int64_t kcur = std::min(kc, g.k - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;
    // Where panel jp of B lives, and its row stride.
    const float* bBase;
    int64_t bStride, bPanelStep;
    int64_t raggedPanel = -1;
    if (plan.bInPlace) {
      bBase = g.b + pc * g.ldb + j0;
      bStride = g.ldb;
      bPanelStep = NR;
      if (width % NR != 0) {
        raggedPanel = panels - 1;
        kt.packB(kcur, width - raggedPanel * NR, bBase + raggedPanel * NR, bRs, bCs, bPack);
      }
    } else {
      for (int64_t jp = 0; jp < panels; jp++) {
        int64_t nr = std::min(NR, width - jp * NR);
        kt.packB(kcur, nr, g.b + pc * bRs + (j0 + jp * NR) * bCs, bRs, bCs, bPack + jp * NR * kcur);
      }
      bBase = bPack;
      bStride = NR;
      bPanelStep = NR * kcur;
    }
    // Rows are spread evenly over the fewest panels (32 = 11 + 11 + 10, not
    // 14 + 14 + 4): a short last panel runs too few FMA chains to hide latency.
    const int64_t rowPanels = ceilDiv(i1 - i0, MR);
    const int64_t baseRows = (i1 - i0) / rowPanels, extraRows = (i1 - i0) % rowPanels;
    for (int64_t ip = 0, i = i0; ip < rowPanels; ip++) {
      const int64_t mr = baseRows + (ip < extraRows ? 1 : 0);
      // A packed panel is reused by every column panel of the task; with few of them (a
      // narrow output: a 100-unit layer, a 64-channel convolution) the packing costs more than
      // the strided reads of A in place save.
      // In place, a row-major A goes to kernelRowA; a transposed A is already in the packed
      // layout, A(i, p) = a[p * lda + i], only with row stride lda instead of MR.
      const bool inPlace = plan.aInPlace && panels <= kRowAMaxPanels;
      const bool rowA = inPlace && !g.transA;
      const float* aPanel = g.a + i * aRs + pc * aCs;
      const int64_t aStride = inPlace ? g.lda : MR;
      if (!inPlace) {
        kt.packA(mr, kcur, aPanel, aRs, aCs, aPack);
        aPanel = aPack;
      }
      const Microkernel kernel =
          rowA ? (plan.transC ? kt.kernelRowATransC : kt.kernelRowA) : (plan.transC ? kt.kernelTransC : kt.kernel);
      for (int64_t jp = 0; jp < panels; jp++) {
        const int64_t nr = std::min(NR, width - jp * NR);
        const float* bp = jp == raggedPanel ? bPack : bBase + jp * bPanelStep;
        const int64_t bs = jp == raggedPanel ? NR : bStride;
        const int64_t j = j0 + jp * NR;
        float* cTile = plan.transC ? g.c + j * g.ldc + i : g.c + i * g.ldc + j;
        kernel(mr, nr, kcur, aPanel, aStride, bp, bs, cTile, g.ldc, g.alpha, beta);
      }
      i += mr;
    }
  }
}

// The depth block: KC or less, the same for every block but the last.
int64_t balancedKc(int64_t k, const GemmKernels& kt) { return ceilDiv(k, ceilDiv(k, kt.kc)); }

// Threads worth waking for this product (the same for C and Cᵀ).
int64_t threadsFor(const GemmArgs& g, ThreadPool* pool) {
  const int64_t threads = pool ? pool->threads() : 1;
  return std::max<int64_t>(1, std::min(threads, g.m * g.n * g.k / kMnkPerThread));
}

// Plans the blocking and the split across threads, and runs it: C = A·B, or with `swapped`
// Cᵀ = Bᵀ·Aᵀ through the kernels storing tiles transposed.
// `kc` is the depth block (0: balanced over g.k).
void runPlan(GemmArgs g, bool swapped, const GemmKernels& kt, ThreadPool* pool, int64_t kc = 0) {
  const int64_t MR = kt.mr, NR = kt.nr;
  const int64_t threads = threadsFor(g, pool);
  Plan plan;
  plan.g = &g;
  plan.kt = &kt;
  plan.kc = kc > 0 ? kc : balancedKc(g.k, kt);
  plan.transC = swapped;
  if (swapped) {
    // Cᵀ = Bᵀ·Aᵀ: the same products, summed in the same order, so the same bits.
    std::swap(g.m, g.n);
    std::swap(g.a, g.b);
    std::swap(g.lda, g.ldb);
    const bool transA = g.transA;
    g.transA = !g.transB;
    g.transB = !transA;
  }
  plan.bInPlace = !g.transB && g.m <= kInPlaceBMaxRows;
  plan.aInPlace = kt.kernelRowA != nullptr;

  const int64_t mPanels = ceilDiv(g.m, MR), nPanels = ceilDiv(g.n, NR);
  const int64_t ncPanels = std::max<int64_t>(1, kt.nc / NR);
  int64_t nTasks = ceilDiv(nPanels, ncPanels);
  int64_t mTasks = 1;
  if (threads > 1) {
    // Split the longer side of C so each thread owns long contiguous runs of
    // it: when threads own interleaved column slices of short rows, the L2
    // streamers of both cores prefetch (and steal) each other's lines, which
    // measured slower than one thread for 784x256 outputs. Splitting N also
    // lets each thread pack only its own slice of B; splitting M repacks B
    // per thread, which is cheap exactly when M is the long side. A square C
    // splits N: there each thread packs all of A instead, which costs less
    // than all of B (256x256x784, the MLP's forward at batch 256: 5 % and 8 %
    // of the product; on an Intel Xeon, 2 threads, the MLP trained 1.06x as
    // fast, quartiles 1.02-1.12). A weight gradient (A transposed, Xᵀ·dY)
    // splits its rows even when C is wider than tall: the optimiser's step
    // reads that C next, in contiguous halves, so rows leave each thread its
    // own half in its core's cache, where columns would leave it half of
    // every row (the autoencoder's 256x784 gradient: at 2 threads fit ran
    // 1.05x as fast, quartiles 1.02-1.08).
    const bool splitM = mPanels >= 2 * threads && (g.m > g.n || nPanels < 2 * threads || g.transA);
    if (splitM) {
      mTasks = threads;
    } else if (nPanels >= 2 * threads) {
      nTasks = std::min(nPanels, roundUp(std::max(nTasks, threads), threads));
    } else {
      mTasks = std::min(mPanels, threads);
    }
  }
  const int64_t nChunkPanels = ceilDiv(nPanels, nTasks);
  plan.nChunk = nChunkPanels * NR;
  plan.nTasks = ceilDiv(nPanels, nChunkPanels);
  const int64_t mChunkPanels = ceilDiv(mPanels, mTasks);
  plan.mChunk = mChunkPanels * MR;
  plan.mTasks = ceilDiv(mPanels, mChunkPanels);

  const int64_t tasks = plan.mTasks * plan.nTasks;
  if (threads > 1 && tasks > 1) {
    constexpr int64_t kStackChunks = 256;
    std::atomic<uint8_t> stackFlags[kStackChunks];
    std::unique_ptr<std::atomic<uint8_t>[]> heapFlags;
    std::atomic<uint8_t>* claimed = stackFlags;
    if (tasks > kStackChunks) {
      heapFlags.reset(new std::atomic<uint8_t>[static_cast<size_t>(tasks)]);
      claimed = heapFlags.get();
    }
    for (int64_t t = 0; t < tasks; t++) claimed[t].store(0, std::memory_order_relaxed);
    // Chunks are claimed rather than taken in pool order: each thread first tries the chunks
    // congruent to its worker index, so repeated calls of one shape tend to give a thread the
    // same slice of C every time, which then stays in that core's L2. A thread that finds its
    // own chunks taken helps with the rest. Each call runs exactly one chunk, so `tasks` calls
    // cover all of them.
    parallelFor(
        pool, tasks,
        [&](int64_t, int worker) {
          for (int64_t t = worker; t < tasks; t += threads) {
            if (!claimed[t].exchange(1, std::memory_order_relaxed)) return runTask(plan, t);
          }
          for (int64_t t = 0; t < tasks; t++) {
            if (!claimed[t].exchange(1, std::memory_order_relaxed)) return runTask(plan, t);
          }
        },
        TaskOrder::Arrival);
  } else {
    for (int64_t t = 0; t < tasks; t++) runTask(plan, t);
  }
}

// The few last columns of a product with A transposed, through the kernels' narrowEdge: the
// same depth blocks as runPlan, each with B's columns expanded for it (see GemmKernels).
constexpr int64_t kNarrowEdgeCols = 4;

void runNarrowEdge(const GemmArgs& g, const GemmKernels& kt, int64_t kc) {
  if (kc <= 0) kc = balancedKc(g.k, kt);
  float* bx = threadScratch(static_cast<size_t>(kc * 16));
  for (int64_t pc = 0; pc < g.k; pc += kc) {
    const int64_t kcur = std::min(kc, g.k - pc);
    for (int64_t p = 0; p < kcur; p++)
      for (int64_t j = 0; j < kNarrowEdgeCols; j++) {
        const float v = j < g.n ? (g.transB ? g.b[j * g.ldb + pc + p] : g.b[(pc + p) * g.ldb + j]) : 0.0f;
        for (int64_t r = 0; r < 4; r++) bx[16 * p + 4 * j + r] = v;
      }
    kt.narrowEdge(g.m, g.n, kcur, g.a + pc * g.lda, g.lda, bx, g.c, g.ldc, g.alpha, pc == 0 ? g.beta : 1.0f);
  }
}

// Runs the product in `form` (not Auto), one thread or split over `pool`.
void runForm(const GemmArgs& g, GemmForm form, const GemmKernels& kt, ThreadPool* pool, int64_t kc = 0) {
  if (form == GemmForm::SplitRagged && g.n % kLanes == 0) form = GemmForm::Plain;
  if (form != GemmForm::SplitRagged) return runPlan(g, form == GemmForm::Swapped, kt, pool, kc);
  // The last n % 16 columns on their own, swapped; the rest plain. Every C element still gets
  // its products in the same order, so the bits are those of either form alone.
  const int64_t ragged = g.n % kLanes;
  GemmArgs body = g, edge = g;
  body.n = g.n - ragged;
  edge.n = ragged;
  edge.b = g.transB ? g.b + body.n * g.ldb : g.b + body.n;
  edge.c = g.c + body.n;
  if (body.n > 0) runPlan(body, false, kt, pool, kc);
  if (g.transA && ragged <= kNarrowEdgeCols && kt.narrowEdge) return runNarrowEdge(edge, kt, kc);
  runPlan(edge, true, kt, pool, kc);
}

// Splitting the depth across threads, with the same bits as one thread.
//
// A small C with a long depth (a layer's forward at batch 32: 32x100 over 4064 inputs) splits
// badly by rows or columns: 3 row panels or 4 column panels do not share out evenly over 2
// threads, and every thread streams the part of the weight matrix it needs from wherever the
// last kernel left it. The optimiser's step leaves each thread's contiguous share of W in that
// core's L2, so split by depth thread t reads W's rows where it left them (32x100x4064 with
// 2 threads, W rewritten by both between calls as a step does: 200 -> 120 µs; inside fit on the
// seed CNN: 250-280 -> 170-185 µs).
//
// One thread computes C_b+1 = alpha * P_b + C_b block by block, P_b being depth block b's sum
// (zero-started in the tile) and C_0 = beta * C. That order is kept: thread 0 runs the first
// run of blocks into C as usual; each later block b is computed alone, into its own buffer,
// as P_b exactly (alpha = 1, beta = 0: the tile stores its sums unscaled); after the join
// the caller adds them to C in block order, with the tile's own epilogue arithmetic for
// beta = 1, round(round(alpha * P_b) + C).
// The product over depth blocks [b0, b1) of g: A's columns and B's rows from b0 * kc on.
GemmArgs depthSlice(const GemmArgs& g, int64_t kc, int64_t b0, int64_t b1) {
  const int64_t p0 = b0 * kc, p1 = std::min(g.k, b1 * kc);
  GemmArgs h = g;
  h.k = p1 - p0;
  h.a = g.transA ? g.a + p0 * g.lda : g.a + p0;
  h.b = g.transB ? g.b + p0 : g.b + p0 * g.ldb;
  return h;
}

// Whether runSplitK should run this product on `threads` threads.
bool splitsK(const GemmArgs& g, const GemmKernels& kt, int64_t threads) {
  const int64_t blocks = ceilDiv(g.k, balancedKc(g.k, kt));
  return threads > 1 && g.m * g.n <= kSplitKMaxOutput && blocks >= threads && blocks <= kSplitKMaxBlocks;
}

// The columns [j0, j1) of g's product.
GemmArgs columnSlice(const GemmArgs& g, int64_t j0, int64_t j1) {
  GemmArgs h = g;
  h.n = j1 - j0;
  h.b = g.transB ? g.b + j0 * g.ldb : g.b + j0;
  h.c = g.c + j0;
  return h;
}

// The work is shared out in units of one depth block's columns split in `threads` pieces (at
// multiples of kLanes), `blocks` units a thread, so that a block count that is not a multiple of
// the threads still gives each the same share: AVX-512's depth block of 384 makes the 784 inputs
// of the MLP and the autoencoder 3 blocks, which whole blocks split 1 + 2 over 2 threads. Thread
// 0's leading whole blocks go straight into C; every other unit computes its piece of P_b.
void runSplitK(const GemmArgs& g, GemmForm form, const GemmKernels& kt, ThreadPool* pool, int64_t threads) {
  const int64_t kc = balancedKc(g.k, kt), blocks = ceilDiv(g.k, kc);
  // Column pieces of a block: one when the columns are too few to cut in `threads` vector-wide pieces.
  const int64_t pieces = blocks % threads != 0 && g.n >= threads * kLanes ? threads : 1;
  const auto pieceStart = [&](int64_t c) { return c == pieces ? g.n : c * g.n / pieces / kLanes * kLanes; };
  // Thread t's units: [t * units / threads, (t + 1) * units / threads), unit u being piece
  // u % pieces of block u / pieces.
  const int64_t units = blocks * pieces;
  const auto firstUnit = [&](int64_t t) { return t * units / threads; };
  // Thread 0's whole blocks, written into C as one thread would; the rest go to `partials`.
  const int64_t direct = firstUnit(1) / pieces;
  thread_local Scratch partialScratch;
  float* partials = partialScratch.get(static_cast<size_t>((blocks - direct) * g.m * g.n));
  // Contiguous: thread t takes task t, the t-th share of the depth (W's rows), as the
  // optimiser's step took the t-th share of W.
  parallelFor(pool, threads, [&](int64_t t, int) {
    int64_t u = firstUnit(t);
    const int64_t end = firstUnit(t + 1);
    if (t == 0 && direct > 0) {
      runForm(depthSlice(g, kc, 0, direct), form, kt, nullptr, kc);
      u = direct * pieces;
    }
    while (u < end) {
      // This block's pieces in [u, end), run as one product of their columns.
      const int64_t b = u / pieces, c0 = u % pieces, c1 = std::min(pieces, c0 + (end - u));
      GemmArgs h = depthSlice(g, kc, b, b + 1);
      h.alpha = 1.0f;
      h.beta = 0.0f;
      h.c = partials + (b - direct) * g.m * g.n;
      h.ldc = g.n;
      const int64_t j0 = pieceStart(c0), j1 = pieceStart(c1);
      if (j1 > j0) runForm(columnSlice(h, j0, j1), form, kt, nullptr, kc);
      u += c1 - c0;
    }
  });
  for (int64_t b = direct; b < blocks; b++) {
    const float* pb = partials + (b - direct) * g.m * g.n;
    for (int64_t i = 0; i < g.m; i++) {
      float* ci = g.c + i * g.ldc;
      const float* pi = pb + i * g.n;
      for (int64_t j = 0; j < g.n; j++) ci[j] = g.alpha * pi[j] + ci[j];
    }
  }
}

}  // namespace
}  // namespace gemm

int64_t sgemmDepthBlock(KernelPath path, int64_t k) { return gemm::balancedKc(k, gemm::kernelsFor(path)); }

double fmaProbe(KernelPath path, int64_t steps) { return gemm::kernelsFor(path).fmaProbe(steps); }

void sgemm(const GemmArgs& g, KernelPath path, ThreadPool* pool, GemmForm form) {
  using namespace gemm;
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) {
    scaleC(g);
    return;
  }
  if (g.m * g.n * g.k <= kTinyMnk) {
    sgemmTiny(g);
    return;
  }
  const GemmKernels& kt = kernelsFor(path);
  if (kt.kernelTransC == nullptr) form = GemmForm::Plain;
  const int64_t threads = threadsFor(g, pool);
  if (splitsK(g, kt, threads)) {
    // Each thread runs its share alone: the form is the one-thread choice.
    if (form == GemmForm::Auto) form = chooseForm(g, kt, 1);
    return runSplitK(g, form, kt, pool, threads);
  }
  if (form == GemmForm::Auto) form = chooseForm(g, kt, threads);
  runForm(g, form, kt, pool);
}

}  // namespace neurone
