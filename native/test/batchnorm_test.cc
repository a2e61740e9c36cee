// The batch-norm kernels, through the dispatch of every supported path (the scalar table and
// batchnorm_simd.h's), against the column-wise references of batchnorm.cc: statistics, forward with and without the
// affine map, backward in training and evaluation mode with every output present or absent, in place, and rows = 0.
// Also two properties that do not lean on the references: the normalised output of a batch has
// mean 0 and variance 1 per channel, and the training-mode input gradient sums to 0 per channel
// (the batch mean absorbs any shift).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "batchnorm.h"
#include "test_paths.h"
#include "threadpool.h"

using namespace neurone;

namespace {

bool close(float got, float want, float scale) {
  return got == want || (std::isnan(got) && std::isnan(want)) || std::fabs(got - want) <= 1e-5f * std::max(1.0f, scale);
}

int compare(const char* what, KernelPath path, const std::vector<float>& got, const std::vector<float>& want) {
  float scale = 0;
  for (float v : want)
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < want.size(); i++) {
    if (!close(got[i], want[i], std::isfinite(scale) ? scale : 0.0f)) {
      std::printf("FAIL %s [%s] at %zu: got %g, want %g\n", what, kernelPathName(path), i, got[i], want[i]);
      return 1;
    }
  }
  return 0;
}

std::vector<float> randomValues(std::mt19937& gen, size_t n, float offset, float spread = 1.0f) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = offset + spread * u(gen);
  return v;
}

// offset: a common offset of the inputs. The properties are checked without one: with an offset
// of 1000, the mean stored in float32 is off by up to half a unit in its last place (3e-5), so the
// normalised values are off by as much, correctly, and their sums with them.
// spread scales the inputs' spread of 4; at 1.5e38 float sums and differences of x overflow where
// double ones do not.
int checkShape(KernelPath path, ThreadPool* pool, int64_t rows, int64_t chan, float offset, std::mt19937& gen,
               int* cases, float spread = 1.0f) {
  int failures = 0;
  const BatchNormShape s{rows, chan};
  const size_t n = static_cast<size_t>(rows * chan), c = static_cast<size_t>(chan);
  const std::vector<float> x = randomValues(gen, n, offset, spread), dy = randomValues(gen, n, 0.0f);
  const std::vector<float> scale = randomValues(gen, c, 0.0f), shift = randomValues(gen, c, 0.0f);
  std::vector<float> mean(c), variance(c), meanRef(c), varianceRef(c);
  batchNormStatistics(s, x.data(), mean.data(), variance.data(), path, pool);
  batchNormStatisticsReference(s, x.data(), meanRef.data(), varianceRef.data());
  failures +=
      compare("statistics mean", path, mean, meanRef) + compare("statistics variance", path, variance, varianceRef);
  (*cases)++;
  const float eps = 1e-5f;
  for (bool affine : {false, true}) {
    const float* g = affine ? scale.data() : nullptr;
    const float* b = affine ? shift.data() : nullptr;
    std::vector<float> y(n), yRef(n), inPlace = x;
    batchNormForward(s, x.data(), mean.data(), variance.data(), g, b, eps, y.data(), path, pool);
    batchNormForwardReference(s, x.data(), mean.data(), variance.data(), g, b, eps, yRef.data());
    batchNormForward(s, inPlace.data(), mean.data(), variance.data(), g, b, eps, inPlace.data(), path, pool);
    failures += compare("forward", path, y, yRef) + compare("forward in place", path, inPlace, yRef);
    (*cases)++;
    if (!affine && rows > 1 && offset == 0.0f && spread == 1.0f) {
      // The normalised batch: mean 0 and variance var / (var + eps) ≈ 1 per channel.
      std::vector<float> m(c), v(c);
      batchNormStatistics(s, y.data(), m.data(), v.data(), path, pool);
      for (size_t k = 0; k < c; k++) {
        const double want = variance[k] / (variance[k] + eps);
        if (std::fabs(m[k]) > 1e-4f || std::fabs(v[k] - want) > 1e-4) {
          std::printf("FAIL normalised [%s] channel %zu: mean %g, variance %g\n", kernelPathName(path), k, m[k], v[k]);
          failures++;
        }
      }
    }
    for (bool training : {false, true}) {
      for (int outputs = 1; outputs < 8; outputs++) {
        const bool wantDx = outputs & 1, wantScale = (outputs & 2) && affine, wantShift = (outputs & 4) && affine;
        std::vector<float> dx(n, 7.0f), dxRef(n, 7.0f), ds(c, 0.5f), dsRef(c, 0.5f), db(c, 0.25f), dbRef(c, 0.25f);
        batchNormBackward(s, x.data(), dy.data(), mean.data(), variance.data(), g, eps, training,
                          wantDx ? dx.data() : nullptr, wantScale ? ds.data() : nullptr,
                          wantShift ? db.data() : nullptr, path, pool);
        batchNormBackwardReference(s, x.data(), dy.data(), mean.data(), variance.data(), g, eps, training,
                                   wantDx ? dxRef.data() : nullptr, wantScale ? dsRef.data() : nullptr,
                                   wantShift ? dbRef.data() : nullptr);
        failures += compare("backward dx", path, dx, dxRef) + compare("backward dscale", path, ds, dsRef) +
                    compare("backward dshift", path, db, dbRef);
        (*cases)++;
        if (training && wantDx && rows > 0 && offset == 0.0f && spread == 1.0f) {
          // The bound is relative to the terms that cancel, gain · Σ|dy| (a float path rounds each
          // of them): with 2 rows x̂ = ±1 and dx is 0 up to that rounding, times a gain that two
          // close values of x make large.
          for (size_t k = 0; k < c; k++) {
            double sum = 0, terms = 0;
            const double gain = std::fabs(g ? g[k] : 1.0f) / std::sqrt(variance[k] + eps);
            for (int64_t r = 0; r < rows; r++) sum += dx[r * chan + k], terms += gain * std::fabs(dy[r * chan + k]);
            if (std::fabs(sum) > 1e-5 * std::max(1.0, terms)) {
              std::printf("FAIL training dx [%s] rows %lld channel %zu sums to %g (terms %g)\n", kernelPathName(path),
                          static_cast<long long>(rows), k, sum, terms);
              failures++;
            }
          }
        }
      }
      std::vector<float> dyCopy = dy, dxRef(n);
      batchNormBackward(s, x.data(), dyCopy.data(), mean.data(), variance.data(), g, eps, training, dyCopy.data(),
                        nullptr, nullptr, path, pool);
      batchNormBackwardReference(s, x.data(), dy.data(), mean.data(), variance.data(), g, eps, training, dxRef.data(),
                                 nullptr, nullptr);
      failures += compare("backward in place", path, dyCopy, dxRef);
      (*cases)++;
    }
  }
  return failures;
}

