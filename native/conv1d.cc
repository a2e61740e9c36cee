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

#include "conv2d.h"
#include "gemm.h"
#include "pool1d.h"

namespace neurone {

namespace {

// The forward pass of one sample at x, written to y (outLength, chanOut).
void convolveSample(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y,
                    KernelPath path) {
  const int64_t outLength = s.outLength();
  GemmArgs g;
  g.m = outLength;
  g.n = s.chanOut;
  g.k = s.kSize * s.chanIn;
  g.a = x;
  g.lda = s.stride * s.chanIn;
  g.b = w;
  g.ldb = s.chanOut;
  g.c = y;
  g.ldc = s.chanOut;
  g.beta = 0.0f;
  if (bias) {
    for (int64_t t = 0; t < outLength; t++) std::memcpy(y + t * s.chanOut, bias, s.chanOut * sizeof(float));
    g.beta = 1.0f;
  }
  sgemm(g, path, nullptr);
}

// dx_b = dy_b · Wᵀ scattered over the overlapping windows: sample b of the input gradient.
void backwardInputSample(const Conv1dShape& s, const float* dy, const float* w, float* dx, int64_t b, KernelPath path) {
  const int64_t outLength = s.outLength();
  float* dxb = dx + b * s.length * s.chanIn;
  std::memset(dxb, 0, s.length * s.chanIn * sizeof(float));
  for (int64_t tap = 0; tap < s.kSize; tap++) {
    GemmArgs g;
    g.transB = true;
    g.m = outLength;
    g.n = s.chanIn;
    g.k = s.chanOut;
    g.a = dy + b * outLength * s.chanOut;  // dy_b
    g.lda = s.chanOut;
    g.b = w + tap * s.chanIn * s.chanOut;  // W[tap], (chanIn, chanOut)
    g.ldb = s.chanOut;
    g.beta = 1.0f;
    g.c = dxb + tap * s.chanIn;
    g.ldc = s.stride * s.chanIn;
    sgemm(g, path, nullptr);
  }
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

// ---- Small windows: the direct loops of conv1d_direct.h -----------------------------

// The direct loops for `path` by the fallback rule of cpu.h, null where there are none (the
// joint passes then run per-sample GEMMs). The rule is the GEMM's, so these are the loops of
// the path whose GEMM they reproduce.
const ConvPoolKernels* convPoolKernelsFor(KernelPath path) {
  static const KernelTables<ConvPoolKernels> tables{
      nullptr,
      {NEURONE_IF_AVX2(convPoolKernelsAvx2), NEURONE_IF_AVX512(convPoolKernelsAvx512),
       NEURONE_IF_NEON(convPoolKernelsNeon)}};
  return tables.forPath(path);
}

// The direct loops for the joint passes, or null: a small window, and per-sample products that
// sgemm would not run as its plain loop (the direct loops reproduce its blocked sums only).
const ConvPoolKernels* directKernels(const Conv1dShape& s, KernelPath path) {
  const int64_t depth = s.kSize * s.chanIn;
  if (depth > kDirectMaxDepth || s.outLength() * s.chanOut * depth <= kSgemmPlainMnk) return nullptr;
  return convPoolKernelsFor(path);
}

// Threads pay only when each gets a few samples' worth of work.
int64_t usefulChunks(const Conv1dShape& s, ThreadPool* pool) {
  if (!pool || pool->threads() <= 1 || s.batch <= 1) return 1;
  double flops = 2.0 * s.batch * s.outLength() * s.kSize * s.chanIn * s.chanOut;
  if (flops < 2e5) return 1;
  return std::min<int64_t>(s.batch, pool->threads());
}

// The pool when threads pay for this convolution, else null (parallelFor then runs inline).
ThreadPool* poolIfUseful(const Conv1dShape& s, ThreadPool* pool) { return usefulChunks(s, pool) > 1 ? pool : nullptr; }

}  // namespace

void conv1dForward(const Conv1dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool) {
  if (s.batch == 0 || s.outLength() == 0) return;
  // A small window (a first layer not pooled next, as a ReLU between them leaves it) runs as the
  // joint pass's direct loops with a pooling of one position: the GEMM's sums, without its packing
  // and call overhead around k = kSize·chanIn multiply-adds.
  const ConvPoolKernels* direct = directKernels(s, path);
  if (direct && s.kSize * s.chanIn <= direct->convolutionMaxDepth)
    return conv1dMaxPoolForward(s, 1, 1, x, w, bias, y, nullptr, path, pool);
  parallelFor(poolIfUseful(s, pool), s.batch, [&](int64_t b, int) {
    convolveSample(s, x + b * s.length * s.chanIn, w, bias, y + b * s.outLength() * s.chanOut, path);
  });
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
    const ConvPoolArgs args{&s, poolSize, poolStride, x, lanes.get(), bias, y, argmaxOut, nullptr, nullptr, 0};
    parallelFor(poolIfUseful(s, pool), s.batch, [&](int64_t b, int) { direct->forwardSample(args, b); });
    return;
  }
  // As many pooled outputs per chunk as fit the budget (at least one, whatever it needs).
  const int64_t budgetRows = kPooledChunkFloats / s.chanOut;
  const int64_t chunkOutputs =
      std::min(pooledLength, budgetRows >= poolSize ? (budgetRows - poolSize) / poolStride + 1 : 1);
  const int64_t chunks = (pooledLength + chunkOutputs - 1) / chunkOutputs;  // per sample
  ThreadPool* threaded = poolIfUseful(s, pool);
  const int64_t threads = threaded ? threaded->threads() : 1;
  const PoolKernels& kernels = poolKernelsFor(path);
  // Per worker: the chunk's convolution rows, and where the pooling loop writes the argmax
  // nobody asked for (inference).
  const int64_t convFloats = ((chunkOutputs - 1) * poolStride + poolSize) * s.chanOut;
  const int64_t argmaxInts = chunkOutputs * s.chanOut;
  auto conv = scratchArray<float>(threads * convFloats);
  auto argmax = scratchArray<int32_t>(argmaxOut ? 0 : threads * argmaxInts);
  parallelFor(threaded, s.batch * chunks, [&](int64_t task, int worker) {
    const int64_t b = task / chunks, t0 = (task % chunks) * chunkOutputs;
    const int64_t outputs = std::min(chunkOutputs, pooledLength - t0);
    const int64_t positions = (outputs - 1) * poolStride + poolSize;
    const Conv1dShape part{1, (positions - 1) * s.stride + s.kSize, s.chanIn, s.chanOut, s.kSize, s.stride};
    float* rows = conv.get() + worker * convFloats;
    convolveSample(part, x + (b * s.length + t0 * poolStride * s.stride) * s.chanIn, w, bias, rows, path);
    const Pool1dShape pooling{1, positions, s.chanOut, poolSize, poolStride};
    const int64_t first = (b * pooledLength + t0) * s.chanOut;
    int32_t* arg = argmaxOut ? argmaxOut + first : argmax.get() + worker * argmaxInts;
    kernels.maxForwardSample(pooling, rows, y + first, arg, 0);
    if (argmaxOut) {
      // The loop indexed the chunk's rows; the caller wants indices into the whole convolution.
      const int32_t shift = static_cast<int32_t>((b * convLength + t0 * poolStride) * s.chanOut);
      for (int64_t i = 0; i < outputs * s.chanOut; i++) arg[i] += shift;
    }
  });
}

int64_t conv1dMaxPoolBackwardWeight(const Conv1dShape& s, int64_t poolSize, int64_t poolStride, const float* x,
                                    const float* dy, const int32_t* argmax, float* dw, KernelPath path,
                                    ThreadPool* pool) {
  const int64_t convLength = s.outLength();
  if (s.batch == 0 || convLength < poolSize) return 0;
  const int64_t chunks = usefulChunks(s, pool);
  ThreadPool* threaded = chunks > 1 ? pool : nullptr;
  const int64_t rows = s.kSize * s.chanIn, size = rows * s.chanOut;
  // One weight-gradient matrix per batch chunk. The sums go to dw only once every argmax entry
  // has been found in its window.
  auto partial = scratchArray<float>(chunks * size);
  const int64_t pooledLength = (convLength - poolSize) / poolStride + 1;
  std::atomic<int64_t> routed{0};
  if (const ConvPoolKernels* direct = directKernels(s, path)) {
    const ConvPoolArgs args{
        &s, poolSize, poolStride, x, nullptr, nullptr, nullptr, nullptr, dy, argmax, sgemmDepthBlock(path, convLength)};
    parallelFor(threaded, chunks, [&](int64_t chunk, int) {
      const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
      float* dwChunk = partial.get() + chunk * size;
      int64_t found = 0;
      for (int64_t b = begin; b < end; b++) found += direct->weightGradientSample(args, b, dwChunk, b == begin);
      routed.fetch_add(found, std::memory_order_relaxed);
    });
  } else {
    // Backward through the pair: per sample, maxPool1dBackward's gather into a scratch block (one
    // sample's convolution gradient per worker), then conv1dBackwardWeight's GEMM from it.
    const Pool1dShape pooling{s.batch, convLength, s.chanOut, poolSize, poolStride};
    const PoolKernels& kernels = poolKernelsFor(path);
    auto dconv = scratchArray<float>((threaded ? threaded->threads() : 1) * convLength * s.chanOut);
    parallelFor(threaded, chunks, [&](int64_t chunk, int worker) {
      const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
      float* dconvWorker = dconv.get() + worker * convLength * s.chanOut;
      int64_t found = 0;
      for (int64_t b = begin; b < end; b++) {
        found += kernels.maxBackwardSample(pooling, dy, argmax, dconvWorker, b);
        sampleWeightGradient(s, x, b, dconvWorker, b == begin ? 0.0f : 1.0f, partial.get() + chunk * size, path);
      }
      routed.fetch_add(found, std::memory_order_relaxed);
    });
  }
  const int64_t total = routed.load(std::memory_order_relaxed);
  if (total != s.batch * pooledLength * s.chanOut) return total;
  addChunks(partial.get(), chunks, size, dw);
  return total;
}

// Up to this many floats in a window (kSize · chanIn), the input gradient runs as Conv2D's of an
// image one row high: the same weights, dy and dx layouts. Its GEMMs put the window's depth on
// the rows and the positions on the columns (dCᵀ = W · dyᵀ over tiles, then scattered), where the
// per-tap products below have chanIn columns, one for the seed CNN's first layer. Time of that
// route over this one, batch 32, one thread (AMD Zen 5, paired runs):
//   (length, chanIn → chanOut, kSize[, stride])  256, 1→32, 3   254, 4→8, 4, 2   127, 8→64, 5   127, 16→32, 3
//   AVX-512                                      0.26          0.13             0.81           0.93
//   AVX2                                         0.55          0.51             0.71           0.94
//   scalar                                       0.46          0.56             1.10           1.04
// Past it the two were level or this one ahead (a window of 144 at stride 3: 0.91 and 0.79 of
// Conv2D's time on AVX-512 and AVX2).
constexpr int64_t kRowImageMaxWindow = 64;

void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool) {
  if (s.batch == 0) return;
  if (s.kSize * s.chanIn <= kRowImageMaxWindow) {
    const Conv2dShape row{s.batch, 1, s.length, s.chanIn, s.chanOut, 1, s.kSize, 1, s.stride, 0, 0};
    return conv2dBackwardInput(row, dy, w, dx, path, pool);
  }
  if (s.outLength() == 0) {
    std::memset(dx, 0, s.batch * s.length * s.chanIn * sizeof(float));
    return;
  }
  parallelFor(poolIfUseful(s, pool), s.batch, [&](int64_t b, int) { backwardInputSample(s, dy, w, dx, b, path); });
}

void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool) {
  const int64_t outLength = s.outLength();
  if (s.batch == 0 || outLength == 0) return;
  const int64_t chunks = usefulChunks(s, pool);
  if (chunks == 1) {
    for (int64_t b = 0; b < s.batch; b++) sampleWeightGradient(s, x, b, dy + b * outLength * s.chanOut, 1.0f, dw, path);
    return;
  }
  // One matrix per batch chunk, summed in chunk order after the join.
  const int64_t size = s.kSize * s.chanIn * s.chanOut;
  auto scratch = scratchArray<float>(chunks * size);
  parallelFor(
      pool, chunks,
      [&](int64_t chunk, int) {
        const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
        for (int64_t b = begin; b < end; b++)
          sampleWeightGradient(s, x, b, dy + b * outLength * s.chanOut, b == begin ? 0.0f : 1.0f,
                               scratch.get() + chunk * size, path);
      },
      TaskOrder::Arrival);
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
