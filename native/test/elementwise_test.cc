// The SIMD elementwise functions against their scalar references on every
// supported path, including ragged lengths, extreme values and NaN; and the
// thread pool runs every task of a job once, in both of its schedules.
#include <atomic>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "cpu.h"
#include "elementwise.h"
#include "test_paths.h"
#include "threadpool.h"

using namespace neurone;

namespace {

struct CountJob {
  std::unique_ptr<std::atomic<int>[]> runs;
  std::atomic<int> badWorker{0};
  int threads;
};

void countTask(void* ctx, int64_t task, int worker) {
  auto& j = *static_cast<CountJob*>(ctx);
  j.runs[task].fetch_add(1, std::memory_order_relaxed);
  if (worker < 0 || worker >= j.threads) j.badWorker.fetch_add(1, std::memory_order_relaxed);
}

// Every task of a pool job runs exactly once, in both schedules, whatever the task count
// against the thread count; the worker index stays in range.
int checkThreadPool(int* cases) {
  int failures = 0;
  for (int threads = 1; threads <= 4; threads++) {
    ThreadPool pool(threads);
    for (int64_t tasks : {0, 1, 2, 3, 5, 17, 1000}) {
      for (bool contiguous : {false, true}) {
        for (int repeat = 0; repeat < 20; repeat++) {
          CountJob job;
          job.runs.reset(new std::atomic<int>[static_cast<size_t>(tasks + 1)]);
          for (int64_t t = 0; t <= tasks; t++) job.runs[t].store(0);
          job.threads = threads;
          pool.run(tasks, countTask, &job, contiguous);
          (*cases)++;
          for (int64_t t = 0; t < tasks; t++) {
            if (job.runs[t].load() != 1) {
              std::printf("FAIL ThreadPool threads=%d tasks=%lld contiguous=%d: task %lld ran %d times\n", threads,
                          (long long)tasks, contiguous, (long long)t, job.runs[t].load());
              failures++;
              break;
            }
          }
          if (job.badWorker.load() != 0) {
            std::printf("FAIL ThreadPool threads=%d: worker index out of range\n", threads);
            failures++;
          }
        }
      }
    }
  }
  return failures;
}

uint32_t bitsOf(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// ReLU and LeakyReLU, forward and backward, on every path against the formulas of elementwise.h,
// bit for bit: NaN kept forward and given as dx backward, -0 to +0, ±Inf, ragged lengths, and
// out = in (forward), dx = dy and dx = x (backward).
int checkRectifiers(std::mt19937& rng, int* cases) {
  int failures = 0;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float specials[] = {-0.0f, 0.0f, nan, inf, -inf, -1e-40f, 1e-40f, -3.0f, 2.5f};
  std::uniform_real_distribution<float> values(-2.0f, 2.0f);
  const auto forwardWant = [](float x, float alpha, bool leaky) { return x <= 0.0f ? (leaky ? alpha * x : 0.0f) : x; };
  const auto backwardWant = [](float x, float dy, float alpha, bool leaky) {
    return x > 0.0f ? dy : x <= 0.0f ? (leaky ? alpha * dy : 0.0f) : x;
  };
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    for (int64_t n : {1, 7, 8, 9, 15, 16, 17, 33, 100}) {
      std::vector<float> x(n), dy(n);
      for (int64_t i = 0; i < n; i++) {
        x[i] = i % 4 == 1 ? specials[(i / 4) % 9] : values(rng);
        dy[i] = i % 7 == 3 ? specials[(i / 7 + 2) % 9] : values(rng);
      }
      for (const auto& [f, alpha] : {std::pair{Activation::ReLU, 0.0f}, std::pair{Activation::LeakyReLU, 0.01f},
                                     std::pair{Activation::LeakyReLU, -0.5f}}) {
        const bool leaky = f == Activation::LeakyReLU;
        const char* name = leaky ? "leaky relu" : "relu";
        std::vector<float> y(n), inPlace = x;
        activationForward(f, alpha, x.data(), y.data(), n, path);
        activationForward(f, alpha, inPlace.data(), inPlace.data(), n, path);
        std::vector<float> dx(n), intoDy = dy, intoX = x;
        activationBackward(f, alpha, x.data(), y.data(), dy.data(), dx.data(), n, path);
        activationBackward(f, alpha, x.data(), y.data(), intoDy.data(), intoDy.data(), n, path);
        activationBackward(f, alpha, intoX.data(), y.data(), dy.data(), intoX.data(), n, path);
        (*cases)++;
        for (int64_t i = 0; i < n; i++) {
          const uint32_t want = bitsOf(forwardWant(x[i], alpha, leaky));
          const uint32_t wantGradient = bitsOf(backwardWant(x[i], dy[i], alpha, leaky));
          const bool forwardOk = bitsOf(y[i]) == want && bitsOf(inPlace[i]) == want;
          const bool backwardOk =
              bitsOf(dx[i]) == wantGradient && bitsOf(intoDy[i]) == wantGradient && bitsOf(intoX[i]) == wantGradient;
          if (!forwardOk || !backwardOk) {
            std::printf("FAIL %s %s alpha=%g n=%lld at %lld: x=%g dy=%g y=%g (in place %g) dx=%g/%g/%g\n",
                        kernelPathName(path), name, alpha, (long long)n, (long long)i, x[i], dy[i], y[i], inPlace[i],
                        dx[i], intoDy[i], intoX[i]);
            failures++;
            break;
          }
        }
      }
    }
  }
  return failures;
}

}  // namespace

