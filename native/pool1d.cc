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
  const int64_t chan = s.chan;
  for (int64_t t = 0; t < outLength; t++) {
    const int64_t start = (b * s.length + t * s.stride) * chan;
    float* __restrict y = j.out + (b * outLength + t) * chan;
    int32_t* __restrict arg = j.argmax + (b * outLength + t) * chan;
    const float* __restrict x0 = j.in + start;
    for (int64_t c = 0; c < chan; c++) {
      y[c] = x0[c];
      arg[c] = static_cast<int32_t>(start + c);
    }
    for (int64_t k = 1; k < s.kSize; k++) {
      const float* __restrict x = x0 + k * chan;
      const int32_t base = static_cast<int32_t>(start + k * chan);
      // Branch-free so the compiler vectorises along the channels. v > y is false when either
      // is NaN; the second test lets a NaN in (and keeps the first NaN), so NaN is not hidden.
      for (int64_t c = 0; c < chan; c++) {
        const float v = x[c];
        const float cur = y[c];
        const bool take = (v > cur) | ((v != v) & (cur == cur));
        y[c] = take ? v : cur;
        arg[c] = take ? base + static_cast<int32_t>(c) : arg[c];
      }
    }
  }
}

void maxBackwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<PoolJob*>(ctx);
  const Pool1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  float* dx = j.out + b * s.length * chan;
  const int64_t n = outLength * chan;
  const float* dy = j.in + b * n;
  const int32_t* arg = j.argmaxIn + b * n;
  if (s.stride >= s.kSize) {
    // Windows do not overlap: every input position belongs to at most one window, so dx can be
    // written densely, comparing each position with its window's argmax (vectorises, no scatter).
    // The loop below writes every position a window covers; only the gaps between windows
    // (stride > kSize) and the tail after the last window are cleared here.
    for (int64_t t = 0; t < outLength; t++) {
      const int64_t gapEnd = t + 1 < outLength ? (t + 1) * s.stride : s.length;
      const int64_t gapStart = t * s.stride + s.kSize;
      if (gapEnd > gapStart) std::memset(dx + gapStart * chan, 0, (gapEnd - gapStart) * chan * sizeof(float));
    }
    for (int64_t t = 0; t < outLength; t++) {
      const int32_t* __restrict at = arg + t * chan;
      const float* __restrict dt = dy + t * chan;
      for (int64_t k = 0; k < s.kSize; k++) {
        const int64_t pos = (b * s.length + t * s.stride + k) * chan;
        float* __restrict d = j.out + pos;
        const int32_t p0 = static_cast<int32_t>(pos);
        // dy where this position is its window's argmax, else +0: a bit mask, which vectorises.
        for (int64_t c = 0; c < chan; c++) {
          uint32_t bits;
          std::memcpy(&bits, dt + c, sizeof bits);
          bits &= 0u - static_cast<uint32_t>(at[c] == p0 + static_cast<int32_t>(c));
          std::memcpy(d + c, &bits, sizeof bits);
        }
      }
    }
    return;
  }
  std::memset(dx, 0, s.length * chan * sizeof(float));
  // Overlapping windows: scatter-add. Indices are global; every index of sample b lies in its own slice of dx,
  // so samples can run on different threads without conflict.
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
