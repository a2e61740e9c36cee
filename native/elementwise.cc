#include "elementwise.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "elementwise_loops.h"

namespace neurone {

namespace {

// Scalar versions: the reference, and the fast path on CPUs without AVX2.
void tanhScalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = std::tanh(x[i]);
}

// Never overflows: exp is only taken of -|x|.
void sigmoidScalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float e = std::exp(-std::fabs(x[i]));
    float r = 1.0f / (1.0f + e);
    y[i] = x[i] >= 0.0f ? r : e * r;
  }
}

// The sum in double: one float running sum over a softmax row of 100,000 values lost four
// digits (1.2e-4 relative). The SIMD paths' lane sums go into a double block by block
// (simd_math.h's kLaneSumBlock); the js twin sums in double.
float expShiftSumScalar(const float* x, float shift, float* y, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) {
    y[i] = std::exp(x[i] - shift);
    sum += y[i];
  }
  return static_cast<float>(sum);
}

// max(floor, v) as the SIMD tables' MAXPS takes it: v when either is NaN, so a NaN p stays NaN
// in the gradient (std::fmax returned the floor: a NaN prediction gave a finite ±1e12, or 0).
inline float atLeast(float floor, float v) { return floor > v ? floor : v; }

// The sum in double, as expShiftSumScalar's: a float running sum over a row of a million terms
// was 2e-4 off (the SIMD tables' lane sums 7e-6 before they went into a double block by block,
// the js twin's double 3e-8).
float bceSumScalar(const float* p, const float* y, float* grad, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float logP = std::fmax(std::log(p[i]), -100.0f);
    const float logQ = std::fmax(std::log(1.0f - p[i]), -100.0f);
    // fmax returns the other operand for NaN: put NaN back so it is not hidden.
    sum += std::isnan(p[i]) ? p[i] : y[i] * logP + (1.0f - y[i]) * logQ;
    if (grad) grad[i] = (1.0f - y[i]) / atLeast(1e-12f, 1.0f - p[i]) - y[i] / atLeast(1e-12f, p[i]);
  }
  return static_cast<float>(sum);
}

// The rectifiers, the scalar table's, which the SIMD tables' selects (simd_math.h) match bit for
// bit. NaN propagates forward, as in PyTorch: `x <= 0` is false for NaN, so NaN takes the x
// branch (the usual `x > 0 ? x : 0` would turn it into 0 and hide it); -0 gives +0.
// Backward, where x is NaN the slope is undefined and dx is that NaN (x itself): a bad input then
// shows in the gradient, where the non-finite checks look, instead of passing dy through
// (PyTorch's threshold_backward) or giving 0 or alpha * dy; lib/backend/js.ts does the same.
// dy is loaded whatever the sign of x: a load under the condition is not if-converted, and the
// loop then runs with a branch that random signs mispredict (~10x slower).
void rectifyScalar(const float* x, float* y, int64_t n, float alpha, bool leaky) {
  if (leaky) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? alpha * x[i] : x[i];
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
  }
}

void rectifyBackwardScalar(const float* x, const float* dy, float* dx, int64_t n, float alpha, bool leaky) {
  for (int64_t i = 0; i < n; i++) {
    const float g = dy[i];
    const float v = x[i];
    dx[i] = v > 0.0f ? g : (v <= 0.0f ? (leaky ? alpha * g : 0.0f) : v);
  }
}

const elementwise::Kernels kScalar{tanhScalar,
                                   sigmoidScalar,
                                   rectifyScalar,
                                   rectifyBackwardScalar,
                                   expShiftSumScalar,
                                   bceSumScalar,
                                   elementwise::sgdStepLoop,
                                   elementwise::adamStepLoop,
                                   elementwise::nonFiniteIndexLoop,
                                   elementwise::sumOfSquaresLoop,
                                   elementwise::sumBlocksLoop};

// The table for `path`, by the fallback rule of cpu.h.
const elementwise::Kernels& kernelsFor(KernelPath path) {
  static const KernelTables<elementwise::Kernels> tables{
      &kScalar,
      {NEURONE_IF_AVX2(elementwise::kernelsAvx2), NEURONE_IF_AVX512(elementwise::kernelsAvx512),
       NEURONE_IF_NEON(elementwise::kernelsNeon)}};
  return *tables.forPath(path);
}

