// Conv2D and 2-D pooling kernels against their plain-loop references, on every SIMD path this
// machine supports, with and without threads.
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "conv2d.h"
#include "cpu.h"
#include "pool2d.h"
#include "test_paths.h"
#include "threadpool.h"

using namespace neurone;

namespace {

int failures = 0;

std::vector<float> randomVector(std::mt19937& rng, int64_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

void describe(const Conv2dShape& s) {
  std::printf("batch=%lld image=%lldx%lld chan=%lld->%lld kernel=%lldx%lld stride=%lldx%lld pad=%lldx%lld",
              (long long)s.batch, (long long)s.height, (long long)s.width, (long long)s.chanIn, (long long)s.chanOut,
              (long long)s.kHeight, (long long)s.kWidth, (long long)s.strideHeight, (long long)s.strideWidth,
              (long long)s.padHeight, (long long)s.padWidth);
}

// Float32 results of sums of `terms` products of values in [-1, 1].
void expectClose(const std::vector<float>& got, const std::vector<float>& want, int64_t terms, const char* what,
                 const Conv2dShape& s, KernelPath path, int threads) {
  const double tol = 1e-6 * (terms + 4);
  for (size_t i = 0; i < want.size(); i++) {
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      std::printf("FAIL %s path=%s threads=%d ", what, kernelPathName(path), threads);
      describe(s);
      std::printf(": [%zu] got %g want %g\n", i, got[i], want[i]);
      failures++;
      return;
    }
  }
}

void testConv(std::mt19937& rng, const Conv2dShape& s, KernelPath path, ThreadPool& pool) {
  const int64_t outputs = s.batch * s.outHeight() * s.outWidth() * s.chanOut;
  auto x = randomVector(rng, s.batch * s.height * s.width * s.chanIn);
  auto w = randomVector(rng, s.windowSize() * s.chanOut);
  auto bias = randomVector(rng, s.chanOut);
  auto dy = randomVector(rng, outputs);
  // One guard element past each output: the kernels must not write beyond it.
  std::vector<float> y(outputs + 1, NAN), yRef(outputs);
  y.back() = 12345.0f;
  conv2dForward(s, x.data(), w.data(), bias.data(), y.data(), path, &pool);
  conv2dForwardReference(s, x.data(), w.data(), bias.data(), yRef.data());
  if (y.back() != 12345.0f) failures++, std::printf("FAIL conv2dForward wrote past y\n");
  y.pop_back();
  expectClose(y, yRef, s.windowSize(), "conv2dForward", s, path, pool.threads());

  std::vector<float> dx(x.size() + 1, NAN), dxRef(x.size());
  dx.back() = 12345.0f;
  conv2dBackwardInput(s, dy.data(), w.data(), dx.data(), path, &pool);
  conv2dBackwardInputReference(s, dy.data(), w.data(), dxRef.data());
  if (dx.back() != 12345.0f) failures++, std::printf("FAIL conv2dBackwardInput wrote past dx\n");
  dx.pop_back();
  expectClose(dx, dxRef, s.kHeight * s.kWidth * s.chanOut, "conv2dBackwardInput", s, path, pool.threads());

  // Accumulates onto what is there.
  auto dw = randomVector(rng, static_cast<int64_t>(w.size()));
  auto dwRef = dw;
  conv2dBackwardWeight(s, x.data(), dy.data(), dw.data(), path, &pool);
  conv2dBackwardWeightReference(s, x.data(), dy.data(), dwRef.data());
  expectClose(dw, dwRef, s.batch * s.outHeight() * s.outWidth() + 1, "conv2dBackwardWeight", s, path, pool.threads());
}

// An infinite gradient reaches exactly the inputs of its output's window, as ±Inf: no kernel
// may spread 0 · Inf = NaN to pixels outside it (the window-row kernels round runs up to whole
// vectors).
void testInfiniteGradient(std::mt19937& rng, const Conv2dShape& s, KernelPath path, ThreadPool& pool) {
  const int64_t outputs = s.batch * s.outHeight() * s.outWidth() * s.chanOut;
  auto w = randomVector(rng, s.windowSize() * s.chanOut);
  auto dy = randomVector(rng, outputs);
  dy[outputs / 2] = INFINITY;
  std::vector<float> dx(s.batch * s.height * s.width * s.chanIn), dxRef(dx.size());
  conv2dBackwardInput(s, dy.data(), w.data(), dx.data(), path, &pool);
  conv2dBackwardInputReference(s, dy.data(), w.data(), dxRef.data());
  for (size_t i = 0; i < dx.size(); i++) {
    const bool same = std::isfinite(dxRef[i]) ? std::fabs(dx[i] - dxRef[i]) <= 1e-4 : dx[i] == dxRef[i];
    if (!same) {
      std::printf("FAIL conv2dBackwardInput with an infinite dy path=%s threads=%d ", kernelPathName(path),
                  pool.threads());
      describe(s);
      std::printf(": [%zu] got %g want %g\n", i, dx[i], dxRef[i]);
      failures++;
      return;
    }
  }
}

// An infinite input pixel makes non-finite exactly the outputs whose windows read it: the
// few-outputs kernels round window rows up to whole vectors, and the floats past a row belong to
// the next pixel.
void testInfiniteInput(std::mt19937& rng, const Conv2dShape& s, KernelPath path, ThreadPool& pool) {
  auto x = randomVector(rng, s.batch * s.height * s.width * s.chanIn);
  auto w = randomVector(rng, s.windowSize() * s.chanOut);
  x[x.size() / 2 + s.chanIn / 2] = INFINITY;
  const int64_t outputs = s.batch * s.outHeight() * s.outWidth() * s.chanOut;
  std::vector<float> y(outputs), yRef(outputs);
  conv2dForward(s, x.data(), w.data(), nullptr, y.data(), path, &pool);
  conv2dForwardReference(s, x.data(), w.data(), nullptr, yRef.data());
  for (int64_t i = 0; i < outputs; i++) {
    const bool same = std::isfinite(yRef[i]) ? std::fabs(y[i] - yRef[i]) <= 1e-4
                                             : std::isnan(y[i]) == std::isnan(yRef[i]) && !std::isfinite(y[i]);
    if (!same) {
      std::printf("FAIL conv2dForward with an infinite x path=%s threads=%d ", kernelPathName(path), pool.threads());
      describe(s);
      std::printf(": [%lld] got %g want %g\n", (long long)i, y[i], yRef[i]);
      failures++;
      return;
    }
  }
}

void testPool(std::mt19937& rng, const Pool2dShape& s, KernelPath path, ThreadPool& pool) {
  const int64_t outputs = s.batch * s.outHeight() * s.outWidth() * s.chan;
  auto x = randomVector(rng, s.batch * s.height * s.width * s.chan);
  // Ties (the first maximum wins) and NaN (the first NaN wins), every 7th and 29th value.
  for (size_t i = 7; i < x.size(); i += 7) x[i] = x[i >= static_cast<size_t>(s.chan) ? i - s.chan : 0];
  for (size_t i = 29; i < x.size(); i += 29) x[i] = NAN;
  std::vector<float> y(outputs), yRef(outputs);
  std::vector<int32_t> argmax(outputs), argmaxRef(outputs);
  // Guards past the end: a whole-vector store of a ragged last vector must stop at the sample's end.
  y.resize(outputs + 16, 12345.0f);
  argmax.resize(outputs + 16, 12345);
  maxPool2dForward(s, x.data(), y.data(), argmax.data(), path, &pool);
  for (int64_t i = outputs; i < outputs + 16; i++) {
    if (y[i] != 12345.0f || argmax[i] != 12345) {
      failures++, std::printf("FAIL maxPool2dForward %s wrote past its output\n", kernelPathName(path));
      break;
    }
  }
  y.resize(outputs);
  argmax.resize(outputs);
  maxPool2dForwardReference(s, x.data(), yRef.data(), argmaxRef.data());
  // Compared as bits: NaN == NaN is false. (No outputs: the empty vectors' data may be null.)
  if ((outputs > 0 && std::memcmp(y.data(), yRef.data(), y.size() * sizeof(float)) != 0) || argmax != argmaxRef) {
    failures++, std::printf("FAIL maxPool2dForward %s, %lld channels\n", kernelPathName(path), (long long)s.chan);
  }
  for (auto& v : x) v = std::isnan(v) ? 0.5f : v;  // the backward checks below sum gradients
  maxPool2dForward(s, x.data(), y.data(), argmax.data(), path, &pool);
  for (int64_t i = 0; i < outputs; i++) {
    if (!maxPool2dInWindow(s, i, argmax[i])) failures++, std::printf("FAIL maxPool2dInWindow(%lld)\n", (long long)i);
  }

  // Backward: every gradient routed to its winner; an entry moved out of its window is refused.
  auto dy = randomVector(rng, outputs);
  std::vector<float> dx(x.size(), NAN);
  std::vector<double> want(x.size(), 0.0);
  for (int64_t i = 0; i < outputs; i++) want[argmax[i]] += dy[i];
  dx.resize(x.size() + 16, 12345.0f);  // guards past the end, as for the forward
  if (maxPool2dBackward(s, dy.data(), argmax.data(), dx.data(), path, &pool) != outputs) {
    failures++, std::printf("FAIL maxPool2dBackward did not route every gradient of a valid argmax\n");
  }
  for (size_t i = x.size(); i < dx.size(); i++) {
    if (dx[i] != 12345.0f) {
      failures++, std::printf("FAIL maxPool2dBackward %s wrote past dx\n", kernelPathName(path));
      break;
    }
  }
  dx.resize(x.size());
  for (size_t i = 0; i < x.size(); i++) {
    if (std::fabs(dx[i] - want[i]) > 1e-5) {
      failures++, std::printf("FAIL maxPool2dBackward [%zu] got %g want %g\n", i, dx[i], want[i]);
      break;
    }
  }
  // The scalar path's plain loops, one thread: the same sums in the same order, bit for bit.
  std::vector<float> dxScalar(x.size(), NAN);
  maxPool2dBackward(s, dy.data(), argmax.data(), dxScalar.data(), KernelPath::Scalar, nullptr);
  if (!x.empty() && std::memcmp(dx.data(), dxScalar.data(), x.size() * sizeof(float)) != 0) {
    failures++, std::printf("FAIL maxPool2dBackward %s differs from the scalar path's bits\n", kernelPathName(path));
  }
  if (outputs > 0) {
    auto bad = argmax;
    const int64_t at = outputs / 2;
    bad[at] = argmax[at] + static_cast<int32_t>(s.chan * s.width * s.kHeight);  // a row below the window
    if (maxPool2dBackward(s, dy.data(), bad.data(), dx.data(), path, &pool) != outputs - 1) {
      failures++, std::printf("FAIL maxPool2dBackward routed entry %lld, outside its window\n", (long long)at);
    }
    if (maxPool2dInWindow(s, at, bad[at])) failures++, std::printf("FAIL maxPool2dInWindow took a row below\n");
  }

  std::vector<float> avg(outputs), avgRef(outputs);
  avgPool2dForward(s, x.data(), avg.data(), path, &pool);
  avgPool2dForwardReference(s, x.data(), avgRef.data());
  for (int64_t i = 0; i < outputs; i++) {
    if (std::fabs(avg[i] - avgRef[i]) > 1e-6 * (s.kHeight * s.kWidth + 4)) {
      failures++, std::printf("FAIL avgPool2dForward [%lld]\n", (long long)i);
      break;
    }
  }
  // Backward is the adjoint of forward: <avg(x), dy> = <x, avgBackward(dy)>.
  std::vector<float> dxAvg(x.size(), NAN);
  avgPool2dBackward(s, dy.data(), dxAvg.data(), path, &pool);
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < outputs; i++) lhs += static_cast<double>(avgRef[i]) * dy[i];
  for (size_t i = 0; i < x.size(); i++) rhs += static_cast<double>(x[i]) * dxAvg[i];
  if (std::fabs(lhs - rhs) > 1e-4 * (1 + std::fabs(lhs))) failures++, std::printf("FAIL avgPool2dBackward adjoint\n");
  // Every path keeps the scalar path's bits (its plain loops), forward and backward.
  std::vector<float> avgScalar(outputs, NAN), dxAvgScalar(x.size(), NAN);
  avgPool2dForward(s, x.data(), avgScalar.data(), KernelPath::Scalar, nullptr);
  avgPool2dBackward(s, dy.data(), dxAvgScalar.data(), KernelPath::Scalar, nullptr);
  if ((outputs > 0 && std::memcmp(avg.data(), avgScalar.data(), outputs * sizeof(float)) != 0) ||
      (!x.empty() && std::memcmp(dxAvg.data(), dxAvgScalar.data(), x.size() * sizeof(float)) != 0)) {
    failures++, std::printf("FAIL avgPool2d %s differs from the scalar path's bits\n", kernelPathName(path));
  }
}

}  // namespace

