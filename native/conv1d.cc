// Conv1D as GEMMs over the input, with no im2col copy.
//
// In channels-last layout the window of output t is the contiguous run
// x[b, t*stride : t*stride+kSize, :], kSize*chanIn floats long. So the im2col
// matrix of sample b, (outLength, kSize*chanIn), is the input itself read with
// a row stride of stride*chanIn (rows overlap when stride < kSize):
//
//   forward      y_b  = X_b · W                  W viewed as (kSize*chanIn, chanOut)
//   grad weight  dW  += X_bᵀ · dy_b              summed over b
//   grad input   dX_b = dy_b · Wᵀ, scattered back over the overlapping windows
//
// The scatter cannot be one GEMM (overlapping output rows would race), so it is
// kSize GEMMs, one per tap j: rows t*stride + j of dx_b, which never overlap, get
// dy_b · W[j]ᵀ with W[j] the (chanIn, chanOut) slice of tap j.
//
// The joint Conv1D + MaxPool1D passes (conv1dMaxPoolForward, conv1dMaxPoolBackwardWeight) run
// the same GEMMs per sample, or, on AVX2 and AVX-512 with a window of at most 16 values, the
// direct loops of conv1d_direct.h, which reproduce those GEMMs' sums bit for bit.
//
// Samples are independent, so the batch is what gets split across threads; each
// per-sample GEMM then runs on one thread. Weight gradients are accumulated in
// one scratch matrix per fixed batch chunk and summed in chunk order, so the
// result does not depend on which thread ran which chunk.
#include "conv1d.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "gemm.h"
#include "pool1d.h"

namespace neurone {

namespace {

struct ConvJob {
  const Conv1dShape* s;
  const float* in;
  const float* w;
  const float* bias;
  float* out;
  KernelPath path;
  int64_t chunks;
  float* scratch;  // grad weight: one (kSize*chanIn, chanOut) matrix per chunk
};

// Sample b of the forward pass, written to y (outLength, chanOut).
void convolveSample(const ConvJob& j, int64_t b, float* y) {
  const Conv1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  GemmArgs g;
  g.m = outLength;
  g.n = s.chanOut;
  g.k = s.kSize * s.chanIn;
  g.a = j.in + b * s.length * s.chanIn;
  g.lda = s.stride * s.chanIn;
  g.b = j.w;
  g.ldb = s.chanOut;
  g.c = y;
  g.ldc = s.chanOut;
  g.beta = 0.0f;
  if (j.bias) {
    for (int64_t t = 0; t < outLength; t++) std::memcpy(y + t * s.chanOut, j.bias, s.chanOut * sizeof(float));
    g.beta = 1.0f;
  }
  sgemm(g, j.path, nullptr);
}

void forwardSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<ConvJob*>(ctx);
  convolveSample(j, b, j.out + b * j.s->outLength() * j.s->chanOut);
}

// dw = x_bᵀ · dySample + beta · dw: sample b's weight gradient, x_b viewed as (outLength,
// kSize*chanIn) with row stride stride*chanIn and dySample its (outLength, chanOut) output gradient.
void sampleWeightGradient(const Conv1dShape& s, const float* x, int64_t b, const float* dySample, float beta, float* dw,
                          KernelPath path) {
  GemmArgs g;
  g.transA = true;
  g.m = s.kSize * s.chanIn;
  g.n = s.chanOut;
  g.k = s.outLength();
  g.a = x + b * s.length * s.chanIn;
  g.lda = s.stride * s.chanIn;
  g.b = dySample;
  g.ldb = s.chanOut;
  g.beta = beta;
  g.c = dw;
  g.ldc = s.chanOut;
  sgemm(g, path, nullptr);
}

// Scratch every element of which a kernel writes before reading: left uninitialised (a
// std::vector would clear it on every call). Allocated by the calling thread, so running out of
// memory is an exception the binding reports rather than a failure inside a worker.
template <typename T>
std::unique_ptr<T[]> scratchArray(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n)]);
}

// dw += the per-chunk weight gradients, in chunk order (so the sums do not depend on which thread
// ran which chunk).
void addChunks(const float* partial, int64_t chunks, int64_t size, float* dw) {
  for (int64_t c = 0; c < chunks; c++) {
    const float* part = partial + c * size;
    for (int64_t i = 0; i < size; i++) dw[i] += part[i];
  }
}

