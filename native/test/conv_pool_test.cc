// Conv1D and pooling (1-D and 2-D) kernels against their plain-loop references, on every
// SIMD path this machine supports, with and without threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "conv1d.h"
#include "cpu.h"
#include "gemm.h"
#include "test_paths.h"
#include "gemm.h"
#include "pool1d.h"
#include "pool2d.h"
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

// Float32 results of sums of `terms` products of values in [-1, 1].
bool close(const std::vector<float>& got, const std::vector<float>& want, int64_t terms, const char* what,
           const Conv1dShape& s, const char* path, int threads) {
  const double tol = 1e-6 * (terms + 4);
  for (size_t i = 0; i < want.size(); i++) {
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      std::printf(
          "FAIL %s path=%s threads=%d batch=%lld length=%lld chanIn=%lld chanOut=%lld kSize=%lld stride=%lld: "
          "[%zu] got %g want %g\n",
          what, path, threads, (long long)s.batch, (long long)s.length, (long long)s.chanIn, (long long)s.chanOut,
          (long long)s.kSize, (long long)s.stride, i, got[i], want[i]);
      failures++;
      return false;
    }
  }
  return true;
}

void testConv(std::mt19937& rng, const Conv1dShape& s, KernelPath path, ThreadPool& pool) {
  const int64_t outLength = s.outLength();
  auto x = randomVector(rng, s.batch * s.length * s.chanIn);
  auto w = randomVector(rng, s.kSize * s.chanIn * s.chanOut);
  auto bias = randomVector(rng, s.chanOut);
  auto dy = randomVector(rng, s.batch * outLength * s.chanOut);
  const char* name = kernelPathName(path);

  std::vector<float> y(dy.size(), NAN), yRef(dy.size());
  conv1dForward(s, x.data(), w.data(), bias.data(), y.data(), path, &pool);
  conv1dForwardReference(s, x.data(), w.data(), bias.data(), yRef.data());
  close(y, yRef, s.kSize * s.chanIn, "conv1dForward", s, name, pool.threads());

  std::vector<float> dx(x.size(), NAN), dxRef(x.size());
  conv1dBackwardInput(s, dy.data(), w.data(), dx.data(), path, &pool);
  conv1dBackwardInputReference(s, dy.data(), w.data(), dxRef.data());
  close(dx, dxRef, s.kSize * s.chanOut, "conv1dBackwardInput", s, name, pool.threads());

  // Accumulates onto what is there.
  auto dw = randomVector(rng, static_cast<int64_t>(w.size()));
  auto dwRef = dw;
  conv1dBackwardWeight(s, x.data(), dy.data(), dw.data(), path, &pool);
  conv1dBackwardWeightReference(s, x.data(), dy.data(), dwRef.data());
  close(dw, dwRef, s.batch * outLength + 1, "conv1dBackwardWeight", s, name, pool.threads());
}