int main() {
  std::mt19937 rng(2024);
  int cases = 0;
  const bool quick = std::getenv("NEURONE_TEST_QUICK") != nullptr;
  // Quick (the sanitizer runs): one thread and three, whose splits are uneven; two run in npm test.
  for (int threads : {1, 2, 3}) {
    if (quick && threads == 2) continue;
    ThreadPool pool(threads);
    for (KernelPath path : kAllPaths) {
      if (!pathUnderTest(path)) continue;
      // LeNet's two convolutions at batch 32, a padded VGG block and an unpadded stride-1 one (the
      // GEMMs on the image itself), a 1x1 convolution, a large image tiled several times, then random shapes
      // (rectangular kernels and strides, padding up to k − 1).
      testConv(rng, Conv2dShape{32, 28, 28, 1, 6, 5, 5, 1, 1, 0, 0}, path, pool);
      testConv(rng, Conv2dShape{32, 12, 12, 6, 16, 5, 5, 1, 1, 0, 0}, path, pool);
      testConv(rng, Conv2dShape{4, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{3, 12, 12, 32, 16, 3, 3, 1, 1, 0, 0}, path, pool);  // stride 1, unpadded
      testConv(rng, Conv2dShape{3, 9, 7, 24, 40, 1, 1, 1, 1, 0, 0}, path, pool);
      testConv(rng, Conv2dShape{1, 120, 97, 3, 8, 3, 3, 2, 1, 1, 1}, path, pool);
      // Padding above and below only (the image copied to the direct kernels' grid in one piece):
      // one input channel, and a few.
      testConv(rng, Conv2dShape{2, 9, 13, 1, 6, 5, 5, 1, 1, 2, 0}, path, pool);
      testConv(rng, Conv2dShape{2, 9, 11, 3, 8, 3, 3, 1, 1, 1, 0}, path, pool);
      cases += 8;
      // One input channel at stride 1 (the direct kernels of conv2d_direct.h): output channels
      // that fill a block, part of one, several blocks and a ragged last vector (up to half a
      // vector's lanes and 6, the weight gradient runs along the grid; past 20, the forward takes
      // the kernels over the output channels); padding; rectangular kernels;
      // images narrower than a vector; and a wide kernel whose grid would be mostly dropped
      // columns (the GEMM route).
      for (int64_t chanOut : {1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 33, 40}) {
        testConv(rng, Conv2dShape{3, 11, 13, 1, chanOut, 3, 4, 1, 1, 0, 0}, path, pool);
        testConv(rng, Conv2dShape{2, 9, 7, 1, chanOut, 5, 3, 1, 1, 2, 1}, path, pool);
        cases += 2;
      }
      // Six channels and 5×5 kernels (the weight gradient along the grid on every path, dy's rows
      // copied six channels at a time): output rows of whole vectors, a vector and a part (the last
      // copy overlapping), and under a vector; 7 and 12 channels (blocks of 6 written pixel by pixel).
      for (int64_t width : {12, 20, 21, 28, 36})
        for (int64_t chanOut : {6, 7, 12}) {
          testConv(rng, Conv2dShape{3, 9, width, 1, chanOut, 5, 5, 1, 1, 0, 0}, path, pool);
          cases++;
        }
      // A few input channels (the kernels over the output channels): VGG's first layer, strides,
      // and output channels filling one vector, part of one, two and a ragged third.
      testConv(rng, Conv2dShape{2, 32, 32, 3, 32, 3, 3, 1, 1, 1, 1}, path, pool);
      for (int64_t chanOut : {3, 8, 13, 16, 21})
        testConv(rng, Conv2dShape{3, 15, 14, 4, chanOut, 3, 2, 2, 3, 1, 1}, path, pool);
      cases += 6;
      // Many input channels at stride 1 (the same kernels, and for the input gradient a forward
      // convolution of dy with the kernel turned and transposed): rectangular kernels, padding
      // from none to k − 1, ragged vectors of input and output channels, VGG's 64 -> 64.
      testConv(rng, Conv2dShape{3, 11, 9, 13, 21, 3, 2, 1, 1, 2, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 10, 12, 24, 9, 5, 3, 1, 1, 0, 2}, path, pool);
      testConv(rng, Conv2dShape{2, 8, 8, 64, 64, 3, 3, 1, 1, 1, 1}, path, pool);
      // Blocks of output channels spread evenly (AVX-512: 5 vectors as 3 + 2, and, with the
      // window's weights bounding a block at 2 vectors, as 2 + 2 + 1).
      testConv(rng, Conv2dShape{2, 6, 7, 16, 80, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 6, 5, 128, 80, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 7, 6, 8, 40, 4, 4, 1, 1, 3, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 9, 17, 10, 5, 3, 3, 1, 1, 1, 1}, path, pool);  // a row of 12 + 5 pixels
      // Every output width up to 50 and window rows of 6 to 36 positions, one and two vectors of
      // output channels: each block size of inRowBlocks's splits runs, on every path. One sample,
      // so with one thread only: more would have nothing to split.
      for (int64_t width = 1; threads == 1 && width <= 50; width++) {
        testConv(rng, Conv2dShape{1, 4, width + 2, 2 + width % 11, width % 2 ? 20 : 7, 3, 3, 1, 1, 0, 0}, path, pool);
        cases += 1;
      }
      // Every output height up to 30 on a narrow image: the input gradient's window-row blocks
      // then run down the output's columns, each block size of inBlocks on every path.
      for (int64_t height = 1; threads == 1 && height <= 30; height++) {
        testConv(rng, Conv2dShape{1, height + 2, 5, 2 + height % 11, height % 2 ? 20 : 7, 3, 3, 1, 1, 0, 0}, path,
                 pool);
        cases += 1;
      }
      // An input gradient whose turned kernel's blocks pass 64 KB on every path (up to 256 KB).
      testConv(rng, Conv2dShape{2, 6, 5, 96, 128, 3, 3, 1, 1, 1, 1}, path, pool);
      cases += 8;
      testInfiniteGradient(rng, Conv2dShape{2, 10, 10, 16, 12, 3, 3, 1, 1, 1, 1}, path, pool);
      testInfiniteGradient(rng, Conv2dShape{2, 12, 12, 6, 16, 5, 5, 1, 1, 0, 0}, path, pool);
      testInfiniteGradient(rng, Conv2dShape{2, 10, 9, 3, 4, 3, 3, 2, 1, 1, 1}, path, pool);
      // Few output channels (FewOutputsPlan): every count of them, window rows of under one, whole
      // and ragged vectors on each path, strides, padding, rows that end in each block size; and
      // few input channels at stride 1, whose input gradient is that forward turned.
      for (int64_t chanOut = 1; chanOut <= 4; chanOut++) {
        for (int64_t chanIn : {2, 3, 5, 16, 17, 32}) {
          testConv(rng, Conv2dShape{2, 9, 11 + chanIn % 7, chanIn, chanOut, 3, 3, 1, 1, 1, 1}, path, pool);
          testConv(rng, Conv2dShape{1, 8, 13, chanIn, chanOut, 4, 2, 2, 1, 1, 0}, path, pool);
        }
        for (int64_t width = 1; threads == 1 && width <= 40; width += 3)
          testConv(rng, Conv2dShape{1, 4, width + 2, 6, chanOut, 3, 3, 1, 1, 0, 0}, path, pool);
        testConv(rng, Conv2dShape{2, 7, 9, 1, chanOut, 5, 5, 2, 2, 2, 2}, path, pool);
        testInfiniteInput(rng, Conv2dShape{2, 9, 10, 3, chanOut, 3, 3, 1, 1, 1, 1}, path, pool);
        testInfiniteInput(rng, Conv2dShape{1, 8, 12, 6, chanOut, 5, 5, 1, 2, 2, 2}, path, pool);
        testInfiniteGradient(rng, Conv2dShape{2, 12, 12, chanOut, 6, 5, 5, 1, 1, 0, 0}, path, pool);
        testInfiniteGradient(rng, Conv2dShape{2, 10, 11, chanOut, 32, 3, 3, 1, 1, 1, 1}, path, pool);
        cases += 14 + (threads == 1 ? 14 : 0);
      }
      // A band of output rows at a time: images whose padded rows take several bands (few outputs,
      // few inputs turned, the channels route's forward and its turned input gradient), and one
      // past the grid's bound, whose input gradient the grid's GEMMs took before.
      testConv(rng, Conv2dShape{1, 80, 90, 32, 3, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{1, 70, 60, 3, 32, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 60, 61, 48, 8, 3, 3, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{1, 45, 40, 40, 20, 5, 3, 2, 1, 2, 1}, path, pool);
      cases += 4;
      if (threads == 1) {
        testConv(rng, Conv2dShape{1, 128, 128, 64, 8, 3, 3, 1, 1, 1, 1}, path, pool);
        cases++;
      }
      testConv(rng, Conv2dShape{2, 3, 2, 1, 9, 2, 2, 1, 1, 1, 1}, path, pool);
      testConv(rng, Conv2dShape{2, 6, 40, 1, 6, 3, 33, 1, 1, 0, 0}, path, pool);
      testConv(rng, Conv2dShape{1, 64, 61, 1, 16, 7, 7, 1, 1, 3, 3}, path, pool);
      cases += 3;
      std::uniform_int_distribution<int> kDist(1, 5), sDist(1, 3), cDist(1, 24), bDist(1, 4), hDist(1, 14);
      for (int i = 0; i < (quick ? 10 : 40); i++) {
        Conv2dShape s;
        s.batch = bDist(rng), s.height = hDist(rng), s.width = hDist(rng), s.chanIn = cDist(rng);
        s.chanOut = cDist(rng), s.kHeight = kDist(rng), s.kWidth = kDist(rng), s.strideHeight = sDist(rng);
        s.strideWidth = sDist(rng);
        s.padHeight = std::uniform_int_distribution<int>(0, static_cast<int>(s.kHeight) - 1)(rng);
        s.padWidth = std::uniform_int_distribution<int>(0, static_cast<int>(s.kWidth) - 1)(rng);
        testConv(rng, s, path, pool);
        cases++;
      }
    }
  }
  // Pooling on every path: max pooling's forward is per path (pool2d_simd.h), bitwise the plain
  // loop's; LeNet's 6 and 16 channels, 40 (a ragged vector on every path), random shapes.
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (KernelPath path : kAllPaths) {
      if (!pathUnderTest(path)) continue;
      testPool(rng, Pool2dShape{32, 24, 24, 6, 2, 2, 2, 2}, path, pool);
      testPool(rng, Pool2dShape{32, 8, 8, 16, 2, 2, 2, 2}, path, pool);
      testPool(rng, Pool2dShape{4, 50, 44, 40, 3, 2, 1, 2}, path, pool);
      testPool(rng, Pool2dShape{3, 7, 9, 5, 2, 3, 2, 3}, path, pool);  // side by side, neither size divides
      cases += 4;
      std::uniform_int_distribution<int> kDist(1, 4), sDist(1, 3), cDist(1, 20), bDist(1, 4), hDist(1, 14);
      for (int i = 0; i < 30; i++) {
        testPool(
            rng,
            Pool2dShape{bDist(rng), hDist(rng), hDist(rng), cDist(rng), kDist(rng), kDist(rng), sDist(rng), sDist(rng)},
            path, pool);
        cases++;
      }
    }
  }
  std::printf("%d passed, %d failed\n", cases - failures, failures);
  return failures == 0 ? 0 : 1;
}