// The fused convolution + max pooling works through a sample in chunks of pooled outputs whose
// convolution rows fit kPooledChunkFloats: L2-resident, and a bounded scratch per thread however
// long the sample. Pooled outputs [t0, t1) read convolution positions [t0·ps, (t1−1)·ps + pk),
// which come from input positions starting at t0·ps·stride; so a chunk is itself a convolution of
// a shorter input followed by a pooling whose windows start at 0, and the same two kernels run it.
constexpr int64_t kPooledChunkFloats = 16 * 1024;

struct PooledJob {
  const Conv1dShape* s;
  int64_t poolSize, poolStride, chunkOutputs, chunks;  // chunks per sample
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  int32_t* argmaxOut;  // null for inference
  KernelPath path;
  const PoolKernels* kernels;
  float* conv;      // per worker: the chunk's convolution rows
  int32_t* argmax;  // per worker: where the pooling loop writes the argmax nobody asked for
  int64_t convFloats, argmaxInts;
};

void forwardPooledChunk(void* ctx, int64_t task, int worker) {
  const auto& j = *static_cast<PooledJob*>(ctx);
  const Conv1dShape& s = *j.s;
  const int64_t b = task / j.chunks, t0 = (task % j.chunks) * j.chunkOutputs;
  const int64_t pooledLength = (s.outLength() - j.poolSize) / j.poolStride + 1;
  const int64_t outputs = std::min(j.chunkOutputs, pooledLength - t0);
  const int64_t positions = (outputs - 1) * j.poolStride + j.poolSize;
  const Conv1dShape part{1, (positions - 1) * s.stride + s.kSize, s.chanIn, s.chanOut, s.kSize, s.stride};
  const ConvJob conv{
      &part, j.x + (b * s.length + t0 * j.poolStride * s.stride) * s.chanIn, j.w, j.bias, nullptr, j.path, 1, nullptr};
  float* rows = j.conv + worker * j.convFloats;
  convolveSample(conv, 0, rows);
  const Pool1dShape pooling{1, positions, s.chanOut, j.poolSize, j.poolStride};
  const int64_t first = (b * pooledLength + t0) * s.chanOut;
  int32_t* arg = j.argmaxOut ? j.argmaxOut + first : j.argmax + worker * j.argmaxInts;
  j.kernels->maxForwardSample(pooling, rows, j.y + first, arg, 0);
  if (j.argmaxOut) {
    // The loop indexed the chunk's rows; the caller wants indices into the whole convolution.
    const int32_t shift = static_cast<int32_t>((b * s.outLength() + t0 * j.poolStride) * s.chanOut);
    for (int64_t i = 0; i < outputs * s.chanOut; i++) arg[i] += shift;
  }
}

// Backward through the pair: per sample, maxPool1dBackward's gather into a scratch block, then
// conv1dBackwardWeight's GEMM from it, into the chunk's own weight-gradient scratch.
struct PooledBackwardJob {
  const Conv1dShape* s;
  Pool1dShape pool;  // the pooling over the whole batch's convolution output
  const float* x;
  const float* dy;
  const int32_t* argmax;
  KernelPath path;
  const PoolKernels* kernels;
  int64_t chunks;
  float* dw;     // one (kSize*chanIn, chanOut) matrix per chunk
  float* dconv;  // per worker: one sample's convolution gradient
  std::atomic<int64_t> routed{0};
};

void backwardPooledChunk(void* ctx, int64_t chunk, int worker) {
  auto& j = *static_cast<PooledBackwardJob*>(ctx);
  const Conv1dShape& s = *j.s;
  const int64_t convLength = s.outLength();
  const int64_t rows = s.kSize * s.chanIn;
  const int64_t begin = s.batch * chunk / j.chunks, end = s.batch * (chunk + 1) / j.chunks;
  float* dconv = j.dconv + worker * convLength * s.chanOut;
  int64_t routed = 0;
  for (int64_t b = begin; b < end; b++) {
    routed += j.kernels->maxBackwardSample(j.pool, j.dy, j.argmax, dconv, b);
    sampleWeightGradient(s, j.x, b, dconv, b == begin ? 0.0f : 1.0f, j.dw + chunk * rows * s.chanOut, j.path);
  }
  j.routed.fetch_add(routed, std::memory_order_relaxed);
}