// The fused inference kernel against the two references run one after the other; windows whose
// scores tie could pick different winners only by the value, which is the same.
void testConvMaxPool(std::mt19937& rng, const Conv1dShape& s, int64_t poolSize, int64_t poolStride, bool withBias,
                     KernelPath path, ThreadPool& pool) {
  const Pool1dShape ps{s.batch, s.outLength(), s.chanOut, poolSize, poolStride};
  auto x = randomVector(rng, s.batch * s.length * s.chanIn);
  auto w = randomVector(rng, s.kSize * s.chanIn * s.chanOut);
  auto bias = randomVector(rng, s.chanOut);
  std::vector<float> conv(static_cast<size_t>(s.batch * s.outLength() * s.chanOut));
  std::vector<float> want(static_cast<size_t>(s.batch * ps.outLength() * s.chanOut));
  std::vector<int32_t> argmax(want.size());
  conv1dForwardReference(s, x.data(), w.data(), withBias ? bias.data() : nullptr, conv.data());
  maxPool1dForwardReference(ps, conv.data(), want.data(), argmax.data());
  // One guard element past the end: the kernel must not write beyond y.
  std::vector<float> got(want.size() + 1, NAN);
  got.back() = 12345.0f;
  conv1dMaxPoolForward(s, poolSize, poolStride, x.data(), w.data(), withBias ? bias.data() : nullptr, got.data(),
                       nullptr, path, &pool);
  if (got.back() != 12345.0f) {
    std::printf("FAIL conv1dMaxPoolForward wrote past y\n");
    failures++;
  }
  got.pop_back();
  close(got, want, s.kSize * s.chanIn + 1, "conv1dMaxPoolForward", s, kernelPathName(path), pool.threads());

  // Training: the same with the argmax, which must be the pooling's on the convolution's output
  // (ties aside: with random values they do not occur).
  std::vector<int32_t> gotArgmax(argmax.size() + 1, -7);
  std::vector<float> y2(want.size());
  conv1dMaxPoolForward(s, poolSize, poolStride, x.data(), w.data(), withBias ? bias.data() : nullptr, y2.data(),
                       gotArgmax.data(), path, &pool);
  // The reference convolution sums in double: where two positions of a window are within float
  // rounding of each other, the kernel's float sums may order them the other way. Such a pick is
  // a tie, not an error; a position worth less than that is.
  bool argmaxOk = gotArgmax.back() == -7;
  for (size_t i = 0; argmaxOk && i < argmax.size(); i++) {
    if (gotArgmax[i] == argmax[i]) continue;
    const int32_t picked = gotArgmax[i];
    const bool inside =
        picked >= 0 && static_cast<size_t>(picked) < conv.size() && picked % s.chanOut == argmax[i] % s.chanOut;
    argmaxOk =
        inside && std::fabs(conv[picked] - conv[argmax[i]]) <= 1e-6f * std::fmax(1.0f, std::fabs(conv[argmax[i]]));
  }
  if (!argmaxOk) {
    std::printf("FAIL conv1dMaxPoolForward argmax (batch=%lld length=%lld pool %lld/%lld)\n", (long long)s.batch,
                (long long)s.length, (long long)poolSize, (long long)poolStride);
    failures++;
  }

  // Backward to the weight through the pooling, against the two references, accumulating onto dw.
  auto dy = randomVector(rng, static_cast<int64_t>(want.size()));
  std::vector<float> dconv(conv.size());
  maxPool1dBackwardReference(ps, dy.data(), argmax.data(), dconv.data());
  auto dw = randomVector(rng, static_cast<int64_t>(w.size()));
  auto dwRef = dw;
  conv1dBackwardWeightReference(s, x.data(), dconv.data(), dwRef.data());
  int64_t routed =
      conv1dMaxPoolBackwardWeight(s, poolSize, poolStride, x.data(), dy.data(), argmax.data(), dw.data(), path, &pool);
  if (routed != static_cast<int64_t>(dy.size())) {
    std::printf("FAIL conv1dMaxPoolBackwardWeight routed %lld of %zu\n", (long long)routed, dy.size());
    failures++;
  }
  close(dw, dwRef, s.batch * s.outLength() + 1, "conv1dMaxPoolBackwardWeight", s, kernelPathName(path), pool.threads());
  // An entry outside its window: refused (short count) and dw left exactly as it was.
  if (!argmax.empty() && ps.length > poolSize) {
    auto bad = argmax;
    bad[0] = static_cast<int32_t>((ps.length - 1) * s.chanOut);
    auto before = dw;
    routed =
        conv1dMaxPoolBackwardWeight(s, poolSize, poolStride, x.data(), dy.data(), bad.data(), dw.data(), path, &pool);
    if (routed != static_cast<int64_t>(dy.size()) - 1 || dw != before) {
      std::printf("FAIL conv1dMaxPoolBackwardWeight with a bad argmax: routed %lld, dw %s\n", (long long)routed,
                  dw == before ? "untouched" : "changed");
      failures++;
    }
  }
}

