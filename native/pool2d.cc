// 2-D pooling: for each output pixel the window's rows are walked in order, the innermost loop
// running along the contiguous channel axis; the batch is split across threads when that pays.
// Max and average pooling's passes run per kernel path (pool2d_simd.h): with a few channels
// (LeNet's 6) the plain loops here spent more on their vectorised loop's prologue, epilogue and
// alias checks at every window position than on the compares, and average pooling's read and
// wrote its output at every window position; these loops remain the scalar path's. The paths
// agree bit for bit.
#include "pool2d.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "pool2d_loops.h"

namespace neurone {

namespace {

// fn(b) for every sample b, over the pool's threads when that pays.
template <typename Fn>
void forSamples(const Pool2dShape& s, ThreadPool* pool, const Fn& fn) {
  const bool threaded =
      pool && pool->threads() > 1 && s.batch > 1 && s.batch * s.height * s.width * s.chan >= (1 << 16);
  parallelFor(threaded ? pool : nullptr, s.batch, [&](int64_t b, int) { fn(b); });
}

void maxForwardSample(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      const int64_t out = ((b * oh + oy) * ow + ox) * chan;
      float* __restrict yo = y + out;
      int32_t* __restrict ao = argmax + out;
      const int64_t first = ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      for (int64_t c = 0; c < chan; c++) {
        yo[c] = x[first + c];
        ao[c] = static_cast<int32_t>(first + c);
      }
      for (int64_t ky = 0; ky < s.kHeight; ky++)
        for (int64_t kx = ky == 0 ? 1 : 0; kx < s.kWidth; kx++) {
          const int64_t at = first + (ky * s.width + kx) * chan;
          const float* __restrict xi = x + at;
          const int32_t base = static_cast<int32_t>(at);
          // Strictly greater keeps the first maximum; a NaN replaces anything but a NaN. Bitwise
          // operators and restrict pointers, so the loop over channels vectorises (as
          // pool1d_loops.h's).
          for (int64_t c = 0; c < chan; c++) {
            const float v = xi[c], best = yo[c];
            const bool take = (v > best) | ((v != v) & (best == best));
            yo[c] = take ? v : best;
            ao[c] = take ? base + static_cast<int32_t>(c) : ao[c];
          }
        }
    }
}

// Average pooling's forward, the scalar path's loop (pool2d_simd.h's vector form keeps its bits;
// the backward's is pool2d_loops.h's). Sample b: each window's values summed in row-major order
// from +0, times 1 / (kHeight · kWidth).
void avgForwardSample(const Pool2dShape& s, const float* x, float* y, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const float scale = 1.0f / static_cast<float>(s.kHeight * s.kWidth);
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      float* __restrict yo = y + ((b * oh + oy) * ow + ox) * chan;
      const int64_t first = ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      for (int64_t c = 0; c < chan; c++) yo[c] = 0.0f;
      for (int64_t ky = 0; ky < s.kHeight; ky++)
        for (int64_t kx = 0; kx < s.kWidth; kx++) {
          const float* __restrict xi = x + first + (ky * s.width + kx) * chan;
          for (int64_t c = 0; c < chan; c++) yo[c] += xi[c];
        }
      for (int64_t c = 0; c < chan; c++) yo[c] *= scale;
    }
}

}  // namespace

bool maxPool2dInWindow(const Pool2dShape& s, int64_t i, int64_t argmax) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const int64_t c = i % chan, ox = (i / chan) % ow, oy = (i / chan / ow) % oh, b = i / chan / ow / oh;
  const int64_t sample = s.height * s.width * chan;
  const int64_t rel = argmax - b * sample;
  if (rel < 0 || rel >= sample || rel % chan != c) return false;
  const int64_t pixel = rel / chan, iy = pixel / s.width, ix = pixel % s.width;
  const int64_t y0 = oy * s.strideHeight, x0 = ox * s.strideWidth;
  return iy >= y0 && iy < y0 + s.kHeight && ix >= x0 && ix < x0 + s.kWidth;
}

// The scalar path's loop (pool2d_simd.h has the vector one). Side-by-side windows (stride = window
// on both axes): every pixel lies in at most one window, so
// dx is written densely, each pixel taking its window's gradient where the window's argmax is that
// pixel and 0 elsewhere: no clearing pass, no scatter, loops that vectorise. Returns how many
// entries matched; each valid entry matches exactly once, so fewer means one points elsewhere.
// The walk goes window by window (no division per pixel) and then clears the rows and columns
// past the last window.
int64_t maxBackwardSideBySide(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const int64_t covered = ow * s.kWidth * chan;  // the floats of a row that lie in some window
  const int64_t row = s.width * chan;
  int64_t matches = 0;
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ky = 0; ky < s.kHeight; ky++) {
      const int64_t rowStart = (b * s.height + oy * s.kHeight + ky) * row;
      for (int64_t ox = 0; ox < ow; ox++) {
        const int64_t out = ((b * oh + oy) * ow + ox) * chan;
        const int32_t* __restrict at = argmax + out;
        const float* __restrict g = dy + out;
        for (int64_t kx = 0; kx < s.kWidth; kx++) {
          const int64_t index = rowStart + (ox * s.kWidth + kx) * chan;
          float* __restrict d = dx + index;
          const int32_t base = static_cast<int32_t>(index);
          matches += pool::takeWinners<false>(at, g, d, base, chan);
        }
      }
      std::memset(dx + rowStart + covered, 0, (row - covered) * sizeof(float));
    }
  const int64_t coveredRows = oh * s.kHeight;
  std::memset(dx + (b * s.height + coveredRows) * row, 0, (s.height - coveredRows) * row * sizeof(float));
  return matches;
}