void backwardInputSample(void* ctx, int64_t b, int) {
  auto& j = *static_cast<ConvJob*>(ctx);
  const Conv1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  float* dx = j.out + b * s.length * s.chanIn;
  std::memset(dx, 0, s.length * s.chanIn * sizeof(float));
  for (int64_t tap = 0; tap < s.kSize; tap++) {
    GemmArgs g;
    g.transB = true;
    g.m = outLength;
    g.n = s.chanIn;
    g.k = s.chanOut;
    g.a = j.in + b * outLength * s.chanOut;  // dy_b
    g.lda = s.chanOut;
    g.b = j.w + tap * s.chanIn * s.chanOut;  // W[tap], (chanIn, chanOut)
    g.ldb = s.chanOut;
    g.beta = 1.0f;
    g.c = dx + tap * s.chanIn;
    g.ldc = s.stride * s.chanIn;
    sgemm(g, j.path, nullptr);
  }
}

void backwardWeightChunk(void* ctx, int64_t chunk, int) {
  auto& j = *static_cast<ConvJob*>(ctx);
  const Conv1dShape& s = *j.s;
  const int64_t outLength = s.outLength();
  const int64_t rows = s.kSize * s.chanIn;
  const int64_t begin = s.batch * chunk / j.chunks;
  const int64_t end = s.batch * (chunk + 1) / j.chunks;
  float* dw = j.scratch ? j.scratch + chunk * rows * s.chanOut : j.out;
  for (int64_t b = begin; b < end; b++) {
    const float* dySample = j.w + b * outLength * s.chanOut;  // the job's `w` holds dy here
    sampleWeightGradient(s, j.in, b, dySample, (j.scratch && b == begin) ? 0.0f : 1.0f, dw, j.path);
  }
}

// ---- Small windows: the direct loops of conv1d_direct.h -----------------------------

// The direct loops for `path` by the fallback rule of cpu.h, null where there are none (the
// joint passes then run per-sample GEMMs). The rule is the GEMM's, so these are the loops of
// the path whose GEMM they reproduce.
const ConvPoolKernels* convPoolKernelsFor(KernelPath path) {
  static const KernelTables<ConvPoolKernels> tables{
      {nullptr, NEURONE_IF_AVX2(convPoolKernelsAvx2()), NEURONE_IF_AVX512(convPoolKernelsAvx512())}};
  return tables.forPath(path);
}

// The direct loops for the joint passes, or null: a small window, and per-sample products that
// sgemm would not run as its plain loop (the direct loops reproduce its blocked sums only).
const ConvPoolKernels* directKernels(const Conv1dShape& s, KernelPath path) {
  const int64_t depth = s.kSize * s.chanIn;
  if (depth > kDirectMaxDepth || s.outLength() * s.chanOut * depth <= kSgemmPlainMnk) return nullptr;
  return convPoolKernelsFor(path);
}

struct DirectJob {
  ConvPoolArgs args;
  const ConvPoolKernels* kernels;
  int64_t chunks;  // backward: batch chunks, one weight-gradient matrix each
  float* dw;
  std::atomic<int64_t> routed{0};
};

void directForwardSample(void* ctx, int64_t b, int) {
  const auto& j = *static_cast<const DirectJob*>(ctx);
  j.kernels->forwardSample(j.args, b);
}

void directWeightChunk(void* ctx, int64_t chunk, int) {
  auto& j = *static_cast<DirectJob*>(ctx);
  const Conv1dShape& s = *j.args.s;
  const int64_t begin = s.batch * chunk / j.chunks, end = s.batch * (chunk + 1) / j.chunks;
  float* dw = j.dw + chunk * s.kSize * s.chanIn * s.chanOut;
  int64_t routed = 0;
  for (int64_t b = begin; b < end; b++) routed += j.kernels->weightGradientSample(j.args, b, dw, b == begin);
  j.routed.fetch_add(routed, std::memory_order_relaxed);
}

// Threads pay only when each gets a few samples' worth of work.
int64_t usefulChunks(const Conv1dShape& s, ThreadPool* pool) {
  if (!pool || pool->threads() <= 1 || s.batch <= 1) return 1;
  double flops = 2.0 * s.batch * s.outLength() * s.kSize * s.chanIn * s.chanOut;
  if (flops < 2e5) return 1;
  return std::min<int64_t>(s.batch, pool->threads());
}

}  // namespace