// softplus(x) = log(1 + e^x), written so e^x is never formed for large x.
inline float softplus(float x) { return std::fmax(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }

// SiLU's and GELU's loops compute in double and round once, as their js twins do: in float, x·σ(x)
// at x = −104 lost the subnormal −7.1e-44 (σ underflowed first), and Φ(x) = (1 + erf(x/√2)) / 2
// cancels for negative x (at x = −5 float's erf leaves a tenth of Φ), hence erfc(−x/√2) / 2.
inline double normalCdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752); }
inline double stableSigmoid(double x) {
  const double e = std::exp(-std::fabs(x));
  const double r = 1.0 / (1.0 + e);
  return x >= 0.0 ? r : e * r;
}

}  // namespace

void activationForwardReference(Activation f, float alpha, const float* x, float* y, int64_t n) {
  switch (f) {
    case Activation::TanH:
      tanhScalar(x, y, n);
      break;
    case Activation::Sigmoid:
      sigmoidScalar(x, y, n);
      break;
    default:
      activationForward(f, alpha, x, y, n, KernelPath::Scalar);
  }
}

void activationForward(Activation f, float alpha, const float* x, float* y, int64_t n, KernelPath path) {
  switch (f) {
    case Activation::Identity:
      if (x != y) std::memmove(y, x, n * sizeof(float));
      break;
    case Activation::ReLU:
    case Activation::LeakyReLU:
      kernelsFor(path).rectify(x, y, n, alpha, f == Activation::LeakyReLU);
      break;
    case Activation::TanH:
      kernelsFor(path).tanh(x, y, n);
      break;
    case Activation::Sigmoid:
      kernelsFor(path).sigmoid(x, y, n);
      break;
    case Activation::SoftPlus:
      for (int64_t i = 0; i < n; i++) y[i] = softplus(x[i]);
      break;
    // SiLU, ELU and GELU as SoftPlus, one plain loop for every path (the C library's bits everywhere).
    case Activation::SiLU:  // x · sigmoid(x)
      for (int64_t i = 0; i < n; i++) y[i] = static_cast<float>(x[i] * stableSigmoid(x[i]));
      break;
    case Activation::ELU:  // x for x > 0, α(e^x − 1) otherwise; NaN takes the second branch and stays NaN
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * std::expm1(x[i]);
      break;
    case Activation::GELU:  // x · Φ(x), PyTorch's exact (erf) form
      for (int64_t i = 0; i < n; i++) y[i] = static_cast<float>(x[i] * normalCdf(x[i]));
      break;
  }
}

void activationBackward(Activation f, float alpha, const float* x, const float* y, const float* dy, float* dx,
                        int64_t n, KernelPath path) {
  switch (f) {
    case Activation::Identity:
      if (dx != dy) std::memmove(dx, dy, n * sizeof(float));
      break;
    case Activation::ReLU:
    case Activation::LeakyReLU:
      kernelsFor(path).rectifyBackward(x, dy, dx, n, alpha, f == Activation::LeakyReLU);
      break;
    case Activation::TanH:
      // 1 − y² as (1 − y)(1 + y): near |y| = 1, 1 − y is exact and the product within an ulp or
      // two, where y·y rounded first left 1 − y² up to 8.6e-5 off (y = 0.99983), against the js
      // twin's double.
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * ((1.0f - y[i]) * (1.0f + y[i]));
      break;
    case Activation::Sigmoid:
      for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case Activation::SoftPlus:
      // softplus'(x) = sigmoid(x)
      for (int64_t i = 0; i < n; i++) {
        float e = std::exp(-std::fabs(x[i]));
        float r = 1.0f / (1.0f + e);
        dx[i] = dy[i] * (x[i] >= 0.0f ? r : e * r);
      }
      break;
    case Activation::SiLU:
      // (x·s)' = s + x·s(1 − s) = s(1 + x(1 − s)), s = sigmoid(x).
      for (int64_t i = 0; i < n; i++) {
        const double s = stableSigmoid(x[i]);
        dx[i] = static_cast<float>(dy[i] * (s * (1.0 + x[i] * (1.0 - s))));
      }
      break;
    case Activation::ELU:
      // α·e^x below 0, from x rather than from y + α (which loses digits where y ≈ −α).
      for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * (alpha * std::exp(x[i]));
      break;
    case Activation::GELU:
      // (x·Φ(x))' = Φ(x) + x·φ(x), φ(x) = e^(−x²/2) / √(2π).
      for (int64_t i = 0; i < n; i++) {
        const double v = x[i];
        dx[i] = static_cast<float>(dy[i] * (normalCdf(v) + v * (0.3989422804014327 * std::exp(-0.5 * v * v))));
      }
      break;
  }
}

