// Batch normalisation: the scalar table, the passes that spread the SIMD tables' loops over the
// thread pool, and the references. The scalar code walks rows in memory order with the channel loop
// innermost, so each pass reads x once, contiguously; the per-channel sums are kept in double (a
// batch of 2^20 rows would otherwise lose the last digits of its mean), as the js twin does. It
// runs on one thread: it is the oracle, not a fast path. The SIMD paths split rows across threads
// with the same bits as one thread (see kBatchNormBlockRows in batchnorm.h): on (32, 28, 28, 32),
// two threads take 0.56-0.65 of one thread's time (AMD Zen 5, AVX-512 and AVX2).
#include "batchnorm.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "threadpool.h"

namespace neurone {

namespace {

void statisticsScalar(const BatchNormShape& s, const float* x, float* mean, float* variance) {
  const int64_t chan = s.chan;
  if (s.rows == 0) {
    for (int64_t c = 0; c < chan; c++) mean[c] = variance[c] = 0.0f;
    return;
  }
  std::vector<double> sum(chan, 0.0), squares(chan, 0.0);
  for (int64_t r = 0; r < s.rows; r++) {
    const float* row = x + r * chan;
    for (int64_t c = 0; c < chan; c++) sum[c] += row[c];
  }
  const double n = static_cast<double>(s.rows);
  for (int64_t c = 0; c < chan; c++) sum[c] /= n;
  // The deviations about the mean, not E[x²] − mean²: that difference cancels when the channel
  // has a large offset and a small spread.
  for (int64_t r = 0; r < s.rows; r++) {
    const float* row = x + r * chan;
    for (int64_t c = 0; c < chan; c++) {
      const double d = row[c] - sum[c];
      squares[c] += d * d;
    }
  }
  for (int64_t c = 0; c < chan; c++) {
    mean[c] = static_cast<float>(sum[c]);
    variance[c] = static_cast<float>(squares[c] / n);
  }
}

// 1 / sqrt(variance + eps) per channel, in double.
std::vector<double> inverseDeviations(const BatchNormShape& s, const float* variance, float eps) {
  std::vector<double> inv(s.chan);
  for (int64_t c = 0; c < s.chan; c++) inv[c] = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
  return inv;
}

void forwardScalar(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                   const float* scale, const float* shift, float eps, float* y) {
  const int64_t chan = s.chan;
  std::vector<double> gain = inverseDeviations(s, variance, eps);
  if (scale)
    for (int64_t c = 0; c < chan; c++) gain[c] *= scale[c];
  for (int64_t r = 0; r < s.rows; r++) {
    const float* xr = x + r * chan;
    float* yr = y + r * chan;
    for (int64_t c = 0; c < chan; c++) {
      const double v = (static_cast<double>(xr[c]) - mean[c]) * gain[c] + (shift ? shift[c] : 0.0f);
      yr[c] = static_cast<float>(v);
    }
  }
}

void backwardScalar(const BatchNormShape& s, const float* x, const float* dy, const float* mean, const float* variance,
                    const float* scale, float eps, bool training, float* dx, float* dscale, float* dshift) {
  const int64_t chan = s.chan;
  const std::vector<double> inv = inverseDeviations(s, variance, eps);
  // Σ dy and Σ dy·x̂ per channel: the parameter gradients, and (training) the two terms the batch
  // statistics add to the input gradient.
  std::vector<double> sumDy(chan, 0.0), sumDyXhat(chan, 0.0);
  const bool needSums = dscale || dshift || (dx && training);
  if (needSums) {
    for (int64_t r = 0; r < s.rows; r++) {
      const float* xr = x + r * chan;
      const float* dyr = dy + r * chan;
      for (int64_t c = 0; c < chan; c++) {
        sumDy[c] += dyr[c];
        sumDyXhat[c] += dyr[c] * ((static_cast<double>(xr[c]) - mean[c]) * inv[c]);
      }
    }
  }
  if (dscale)
    for (int64_t c = 0; c < chan; c++) dscale[c] = static_cast<float>(dscale[c] + sumDyXhat[c]);
  if (dshift)
    for (int64_t c = 0; c < chan; c++) dshift[c] = static_cast<float>(dshift[c] + sumDy[c]);
  if (!dx || s.rows == 0) return;
  std::vector<double> gain(chan), meanDy(chan, 0.0), meanDyXhat(chan, 0.0);
  const double n = static_cast<double>(s.rows);
  for (int64_t c = 0; c < chan; c++) {
    gain[c] = inv[c] * (scale ? scale[c] : 1.0f);
    if (training) meanDy[c] = sumDy[c] / n, meanDyXhat[c] = sumDyXhat[c] / n;
  }
  for (int64_t r = 0; r < s.rows; r++) {
    const float* xr = x + r * chan;
    const float* dyr = dy + r * chan;
    float* dxr = dx + r * chan;
    for (int64_t c = 0; c < chan; c++) {
      const double xhat = (static_cast<double>(xr[c]) - mean[c]) * inv[c];
      // Each element's dy is read before its dx is written: dx may be dy.
      dxr[c] = static_cast<float>(gain[c] * (dyr[c] - meanDy[c] - xhat * meanDyXhat[c]));
    }
  }
}

const BatchNormKernels kScalarBatchNormKernels{statisticsScalar, forwardScalar, backwardScalar, nullptr, nullptr};

}  // namespace

const BatchNormKernels& batchNormKernelsFor(KernelPath path) {
  static const KernelTables<BatchNormKernels> tables{
      &kScalarBatchNormKernels,
      {NEURONE_IF_AVX2(batchNormKernelsAvx2), NEURONE_IF_AVX512(batchNormKernelsAvx512),
       NEURONE_IF_NEON(batchNormKernelsNeon)}};
  return *tables.forPath(path);
}

namespace {

// Floats a task reads in the elementwise passes and the block sums: ~64 KiB, a few microseconds
// of work, enough to hide a wake-up; under four tasks' worth, one thread runs the pass.
constexpr int64_t kTaskFloats = 16384;
// Blocks whose sums are kept before they are added up: the scratch stays under 8 MiB (Gradient's
// two sums of 64 channels) however many rows there are.
constexpr int64_t kRoundBlocks = 8192;

// The pool when the pass over rows × cn floats pays for threads, else null.
ThreadPool* poolFor(const BatchNormShape& s, int64_t cn, ThreadPool* pool) {
  return pool && pool->threads() > 1 && s.rows * cn >= 4 * kTaskFloats ? pool : nullptr;
}

// fn(r0, rows) over the rows of s: in tasks of about kTaskFloats floats of `cn` channels over the
// pool, or all at once on this thread.
template <typename Fn>
void forRowRanges(const BatchNormShape& s, int64_t cn, ThreadPool* pool, const Fn& fn) {
  ThreadPool* threaded = poolFor(s, cn, pool);
  if (!threaded) return fn(0, s.rows);
  const int64_t perTask = std::max<int64_t>(1, kTaskFloats / cn);
  parallelFor(threaded, (s.rows + perTask - 1) / perTask, [&](int64_t t, int) {
    const int64_t r0 = t * perTask;
    fn(r0, std::min(perTask, s.rows - r0));
  });
}

// sums[k · cn + c] += the SIMD table's sums of args over every row: the blocks' sums, over the pool
// when it pays, then added in block order, as one thread would. On one thread a task's blocks are
// added as soon as they are summed, from a buffer on the stack.
void sumOverRows(const BatchNormKernels& k, const BatchNormSumArgs& args, double* sums, ThreadPool* pool) {
  const int64_t cn = args.cn, width = args.sums() * cn;
  const int64_t blocks = (args.s.rows + kBatchNormBlockRows - 1) / kBatchNormBlockRows;
  const int64_t perTask = std::max<int64_t>(1, kTaskFloats / (kBatchNormBlockRows * cn));
  ThreadPool* threaded = poolFor(args.s, cn, pool);
  // perTask · width <= max(kTaskFloats / kBatchNormBlockRows · 2, 2 · kBatchNormGroup).
  double onStack[2 * kTaskFloats / kBatchNormBlockRows];
  static_assert(2 * kBatchNormGroup <= 2 * kTaskFloats / kBatchNormBlockRows, "a task's block sums fit onStack");
  std::unique_ptr<double[]> onHeap;
  double* part = onStack;
  const int64_t roundBlocks = threaded ? std::min(blocks, kRoundBlocks) : perTask;
  if (threaded) {
    onHeap.reset(new double[static_cast<size_t>(roundBlocks * width)]);
    part = onHeap.get();
  }
  for (int64_t first = 0; first < blocks; first += roundBlocks) {
    const int64_t last = std::min(blocks, first + roundBlocks);
    parallelFor(threaded, (last - first + perTask - 1) / perTask, [&](int64_t t, int) {
      const int64_t b0 = first + t * perTask, b1 = std::min(last, b0 + perTask);
      k.sumBlocks(args, b0, b1, part + (b0 - first) * width);
    });
    // Into a local array, which the compiler knows part does not alias, so the additions vectorise.
    double total[2 * kBatchNormGroup];
    std::copy(sums, sums + width, total);
    for (int64_t b = 0; b < last - first; b++)
      for (int64_t i = 0; i < width; i++) total[i] += part[b * width + i];
    std::copy(total, total + width, sums);
  }
}

// Both statistics passes of the SIMD tables, channel group by group, from a pivot (the channel's
// first value) so that a large common offset does not take the float digits: the first sums
// x − pivot (deviations about a value in the data grow with the spread, not with the offset), the
// second (x − pivot − (mean − pivot))².
void statisticsBlocked(const BatchNormKernels& k, const BatchNormShape& s, const float* x, float* mean, float* variance,
                       ThreadPool* pool) {
  for (int64_t c0 = 0; c0 < s.chan; c0 += kBatchNormGroup) {
    const int64_t cn = std::min(kBatchNormGroup, s.chan - c0);
    if (s.rows == 0) {
      for (int64_t c = 0; c < cn; c++) mean[c0 + c] = variance[c0 + c] = 0.0f;
      continue;
    }
    // The pivot is 0 where the first value is not finite: an Inf pivot would turn the sum of an
    // Inf channel into NaN, where the scalar code gets Inf.
    alignas(64) float pivot[kBatchNormGroup] = {}, fromPivot[kBatchNormGroup] = {};
    for (int64_t c = 0; c < cn; c++) pivot[c] = x[c0 + c] - x[c0 + c] == 0.0f ? x[c0 + c] : 0.0f;
    double sum[kBatchNormGroup] = {}, exact[kBatchNormGroup] = {}, squares[kBatchNormGroup] = {};
    BatchNormSumArgs args{BatchNormSum::Deviation, s, c0, cn, x, nullptr, pivot, nullptr, nullptr};
    sumOverRows(k, args, sum, pool);
    const double n = static_cast<double>(s.rows);
    for (int64_t c = 0; c < cn; c++) {
      mean[c0 + c] = static_cast<float>(pivot[c] + sum[c] / n);
      exact[c] = sum[c] / n;
      fromPivot[c] = static_cast<float>(exact[c]);
    }
    args.kind = BatchNormSum::SquaredDeviation;
    args.fromPivot = fromPivot;
    args.fromPivotExact = exact;
    sumOverRows(k, args, squares, pool);
    for (int64_t c = 0; c < cn; c++) variance[c0 + c] = static_cast<float>(squares[c] / n);
  }
}

// The backward pass of the SIMD tables, channel group by group: Σ dy and Σ dy·(x − mean) in one
// walk over x and dy (the second times 1/σ is Σ dy·x̂), then dx from them.
void backwardBlocked(const BatchNormKernels& k, const BatchNormShape& s, const float* x, const float* dy,
                     const float* mean, const float* variance, const float* scale, float eps, bool training, float* dx,
                     float* dscale, float* dshift, ThreadPool* pool) {
  const bool needSums = dscale || dshift || (dx && training);
  // In double, as the scalar table's (the square root is correctly rounded, as the SIMD tables'
  // instruction).
  const std::vector<double> inverse = inverseDeviations(s, variance, eps);
  for (int64_t c0 = 0; c0 < s.chan; c0 += kBatchNormGroup) {
    const int64_t cn = std::min(kBatchNormGroup, s.chan - c0);
    const double* inv = inverse.data() + c0;
    alignas(64) float centre[kBatchNormGroup] = {};
    for (int64_t c = 0; c < cn; c++) centre[c] = mean[c0 + c];
    double sums[2 * kBatchNormGroup] = {};
    double* sumDy = sums;
    double* sumDyXhat = sums + cn;
    if (needSums) {
      const BatchNormSumArgs args{BatchNormSum::Gradient, s, c0, cn, x, dy, centre, nullptr, nullptr};
      sumOverRows(k, args, sums, pool);
      for (int64_t c = 0; c < cn; c++) sumDyXhat[c] *= inv[c];
    }
    if (dscale)
      for (int64_t c = 0; c < cn; c++) dscale[c0 + c] = static_cast<float>(dscale[c0 + c] + sumDyXhat[c]);
    if (dshift)
      for (int64_t c = 0; c < cn; c++) dshift[c0 + c] = static_cast<float>(dshift[c0 + c] + sumDy[c]);
    if (!dx || s.rows == 0) continue;
    // dx = gain · (dy − mean(dy) − x̂ · mean(dy·x̂)), with x̂ = (x − mean) / σ folded into the slope:
    // dx = gain · ((dy − a) − (x − mean) · b), a = mean(dy), b = mean(dy·x̂) / σ (0, 0 in evaluation).
    alignas(64) float gain[kBatchNormGroup] = {}, a[kBatchNormGroup] = {}, b[kBatchNormGroup] = {};
    const double n = static_cast<double>(s.rows);
    for (int64_t c = 0; c < cn; c++) {
      gain[c] = static_cast<float>(inv[c] * (scale ? scale[c0 + c] : 1.0f));
      a[c] = training ? static_cast<float>(sumDy[c] / n) : 0.0f;
      b[c] = training ? static_cast<float>(sumDyXhat[c] / n * inv[c]) : 0.0f;
    }
    const BatchNormGradientArgs args{s.chan, c0, cn, centre, gain, a, b, inv, sumDy, sumDyXhat, scale, training, n};
    forRowRanges(s, cn, pool, [&](int64_t r0, int64_t rows) {
      const int64_t at = r0 * s.chan;
      k.inputGradient(args, rows, x + at, dy + at, dx + at);
    });
  }
}

}  // namespace

void batchNormStatistics(const BatchNormShape& s, const float* x, float* mean, float* variance, KernelPath path,
                         ThreadPool* pool) {
  const BatchNormKernels& k = batchNormKernelsFor(path);
  if (k.statistics) return k.statistics(s, x, mean, variance);
  statisticsBlocked(k, s, x, mean, variance, pool);
}

void batchNormForward(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                      const float* scale, const float* shift, float eps, float* y, KernelPath path, ThreadPool* pool) {
  const BatchNormKernels& k = batchNormKernelsFor(path);
  forRowRanges(s, s.chan, pool, [&](int64_t r0, int64_t rows) {
    const int64_t at = r0 * s.chan;
    k.forward(BatchNormShape{rows, s.chan}, x + at, mean, variance, scale, shift, eps, y + at);
  });
}

void batchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                       const float* variance, const float* scale, float eps, bool training, float* dx, float* dscale,
                       float* dshift, KernelPath path, ThreadPool* pool) {
  const BatchNormKernels& k = batchNormKernelsFor(path);
  if (k.backward) return k.backward(s, x, dy, mean, variance, scale, eps, training, dx, dscale, dshift);
  backwardBlocked(k, s, x, dy, mean, variance, scale, eps, training, dx, dscale, dshift, pool);
}

