// Pooling is memory-bound: the fast path only orders loops so the innermost
// one runs along the contiguous channel axis (the compiler vectorises it at
// the baseline ISA) and splits the batch across threads when that pays.
#include "pool1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace neurone {

namespace {

struct PoolJob {
  const Pool1dShape* s;
  const float* in;
  float* out;
  int32_t* argmax;
  const int32_t* argmaxIn;
};

void maxForwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  for (int64_t t = 0; t < outLength; t++) {
    const int64_t start = (b * s.length + t * s.stride) * s.chan;
    float* y = j.out + (b * outLength + t) * s.chan;
    int32_t* arg = j.argmax + (b * outLength + t) * s.chan;
    for (int64_t c = 0; c < s.chan; c++) {
      y[c] = j.in[start + c];
      arg[c] = static_cast<int32_t>(start + c);
    }
    for (int64_t k = 1; k < s.kSize; k++) {
      const float* x = j.in + start + k * s.chan;
      for (int64_t c = 0; c < s.chan; c++) {
        const float v = x[c];
        // v > y[c] is false for NaN on either side; the second test lets a NaN in.
        const bool take = v > y[c] || (v != v && y[c] == y[c]);
        y[c] = take ? v : y[c];
        arg[c] = take ? static_cast<int32_t>(start + k * s.chan + c) : arg[c];
      }
    }
  }
}

void maxBackwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  float* dx = j.out + b * s.length * s.chan;
  std::memset(dx, 0, s.length * s.chan * sizeof(float));
  // Indices are global; every index of sample b lies in its own slice of dx,
  // so samples can run on different threads without conflict.
  const int64_t n = outLength * s.chan;
  const float* dy = j.in + b * n;
  const int32_t* arg = j.argmaxIn + b * n;
  for (int64_t i = 0; i < n; i++) j.out[arg[i]] += dy[i];
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
  if (threaded) pool->run(s.batch, fn, job);
  else for (int64_t b = 0; b < s.batch; b++) fn(job, b, 0);
}

}  // namespace

void maxPool1dForward(const Pool1dShape& s, const float* x, float* y, int32_t* argmax, ThreadPool* pool) {
  if (s.outLength() == 0) return;
  PoolJob job{&s, x, y, argmax, nullptr};
  runSamples(s, pool, maxForwardSample, &job);
}

void maxPool1dBackward(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dx, ThreadPool* pool) {
  PoolJob job{&s, dy, dx, nullptr, argmax};
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chan * sizeof(float));
    return;
  }
  runSamples(s, pool, maxBackwardSample, &job);
}

void avgPool1dForward(const Pool1dShape& s, const float* x, float* y, ThreadPool* pool) {
  if (s.outLength() == 0) return;
  PoolJob job{&s, x, y, nullptr, nullptr};
  runSamples(s, pool, avgForwardSample, &job);
}

void avgPool1dBackward(const Pool1dShape& s, const float* dy, float* dx, ThreadPool* pool) {
  PoolJob job{&s, dy, dx, nullptr, nullptr};
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