namespace {

// Elements per task: ~64 KiB of floats, a few microseconds of work, enough to hide a wake-up.
constexpr int64_t kParallelChunk = 16384;

// How many tasks cover n elements, and how long task `task`'s chunk is (the last may be short).
int64_t chunkCount(int64_t n) { return (n + kParallelChunk - 1) / kParallelChunk; }
int64_t chunkLength(int64_t task, int64_t n) {
  const int64_t rest = n - task * kParallelChunk;
  return rest < kParallelChunk ? rest : kParallelChunk;
}

bool worthThreads(int64_t n, ThreadPool* pool) { return pool && pool->threads() > 1 && n >= 4 * kParallelChunk; }

// fn(begin, length) for every chunk of n elements, over the pool's threads (the caller has
// checked worthThreads).
template <typename Fn>
void forChunks(int64_t n, ThreadPool* pool, const Fn& fn) {
  parallelFor(pool, chunkCount(n), [&](int64_t task, int) { fn(task * kParallelChunk, chunkLength(task, n)); });
}

}  // namespace

void activationForwardParallel(Activation f, float alpha, const float* x, float* y, int64_t n, KernelPath path,
                               ThreadPool* pool) {
  if (!worthThreads(n, pool)) return activationForward(f, alpha, x, y, n, path);
  forChunks(n, pool, [&](int64_t b, int64_t len) { activationForward(f, alpha, x + b, y + b, len, path); });
}

void activationBackwardParallel(Activation f, float alpha, const float* x, const float* y, const float* dy, float* dx,
                                int64_t n, KernelPath path, ThreadPool* pool) {
  if (!worthThreads(n, pool)) return activationBackward(f, alpha, x, y, dy, dx, n, path);
  forChunks(n, pool,
            [&](int64_t b, int64_t len) { activationBackward(f, alpha, x + b, y + b, dy + b, dx + b, len, path); });
}

void sgdStepParallel(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, float weightDecay,
                     float dampening, bool nesterov, KernelPath path, ThreadPool* pool) {
  if (!worthThreads(n, pool)) return sgdStep(w, g, velocity, n, lr, momentum, weightDecay, dampening, nesterov, path);
  forChunks(n, pool, [&](int64_t b, int64_t len) {
    sgdStep(w + b, g + b, velocity ? velocity + b : nullptr, len, lr, momentum, weightDecay, dampening, nesterov, path);
  });
}

void adamStepParallel(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, int64_t step, KernelPath path, ThreadPool* pool) {
  if (!worthThreads(n, pool)) return adamStep(w, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step, path);
  forChunks(n, pool, [&](int64_t b, int64_t len) {
    adamStep(w + b, g + b, m + b, v + b, len, lr, beta1, beta2, eps, weightDecay, step, path);
  });
}

int64_t nonFiniteIndexParallel(const float* x, int64_t n, KernelPath path, ThreadPool* pool) {
  if (!worthThreads(n, pool)) return nonFiniteIndex(x, n, path);
  std::atomic<int64_t> first{n};  // the smallest bad index found so far, n when none
  forChunks(n, pool, [&](int64_t b, int64_t len) {
    // Chunks past an already-found bad index cannot change the answer.
    if (b >= first.load(std::memory_order_relaxed)) return;
    const int64_t i = nonFiniteIndex(x + b, len, path);
    if (i < 0) return;
    int64_t found = b + i, seen = first.load(std::memory_order_relaxed);
    while (found < seen && !first.compare_exchange_weak(seen, found, std::memory_order_relaxed)) {
    }
  });
  const int64_t firstBad = first.load(std::memory_order_relaxed);
  return firstBad < n ? firstBad : -1;
}

void addRowVector(float* y, const float* v, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    float* row = y + r * cols;
    for (int64_t c = 0; c < cols; c++) row[c] += v[c];
  }
}