// The references walk each channel down its column, one formula per element.

void batchNormStatisticsReference(const BatchNormShape& s, const float* x, float* mean, float* variance) {
  for (int64_t c = 0; c < s.chan; c++) {
    double sum = 0, squares = 0;
    for (int64_t r = 0; r < s.rows; r++) sum += x[r * s.chan + c];
    const double m = s.rows > 0 ? sum / static_cast<double>(s.rows) : 0.0;
    for (int64_t r = 0; r < s.rows; r++) squares += (x[r * s.chan + c] - m) * (x[r * s.chan + c] - m);
    mean[c] = static_cast<float>(m);
    variance[c] = s.rows > 0 ? static_cast<float>(squares / static_cast<double>(s.rows)) : 0.0f;
  }
}

void batchNormForwardReference(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                               const float* scale, const float* shift, float eps, float* y) {
  for (int64_t c = 0; c < s.chan; c++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
    for (int64_t r = 0; r < s.rows; r++) {
      const double xhat = (x[r * s.chan + c] - static_cast<double>(mean[c])) * inv;
      y[r * s.chan + c] = static_cast<float>(xhat * (scale ? scale[c] : 1.0f) + (shift ? shift[c] : 0.0f));
    }
  }
}

void batchNormBackwardReference(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                                const float* variance, const float* scale, float eps, bool training, float* dx,
                                float* dscale, float* dshift) {
  for (int64_t c = 0; c < s.chan; c++) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
    const double g = scale ? scale[c] : 1.0f;
    double sumDy = 0, sumDyXhat = 0;
    for (int64_t r = 0; r < s.rows; r++) {
      const double xhat = (x[r * s.chan + c] - static_cast<double>(mean[c])) * inv;
      sumDy += dy[r * s.chan + c];
      sumDyXhat += dy[r * s.chan + c] * xhat;
    }
    if (dscale) dscale[c] = static_cast<float>(dscale[c] + sumDyXhat);
    if (dshift) dshift[c] = static_cast<float>(dshift[c] + sumDy);
    if (!dx) continue;
    const double n = static_cast<double>(s.rows);
    for (int64_t r = 0; r < s.rows; r++) {
      const double xhat = (x[r * s.chan + c] - static_cast<double>(mean[c])) * inv;
      const double d = dy[r * s.chan + c];
      dx[r * s.chan + c] =
          static_cast<float>(training ? g * inv * (d - sumDy / n - xhat * sumDyXhat / n) : g * inv * d);
    }
  }
}

}  // namespace neurone