bool sameBits(const void* a, const void* b, size_t bytes, const char* what, const Conv1dShape& s, int64_t poolSize,
              int64_t poolStride, KernelPath path, int threads) {
  if (std::memcmp(a, b, bytes) == 0) return true;
  std::printf(
      "FAIL %s differs from the separate kernels: path=%s threads=%d batch=%lld length=%lld chanIn=%lld "
      "chanOut=%lld kSize=%lld stride=%lld pool %lld/%lld\n",
      what, kernelPathName(path), threads, (long long)s.batch, (long long)s.length, (long long)s.chanIn,
      (long long)s.chanOut, (long long)s.kSize, (long long)s.stride, (long long)poolSize, (long long)poolStride);
  failures++;
  return false;
}

// The convolution as per-sample GEMMs on `path` (x_b viewed as (outLength, kSize·chanIn) with row
// stride stride·chanIn, C started at the bias): the sums the direct small-window loops reproduce.
std::vector<float> gemmConvolution(const Conv1dShape& s, const float* x, const float* w, const float* bias,
                                   KernelPath path) {
  const int64_t outLength = s.outLength();
  std::vector<float> y(static_cast<size_t>(s.batch * outLength * s.chanOut));
  for (int64_t b = 0; b < s.batch; b++) {
    GemmArgs g;
    g.m = outLength;
    g.n = s.chanOut;
    g.k = s.kSize * s.chanIn;
    g.a = x + b * s.length * s.chanIn;
    g.lda = s.stride * s.chanIn;
    g.b = w;
    g.ldb = s.chanOut;
    g.c = y.data() + b * outLength * s.chanOut;
    g.ldc = s.chanOut;
    if (bias) {
      for (int64_t t = 0; t < outLength; t++) std::memcpy(g.c + t * s.chanOut, bias, s.chanOut * sizeof(float));
      g.beta = 1.0f;
    }
    sgemm(g, path, nullptr);
  }
  return y;
}