void sumRows(const float* x, int64_t rows, int64_t cols, float* out, KernelPath path) {
  // Many narrow rows (the bias gradient of a convolution with few channels: LeNet's first has 6
  // columns and 18k rows a batch of 32) are summed as whole blocks of `period` floats, a
  // multiple of both cols and 16, into `period` partial sums that vectorise, then folded per
  // column: 71 -> 20 us there. Added through out, a row at a time, each column was one chain of
  // dependent adds. The SIMD paths keep the partial sums in registers (sumBlocksV): (18432, 6)
  // took 0.22 of the time of the plain loop on AVX-512 and 0.37 on AVX2; (100000, 1) 0.22 and 0.21
  // (AMD Zen 5, paired).
  constexpr int64_t kNarrow = 32;
  if (cols < kNarrow && rows >= 4 * kNarrow) {
    int64_t period = cols;
    while (period % 16 != 0 || period < kNarrow) period += cols;
    float partial[16 * kNarrow] = {};
    const int64_t blocks = rows * cols / period;
    kernelsFor(path).sumBlocks(x, blocks, period, partial);
    float column[kNarrow] = {};
    for (int64_t i = 0; i < period; i++) column[i % cols] += partial[i];
    for (int64_t r = blocks * period / cols; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) column[c] += x[r * cols + c];
    for (int64_t c = 0; c < cols; c++) out[c] += column[c];
    return;
  }
  // Four rows a pass: each column still adds its rows one at a time, in order (C++ adds left to
  // right), so the bits are those of a row at a time, but out is read and written once per four
  // rows. x and out never overlap (the binding checks), which the restrict pointers tell the
  // compiler; with them the loop vectorises without run-time alias checks. A row at a time took
  // 1.25x as long on the bias gradient of VGG's 32-channel convolution, (32768, 32), and 1.8x on
  // a (32, 784) batch.
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* __restrict r0 = x + r * cols;
    const float* __restrict r1 = r0 + cols;
    const float* __restrict r2 = r1 + cols;
    const float* __restrict r3 = r2 + cols;
    float* __restrict sums = out;
    for (int64_t c = 0; c < cols; c++) sums[c] = sums[c] + r0[c] + r1[c] + r2[c] + r3[c];
  }
  for (; r < rows; r++) {
    const float* __restrict row = x + r * cols;
    float* __restrict sums = out;
    for (int64_t c = 0; c < cols; c++) sums[c] += row[c];
  }
}

void softmaxForward(const float* x, float* y, int64_t rows, int64_t cols, bool logOutput, KernelPath path) {
  const auto& k = kernelsFor(path);
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Shifting by the row maximum keeps exp in range: the largest term is exp(0) = 1.
    float max = xr[0];
    for (int64_t c = 1; c < cols; c++) max = xr[c] > max ? xr[c] : max;
    if (logOutput) {
      // log-softmax = (x - max) - log(sum exp(x - max)). y may alias x, and x is read again
      // below, so the exponentials go to a scratch row, never to y.
      // (x − max) − log(sum), in that order, keeps log(sum) from rounding away when max ~ 1e4.
      // The pieces' sums add up in double, as within expShiftSum (simd_math.h's kLaneSumBlock).
      float scratch[256];
      double sum = 0.0;
      for (int64_t c0 = 0; c0 < cols; c0 += 256) {
        int64_t len = cols - c0 < 256 ? cols - c0 : 256;
        sum += k.expShiftSum(xr + c0, max, scratch, len);
      }
      float logSum = std::log(static_cast<float>(sum));
      for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - max) - logSum;
    } else {
      float sum = k.expShiftSum(xr, max, yr, cols);
      float inv = 1.0f / sum;
      for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
    }
  }
}

// The softmax Jacobian is diag(s) - s sᵀ, so the vector-Jacobian product is
//   dx = s ⊙ (dy - ⟨dy, s⟩).
// For log-softmax, ∂y_i/∂x_j = δ_ij - s_j, so dx = dy - s · Σ dy, with s = exp(y).
void softmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, bool logOutput) {
  for (int64_t r = 0; r < rows; r++) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    // The row's sums in double, as expShiftSumScalar's (a long row loses digits in float).
    if (logOutput) {
      double total = 0.0;
      for (int64_t c = 0; c < cols; c++) total += dyr[c];
      const float t = static_cast<float>(total);
      for (int64_t c = 0; c < cols; c++) dxr[c] = dyr[c] - std::exp(yr[c]) * t;
    } else {
      double dot = 0.0;
      for (int64_t c = 0; c < cols; c++) dot += static_cast<double>(dyr[c]) * yr[c];
      const float d = static_cast<float>(dot);
      for (int64_t c = 0; c < cols; c++) dxr[c] = yr[c] * (dyr[c] - d);
    }
  }
}

void crossEntropyLogits(const float* logits, const int32_t* labels, float* loss, float* grad, int64_t rows,
                        int64_t cols, KernelPath path) {
  const auto& k = kernelsFor(path);
  float scratch[256];
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = logits + r * cols;
    float max = xr[0];
    for (int64_t c = 1; c < cols; c++) max = xr[c] > max ? xr[c] : max;
    // The exponentials go to grad when it is wanted; otherwise to a scratch row, piece by piece,
    // the pieces' sums in double as in softmaxForward.
    float sum = 0.0f;
    if (grad) {
      sum = k.expShiftSum(xr, max, grad + r * cols, cols);
    } else {
      double pieces = 0.0;
      for (int64_t c0 = 0; c0 < cols; c0 += 256) {
        int64_t len = cols - c0 < 256 ? cols - c0 : 256;
        pieces += k.expShiftSum(xr + c0, max, scratch, len);
      }
      sum = static_cast<float>(pieces);
    }
    const int32_t label = labels[r];
    // (max − x[label]) first: adding max to log(sum) would round away log(sum) for logits ~1e4.
    loss[r] = std::log(sum) + (max - xr[label]);
    if (grad) {
      float* gr = grad + r * cols;
      float inv = 1.0f / sum;
      for (int64_t c = 0; c < cols; c++) gr[c] *= inv;
      gr[label] -= 1.0f;
    }
  }
}