void conv1dForward(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool) {
  if (s.batch == 0 || s.outLength() == 0) return;
  ConvJob job{&s, x, w, bias, y, path, 1, nullptr};
  if (usefulChunks(s, pool) > 1)
    pool->run(s.batch, forwardSample, &job, true);
  else
    for (int64_t b = 0; b < s.batch; b++) forwardSample(&job, b, 0);
}

void conv1dMaxPoolForward(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x, const float* w,
                          const float* bias, float* y, int32_t* argmaxOut, KernelPath path, ThreadPool* pool) {
  const int64_t convLength = s.outLength();
  if (s.batch == 0 || convLength < poolSize) return;
  const int64_t pooledLength = (convLength - poolSize) / poolStride + 1;
  if (const ConvPoolKernels* direct = directKernels(s, path)) {
    // The weights lane-blocked, so a 16-channel block of a tap is one contiguous load.
    const int64_t depth = s.kSize * s.chanIn, blocks = (s.chanOut + kConvLanes - 1) / kConvLanes;
    auto lanes = scratchArray<float>(blocks * depth * kConvLanes);
    for (int64_t cb = 0; cb < blocks; cb++)
      for (int64_t i = 0; i < depth; i++)
        for (int64_t l = 0; l < kConvLanes; l++) {
          const int64_t o = cb * kConvLanes + l;
          lanes[(cb * depth + i) * kConvLanes + l] = o < s.chanOut ? w[i * s.chanOut + o] : 0.0f;
        }
    DirectJob job{
        {&s, poolSize, poolStride, x, lanes.get(), bias, y, argmaxOut, nullptr, nullptr, 0}, direct, 1, nullptr};
    if (usefulChunks(s, pool) > 1)
      pool->run(s.batch, directForwardSample, &job, true);
    else
      for (int64_t b = 0; b < s.batch; b++) directForwardSample(&job, b, 0);
    return;
  }
  // As many pooled outputs per chunk as fit the budget (at least one, whatever it needs).
  const int64_t budgetRows = kPooledChunkFloats / s.chanOut;
  const int64_t chunkOutputs =
      std::min(pooledLength, budgetRows >= poolSize ? (budgetRows - poolSize) / poolStride + 1 : 1);
  const int64_t chunks = (pooledLength + chunkOutputs - 1) / chunkOutputs;
  const int64_t threads = usefulChunks(s, pool) > 1 ? pool->threads() : 1;
  PooledJob job{&s,
                poolSize,
                poolStride,
                chunkOutputs,
                chunks,
                x,
                w,
                bias,
                y,
                argmaxOut,
                path,
                &poolKernelsFor(path),
                nullptr,
                nullptr,
                ((chunkOutputs - 1) * poolStride + poolSize) * s.chanOut,
                chunkOutputs * s.chanOut};
  auto conv = scratchArray<float>(threads * job.convFloats);
  auto argmax = scratchArray<int32_t>(argmaxOut ? 0 : threads * job.argmaxInts);
  job.conv = conv.get();
  job.argmax = argmax.get();
  const int64_t tasks = s.batch * chunks;
  if (threads > 1)
    pool->run(tasks, forwardPooledChunk, &job, true);
  else
    for (int64_t t = 0; t < tasks; t++) forwardPooledChunk(&job, t, 0);
}