// Channels whose first value (the SIMD tables' pivot) or a later one is +Inf, −Inf or NaN: the
// statistics and outputs are those of the references (Inf where they give Inf, NaN where NaN).
int checkNonFinite(KernelPath path, ThreadPool* pool, int* cases) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t rows = 5, chan = 6;
  std::vector<float> x(rows * chan);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < chan; c++) x[r * chan + c] = 0.25f * static_cast<float>(r + c);
  x[0] = inf, x[1] = -inf, x[2] = nan;           // first row: the pivot
  x[3 * chan + 3] = inf, x[2 * chan + 4] = nan;  // later rows
  const BatchNormShape s{rows, chan};
  std::vector<float> mean(chan), variance(chan), meanRef(chan), varianceRef(chan);
  batchNormStatistics(s, x.data(), mean.data(), variance.data(), path, pool);
  batchNormStatisticsReference(s, x.data(), meanRef.data(), varianceRef.data());
  int failures =
      compare("non-finite mean", path, mean, meanRef) + compare("non-finite variance", path, variance, varianceRef);
  std::vector<float> y(x.size()), yRef(x.size());
  batchNormForward(s, x.data(), mean.data(), variance.data(), nullptr, nullptr, 1e-5f, y.data(), path, pool);
  batchNormForwardReference(s, x.data(), mean.data(), variance.data(), nullptr, nullptr, 1e-5f, yRef.data());
  failures += compare("non-finite forward", path, y, yRef);
  if (!std::isinf(mean[0]) || !std::isnan(variance[0])) {
    std::printf("FAIL non-finite [%s]: an Inf pivot gave mean %g, variance %g\n", kernelPathName(path), mean[0],
                variance[0]);
    failures++;
  }
  (*cases)++;
  return failures;
}