int64_t nonFiniteIndex(const float* x, int64_t n, KernelPath path) { return kernelsFor(path).nonFiniteIndex(x, n); }

double sumOfSquares(const float* x, int64_t n, KernelPath path, ThreadPool* pool) {
  const auto kernel = kernelsFor(path).sumOfSquares;
  const int64_t blocks = (n + kSumOfSquaresBlock - 1) / kSumOfSquaresBlock;
  if (blocks <= 1) return kernel(x, n);
  // Each block's sum, then the blocks' in order: the split across threads changes nothing.
  constexpr int64_t kStackBlocks = 64;
  double stackSums[kStackBlocks];
  std::vector<double> heapSums(blocks > kStackBlocks ? static_cast<size_t>(blocks) : 0);
  double* sums = blocks > kStackBlocks ? heapSums.data() : stackSums;
  const auto block = [&](int64_t b, int) {
    const int64_t begin = b * kSumOfSquaresBlock;
    sums[b] = kernel(x + begin, std::min(kSumOfSquaresBlock, n - begin));
  };
  if (worthThreads(n, pool))
    parallelFor(pool, blocks, block);
  else
    for (int64_t b = 0; b < blocks; b++) block(b, 0);
  double total = 0;
  for (int64_t b = 0; b < blocks; b++) total += sums[b];
  return total;
}

void dropoutForward(const float* x, float* factors, float* y, int32_t* state, int64_t n, double p, float keep) {
  const auto rotl = [](uint32_t v, int k) { return (v << k) | (v >> (32 - k)); };
  uint32_t s0 = static_cast<uint32_t>(state[0]), s1 = static_cast<uint32_t>(state[1]);
  uint32_t s2 = static_cast<uint32_t>(state[2]), s3 = static_cast<uint32_t>(state[3]);
  uint32_t keepBits;
  std::memcpy(&keepBits, &keep, sizeof keepBits);
  for (int64_t i = 0; i < n; i++) {
    const uint32_t draw = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    // keep's bits or none (+0), chosen by a mask: a branch on a random mask mispredicts (it took
    // 1.5x as long), and keep · 0 would be NaN for an infinite keep.
    const uint32_t keepIf = static_cast<uint32_t>(static_cast<double>(draw) * 0x1p-32 < p) - 1u;
    const uint32_t bits = keepBits & keepIf;
    float factor;
    std::memcpy(&factor, &bits, sizeof factor);
    factors[i] = factor;
    y[i] = x[i] * factor;
  }
  state[0] = static_cast<int32_t>(s0);
  state[1] = static_cast<int32_t>(s1);
  state[2] = static_cast<int32_t>(s2);
  state[3] = static_cast<int32_t>(s3);
}

void binaryCrossEntropy(const float* p, const float* y, float* loss, float* grad, int64_t rows, int64_t cols,
                        KernelPath path) {
  const auto& k = kernelsFor(path);
  for (int64_t r = 0; r < rows; r++)
    loss[r] = -k.bceSum(p + r * cols, y + r * cols, grad ? grad + r * cols : nullptr, cols);
}

void sgdStep(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, float weightDecay,
             float dampening, bool nesterov, KernelPath path) {
  kernelsFor(path).sgdStep(w, g, velocity, n, lr, momentum, weightDecay, dampening, nesterov);
}

void adamStep(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
              float weightDecay, int64_t step, KernelPath path) {
  const double c1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double c2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  // Bias corrections folded into the step size and epsilon:
  //   w -= lr · (m/c1) / (sqrt(v/c2) + eps) = (lr·sqrt(c2)/c1) · m / (sqrt(v) + eps·sqrt(c2))
  const float stepSize = static_cast<float>(lr * std::sqrt(c2) / c1);
  const float epsHat = static_cast<float>(eps * std::sqrt(c2));
  kernelsFor(path).adamStep(w, g, m, v, n, beta1, beta2, weightDecay, stepSize, epsHat);
}

}  // namespace neurone