int main() {
  int failures = 0, cases = 0;
  failures += checkThreadPool(&cases);
  std::mt19937 rng(7);
  failures += checkRectifiers(rng, &cases);
  std::uniform_real_distribution<float> wide(-30.0f, 30.0f), narrow(-1.0f, 1.0f);
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    for (int64_t n : {1, 7, 8, 15, 16, 17, 33, 1000}) {
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; i++) x[i] = (i % 3 == 0) ? narrow(rng) * 0.5f : wide(rng);
      x[0] = (n > 1) ? 1e4f : 1e-7f;
      if (n > 2) x[1] = -1e4f;
      if (n > 3) x[2] = 0.0f;
      for (Activation f : {Activation::TanH, Activation::Sigmoid}) {
        std::vector<float> y(n), ref(n);
        activationForward(f, 0.0f, x.data(), y.data(), n, path);
        activationForwardReference(f, 0.0f, x.data(), ref.data(), n);
        cases++;
        for (int64_t i = 0; i < n; i++) {
          // A few ulps relative, or 1e-7 absolute near zero crossings of the polynomial switch.
          if (!(std::fabs(y[i] - ref[i]) <= 4e-7f * std::fabs(ref[i]) + 1e-9f)) {
            std::printf("FAIL %s %s n=%lld x=%g: got %.9g want %.9g\n", kernelPathName(path),
                        f == Activation::TanH ? "tanh" : "sigmoid", (long long)n, x[i], y[i], ref[i]);
            failures++;
            break;
          }
        }
      }
      // Softmax rows sum to 1 and match the direct formula.
      std::vector<float> s(n);
      softmaxForward(x.data(), s.data(), 1, n, false, path);
      double max = x[0];
      for (float v : x) max = v > max ? v : max;
      double sum = 0;
      for (float v : x) sum += std::exp(v - max);
      cases++;
      for (int64_t i = 0; i < n; i++) {
        double want = std::exp(x[i] - max) / sum;
        if (!(std::fabs(s[i] - want) <= 1e-6 * want + 1e-30)) {
          std::printf("FAIL %s softmax n=%lld at %lld: %g vs %g\n", kernelPathName(path), (long long)n, (long long)i,
                      s[i], want);
          failures++;
          break;
        }
      }
    }
    // NaN propagates through every SIMD function.
    float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> in(17, 0.5f), out(17);
    in[3] = nan;
    in[16] = nan;
    for (Activation f : {Activation::TanH, Activation::Sigmoid}) {
      activationForward(f, 0.0f, in.data(), out.data(), 17, path);
      cases++;
      if (!std::isnan(out[3]) || !std::isnan(out[16]) || std::isnan(out[0])) {
        std::printf("FAIL %s: NaN does not propagate\n", kernelPathName(path));
        failures++;
      }
    }
  }
  // Binary cross-entropy on every path against a double-precision formula, p in (0, 1) and at 0 and 1.
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    const int64_t rows = 3, cols = 37;
    std::vector<float> p(rows * cols), y(rows * cols), grad(rows * cols);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (int64_t i = 0; i < rows * cols; i++) {
      p[i] = unit(rng);
      y[i] = unit(rng);
    }
    p[0] = 0.0f;
    p[1] = 1.0f;
    p[2] = 1e-30f;
    // Subnormals (the vector log reads exponent and mantissa apart), and p outside [0, 1],
    // whose log the scalar loop clamps to -100 like that of 0.
    p[3] = 1e-40f;
    p[4] = 1.4e-45f;
    p[5] = 1.0f - 1e-40f;
    p[cols + 1] = std::nextafter(1.0f, 2.0f);
    p[cols + 2] = -0.5f;
    p[cols + 3] = 3.0f;
    p[cols + 4] = -0.0f;
    p[2 * cols + 9] = 1e30f;
    // The smallest normal float (its vector all normal: read from the bit fields alone) and the
    // largest subnormal (its vector takes the fix-ups).
    p[2 * cols + 16] = 1.17549435e-38f;
    p[2 * cols + 24] = std::nextafter(1.17549435e-38f, 0.0f);
    // A small subnormal alone among normal numbers on every path (columns 16 to 19 of row 1): read
    // as if it were normal, its log is off by about 4.
    p[cols + 17] = 1e-40f;
    y[cols + 17] = 1.0f;
    float loss[rows];
    binaryCrossEntropy(p.data(), y.data(), loss, grad.data(), rows, cols, path);
    cases++;
    for (int64_t r = 0; r < rows; r++) {
      double want = 0;
      for (int64_t c = 0; c < cols; c++) {
        double pv = p[r * cols + c], yv = y[r * cols + c];
        double lp = pv > 0 ? std::fmax(std::log(pv), -100.0) : -100.0;
        double lq = 1 - pv > 0 ? std::fmax(std::log(1 - pv), -100.0) : -100.0;
        want -= yv * lp + (1 - yv) * lq;
      }
      if (!(std::fabs(loss[r] - want) <= 1e-5 * std::fabs(want) + 1e-4)) {
        std::printf("FAIL %s bce row %lld: %.9g vs %.9g\n", kernelPathName(path), (long long)r, loss[r], want);
        failures++;
      }
    }
    // Without the gradient, the same sums.
    float lossAlone[rows];
    binaryCrossEntropy(p.data(), y.data(), lossAlone, nullptr, rows, cols, path);
    cases++;
    if (std::memcmp(loss, lossAlone, sizeof loss) != 0) {
      std::printf("FAIL %s bce: the loss without the gradient differs\n", kernelPathName(path));
      failures++;
    }
    // A NaN p makes its row's loss NaN and no other's: in a whole vector among normal numbers
    // (row 0, columns 20 to 23 on every path), then among values that need log's fix-ups (row 1)
    // and in the ragged end (row 2).
    p[20] = std::nanf("");
    binaryCrossEntropy(p.data(), y.data(), loss, grad.data(), rows, cols, path);
    cases++;
    if (!std::isnan(loss[0]) || std::isnan(loss[1]) || std::isnan(loss[2])) {
      std::printf("FAIL %s bce: NaN p among normals gives %g %g %g\n", kernelPathName(path), loss[0], loss[1], loss[2]);
      failures++;
    }
    p[cols + 5] = std::nanf("");
    p[2 * cols + cols - 1] = std::nanf("");
    binaryCrossEntropy(p.data(), y.data(), loss, grad.data(), rows, cols, path);
    cases++;
    if (!std::isnan(loss[1]) || !std::isnan(loss[2])) {
      std::printf("FAIL %s bce: NaN p gives %g %g %g\n", kernelPathName(path), loss[0], loss[1], loss[2]);
      failures++;
    }
  }
  // Long rows on every path against sums in double: softmax, log-softmax and cross-entropy over a
  // row of 100,003 logits, the binary cross-entropy over a million. The SIMD lane sums once ran in
  // float over the whole row and drifted with its length (NEON's four lanes 2.3e-5 of the largest
  // softmax value; now 4e-8 on every path).
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    std::normal_distribution<float> logit(0.0f, 3.0f);
    const int64_t wideRow = 100003;
    std::vector<float> x(wideRow), s(wideRow), logS(wideRow), grad(wideRow);
    for (float& v : x) v = logit(rng);
    double max = x[0];
    for (float v : x) max = v > max ? v : max;
    double sum = 0;
    for (float v : x) sum += std::exp(v - max);
    softmaxForward(x.data(), s.data(), 1, wideRow, false, path);
    softmaxForward(x.data(), logS.data(), 1, wideRow, true, path);
    double worstS = 0, largestS = 0, worstLog = 0;
    for (int64_t i = 0; i < wideRow; i++) {
      const double want = std::exp(x[i] - max) / sum;
      worstS = std::fmax(worstS, std::fabs(s[i] - want));
      largestS = std::fmax(largestS, want);
      const double wantLog = (x[i] - max) - std::log(sum);
      worstLog = std::fmax(worstLog, std::fabs(logS[i] - wantLog) / std::fabs(wantLog));
    }
    const int32_t label = 12345;
    const double wantLoss = std::log(sum) + (max - x[label]);
    float lossWithGrad = 0, lossAlone = 0;
    crossEntropyLogits(x.data(), &label, &lossWithGrad, grad.data(), 1, wideRow, path);
    crossEntropyLogits(x.data(), &label, &lossAlone, nullptr, 1, wideRow, path);
    cases += 4;
    if (!(worstS <= 1e-6 * largestS) || !(worstLog <= 1e-6)) {
      std::printf("FAIL %s softmax of a row of %lld: off by %g of the largest value, log-softmax by %g relative\n",
                  kernelPathName(path), (long long)wideRow, worstS / largestS, worstLog);
      failures++;
    }
    for (float got : {lossWithGrad, lossAlone}) {
      if (!(std::fabs(got - wantLoss) <= 1e-6 * wantLoss)) {
        std::printf("FAIL %s cross-entropy of a row of %lld: %.9g vs %.9g\n", kernelPathName(path), (long long)wideRow,
                    got, wantLoss);
        failures++;
      }
    }
    const int64_t million = 1000003;
    std::vector<float> p(million), y(million);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    double wantBce = 0;
    for (int64_t i = 0; i < million; i++) {
      p[i] = 0.05f + 0.9f * unit(rng);
      y[i] = unit(rng) < 0.5f ? 1.0f : 0.0f;
      wantBce -= y[i] * std::log(static_cast<double>(p[i])) + (1 - y[i]) * std::log(1.0 - p[i]);
    }
    float bce = 0;
    binaryCrossEntropy(p.data(), y.data(), &bce, nullptr, 1, million, path);
    cases++;
    if (!(std::fabs(bce - wantBce) <= 2e-7 * wantBce)) {
      std::printf("FAIL %s bce of a row of %lld: %.9g vs %.9g\n", kernelPathName(path), (long long)million, bce,
                  wantBce);
      failures++;
    }
  }
  // Optimiser steps and the non-finite scan on every path and 1-3 threads against double-precision
  // formulas; the scan must report the first bad index even when a later chunk finds one first.
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      for (int64_t n : {1, 17, 1000, 200003}) {
        std::vector<float> w(n), g(n), vel(n), m(n), v(n);
        for (int64_t i = 0; i < n; i++) {
          w[i] = narrow(rng);
          g[i] = narrow(rng);
          vel[i] = narrow(rng) * 0.1f;
          m[i] = narrow(rng) * 0.1f;
          v[i] = std::fabs(narrow(rng)) * 0.01f;
        }
        std::vector<float> w1 = w, vel1 = vel, w2 = w, m2 = m, v2 = v, w3 = w, vel3 = vel, w4 = w, vel4 = vel;
        const float lr = 0.05f, mom = 0.9f, wd = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, damp = 0.3f;
        const int64_t t = 3;
        sgdStepParallel(w1.data(), g.data(), vel1.data(), n, lr, mom, wd, 0.0f, false, path, &pool);
        sgdStepParallel(w3.data(), g.data(), vel3.data(), n, lr, mom, wd, damp, false, path, &pool);
        sgdStepParallel(w4.data(), g.data(), vel4.data(), n, lr, mom, wd, 0.0f, true, path, &pool);
        adamStepParallel(w2.data(), g.data(), m2.data(), v2.data(), n, lr, b1, b2, eps, wd, t, path, &pool);
        cases += 4;
        bool sgdOk = true, adamOk = true;
        for (int64_t i = 0; i < n; i++) {
          double gi = static_cast<double>(g[i]) + wd * static_cast<double>(w[i]);
          double vi = mom * static_cast<double>(vel[i]) + gi;
          double vDamped = mom * static_cast<double>(vel[i]) + (1.0 - damp) * gi;
          // Plain momentum, with dampening, with Nesterov's look-ahead (g + momentum * v).
          const double wants[3] = {w[i] - lr * vi, w[i] - lr * vDamped, w[i] - lr * (gi + mom * vi)};
          const float gots[3] = {w1[i], w3[i], w4[i]};
          const char* names[3] = {"sgd", "sgd dampening", "sgd nesterov"};
          for (int k = 0; k < 3 && sgdOk; k++) {
            if (!(std::fabs(gots[k] - wants[k]) <= 1e-6 + 1e-6 * std::fabs(wants[k]))) {
              std::printf("FAIL %s %s threads=%d n=%lld i=%lld: %.9g vs %.9g\n", kernelPathName(path), names[k],
                          threads, (long long)n, (long long)i, gots[k], wants[k]);
              failures++;
              sgdOk = false;
            }
          }
          double mi = b1 * static_cast<double>(m[i]) + (1 - b1) * gi;
          double vv = b2 * static_cast<double>(v[i]) + (1 - b2) * gi * gi;
          double mHat = mi / (1 - std::pow(b1, t)), vHat = vv / (1 - std::pow(b2, t));
          double wantA = w[i] - lr * mHat / (std::sqrt(vHat) + eps);
          if (adamOk && !(std::fabs(w2[i] - wantA) <= 1e-5 + 1e-5 * std::fabs(wantA))) {
            std::printf("FAIL %s adam threads=%d n=%lld i=%lld: %.9g vs %.9g\n", kernelPathName(path), threads,
                        (long long)n, (long long)i, w2[i], wantA);
            failures++;
            adamOk = false;
          }
        }
        // Non-finite scan: none, then a NaN late and an Inf early (the early one must win).
        cases++;
        if (nonFiniteIndexParallel(g.data(), n, path, &pool) != -1) {
          std::printf("FAIL %s scan threads=%d n=%lld: false positive\n", kernelPathName(path), threads, (long long)n);
          failures++;
        }
        const int64_t late = n - 1, early = n / 3;
        g[late] = std::numeric_limits<float>::quiet_NaN();
        g[early] = -std::numeric_limits<float>::infinity();
        int64_t got = nonFiniteIndexParallel(g.data(), n, path, &pool);
        if (got != early) {
          std::printf("FAIL %s scan threads=%d n=%lld: got %lld want %lld\n", kernelPathName(path), threads,
                      (long long)n, (long long)got, (long long)early);
          failures++;
        }
      }
    }
  }
  // The non-finite scan at every position of arrays whose lengths end in each part of the
  // vector loops (groups of four vectors, single vectors, the masked tail) and across a block
  // boundary: a NaN or ±Inf is found where it is, the earlier of two wins, extreme finite values
  // (FLT_MAX, subnormals, -0) are not reported, and a NaN just past the end is not read.
  for (KernelPath path : kAllPaths) {
    if (!kernelPathSupported(path)) continue;
    const float kBad[3] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity()};
    for (int64_t n : {1, 7, 8, 15, 16, 31, 64, 65, 100, 1023, 1024, 1025, 2100}) {
      std::vector<float> x(n + 1);
      for (int64_t i = 0; i < n; i++) x[i] = narrow(rng);
      x[0] = std::numeric_limits<float>::max();
      x[(n - 1) / 2] = -std::numeric_limits<float>::max();
      x[n - 1] = n > 2 ? 1e-40f : x[n - 1];
      if (n > 3) x[n / 3] = -0.0f;
      x[n] = kBad[0];  // past the end
      cases++;
      if (nonFiniteIndex(x.data(), n, path) != -1) {
        std::printf("FAIL %s scan n=%lld: false positive\n", kernelPathName(path), (long long)n);
        failures++;
      }
      const int64_t step = n > 200 ? 7 : 1;
      for (int64_t at = 0; at < n; at += step) {
        const float kept = x[at];
        x[at] = kBad[at % 3];
        const int64_t later = at + 1 + (at * 5) % (n - at > 1 ? n - at - 1 : 1);
        const float keptLater = later < n ? x[later] : 0.0f;
        if (later < n) x[later] = kBad[(at + 1) % 3];
        cases++;
        const int64_t got = nonFiniteIndex(x.data(), n, path);
        if (got != at) {
          std::printf("FAIL %s scan n=%lld: got %lld want %lld\n", kernelPathName(path), (long long)n, (long long)got,
                      (long long)at);
          failures++;
        }
        if (later < n) x[later] = keptLater;
        x[at] = kept;
      }
    }
  }
  // sumOfSquares: every path and thread count gives the scalar path's one-thread bits (squares
  // of floats are exact in double, and the order is fixed), within rounding of a plain sum.
  for (int64_t n : {0, 1, 31, 32, 33, 1000, 32768, 32769, 200003}) {
    std::vector<float> x(n);
    for (float& v : x) v = narrow(rng) * 1e3f;
    const double want = sumOfSquares(x.data(), n, KernelPath::Scalar, nullptr);
    double plain = 0;
    for (float v : x) plain += static_cast<double>(v) * v;
    cases++;
    if (!(std::fabs(want - plain) <= 1e-12 * plain)) {
      std::printf("FAIL sumOfSquares n=%lld: %.17g, a plain sum %.17g\n", (long long)n, want, plain);
      failures++;
    }
    for (KernelPath path : kAllPaths) {
      if (!kernelPathSupported(path)) continue;
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        const double got = sumOfSquares(x.data(), n, path, &pool);
        cases++;
        if (std::memcmp(&got, &want, sizeof got) != 0) {
          std::printf("FAIL sumOfSquares %s %dT n=%lld: %.17g, scalar %.17g\n", kernelPathName(path), threads,
                      (long long)n, got, want);
          failures++;
        }
      }
    }
  }
  // sumRows: every path's result has the scalar path's bits (its narrow blocks add each position
  // in block order whatever the vector width), and lies within float rounding of a double sum.
  for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
           {18432, 6}, {131, 7}, {200, 1}, {129, 31}, {4000, 16}, {257, 3}, {130, 32}, {33, 784}}) {
    std::vector<float> x(rows * cols), start(cols);
    for (float& v : x) v = narrow(rng);
    for (float& v : start) v = narrow(rng);
    std::vector<float> scalar = start;
    sumRows(x.data(), rows, cols, scalar.data(), KernelPath::Scalar);
    for (KernelPath path : kAllPaths) {
      if (!kernelPathSupported(path)) continue;
      std::vector<float> out = start;
      sumRows(x.data(), rows, cols, out.data(), path);
      cases++;
      for (int64_t c = 0; c < cols; c++) {
        double want = start[c];
        for (int64_t r = 0; r < rows; r++) want += x[r * cols + c];
        if (std::memcmp(&out[c], &scalar[c], sizeof(float)) != 0 || !(std::fabs(out[c] - want) <= 1e-5 * rows)) {
          std::printf("FAIL %s sumRows (%lld, %lld) column %lld: %.9g, scalar path %.9g, double %.9g\n",
                      kernelPathName(path), (long long)rows, (long long)cols, (long long)c, out[c], scalar[c], want);
          failures++;
          break;
        }
      }
    }
  }
  std::printf("%d passed, %d failed\n", cases - failures, failures);
  return failures == 0 ? 0 : 1;
}