// The joint passes against the separate fast kernels on the same path, bitwise, where the direct
// small-window loops run (AVX2 and AVX-512, a window of at most kDirectMaxDepth values, per-sample products
// sgemm does not run as its plain loop): they must give exactly what the convolution as per-sample
// GEMMs then maxPool1dForward, and maxPool1dBackward then conv1dBackwardWeight onto a zero dw,
// give; conv1dForward, which runs the direct loops there too, must give that convolution. (The
// per-sample GEMM path elsewhere may run a short last chunk through sgemm's plain loop and differ
// in the last bit; testConvMaxPool covers it.) `infinities` puts a few in x: 0 · inf is NaN in
// the GEMM, so every position must be multiplied in, routed or not. Returns whether it ran.
bool testJointBitwise(std::mt19937& rng, const Conv1dShape& s, int64_t poolSize, int64_t poolStride, bool withBias,
                      bool infinities, KernelPath path, ThreadPool& pool, bool ties = false) {
  const int64_t depth = s.kSize * s.chanIn;
  if (path == KernelPath::Scalar || depth > kDirectMaxDepth || s.outLength() * s.chanOut * depth <= kSgemmPlainMnk)
    return false;
  const Pool1dShape ps{s.batch, s.outLength(), s.chanOut, poolSize, poolStride};
  auto x = randomVector(rng, s.batch * s.length * s.chanIn);
  if (infinities)
    for (size_t i = 0; i < x.size(); i += 997) x[i] = (i / 997) % 2 ? INFINITY : -INFINITY;
  auto w = randomVector(rng, s.kSize * s.chanIn * s.chanOut);
  auto bias = randomVector(rng, s.chanOut);
  if (ties) {
    // Small integers, summed exactly: a window's rows tie often, so the order in which a path
    // takes them shows in the argmax.
    std::uniform_int_distribution<int> small(-1, 1);
    for (auto* v : {&x, &w, &bias})
      for (float& e : *v)
        if (std::isfinite(e)) e = static_cast<float>(small(rng));
  }
  const float* b = withBias ? bias.data() : nullptr;
  const std::vector<float> conv = gemmConvolution(s, x.data(), w.data(), b, path);
  std::vector<float> direct(conv.size());
  conv1dForward(s, x.data(), w.data(), b, direct.data(), path, &pool);
  if (!sameBits(direct.data(), conv.data(), conv.size() * sizeof(float), "conv1dForward", s, 1, 1, path,
                pool.threads()))
    return true;
  std::vector<float> want(static_cast<size_t>(s.batch * ps.outLength() * s.chanOut)), got(want.size());
  std::vector<int32_t> argWant(want.size()), argGot(want.size());
  maxPool1dForward(ps, conv.data(), want.data(), argWant.data(), path, &pool);
  conv1dMaxPoolForward(s, poolSize, poolStride, x.data(), w.data(), b, got.data(), argGot.data(), path, &pool);
  if (!sameBits(got.data(), want.data(), want.size() * sizeof(float), "conv1dMaxPoolForward", s, poolSize, poolStride,
                path, pool.threads()) ||
      !sameBits(argGot.data(), argWant.data(), argWant.size() * sizeof(int32_t), "conv1dMaxPoolForward argmax", s,
                poolSize, poolStride, path, pool.threads()))
    return true;
  auto dy = randomVector(rng, static_cast<int64_t>(want.size()));
  std::vector<float> dconv(conv.size()), dwWant(w.size(), 0.0f), dwGot(w.size(), 0.0f);
  maxPool1dBackward(ps, dy.data(), argWant.data(), dconv.data(), path, &pool);
  conv1dBackwardWeight(s, x.data(), dconv.data(), dwWant.data(), path, &pool);
  conv1dMaxPoolBackwardWeight(s, poolSize, poolStride, x.data(), dy.data(), argWant.data(), dwGot.data(), path, &pool);
  sameBits(dwGot.data(), dwWant.data(), dwWant.size() * sizeof(float), "conv1dMaxPoolBackwardWeight", s, poolSize,
           poolStride, path, pool.threads());
  return true;
}

