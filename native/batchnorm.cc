// Batch normalisation, scalar code. Rows are walked in memory order with the channel loop
// innermost, so each pass reads x once, contiguously; the per-channel sums are kept in double
// (a batch of 2^20 rows would otherwise lose the last digits of its mean), as the js twin does.
#include "batchnorm.h"

#include <cmath>
#include <vector>

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

const BatchNormKernels kScalarBatchNormKernels{statisticsScalar, forwardScalar, backwardScalar};

}  // namespace

const BatchNormKernels& batchNormKernelsFor(KernelPath path) {
  static const KernelTables<BatchNormKernels> tables{{&kScalarBatchNormKernels, NEURONE_IF_AVX2(batchNormKernelsAvx2()),
                                                      NEURONE_IF_AVX512(batchNormKernelsAvx512()),
                                                      NEURONE_IF_NEON(batchNormKernelsNeon())}};
  return *tables.forPath(path);
}

void batchNormStatistics(const BatchNormShape& s, const float* x, float* mean, float* variance, KernelPath path) {
  batchNormKernelsFor(path).statistics(s, x, mean, variance);
}

void batchNormForward(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                      const float* scale, const float* shift, float eps, float* y, KernelPath path) {
  batchNormKernelsFor(path).forward(s, x, mean, variance, scale, shift, eps, y);
}

void batchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                       const float* variance, const float* scale, float eps, bool training, float* dx, float* dscale,
                       float* dshift, KernelPath path) {
  batchNormKernelsFor(path).backward(s, x, dy, mean, variance, scale, eps, training, dx, dscale, dshift);
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