int64_t conv1dMaxPoolBackwardWeight(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x,
                                    const float* dy, const int32_t* argmax, float* dw, KernelPath path,
                                    ThreadPool* pool) {
  const int64_t convLength = s.outLength();
  if (s.batch == 0 || convLength < poolSize) return 0;
  const int64_t chunks = usefulChunks(s, pool);
  const int64_t size = s.kSize * s.chanIn * s.chanOut;
  // The sums go to dw only once every argmax entry has been found in its window.
  auto partial = scratchArray<float>(chunks * size);
  const int64_t pooledLength = (convLength - poolSize) / poolStride + 1;
  int64_t routed;
  if (const ConvPoolKernels* direct = directKernels(s, path)) {
    DirectJob job{{&s, poolSize, poolStride, x, nullptr, nullptr, nullptr, nullptr, dy, argmax,
                   sgemmDepthBlock(path, convLength)},
                  direct,
                  chunks,
                  partial.get()};
    if (chunks > 1)
      pool->run(chunks, directWeightChunk, &job, true);
    else
      directWeightChunk(&job, 0, 0);
    routed = job.routed.load(std::memory_order_relaxed);
  } else {
    auto dconv = scratchArray<float>((chunks > 1 ? pool->threads() : 1) * convLength * s.chanOut);
    PooledBackwardJob job{&s,
                          {s.batch, convLength, s.chanOut, poolSize, poolStride},
                          x,
                          dy,
                          argmax,
                          path,
                          &poolKernelsFor(path),
                          chunks,
                          partial.get(),
                          dconv.get()};
    if (chunks > 1)
      pool->run(chunks, backwardPooledChunk, &job, true);
    else
      backwardPooledChunk(&job, 0, 0);
    routed = job.routed.load(std::memory_order_relaxed);
  }
  if (routed != s.batch * pooledLength * s.chanOut) return routed;
  addChunks(partial.get(), chunks, size, dw);
  return routed;
}

void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool) {
  if (s.batch == 0) return;
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chanIn * sizeof(float));
    return;
  }
  ConvJob job{&s, dy, w, nullptr, dx, path, 1, nullptr};
  if (usefulChunks(s, pool) > 1)
    pool->run(s.batch, backwardInputSample, &job, true);
  else
    for (int64_t b = 0; b < s.batch; b++) backwardInputSample(&job, b, 0);
}

void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool) {
  if (s.batch == 0 || s.outLength() == 0) return;
  const int64_t chunks = usefulChunks(s, pool);
  ConvJob job{&s, x, dy, nullptr, dw, path, chunks, nullptr};
  if (chunks == 1) {
    backwardWeightChunk(&job, 0, 0);
    return;
  }
  const int64_t size = s.kSize * s.chanIn * s.chanOut;
  auto scratch = scratchArray<float>(chunks * size);
  job.scratch = scratch.get();
  pool->run(chunks, backwardWeightChunk, &job);
  addChunks(scratch.get(), chunks, size, dw);
}

void conv1dForwardReference(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y) {
  const int64_t outLength = s.outLength();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t t = 0; t < outLength; t++)
      for (int64_t o = 0; o < s.chanOut; o++) {
        double sum = bias ? bias[o] : 0.0;
        for (int64_t k = 0; k < s.kSize; k++)
          for (int64_t i = 0; i < s.chanIn; i++)
            sum += static_cast<double>(x[(b * s.length + t * s.stride + k) * s.chanIn + i]) *
                   w[(k * s.chanIn + i) * s.chanOut + o];
        y[(b * outLength + t) * s.chanOut + o] = static_cast<float>(sum);
      }
}

void conv1dBackwardInputReference(const Conv1dShape& s, const float* dy, const float* w, float* dx) {
  const int64_t outLength = s.outLength();
  std::vector<double> acc(static_cast<size_t>(s.batch * s.length * s.chanIn), 0.0);
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t t = 0; t < outLength; t++)
      for (int64_t k = 0; k < s.kSize; k++)
        for (int64_t i = 0; i < s.chanIn; i++)
          for (int64_t o = 0; o < s.chanOut; o++)
            acc[(b * s.length + t * s.stride + k) * s.chanIn + i] +=
                static_cast<double>(dy[(b * outLength + t) * s.chanOut + o]) * w[(k * s.chanIn + i) * s.chanOut + o];
  for (size_t i = 0; i < acc.size(); i++) dx[i] = static_cast<float>(acc[i]);
}

void conv1dBackwardWeightReference(const Conv1dShape& s, const float* x, const float* dy, float* dw) {
  const int64_t outLength = s.outLength();
  for (int64_t k = 0; k < s.kSize; k++)
    for (int64_t i = 0; i < s.chanIn; i++)
      for (int64_t o = 0; o < s.chanOut; o++) {
        double sum = 0.0;
        for (int64_t b = 0; b < s.batch; b++)
          for (int64_t t = 0; t < outLength; t++)
            sum += static_cast<double>(x[(b * s.length + t * s.stride + k) * s.chanIn + i]) *
                   dy[(b * outLength + t) * s.chanOut + o];
        dw[(k * s.chanIn + i) * s.chanOut + o] += static_cast<float>(sum);
      }
}

}  // namespace neurone