// With `ties`, the inputs are drawn from a handful of values (ties, zeros of both signs, NaNs), so
// that the order in which a path compares a window's positions shows in the argmax.
void testPool(std::mt19937& rng, const Pool1dShape& s, KernelPath path, ThreadPool& pool, bool ties = false) {
  const int64_t nIn = s.batch * s.length * s.chan, nOut = s.batch * s.outLength() * s.chan;
  auto x = randomVector(rng, nIn);
  if (ties) {
    const float values[] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f, NAN};
    std::uniform_int_distribution<int> pick(0, 5);
    for (float& v : x) v = values[pick(rng)];
  }
  std::vector<float> y(nOut), yRef(nOut);
  std::vector<int32_t> arg(nOut), argRef(nOut);
  maxPool1dForward(s, x.data(), y.data(), arg.data(), path, &pool);
  maxPool1dForwardReference(s, x.data(), yRef.data(), argRef.data());
  for (int64_t i = 0; i < nOut; i++) {
    if (std::memcmp(&y[i], &yRef[i], sizeof(float)) != 0 || arg[i] != argRef[i]) {
      std::printf("FAIL maxPool1dForward %s length=%lld chan=%lld k=%lld stride=%lld at %lld\n", kernelPathName(path),
                  (long long)s.length, (long long)s.chan, (long long)s.kSize, (long long)s.stride, (long long)i);
      failures++;
      break;
    }
  }
  // Backward: every dx is the sum of the dy routed to it, added in the scatter's order (bitwise
  // equal to the reference), and every entry is routed.
  auto dy = randomVector(rng, nOut);
  std::vector<float> dx(nIn, NAN), dxRef(nIn);
  int64_t routed = maxPool1dBackward(s, dy.data(), arg.data(), dx.data(), path, &pool);
  maxPool1dBackwardReference(s, dy.data(), argRef.data(), dxRef.data());
  if (routed != nOut) {
    std::printf("FAIL maxPool1dBackward %s routed %lld of %lld\n", kernelPathName(path), (long long)routed,
                (long long)nOut);
    failures++;
  }
  for (int64_t i = 0; i < nIn; i++) {
    if (!(dx[i] == dxRef[i])) {
      std::printf("FAIL maxPool1dBackward %s length=%lld chan=%lld k=%lld stride=%lld at %lld: %g vs %g\n",
                  kernelPathName(path), (long long)s.length, (long long)s.chan, (long long)s.kSize, (long long)s.stride,
                  (long long)i, dx[i], dxRef[i]);
      failures++;
      break;
    }
  }
  // An entry moved to another position of its sample outside its window is not routed.
  // (Sample 0, output 0, channel 0 may take positions [0, kSize); position length - 1 is outside.)
  if (nOut > 0 && s.length - 1 >= s.kSize) {
    auto bad = arg;
    bad[0] = static_cast<int32_t>((s.length - 1) * s.chan);
    routed = maxPool1dBackward(s, dy.data(), bad.data(), dx.data(), path, &pool);
    if (routed != nOut - 1) {
      std::printf("FAIL maxPool1dBackward %s out-of-window entry: routed %lld of %lld\n", kernelPathName(path),
                  (long long)routed, (long long)nOut);
      failures++;
    }
    // Nor is one pointing anywhere else: another sample, before the array, far past its end (the
    // kernel compares entries, never follows them; the sanitizer builds would catch a stray read).
    for (int32_t far : {static_cast<int32_t>(nIn - 1), -1, INT32_MIN, INT32_MAX}) {
      bad[0] = far;
      routed = maxPool1dBackward(s, dy.data(), bad.data(), dx.data(), path, &pool);
      if (routed != nOut - 1) {
        std::printf("FAIL maxPool1dBackward %s entry %d: routed %lld of %lld\n", kernelPathName(path), far,
                    (long long)routed, (long long)nOut);
        failures++;
      }
    }
  }

  avgPool1dForward(s, x.data(), y.data(), &pool);
  avgPool1dForwardReference(s, x.data(), yRef.data());
  for (int64_t i = 0; i < nOut; i++) {
    if (std::fabs(y[i] - yRef[i]) > 1e-6 * (s.kSize + 1)) {
      std::printf("FAIL avgPool1dForward at %lld\n", (long long)i);
      failures++;
      break;
    }
  }
  std::vector<float> dxa(nIn, NAN);
  std::fill(dxRef.begin(), dxRef.end(), 0.0);
  avgPool1dBackward(s, dy.data(), dxa.data(), &pool);
  const int64_t outLength = s.outLength();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t t = 0; t < outLength; t++)
      for (int64_t k = 0; k < s.kSize; k++)
        for (int64_t c = 0; c < s.chan; c++)
          dxRef[(b * s.length + t * s.stride + k) * s.chan + c] +=
              dy[(b * outLength + t) * s.chan + c] / (double)s.kSize;
  for (int64_t i = 0; i < nIn; i++) {
    if (std::fabs(dxa[i] - dxRef[i]) > 1e-5) {
      std::printf("FAIL avgPool1dBackward at %lld: %g vs %g\n", (long long)i, dxa[i], dxRef[i]);
      failures++;
      break;
    }
  }
}

