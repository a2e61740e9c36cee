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

struct PoolJob {
  const Pool1dShape* s;
  const float* in;
  float* out;
  int32_t* argmax;
  const int32_t* argmaxIn;
  const PoolKernels* kernels;
  std::atomic<int64_t> matches{0};
};

void maxForwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  j.kernels->maxForwardSample(*j.s, j.in, j.out, j.argmax, b);
}

void maxBackwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  j.matches.fetch_add(j.kernels->maxBackwardSample(s, j.in, j.argmaxIn, j.out + b * s.length * s.chan, b),
                      std::memory_order_relaxed);
}

void avgForwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  const float scale = 1.0f / static_cast<float>(s.kSize);
  for (int64_t t = 0; t < outLength; t++) {
    const float* x = j.in + (b * s.length + t * s.stride) * s.chan;
    float* y = j.out + (b * outLength + t) * s.chan;
    for (int64_t c = 0; c < s.chan; c++) y[c] = x[c];
    for (int64_t k = 1; k < s.kSize; k++)
      for (int64_t c = 0; c < s.chan; c++) y[c] += x[k * s.chan + c];
    for (int64_t c = 0; c < s.chan; c++) y[c] *= scale;
  }
}

void avgBackwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  const float scale = 1.0f / static_cast<float>(s.kSize);
  float* dx = j.out + b * s.length * s.chan;
  std::memset(dx, 0, s.length * s.chan * sizeof(float));
  for (int64_t t = 0; t < outLength; t++) {
    const float* dy = j.in + (b * outLength + t) * s.chan;
    float* d = dx + t * s.stride * s.chan;
    for (int64_t k = 0; k < s.kSize; k++)
      for (int64_t c = 0; c < s.chan; c++) d[k * s.chan + c] += dy[c] * scale;
  }
}

void runSamples(const Pool1dShape& s, ThreadPool* pool, ThreadPool::TaskFn fn, PoolJob* job) {
  // A sample of a batch-32 pooling layer is a few microseconds of work; only
  // wake the workers when there is enough of it.
  const bool threaded = pool && pool->threads() > 1 && s.batch > 1 && s.batch * s.length * s.chan >= (1 << 16);
  if (threaded)
    pool->run(s.batch, fn, job, true);
  else
    for (int64_t b = 0; b < s.batch; b++) fn(job, b, 0);
}

}  // namespace

const PoolKernels& poolKernelsFor(KernelPath path) {
  static const KernelTables<PoolKernels> tables{
      {&kScalarPoolKernels, NEURONE_IF_AVX2(poolKernelsAvx2()), NEURONE_IF_AVX512(poolKernelsAvx512())}};
  return *tables.forPath(path);
}

void maxPool1dForward(const Pool1dShape& s, const float* x, float* y, int32_t* argmax, KernelPath path,
                      ThreadPool* pool) {
  if (s.outLength() == 0) return;
  PoolJob job{&s, x, y, argmax, nullptr, &poolKernelsFor(path)};
  runSamples(s, pool, maxForwardSample, &job);
}

int64_t maxPool1dBackward(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx, KernelPath path,
                          ThreadPool* pool) {
  PoolJob job{&s, dy, dx, nullptr, argmax, &poolKernelsFor(path)};
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
    return 0;
  }
  runSamples(s, pool, maxBackwardSample, &job);
  return job.matches.load(std::memory_order_relaxed);
}

void avgPool1dForward(const Pool1dShape& s, const float* x, float* y, ThreadPool* pool) {
  if (s.outLength() == 0) return;
  PoolJob job{&s, x, y, nullptr, nullptr, nullptr};
  runSamples(s, pool, avgForwardSample, &job);
}

void avgPool1dBackward(const Pool1dShape& s, const float* dy, float* dx, ThreadPool* pool) {
  PoolJob job{&s, dy, dx, nullptr, nullptr, nullptr};
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
    return;
  }
  runSamples(s, pool, avgBackwardSample, &job);
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