// The threaded passes against the same passes on one thread, bit for bit: the SIMD tables' block
// sums are added in block order whoever computed them, and the elementwise passes are per row.
// Shapes big enough for the pool to split (and 600,000 rows: more blocks than one round keeps).
int checkThreads(KernelPath path, ThreadPool& pool, int64_t rows, int64_t chan, std::mt19937& gen, int* cases) {
  const BatchNormShape s{rows, chan};
  const size_t n = static_cast<size_t>(rows * chan), c = static_cast<size_t>(chan);
  const std::vector<float> x = randomValues(gen, n, 3.0f), dy = randomValues(gen, n, 0.0f);
  const std::vector<float> scale = randomValues(gen, c, 0.0f), shift = randomValues(gen, c, 0.0f);
  struct Outputs {
    std::vector<float> mean, variance, y, dx, dscale, dshift;
  };
  const auto run = [&](ThreadPool* p) {
    Outputs o{std::vector<float>(c), std::vector<float>(c),       std::vector<float>(n),
              std::vector<float>(n), std::vector<float>(c, 0.5f), std::vector<float>(c, 0.25f)};
    batchNormStatistics(s, x.data(), o.mean.data(), o.variance.data(), path, p);
    batchNormForward(s, x.data(), o.mean.data(), o.variance.data(), scale.data(), shift.data(), 1e-5f, o.y.data(), path,
                     p);
    batchNormBackward(s, x.data(), dy.data(), o.mean.data(), o.variance.data(), scale.data(), 1e-5f, true, o.dx.data(),
                      o.dscale.data(), o.dshift.data(), path, p);
    return o;
  };
  const Outputs one = run(nullptr), many = run(&pool);
  int failures = 0;
  const auto same = [&](const char* what, const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); i++)
      if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
        std::printf("FAIL threads %s [%s] rows %lld chan %lld at %zu: %.9g on %d threads, %.9g on one\n", what,
                    kernelPathName(path), static_cast<long long>(rows), static_cast<long long>(chan), i, b[i],
                    pool.threads(), a[i]);
        return 1;
      }
    return 0;
  };
  failures += same("mean", one.mean, many.mean) + same("variance", one.variance, many.variance) +
              same("forward", one.y, many.y) + same("dx", one.dx, many.dx) + same("dscale", one.dscale, many.dscale) +
              same("dshift", one.dshift, many.dshift);
  std::vector<float> meanRef(c), varianceRef(c);
  batchNormStatisticsReference(s, x.data(), meanRef.data(), varianceRef.data());
  failures +=
      compare("threads mean", path, many.mean, meanRef) + compare("threads variance", path, many.variance, varianceRef);
  (*cases)++;
  return failures;
}

}  // namespace

int main() {
  int failures = 0, cases = 0;
  std::mt19937 gen(16);
  ThreadPool threads(3);
  for (KernelPath path : kAllPaths) {
    if (!pathUnderTest(path)) continue;
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &threads}) {
      // The SIMD tables sum 64 rows at a time in float and take 64 channels per pass: 200 rows end
      // in a ragged block, 70 and 130 channels in a ragged group, 33 in a ragged vector.
      for (int64_t rows : {0, 1, 2, 3, 17, 256, 200})
        for (int64_t chan : {1, 3, 8, 33, 64, 70, 130})
          // An offset of 1000 with a spread of 2: a one-pass E[x²] − mean² would lose the variance.
          // At 1e5 a float sum of the raw values, or deviations about the mean rounded to float,
          // would be off by more than the bound.
          for (float offset : {0.0f, 1000.0f, 1e5f})
            failures += checkShape(path, pool, rows, chan, offset, gen, &cases);
      for (int64_t rows : {3, 70})
        for (int64_t chan : {8, 33}) failures += checkShape(path, pool, rows, chan, 0.0f, gen, &cases, 1.5e38f);
      // Big enough for the pool to take them in several tasks.
      failures +=
          checkShape(path, pool, 2100, 40, 0.0f, gen, &cases) + checkShape(path, pool, 700, 130, 1000.0f, gen, &cases);
      failures += checkNonFinite(path, pool, &cases);
    }
    for (const auto& [rows, chan] : {std::pair<int64_t, int64_t>{2100, 40}, {5003, 33}, {700, 130}, {600000, 1}})
      failures += checkThreads(path, threads, rows, chan, gen, &cases);
  }
  std::printf("%s: %d cases, %d failures\n", failures == 0 ? "PASS" : "FAIL", cases, failures);
  return failures == 0 ? 0 : 1;
}