// 2-D max pooling against its plain loop, bit for bit: values drawn from a handful (ties, zeros of
// both signs, NaNs) so that the order in which a path compares a window's pixels shows in the
// argmax, and the backward pass against routing each gradient to its argmax in order.
void testPool2d(std::mt19937& rng, const Pool2dShape& s, KernelPath path, ThreadPool& pool) {
  const int64_t nIn = s.batch * s.height * s.width * s.chan, nOut = s.batch * s.outHeight() * s.outWidth() * s.chan;
  const float values[] = {-1.0f, -0.0f, 0.0f, 1.0f, 2.0f, NAN};
  std::uniform_int_distribution<int> pick(0, 5);
  std::vector<float> x(nIn);
  for (float& v : x) v = values[pick(rng)];
  std::vector<float> y(nOut), yRef(nOut);
  std::vector<int32_t> arg(nOut), argRef(nOut);
  maxPool2dForward(s, x.data(), y.data(), arg.data(), path, &pool);
  maxPool2dForwardReference(s, x.data(), yRef.data(), argRef.data());
  const auto fail = [&](const char* what) {
    std::printf("FAIL %s %s batch=%lld %lldx%lld chan=%lld window %lldx%lld stride %lldx%lld\n", what,
                kernelPathName(path), (long long)s.batch, (long long)s.height, (long long)s.width, (long long)s.chan,
                (long long)s.kHeight, (long long)s.kWidth, (long long)s.strideHeight, (long long)s.strideWidth);
    failures++;
  };
  // (memcmp is not given the null data() of an empty vector, a window larger than the image.)
  const auto sameFloats = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  if (!sameFloats(y, yRef)) fail("maxPool2dForward values");
  if (arg != argRef) fail("maxPool2dForward argmax");
  auto dy = randomVector(rng, nOut);
  std::vector<float> dx(nIn, NAN), dxRef(nIn, 0.0f);
  for (int64_t i = 0; i < nOut; i++) dxRef[argRef[i]] += dy[i];
  if (maxPool2dBackward(s, dy.data(), arg.data(), dx.data(), path, &pool) != nOut) fail("maxPool2dBackward routing");
  if (!sameFloats(dx, dxRef)) fail("maxPool2dBackward");
}

}  // namespace

