// Pooling: loops ordered so the innermost one runs along the contiguous channel
// axis, the batch split across threads when that pays. Max pooling's loops live
// in pool1d_loops.h and are compiled per instruction set (its selects are
// compute-bound at the baseline's 4 lanes); average pooling is memory-bound and
// stays here.
#include "pool1d.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "pool1d_loops.h"

namespace neurone {

namespace {

const PoolKernels kScalarPoolKernels{pool::maxForwardSampleLoop, pool::maxBackwardSampleLoop};

void avgForwardSample(const Pool1dShape& s, const float* x, float* y, int64_t b) {
  const int64_t outLength = s.outLength();
  const float scale = 1.0f / static_cast<float>(s.kSize);
  for (int64_t t = 0; t < outLength; t++) {
    const float* xt = x + (b * s.length + t * s.stride) * s.chan;
    float* yt = y + (b * outLength + t) * s.chan;
    for (int64_t c = 0; c < s.chan; c++) yt[c] = xt[c];
    for (int64_t k = 1; k < s.kSize; k++)
      for (int64_t c = 0; c < s.chan; c++) yt[c] += xt[k * s.chan + c];
    for (int64_t c = 0; c < s.chan; c++) yt[c] *= scale;
  }
}

void avgBackwardSample(const Pool1dShape& s, const float* dy, float* dx, int64_t b) {
  const int64_t outLength = s.outLength();
  const float scale = 1.0f / static_cast<float>(s.kSize);
  float* dxb = dx + b * s.length * s.chan;
  std::memset(dxb, 0, s.length * s.chan * sizeof(float));
  for (int64_t t = 0; t < outLength; t++) {
    const float* dyt = dy + (b * outLength + t) * s.chan;
    float* d = dxb + t * s.stride * s.chan;
    for (int64_t k = 0; k < s.kSize; k++)
      for (int64_t c = 0; c < s.chan; c++) d[k * s.chan + c] += dyt[c] * scale;
  }
}

// fn(b) for every sample b, over the pool's threads when that pays.
template <typename Fn>
void forSamples(const Pool1dShape& s, ThreadPool* pool, const Fn& fn) {
  // A sample of a batch-32 pooling layer is a few microseconds of work; only
  // wake the workers when there is enough of it.
  const bool threaded = pool && pool->threads() > 1 && s.batch > 1 && s.batch * s.length * s.chan >= (1 << 16);
  parallelFor(threaded ? pool : nullptr, s.batch, [&](int64_t b, int) { fn(b); });
}

}  // namespace

const PoolKernels& poolKernelsFor(KernelPath path) {
  static const KernelTables<PoolKernels> tables{
      &kScalarPoolKernels,
      {NEURONE_IF_AVX2(poolKernelsAvx2), NEURONE_IF_AVX512(poolKernelsAvx512), NEURONE_IF_NEON(poolKernelsNeon)}};
  return *tables.forPath(path);
}

void maxPool1dForward(const Pool1dShape& s, const float* x, float* y, int32_t* argmax, KernelPath path,
                      ThreadPool* pool) {
  if (s.outLength() == 0) return;
  const PoolKernels& kernels = poolKernelsFor(path);
  forSamples(s, pool, [&](int64_t b) { kernels.maxForwardSample(s, x, y, argmax, b); });
}

int64_t maxPool1dBackward(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx, KernelPath path,
                          ThreadPool* pool) {
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
    return 0;
  }
  const PoolKernels& kernels = poolKernelsFor(path);
  std::atomic<int64_t> matches{0};
  forSamples(s, pool, [&](int64_t b) {
    matches.fetch_add(kernels.maxBackwardSample(s, dy, argmax, dx + b * s.length * s.chan, b),
                      std::memory_order_relaxed);
  });
  return matches.load(std::memory_order_relaxed);
}

void avgPool1dForward(const Pool1dShape& s, const float* x, float* y, ThreadPool* pool) {
  if (s.outLength() == 0) return;
  forSamples(s, pool, [&](int64_t b) { avgForwardSample(s, x, y, b); });
}

void avgPool1dBackward(const Pool1dShape& s, const float* dy, float* dx, ThreadPool* pool) {
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
    return;
  }
  forSamples(s, pool, [&](int64_t b) { avgBackwardSample(s, dy, dx, b); });
}

void maxPool1dForwardReference(const Pool1dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t outLength = s.outLength();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t t = 0; t < outLength; t++)
      for (int64_t c = 0; c < s.chan; c++) {
        int64_t best = (b * s.length + t * s.stride) * s.chan + c;
        for (int64_t k = 1; k < s.kSize; k++) {
          int64_t idx = (b * s.length + t * s.stride + k) * s.chan + c;
          if (x[idx] > x[best] || (std::isnan(x[idx]) && !std::isnan(x[best]))) best = idx;
        }
        y[(b * outLength + t) * s.chan + c] = x[best];
        argmax[(b * outLength + t) * s.chan + c] = static_cast<int32_t>(best);
      }
}

void maxPool1dBackwardReference(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t nOut = s.batch * s.outLength() * s.chan;
  std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
  for (int64_t i = 0; i < nOut; i++) dx[argmax[i]] += dy[i];
}

void avgPool1dForwardReference(const Pool1dShape& s, const float* x, float* y) {
  const int64_t outLength = s.outLength();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t t = 0; t < outLength; t++)
      for (int64_t c = 0; c < s.chan; c++) {
        double sum = 0;
        for (int64_t k = 0; k < s.kSize; k++) sum += x[(b * s.length + t * s.stride + k) * s.chan + c];
        y[(b * outLength + t) * s.chan + c] = static_cast<float>(sum / s.kSize);
      }
}

}  // namespace neurone