namespace {

const Pool2dKernels kScalarPool2dKernels{maxForwardSample,
                                         maxBackwardSideBySide,
                                         maxForwardSample,
                                         maxBackwardSideBySide,
                                         pool::maxBackwardOverlappingLoop,
                                         avgForwardSample,
                                         pool::avgBackwardSampleLoop};

bool twoByTwo(const Pool2dShape& s) { return s.kHeight == 2 && s.kWidth == 2; }

const Pool2dKernels& pool2dKernelsFor(KernelPath path) {
  static const KernelTables<Pool2dKernels> tables{
      &kScalarPool2dKernels,
      {NEURONE_IF_AVX2(pool2dKernelsAvx2), NEURONE_IF_AVX512(pool2dKernelsAvx512), NEURONE_IF_NEON(pool2dKernelsNeon)}};
  return *tables.forPath(path);
}

}  // namespace

void maxPool2dForward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, KernelPath path,
                      ThreadPool* pool) {
  if (s.outHeight() == 0 || s.outWidth() == 0) return;
  const Pool2dKernels& kernels = pool2dKernelsFor(path);
  const auto sample = twoByTwo(s) ? kernels.maxForward2x2Sample : kernels.maxForwardSample;
  forSamples(s, pool, [&](int64_t b) { sample(s, x, y, argmax, b); });
}

int64_t maxPool2dBackward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, KernelPath path,
                          ThreadPool* pool) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  if (oh == 0 || ow == 0) {  // no outputs, no entries
    std::memset(dx, 0, s.batch * s.height * s.width * chan * sizeof(float));
    return 0;
  }
  // Every path's loops compare each entry with its window's pixels and count the matches; a valid
  // entry matches exactly once.
  const Pool2dKernels& kernels = pool2dKernelsFor(path);
  const bool sideBySide = s.strideHeight == s.kHeight && s.strideWidth == s.kWidth;
  const auto sample = !sideBySide   ? kernels.maxBackwardOverlappingSample
                      : twoByTwo(s) ? kernels.maxBackwardSideBySide2x2Sample
                                    : kernels.maxBackwardSideBySideSample;
  std::atomic<int64_t> matches{0};
  forSamples(s, pool, [&](int64_t b) { matches.fetch_add(sample(s, dy, argmax, dx, b), std::memory_order_relaxed); });
  return matches.load(std::memory_order_relaxed);
}

void avgPool2dForward(const Pool2dShape& s, const float* x, float* y, KernelPath path, ThreadPool* pool) {
  if (s.outHeight() == 0 || s.outWidth() == 0) return;
  const auto sample = pool2dKernelsFor(path).avgForwardSample;
  forSamples(s, pool, [&](int64_t b) { sample(s, x, y, b); });
}

void avgPool2dBackward(const Pool2dShape& s, const float* dy, float* dx, KernelPath path, ThreadPool* pool) {
  if (s.outHeight() == 0 || s.outWidth() == 0) {
    std::memset(dx, 0, s.batch * s.height * s.width * s.chan * sizeof(float));
    return;
  }
  const auto sample = pool2dKernelsFor(path).avgBackwardSample;
  forSamples(s, pool, [&](int64_t b) { sample(s, dy, dx, b); });
}

void maxPool2dForwardReference(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t oh = s.outHeight(), ow = s.outWidth();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t c = 0; c < s.chan; c++) {
          int64_t best = -1;
          for (int64_t ky = 0; ky < s.kHeight; ky++)
            for (int64_t kx = 0; kx < s.kWidth; kx++) {
              const int64_t idx =
                  ((b * s.height + oy * s.strideHeight + ky) * s.width + ox * s.strideWidth + kx) * s.chan + c;
              if (best < 0 || x[idx] > x[best] || (std::isnan(x[idx]) && !std::isnan(x[best]))) best = idx;
            }
          const int64_t out = ((b * oh + oy) * ow + ox) * s.chan + c;
          y[out] = x[best];
          argmax[out] = static_cast<int32_t>(best);
        }
}

void avgPool2dForwardReference(const Pool2dShape& s, const float* x, float* y) {
  const int64_t oh = s.outHeight(), ow = s.outWidth();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t c = 0; c < s.chan; c++) {
          double sum = 0.0;
          for (int64_t ky = 0; ky < s.kHeight; ky++)
            for (int64_t kx = 0; kx < s.kWidth; kx++)
              sum += x[((b * s.height + oy * s.strideHeight + ky) * s.width + ox * s.strideWidth + kx) * s.chan + c];
          y[((b * oh + oy) * ow + ox) * s.chan + c] = static_cast<float>(sum / (s.kHeight * s.kWidth));
        }
}

}  // namespace neurone