int main() {
  std::mt19937 rng(1234);
  int cases = 0;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (KernelPath path : kAllPaths) {
      if (!pathUnderTest(path)) continue;
      // The shapes of the seed network, then random ones.
      testConv(rng, Conv1dShape{32, 256, 1, 32, 3, 1}, path, pool);
      testConv(rng, Conv1dShape{32, 127, 32, 32, 3, 1}, path, pool);
      // Windows of 64 and 65 floats, either side of the input gradient's bound for Conv2D's route.
      testConv(rng, Conv1dShape{3, 50, 16, 8, 4, 1}, path, pool);
      testConv(rng, Conv1dShape{3, 50, 13, 8, 5, 2}, path, pool);
      cases += 4;
      std::uniform_int_distribution<int> kDist(1, 8), sDist(1, 4), cDist(1, 70), bDist(1, 5), lDist(1, 40);
      for (int i = 0; i < 60; i++) {
        Conv1dShape s{bDist(rng), lDist(rng), cDist(rng), cDist(rng), kDist(rng), sDist(rng)};
        if (i % 5 == 0) s.chanIn = 1;
        testConv(rng, s, path, pool);
        cases++;
      }
      // Fused convolution + max pooling: the seed network at inference batch, a sample long
      // enough to take several chunks, overlapping and strided pools, and random shapes.
      testConvMaxPool(rng, Conv1dShape{256, 256, 1, 32, 3, 1}, 2, 2, false, path, pool);
      testConvMaxPool(rng, Conv1dShape{3, 3000, 2, 32, 5, 1}, 2, 2, true, path, pool);
      testConvMaxPool(rng, Conv1dShape{4, 700, 3, 100, 3, 2}, 8, 3, true, path, pool);
      testConvMaxPool(rng, Conv1dShape{2, 90, 4, 20000, 3, 1}, 3, 1, false, path, pool);
      cases += 4;
      for (int i = 0; i < 40; i++) {
        Conv1dShape s{bDist(rng), lDist(rng) + 8, cDist(rng), cDist(rng), kDist(rng), sDist(rng)};
        std::uniform_int_distribution<int64_t> pk(1, std::max<int64_t>(1, std::min<int64_t>(8, s.outLength())));
        testConvMaxPool(rng, s, pk(rng), sDist(rng), i % 2 == 0, path, pool);
        cases++;
      }
      // Joint passes bitwise against the separate kernels: the seed network (one depth block at
      // length 256, three at 784), windows of every depth up to the direct loops' limit and past
      // it, channel counts off the 16-lane blocks, overlapping and gapped pools, infinities.
      cases += testJointBitwise(rng, Conv1dShape{32, 256, 1, 32, 3, 1}, 2, 2, true, false, path, pool);
      cases += testJointBitwise(rng, Conv1dShape{8, 784, 1, 32, 3, 1}, 2, 2, true, false, path, pool);
      cases += testJointBitwise(rng, Conv1dShape{5, 300, 1, 32, 3, 1}, 2, 2, false, true, path, pool);
      cases += testJointBitwise(rng, Conv1dShape{4, 2000, 2, 20, 4, 2}, 3, 2, true, true, path, pool);
      // Pools of 2 to 4 whole strides, whose joint forward convolves each block of rows once and
      // merges the blocks (the deep CNN's first layer: 1 -> 64, k3, pool 8/2): every block count,
      // strides 1 to 4, whole and ragged blocks of channels, infinities (NaN outputs) half the time,
      // and inputs of small integers whose rows tie.
      const int64_t overlapping[][2] = {{8, 2}, {4, 2}, {6, 2}, {9, 3}, {3, 1}, {4, 1}, {8, 4}, {12, 4}, {2, 1}};
      for (int i = 0; i < 9; i++) {
        cases += testJointBitwise(rng, Conv1dShape{3, 300, 1, 64, 3, 1}, overlapping[i][0], overlapping[i][1],
                                  i % 2 == 0, i % 2 == 1, path, pool);
        cases += testJointBitwise(rng, Conv1dShape{2, 157, 2, 20, 2, 1}, overlapping[i][0], overlapping[i][1], true,
                                  i % 3 == 0, path, pool);
        cases += testJointBitwise(rng, Conv1dShape{3, 200, 1, 64, 3, 1}, overlapping[i][0], overlapping[i][1],
                                  i % 2 == 0, i % 2 == 1, path, pool, true);
      }
      std::uniform_int_distribution<int> depthDist(1, 18), coDist(1, 70), poolDist(1, 5);
      for (int i = 0; i < 60; i++) {
        const int depth = depthDist(rng);
        const int64_t chanIn = depth % 3 == 0 ? 3 : 1, kSize = std::max<int64_t>(1, depth / chanIn);
        Conv1dShape s{bDist(rng), 20 + 30 * lDist(rng), chanIn, coDist(rng), kSize, sDist(rng)};
        const int64_t poolSize = std::min<int64_t>(poolDist(rng), s.outLength());
        cases += testJointBitwise(rng, s, poolSize, poolDist(rng), i % 2 == 0, i % 7 == 0, path, pool);
      }
    }
    for (KernelPath path : kAllPaths) {
      if (!pathUnderTest(path)) continue;
      std::uniform_int_distribution<int> kDist(1, 8), sDist(1, 4), cDist(1, 70), bDist(1, 5), lDist(1, 40);
      for (int i = 0; i < 60; i++) {
        Pool1dShape s{bDist(rng), lDist(rng), cDist(rng), kDist(rng), sDist(rng)};
        testPool(rng, s, path, pool);
        cases++;
      }
      testPool(rng, Pool1dShape{32, 254, 32, 2, 2}, path, pool);
      testPool(rng, Pool1dShape{64, 300, 40, 8, 2}, path, pool);
      testPool(rng, Pool1dShape{2, 20, 17, 3, 1}, path, pool);
      cases += 3;
      // Windows of 2 to 4 whole strides, walked as overlapping blocks on the SIMD paths where the
      // channels are whole vectors (16, 32, 64; 24 on AVX2 and NEON) and enough selects are saved
      // (8/2, the deep CNN's, 9/3, 12/3, 8/4, 12/4 and 16/4), rows longer than one run of the walk,
      // and rows whose last positions no window covers; then the limits: 128 channels and past
      // them, and windows whose runs are just over kRowMinRun outputs (20/5: 9) and under (24/6: 7).
      for (int64_t stride = 1; stride <= 4; stride++)
        for (int64_t blocks = 2; blocks <= 4; blocks++)
          for (int64_t chan : {16, 32, 64, 24}) {
            const int64_t k = blocks * stride;
            for (int64_t length : {k, k + 1, 3 * k + stride - 1, 40 * stride + k + 1, int64_t{100}}) {
              testPool(rng, Pool1dShape{3, length, chan, k, stride}, path, pool, true);
              testPool(rng, Pool1dShape{2, length, chan, k, stride}, path, pool, false);
              cases += 2;
            }
            testPool2d(rng, Pool2dShape{2, 5, 70, chan, 1, k, 2, stride}, path, pool);
            cases++;
          }
      for (int64_t chan : {128, 144}) {
        testPool(rng, Pool1dShape{2, 90, chan, 8, 2}, path, pool, true);
        cases++;
      }
      for (int64_t stride : {5, 6}) {
        testPool(rng, Pool1dShape{2, 300, 16, 4 * stride, stride}, path, pool, true);
        cases++;
      }
      // LeNet's and the batch-norm CNN's poolings, ragged channel vectors on every path, windows
      // walked four, two and one whole vectors at a time (72 and 100 channels; the one-row 1×8
      // window is the deep CNN's 1-D pooling), then random shapes (2×2 windows half the time: the
      // SIMD paths' own loops).
      for (const Pool2dShape& s : {Pool2dShape{4, 24, 24, 6, 2, 2, 2, 2}, Pool2dShape{4, 8, 8, 16, 2, 2, 2, 2},
                                   Pool2dShape{2, 14, 14, 64, 2, 2, 2, 2}, Pool2dShape{3, 9, 7, 20, 2, 2, 2, 2},
                                   Pool2dShape{2, 6, 5, 40, 2, 2, 1, 1}, Pool2dShape{2, 9, 11, 20, 3, 3, 2, 2},
                                   Pool2dShape{2, 9, 11, 72, 3, 3, 2, 2}, Pool2dShape{2, 1, 40, 100, 1, 8, 1, 2}}) {
        testPool2d(rng, s, path, pool);
        cases++;
      }
      // 2×2 windows on either side of 8 channels: on AVX-512 up to 8 take AVX2's vectors, and
      // under 8 at stride 2 several pixels a vector (each channel count its own lanes).
      for (int64_t chan : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17}) {
        testPool2d(rng, Pool2dShape{2, 7, 9, chan, 2, 2, 2, 2}, path, pool);
        testPool2d(rng, Pool2dShape{2, 6, 6, chan, 2, 2, 1, 1}, path, pool);
        cases += 2;
      }
      std::uniform_int_distribution<int> wDist(1, 4), hDist(1, 12), c2Dist(1, 40);
      for (int i = 0; i < 60; i++) {
        Pool2dShape s{bDist(rng), hDist(rng), hDist(rng), c2Dist(rng), wDist(rng), wDist(rng), sDist(rng), sDist(rng)};
        if (i % 2 == 0) s.kHeight = s.kWidth = 2;
        if (i % 4 == 0) s.strideHeight = s.strideWidth = 2;
        testPool2d(rng, s, path, pool);
        cases++;
      }
    }
  }
  std::printf("%d passed, %d failed\n", cases - failures, failures);
  return failures == 0 ? 0 : 1;
}
