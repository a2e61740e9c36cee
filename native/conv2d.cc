// Conv2D: each pass takes the first of these routes that applies.
//
//   1. one input channel at stride 1 (weight gradient, and forward with up to 20 output
//      channels): conv2d_direct.h's kernels along the image's grid (OneChannelPlan in conv2d.h);
//   2. forward and weight gradient where a block's weights fit 64 KB: conv2d_direct.h's kernels
//      over the output channels, the image an implicit GEMM operand (ChannelsPlan); where
//      route 3 applies, the input gradient too (blocks up to 256 KB), as the forward
//      convolution of dy by the kernel turned half a turn (transposedShape);
//   3. stride 1 and 8 or more input channels: GEMMs on the padded image itself (Grid below);
//   4. the input gradient of fewer input channels: window rows of one to four vectors added
//      from registers (WindowRowPlan);
//   5. GEMMs over tiles of the image's windows (im2col one tile at a time), described here.
//
// Routes 1, 2 and 4 exist on the SIMD paths; the scalar path takes 3 and 5. conv2d_test checks
// every route on every path against the plain loops at the end of this file.
//
// Output pixel p = (oy, ox) of a sample sees the window of rows oy·strideHeight − padHeight + ky
// and columns ox·strideWidth − padWidth + kx. Laid out channels-last, that window is kHeight runs
// of kWidth·chanIn contiguous floats, so its im2col row (kHeight·kWidth·chanIn values, in the
// weight's (ky, kx, c) order) is kHeight copies, with zeros where the window leaves the image.
// With C the im2col matrix of a tile of P output pixels (P, window):
//
//   forward      y_tile  = C · W                   W viewed as (window, chanOut)
//   grad weight  dW     += Cᵀ · dy_tile            summed over tiles and samples
//   grad input   dC      = dy_tile · Wᵀ, then each row of dC added back where its window came from
//
// A tile holds as many pixels as fit kTileFloats (at least kMinTilePixels, or one output row), so
// the scratch per thread is bounded however large the image or the batch: there is no im2col of
// the whole batch. For few input channels the tile is stored transposed (see Layout below). A
// 1×1 kernel with stride 1 and no padding needs no copy: the image is its own im2col matrix.
//
// Threads: forward splits the (sample, tile) pairs; the input gradient splits samples (tiles of
// one sample add into overlapping rows of dx); the weight gradient sums one scratch matrix per
// fixed batch chunk, added in chunk order, as conv1d.cc does. When there are fewer tasks than
// threads (one large image), the tasks run inline and each GEMM gets the threads instead.
#include "conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "gemm.h"

namespace neurone {

namespace {

constexpr int64_t kTileFloats = 32 * 1024;  // 128 KB of im2col rows: L2-resident
constexpr int64_t kMinTilePixels = 16;

// Scratch written before it is read: left uninitialised, allocated by the calling thread so that
// running out of memory is an exception the binding reports. It starts a cache line, and the
// direct kernels' per-worker parts and the rows of their weights are whole lines: a vector load
// straddling two lines costs two. Against malloc's 16-byte alignment, on AVX2 (paired runs): VGG's
// 32 -> 64 and 64 -> 64 at 16×16, forward and input gradient 1.03-1.05×.
constexpr int64_t kLineFloats = 16;
constexpr std::align_val_t kLineAlignment{kLineFloats * sizeof(float)};  // new and delete must agree
int64_t wholeLines(int64_t floats) { return (floats + kLineFloats - 1) / kLineFloats * kLineFloats; }
struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, kLineAlignment); }
};
std::unique_ptr<float[], AlignedDelete> scratchFloats(int64_t n) {
  return std::unique_ptr<float[], AlignedDelete>(new (kLineAlignment) float[static_cast<size_t>(n)]);
}

// The image is its own im2col matrix: (height·width, chanIn) rows with the weight's depth.
bool isPointwise(const Conv2dShape& s) {
  return s.kHeight == 1 && s.kWidth == 1 && s.strideHeight == 1 && s.strideWidth == 1 && s.padHeight == 0 &&
         s.padWidth == 0;
}

// How a tile's windows are laid out for the GEMMs. Rows: the im2col matrix (pixels, window),
// each row kHeight runs of kWidth·chanIn floats copied from the image. Columns: its transpose
// (window, pixels), each row one (ky, kx, c) across the tile's pixels, whole output rows at a
// time. With one input channel the Rows runs are kWidth floats (LeNet's first layer: 5, one
// memcpy each, and gathering took 2/3 of its forward pass), while a Columns row is read along
// the image row, contiguous at stride 1: forward 321 -> 157 us at batch 32 (CPU time, AVX-512).
// With a few channels the Columns copies are strided and Rows wins again (LeNet's second layer,
// 6 channels: forward 226 us in Columns, 88 us in Rows), hence Columns for one channel only.
// Pointwise: the image itself, as Rows.
enum class Layout { Pointwise, Rows, Columns };

struct Tiling {
  Layout layout;
  int64_t pixels;  // output pixels per sample
  int64_t tile;    // pixels per tile (whole output rows for Columns)
  int64_t tiles;   // tiles per sample
};

Tiling tilingOf(const Conv2dShape& s) {
  const int64_t pixels = s.outHeight() * s.outWidth(), window = s.windowSize();
  if (pixels == 0) return {Layout::Rows, 0, 0, 0};
  if (isPointwise(s)) return {Layout::Pointwise, pixels, pixels, 1};
  // Columns tiles are whole output rows: only where one row's windows fit a few tiles' budget
  // (a huge kernel on one channel would otherwise need window · outWidth floats of scratch).
  if (s.chanIn == 1 && window * s.outWidth() <= 4 * kTileFloats) {
    const int64_t outWidth = s.outWidth(), rows = std::max<int64_t>(1, kTileFloats / (window * outWidth));
    const int64_t tile = std::min(pixels, rows * outWidth);
    return {Layout::Columns, pixels, tile, (pixels + tile - 1) / tile};
  }
  const int64_t tile = std::min(pixels, std::max(kMinTilePixels, kTileFloats / window));
  return {Layout::Rows, pixels, tile, (pixels + tile - 1) / tile};
}

// The output columns ox whose window column kx falls inside the image: [first, end).
void insideColumns(const Conv2dShape& s, int64_t kx, int64_t* first, int64_t* end) {
  const int64_t outWidth = s.outWidth();
  int64_t lo = 0;
  while (lo < outWidth && lo * s.strideWidth - s.padWidth + kx < 0) lo++;
  const int64_t last = s.width - 1 + s.padWidth - kx;  // ox · strideWidth <= last
  const int64_t hi = last < 0 ? 0 : std::min(outWidth, last / s.strideWidth + 1);
  *first = lo;
  *end = std::max(lo, hi);
}

// Pixels [p0, p0 + count) of sample image xb (whole output rows) in the Columns layout: colsT
// (window, count), row (ky, kx, c) holding x[oy·sH − pH + ky, ox·sW − pW + kx, c] for each pixel.
void gatherColumns(const Conv2dShape& s, const float* xb, int64_t p0, int64_t count, float* colsT) {
  const int64_t outWidth = s.outWidth(), oy0 = p0 / outWidth, rows = count / outWidth;
  const int64_t step = s.strideWidth * s.chanIn;
  for (int64_t ky = 0; ky < s.kHeight; ky++)
    for (int64_t kx = 0; kx < s.kWidth; kx++) {
      int64_t lo, hi;
      insideColumns(s, kx, &lo, &hi);
      for (int64_t c = 0; c < s.chanIn; c++) {
        float* dst = colsT + ((ky * s.kWidth + kx) * s.chanIn + c) * count;
        for (int64_t r = 0; r < rows; r++, dst += outWidth) {
          const int64_t iy = (oy0 + r) * s.strideHeight - s.padHeight + ky;
          if (iy < 0 || iy >= s.height) {
            std::fill(dst, dst + outWidth, 0.0f);
            continue;
          }
          std::fill(dst, dst + lo, 0.0f);
          std::fill(dst + hi, dst + outWidth, 0.0f);
          const float* src = xb + (iy * s.width + lo * s.strideWidth - s.padWidth + kx) * s.chanIn + c;
          if (step == 1)  // one channel at stride 1: a contiguous run of the image row
            std::copy(src, src + (hi - lo), dst + lo);
          else
            for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[(ox - lo) * step];
        }
      }
    }
}

// The inverse of gatherColumns: adds each entry of dcolsT back to the pixel of dxb it came from.
// Its loop nest repeats gatherColumns's, as scatterWindows's repeats gatherWindows's, on purpose:
// one template walk with a copy or add per run made the gathers 15-30 % slower (one thread, the
// VGG 3->32 forward 0.90 -> 1.04-1.19 ms, LeNet's first 0.23 -> 0.28 ms).
void scatterColumns(const Conv2dShape& s, const float* dcolsT, int64_t p0, int64_t count, float* dxb) {
  const int64_t outWidth = s.outWidth(), oy0 = p0 / outWidth, rows = count / outWidth;
  const int64_t step = s.strideWidth * s.chanIn;
  for (int64_t ky = 0; ky < s.kHeight; ky++)
    for (int64_t kx = 0; kx < s.kWidth; kx++) {
      int64_t lo, hi;
      insideColumns(s, kx, &lo, &hi);
      for (int64_t c = 0; c < s.chanIn; c++) {
        const float* src = dcolsT + ((ky * s.kWidth + kx) * s.chanIn + c) * count;
        for (int64_t r = 0; r < rows; r++, src += outWidth) {
          const int64_t iy = (oy0 + r) * s.strideHeight - s.padHeight + ky;
          if (iy < 0 || iy >= s.height) continue;
          float* dst = dxb + (iy * s.width + lo * s.strideWidth - s.padWidth + kx) * s.chanIn + c;
          if (step == 1)
            for (int64_t ox = lo; ox < hi; ox++) dst[ox - lo] += src[ox];
          else
            for (int64_t ox = lo; ox < hi; ox++) dst[(ox - lo) * step] += src[ox];
        }
      }
    }
}

// Rows [p0, p0 + count) of sample image xb's im2col matrix, into cols (count, window).
void gatherWindows(const Conv2dShape& s, const float* xb, int64_t p0, int64_t count, float* cols) {
  const int64_t outWidth = s.outWidth(), window = s.windowSize(), run = s.kWidth * s.chanIn;
  for (int64_t r = 0; r < count; r++) {
    const int64_t oy = (p0 + r) / outWidth, ox = (p0 + r) % outWidth;
    const int64_t x0 = ox * s.strideWidth - s.padWidth;
    float* row = cols + r * window;
    for (int64_t ky = 0; ky < s.kHeight; ky++, row += run) {
      const int64_t iy = oy * s.strideHeight - s.padHeight + ky;
      if (iy < 0 || iy >= s.height) {
        std::memset(row, 0, run * sizeof(float));
      } else if (x0 >= 0 && x0 + s.kWidth <= s.width) {
        copyFloats(row, xb + (iy * s.width + x0) * s.chanIn, run);
      } else {
        for (int64_t kx = 0; kx < s.kWidth; kx++) {
          const int64_t ix = x0 + kx;
          float* dst = row + kx * s.chanIn;
          if (ix < 0 || ix >= s.width)
            std::memset(dst, 0, s.chanIn * sizeof(float));
          else
            copyFloats(dst, xb + (iy * s.width + ix) * s.chanIn, s.chanIn);
        }
      }
    }
  }
}

// The inverse of gatherWindows: adds each row of dcols back into the pixels of dxb it came from
// (the padding's share is dropped).
void scatterWindows(const Conv2dShape& s, const float* dcols, int64_t p0, int64_t count, float* dxb) {
  const int64_t outWidth = s.outWidth(), window = s.windowSize(), run = s.kWidth * s.chanIn;
  for (int64_t r = 0; r < count; r++) {
    const int64_t oy = (p0 + r) / outWidth, ox = (p0 + r) % outWidth;
    const int64_t x0 = ox * s.strideWidth - s.padWidth;
    const float* row = dcols + r * window;
    for (int64_t ky = 0; ky < s.kHeight; ky++, row += run) {
      const int64_t iy = oy * s.strideHeight - s.padHeight + ky;
      if (iy < 0 || iy >= s.height) continue;
      const int64_t kx0 = std::max<int64_t>(0, -x0), kx1 = std::min(s.kWidth, s.width - x0);
      if (kx0 >= kx1) continue;
      float* dst = dxb + (iy * s.width + x0 + kx0) * s.chanIn;
      const float* src = row + kx0 * s.chanIn;
      for (int64_t i = 0; i < (kx1 - kx0) * s.chanIn; i++) dst[i] += src[i];
    }
  }
}

// Threads pay only when each gets a few tasks' worth of work: the pool for the tasks, the pool
// for each GEMM, or neither.
struct Threads {
  ThreadPool* tasks = nullptr;
  ThreadPool* gemm = nullptr;
};

Threads threadsFor(const Conv2dShape& s, int64_t tasks, ThreadPool* pool) {
  const double flops = 2.0 * s.batch * s.outHeight() * s.outWidth() * s.windowSize() * s.chanOut;
  if (!pool || pool->threads() <= 1 || flops < 2e5) return {};
  if (tasks >= pool->threads()) return {pool, nullptr};
  return {nullptr, pool};
}

// ---- Stride 1: GEMMs on the (padded) image itself ----------------------------------
//
// With stride 1, output pixel (oy, ox) and its right neighbour read windows one pixel apart. On
// the padded image (Hp, Wp, chanIn) the kWidth·chanIn values a window takes from padded row
// oy + ky start at ((oy + ky)·Wp + ox)·chanIn, so numbering outputs on a grid of Wp columns,
// q = oy·Wp + ox, the rows of kernel row ky's im2col matrix are the image itself read with a row
// stride of chanIn (rows overlap, as in conv1d.cc):
//
//   forward      Y_grid  = Σ_ky  X_ky · W_ky        X_ky: image from row ky, (m, kWidth·chanIn), lda chanIn
//   grad weight  dW_ky  += X_kyᵀ · dY_grid          dY_grid: dy on the grid, 0 in the extra columns
//   grad input   dX_pad[q + ky·Wp + kx] += dY_grid[q] · W_{ky,kx}ᵀ, one GEMM per tap
//
// The grid's columns ox >= outWidth are not outputs (they wrap into the next row): forward drops
// them, the gradients see zeros there. Computing them costs (Wp − outWidth) / Wp of the work, so
// this runs where that is small, and where the image is wide in channels (no copy at all without
// padding, one padded copy per image otherwise); the last row stops at outWidth, so no window
// reads past the image.
constexpr int64_t kGridMaxFloats = 1 << 20;  // padded image or output grid of one sample: 4 MB

struct Grid {
  int64_t paddedHeight, paddedWidth, rows;  // rows: grid pixels computed, (outHeight − 1)·Wp + outWidth
};

// The shapes the grid suits, whatever the image's size.
bool gridShaped(const Conv2dShape& s) {
  if (s.strideHeight != 1 || s.strideWidth != 1 || s.chanIn < 8 || s.outHeight() == 0 || s.outWidth() == 0)
    return false;
  const int64_t wp = s.width + 2 * s.padWidth;
  return 4 * (wp - s.outWidth()) <= wp;  // at most a quarter of the grid wasted
}

bool useGrid(const Conv2dShape& s, Grid* g) {
  if (!gridShaped(s)) return false;
  const int64_t hp = s.height + 2 * s.padHeight, wp = s.width + 2 * s.padWidth;
  if (hp * wp * std::max(s.chanIn, s.chanOut) > kGridMaxFloats) return false;
  *g = {hp, wp, (s.outHeight() - 1) * wp + s.outWidth()};
  return true;
}

// Sample xb with its zero padding, into padded (Hp, Wp, chanIn); or xb itself without padding.
const float* paddedImage(const Conv2dShape& s, const Grid& g, const float* xb, float* padded) {
  if (s.padHeight == 0 && s.padWidth == 0) return xb;
  std::fill(padded, padded + g.paddedHeight * g.paddedWidth * s.chanIn, 0.0f);
  for (int64_t iy = 0; iy < s.height; iy++)
    copyFloats(padded + ((iy + s.padHeight) * g.paddedWidth + s.padWidth) * s.chanIn, xb + iy * s.width * s.chanIn,
               s.width * s.chanIn);
  return padded;
}

// dy of one sample on the grid (g.rows, chanOut), zeros in the columns that are not outputs.
void gridGradient(const Conv2dShape& s, const Grid& g, const float* dyb, float* dyGrid) {
  const int64_t ow = s.outWidth();
  for (int64_t oy = 0; oy < s.outHeight(); oy++) {
    float* row = dyGrid + oy * g.paddedWidth * s.chanOut;
    copyFloats(row, dyb + oy * ow * s.chanOut, ow * s.chanOut);
    if (oy + 1 < s.outHeight()) std::fill(row + ow * s.chanOut, row + g.paddedWidth * s.chanOut, 0.0f);
  }
}

void gridForward(const Conv2dShape& s, const Grid& g, const float* x, const float* w, const float* bias, float* y,
                 KernelPath path, ThreadPool* pool) {
  const Threads threads = threadsFor(s, s.batch, pool);
  const int64_t workers = threads.tasks ? threads.tasks->threads() : 1, run = s.kWidth * s.chanIn;
  const int64_t paddedFloats = g.paddedHeight * g.paddedWidth * s.chanIn, gridFloats = g.rows * s.chanOut;
  auto scratch = scratchFloats(workers * (paddedFloats + gridFloats));
  parallelFor(threads.tasks, s.batch, [&](int64_t b, int worker) {
    float* padded = scratch.get() + worker * (paddedFloats + gridFloats);
    float* yGrid = padded + paddedFloats;
    const float* xp = paddedImage(s, g, x + b * s.height * s.width * s.chanIn, padded);
    for (int64_t ky = 0; ky < s.kHeight; ky++) {
      GemmArgs a;
      a.m = g.rows;
      a.n = s.chanOut;
      a.k = run;
      a.a = xp + ky * g.paddedWidth * s.chanIn;
      a.lda = s.chanIn;
      a.b = w + ky * run * s.chanOut;
      a.ldb = s.chanOut;
      a.beta = ky == 0 ? 0.0f : 1.0f;
      a.c = yGrid;
      a.ldc = s.chanOut;
      sgemm(a, path, threads.gemm);
    }
    const int64_t ow = s.outWidth();
    float* yb = y + b * s.outHeight() * ow * s.chanOut;
    for (int64_t oy = 0; oy < s.outHeight(); oy++) {
      float* dst = yb + oy * ow * s.chanOut;
      copyFloats(dst, yGrid + oy * g.paddedWidth * s.chanOut, ow * s.chanOut);
      if (bias)
        for (int64_t p = 0; p < ow; p++)
          for (int64_t o = 0; o < s.chanOut; o++) dst[p * s.chanOut + o] += bias[o];
    }
  });
}

void gridBackwardInput(const Conv2dShape& s, const Grid& g, const float* dy, const float* w, float* dx, KernelPath path,
                       ThreadPool* pool) {
  const Threads threads = threadsFor(s, s.batch, pool);
  const bool padded = s.padHeight != 0 || s.padWidth != 0;
  const int64_t workers = threads.tasks ? threads.tasks->threads() : 1;
  const int64_t paddedFloats = padded ? g.paddedHeight * g.paddedWidth * s.chanIn : 0, gridFloats = g.rows * s.chanOut;
  auto scratch = scratchFloats(workers * (paddedFloats + gridFloats));
  const int64_t image = s.height * s.width * s.chanIn, pixels = s.outHeight() * s.outWidth();
  parallelFor(threads.tasks, s.batch, [&](int64_t b, int worker) {
    float* dyGrid = scratch.get() + worker * (paddedFloats + gridFloats);
    float* dxp = padded ? dyGrid + gridFloats : dx + b * image;
    std::fill(dxp, dxp + g.paddedHeight * g.paddedWidth * s.chanIn, 0.0f);
    gridGradient(s, g, dy + b * pixels * s.chanOut, dyGrid);
    for (int64_t ky = 0; ky < s.kHeight; ky++)
      for (int64_t kx = 0; kx < s.kWidth; kx++) {
        GemmArgs a;
        a.transB = true;  // W_{ky,kx}ᵀ: the tap's (chanIn, chanOut) block
        a.m = g.rows;
        a.n = s.chanIn;
        a.k = s.chanOut;
        a.a = dyGrid;
        a.lda = s.chanOut;
        a.b = w + (ky * s.kWidth + kx) * s.chanIn * s.chanOut;
        a.ldb = s.chanOut;
        a.beta = 1.0f;
        a.c = dxp + (ky * g.paddedWidth + kx) * s.chanIn;
        a.ldc = s.chanIn;
        sgemm(a, path, threads.gemm);
      }
    if (padded) {  // the padding's gradient is dropped
      float* dxb = dx + b * image;
      for (int64_t iy = 0; iy < s.height; iy++)
        copyFloats(dxb + iy * s.width * s.chanIn, dxp + ((iy + s.padHeight) * g.paddedWidth + s.padWidth) * s.chanIn,
                   s.width * s.chanIn);
    }
  });
}

void gridBackwardWeight(const Conv2dShape& s, const Grid& g, const float* x, const float* dy, float* dw,
                        KernelPath path, ThreadPool* pool) {
  const Threads threads = threadsFor(s, s.batch, pool);
  const int64_t chunks = threads.tasks ? std::min<int64_t>(s.batch, threads.tasks->threads()) : 1;
  const int64_t run = s.kWidth * s.chanIn, size = s.windowSize() * s.chanOut;
  const int64_t paddedFloats = g.paddedHeight * g.paddedWidth * s.chanIn, gridFloats = g.rows * s.chanOut;
  auto partial = scratchFloats(chunks > 1 ? chunks * size : 0);
  auto scratch = scratchFloats(chunks * (paddedFloats + gridFloats));
  const int64_t pixels = s.outHeight() * s.outWidth();
  parallelFor(
      chunks > 1 ? threads.tasks : nullptr, chunks,
      [&](int64_t chunk, int) {
        const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
        float* target = chunks > 1 ? partial.get() + chunk * size : dw;
        float* padded = scratch.get() + chunk * (paddedFloats + gridFloats);
        float* dyGrid = padded + paddedFloats;
        for (int64_t b = begin; b < end; b++) {
          const float* xp = paddedImage(s, g, x + b * s.height * s.width * s.chanIn, padded);
          gridGradient(s, g, dy + b * pixels * s.chanOut, dyGrid);
          for (int64_t ky = 0; ky < s.kHeight; ky++) {
            GemmArgs a;
            a.transA = true;  // X_kyᵀ
            a.m = run;
            a.n = s.chanOut;
            a.k = g.rows;
            a.a = xp + ky * g.paddedWidth * s.chanIn;
            a.lda = s.chanIn;
            a.b = dyGrid;
            a.ldb = s.chanOut;
            a.beta = chunks > 1 && b == begin ? 0.0f : 1.0f;
            a.c = target + ky * run * s.chanOut;
            a.ldc = s.chanOut;
            sgemm(a, path, threads.gemm);
          }
        }
      },
      TaskOrder::Arrival);
  if (chunks > 1)
    for (int64_t c = 0; c < chunks; c++) {
      const float* part = partial.get() + c * size;
      for (int64_t i = 0; i < size; i++) dw[i] += part[i];
    }
}

// ---- Running the direct kernels of conv2d_direct.h ---------------------------------------

// The path's table of direct kernels; null on the scalar path.
const Conv2dKernels* directKernels(KernelPath path) {
  static const KernelTables<Conv2dKernels> tables{
      nullptr,
      {NEURONE_IF_AVX2(conv2dKernelsAvx2), NEURONE_IF_AVX512(conv2dKernelsAvx512), NEURONE_IF_NEON(conv2dKernelsNeon)}};
  return tables.forPath(path);
}

// sample(b, scratch) for every sample, on the threads when they pay, each worker with its own
// `perWorker` floats of scratch.
template <typename Sample>
void forEachSample(const Conv2dShape& s, int64_t perWorker, ThreadPool* pool, const Sample& sample) {
  ThreadPool* threads = threadsFor(s, s.batch, pool).tasks;
  const int64_t workers = threads ? threads->threads() : 1;
  const int64_t part = wholeLines(perWorker);
  auto scratch = scratchFloats(workers * part);
  parallelFor(threads, s.batch, [&](int64_t b, int worker) { sample(b, scratch.get() + worker * part); });
}

// The forwards of the channels and few-outputs routes pad a band of output rows at a time: as
// many rows as keep a band's padded rows within kBandFloats (L2), at least one, so the scratch
// does not grow with the image's height. One output row's rows may take up to kMaxBandFloats;
// past that those routes do not run.
constexpr int64_t kBandFloats = 65536;
constexpr int64_t kMaxBandFloats = kGridMaxFloats;

int64_t paddedRowFloats(const Conv2dShape& s) { return (s.width + 2 * s.padWidth) * s.chanIn; }
bool bandFits(const Conv2dShape& s) { return s.kHeight * paddedRowFloats(s) <= kMaxBandFloats; }
int64_t bandRowsFor(const Conv2dShape& s) {
  const int64_t rowFloats = paddedRowFloats(s);
  const int64_t more = (kBandFloats - s.kHeight * rowFloats) / (s.strideHeight * rowFloats);
  return std::min(s.outHeight(), 1 + std::max<int64_t>(0, more));
}
// A band's padded rows and `tail` floats its last row's reads reach past them.
int64_t bandFloatsFor(const Conv2dShape& s, int64_t bandRows, int64_t tail) {
  return ((bandRows - 1) * s.strideHeight + s.kHeight) * paddedRowFloats(s) + tail;
}

// band(b, oy0, oy1, scratch) for every band of output rows of every sample, on the threads when
// they pay, each worker with bandFloats floats of scratch.
template <typename Band>
void forEachBand(const Conv2dShape& s, int64_t bandRows, int64_t bandFloats, ThreadPool* pool, const Band& band) {
  const int64_t oh = s.outHeight(), bands = (oh + bandRows - 1) / bandRows;
  ThreadPool* threads = threadsFor(s, s.batch * bands, pool).tasks;
  const int64_t workers = threads ? threads->threads() : 1, part = wholeLines(bandFloats);
  auto scratch = scratchFloats(workers * part);
  parallelFor(threads, s.batch * bands, [&](int64_t task, int worker) {
    const int64_t b = task / bands, oy0 = task % bands * bandRows;
    band(b, oy0, std::min(oh, oy0 + bandRows), scratch.get() + worker * part);
  });
}

// dw (window, chanOut) += the sums sample(b, sums, scratch) adds into a (window, chanOutPadded)
// matrix for each sample b: one matrix per fixed batch chunk, added in chunk order (see
// conv2dBackwardWeight); the columns past chanOut are dropped. With `lanes` > 1 each entry of
// the matrix is that many partial sums side by side (a vector's lanes), added up here, once a
// chunk, in lane order.
//
// The overload with `entry` lays the matrix out as the kernels like it: sumFloats floats in all,
// entry(d, o) the first of the `lanes` partial sums of dw[d, o].
template <typename Entry, typename Sample>
void weightGradientByChunks(const Conv2dShape& s, int64_t sumFloats, int64_t lanes, const Entry& entry,
                            int64_t perChunk, float* dw, ThreadPool* pool, const Sample& sample) {
  const int64_t window = s.windowSize(), co = s.chanOut;
  ThreadPool* threads = threadsFor(s, s.batch, pool).tasks;
  const int64_t chunks = threads ? std::min<int64_t>(s.batch, threads->threads()) : 1;
  auto sums = scratchFloats(chunks * sumFloats);
  std::fill(sums.get(), sums.get() + chunks * sumFloats, 0.0f);
  const int64_t part = wholeLines(perChunk);
  auto scratch = scratchFloats(chunks * part);
  parallelFor(
      chunks > 1 ? threads : nullptr, chunks,
      [&](int64_t chunk, int) {
        const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
        for (int64_t b = begin; b < end; b++) sample(b, sums.get() + chunk * sumFloats, scratch.get() + chunk * part);
      },
      TaskOrder::Arrival);
  for (int64_t chunk = 0; chunk < chunks; chunk++)
    for (int64_t d = 0; d < window; d++)
      for (int64_t o = 0; o < co; o++) {
        const float* partial = sums.get() + chunk * sumFloats + entry(d, o);
        float sum = partial[0];
        for (int64_t l = 1; l < lanes; l++) sum += partial[l];
        dw[d * co + o] += sum;
      }
}

template <typename Sample>
void weightGradientByChunks(const Conv2dShape& s, int64_t chanOutPadded, int64_t lanes, int64_t perChunk, float* dw,
                            ThreadPool* pool, const Sample& sample) {
  weightGradientByChunks(
      s, s.windowSize() * chanOutPadded * lanes, lanes,
      [&](int64_t d, int64_t o) { return (d * chanOutPadded + o) * lanes; }, perChunk, dw, pool, sample);
}

// ---- One input channel at stride 1: conv2d_direct.h's kernels -------------------------

// Where route 2 applies too, route 1's forward is taken up to this many output channels. C++
// A/B on an Intel Xeon, batch 32, 28×28 images, one input channel, route 2's time over route 1's
// inverted (median of 11 paired runs; 3×3 and 5×5 kernels):
//   output channels   8     12    16         20    24         28         32         64
//   AVX-512           0.60  0.75  0.98-1.08  1.00  1.09-1.13  1.32-1.42  1.48-1.61  1.38-1.45
//   AVX2              0.97  0.91  1.16-1.23  0.89  0.98-0.99  1.01-1.06  1.21-1.25  1.27-1.31
// Past 20 route 2 is ahead or level on both. The weight gradient stays on route 1: on AVX-512
// route 2 was 0.54-0.96× as fast on those shapes but one (64 channels, 5×5: 1.18×).
constexpr int64_t kOneChannelForwardMaxChannels = 20;

// The path's direct kernels where they apply: one input channel, stride 1, an output, and a
// padded image no larger than the grid's bound.
const Conv2dKernels* oneChannelKernels(const Conv2dShape& s, KernelPath path) {
  if (s.chanIn != 1 || s.strideHeight != 1 || s.strideWidth != 1 || s.outHeight() == 0 || s.outWidth() == 0)
    return nullptr;
  if ((s.height + 2 * s.padHeight) * (s.width + 2 * s.padWidth) * s.chanOut > kGridMaxFloats) return nullptr;
  // The grid computes (paddedWidth − outWidth) columns it drops: not where they are most of it.
  if (2 * (s.width + 2 * s.padWidth - s.outWidth()) > s.width + 2 * s.padWidth) return nullptr;
  return directKernels(path);
}

OneChannelPlan oneChannelPlan(const Conv2dShape& s, const Conv2dKernels& kernels) {
  OneChannelPlan plan;
  plan.s = &s;
  plan.paddedHeight = s.height + 2 * s.padHeight;
  plan.paddedWidth = s.width + 2 * s.padWidth;
  const int64_t block = kernels.oneChannelVectors * kernels.lanes;
  const int64_t lastOutput = (s.outHeight() - 1) * plan.paddedWidth + s.outWidth();
  plan.gridPixels = (lastOutput + block - 1) / block * block;
  plan.paddedFloats = wholeLines(plan.paddedHeight * plan.paddedWidth + block);
  plan.chanOutPadded = (s.chanOut + kernels.lanes - 1) / kernels.lanes * kernels.lanes;
  // Along the grid where the channel form would leave most lanes empty: its time over the
  // channel form's, batch 32, 28×28 images, one thread, Intel Xeon (paired runs, median of 11):
  //   output channels, kernel   1, 5×5   4, 5×5   6, 5×5   7, 5×5   8, 5×5   6, 3×3 pad 1   8, 3×3 pad 1
  //   AVX-512                   0.27     0.49     0.55              0.94     0.98           1.13
  //   AVX2                      0.29     0.72     0.98     1.21              1.47
  // With fewer taps the copy of dy weighs more, hence the bound of kGridMaxChannels too. Since
  // six channels are copied in registers (deinterleave6), a 5×5 kernel or larger pays along the
  // grid on AVX2 with up to six channels as well: the grid form's time over the channel form's on
  // an AMD Zen 5 core, AVX2 path, batch 32 (paired, median of 15): 6 channels 5×5 on 28×28 0.74,
  // 16×16 padded 0.87, 5 channels 5×5 0.86; with 3×3 kernels it did not always (6 channels on
  // 12×12 1.21, 5 channels on 28×28 1.09; 6 channels on 28×28 0.80).
  const bool manyTaps = s.kHeight * s.kWidth >= 25;
  plan.weightGradientAlongGrid = s.chanOut <= kGridMaxChannels && (2 * s.chanOut <= kernels.lanes || manyTaps);
  return plan;
}

void oneChannelForward(const Conv2dShape& s, const Conv2dKernels& kernels, const float* x, const float* w,
                       const float* bias, float* y, ThreadPool* pool) {
  const OneChannelPlan plan = oneChannelPlan(s, kernels);
  forEachSample(s, plan.paddedFloats, pool,
                [&](int64_t b, float* scratch) { kernels.oneChannelForwardSample(plan, x, w, bias, y, b, scratch); });
}

void oneChannelWeightGradient(const Conv2dShape& s, const Conv2dKernels& kernels, const float* x, const float* dy,
                              float* dw, ThreadPool* pool) {
  const OneChannelPlan plan = oneChannelPlan(s, kernels);
  const int64_t gradients = plan.weightGradientAlongGrid ? s.chanOut * plan.gridPixels
                                                         : s.outHeight() * s.outWidth() * s.chanOut + kernels.lanes;
  const int64_t perChunk = plan.paddedFloats + gradients;
  const int64_t lanes = plan.weightGradientAlongGrid ? kernels.lanes : 1;
  weightGradientByChunks(s, plan.chanOutPadded, lanes, perChunk, dw, pool, [&](int64_t b, float* sums, float* scratch) {
    kernels.oneChannelWeightGradientSample(plan, x, dy, sums, b, scratch);
  });
}

// ---- Short window rows: the input gradient run by run (WindowRowPlan) -----------------

// The path's kernels where they apply: window rows of one to kRowVectorsMax vectors, not a
// pointwise convolution (dx = dy · Wᵀ is one GEMM there), and a padded dx no larger than the
// grid's bound. conv2dBackwardInput asks only where the grid's GEMMs do not apply.
const Conv2dKernels* windowRowKernels(const Conv2dShape& s, KernelPath path) {
  const Conv2dKernels* kernels = directKernels(path);
  if (!kernels || s.outHeight() == 0 || s.outWidth() == 0 || isPointwise(s)) return nullptr;
  // A run shorter than a vector leaves most lanes idle and pays a vector's read and write of
  // dx per pixel for a few multiply-adds: LeNet's first layer (5 floats) ran at a third of its
  // GEMM's speed that way.
  const int64_t run = s.kWidth * s.chanIn;
  if (run < kernels->lanes || run > kRowVectorsMax * kernels->lanes) return nullptr;
  if ((s.height + 2 * s.padHeight) * (s.width + 2 * s.padWidth) * s.chanIn > kGridMaxFloats) return nullptr;
  return kernels;
}

void windowRowInputGradient(const Conv2dShape& s, const Conv2dKernels& kernels, const float* dy, const float* w,
                            float* dx, ThreadPool* pool) {
  WindowRowPlan plan;
  plan.s = &s;
  plan.paddedHeight = s.height + 2 * s.padHeight;
  plan.paddedWidth = s.width + 2 * s.padWidth;
  const int64_t run = s.kWidth * s.chanIn, co = s.chanOut;
  plan.runVectors = (run + kernels.lanes - 1) / kernels.lanes;
  const int64_t runFloats = plan.runVectors * kernels.lanes;
  // The last run starts at most run floats before the padded image's end.
  plan.paddedFloats = wholeLines(plan.paddedHeight * plan.paddedWidth * s.chanIn + runFloats);
  auto rows = scratchFloats(s.kHeight * co * runFloats);
  for (int64_t ky = 0; ky < s.kHeight; ky++)
    for (int64_t o = 0; o < co; o++) {
      float* row = rows.get() + (ky * co + o) * runFloats;
      for (int64_t j = 0; j < runFloats; j++) row[j] = j < run ? w[(ky * run + j) * co + o] : 0.0f;
    }
  plan.rows = rows.get();
  const int64_t ow = s.outWidth(), step = s.strideWidth * s.chanIn;
  const int64_t apart = std::min(ow, (run + step - 1) / step);
  std::vector<int64_t> order;
  for (int64_t phase = 0; phase < apart; phase++)
    for (int64_t ox = phase; ox < ow; ox += apart) order.push_back(ox);
  plan.order = order.data();
  forEachSample(s, plan.paddedFloats, pool,
                [&](int64_t b, float* scratch) { kernels.windowRowInputGradientSample(plan, dy, dx, b, scratch); });
}

// ---- Over the output channels: forward, weight gradient, input gradient at stride 1 -----

// Where these kernels apply (channelsRoute below): not pointwise (one GEMM on the image itself
// there), a padded image no larger than the grid's bound, and a block's weights (window × its
// vectors of channels) within a bound. They run before the grid's GEMMs, which keep the larger
// windows. On AVX2 (the AMD EPYC host, L2 512 KB a core), one thread, batch 32, against the grid
// (GFLOP/s, forward / weight gradient): VGG's 32 -> 32 at 32×32 69 -> 75 / 66 -> 76, 32 -> 64 at
// 16×16 68 -> 74 / 65 -> 78, 64 -> 64 (36 KB of weights a block, past L1) 72 -> 78 / 67 -> 70; but
// 128 -> 128 at 8×8 (72 KB) 57 -> 47 forward: a block's weights then come from L2 for each few
// pixels.
//
// The input gradient, as the forward convolution of dy by the turned kernel, pays with blocks up
// to 256 KB: on an Intel Xeon (L2 1.25 MB a core), one thread, batch 32, 3×3 kernels, padded,
// against the grid's GEMMs (median of 11 paired runs): AVX-512 64 -> 64 at 16×16 1.14×, 64 -> 128
// at 8×8 1.20×, 128 -> 128 at 8×8 1.11× and at 16×16 1.02×; AVX2 128 -> 128 at 8×8 1.15× and at
// 16×16 1.10×, 64 -> 128 at 8×8 1.13×. There the forward gained 0.97-1.20× and the weight
// gradient lost up to a quarter (0.76-1.24×), so they keep the 64 KB bound.
constexpr int64_t kChannelsBlockFloats = 16384;
constexpr int64_t kTransposedBlockFloats = 65536;
// With up to 4 vectors a block (AVX-512), blocks up to 160 KB paid for the forward and the weight
// gradient on an Intel Xeon (L2 1.25 MB a core): time against 2 vectors a block or the grid's
// GEMMs, batch 32, one thread, 3×3 kernels, padded (median of 11 paired runs): 32 -> 64 at 16×16
// forward 0.81, weight gradient 0.88; 64 -> 64 at 16×16 0.76 and 0.86 (and its input gradient
// 0.80); 64 -> 128 at 8×8 0.88 and 0.76.
constexpr int64_t kWideChannelsBlockFloats = 40960;

// The path's kernels and the vectors of output channels per block, where they apply: not
// pointwise, a padded image no larger than the grid's bound, and a block of two vectors (or
// all of them, if fewer) within maxBlockFloats; then as many vectors, up to the path's
// channelVectors, as keep a block within it, spread evenly over the blocks.
struct ChannelsRoute {
  const Conv2dKernels* kernels = nullptr;
  int64_t vectors = 0;
  explicit operator bool() const { return kernels != nullptr; }
};

ChannelsRoute channelsRoute(const Conv2dShape& s, KernelPath path, int64_t maxBlockFloats, bool wholeImage) {
  const Conv2dKernels* kernels = directKernels(path);
  if (!kernels || s.outHeight() == 0 || s.outWidth() == 0 || isPointwise(s)) return {};
  if (wholeImage ? (s.height + 2 * s.padHeight) * paddedRowFloats(s) > kGridMaxFloats : !bandFits(s)) return {};
  const int64_t total = (s.chanOut + kernels->lanes - 1) / kernels->lanes;
  const int64_t floatsPerVector = s.windowSize() * kernels->lanes;
  int64_t fit = std::min(total, kernels->channelVectors);
  while (fit > 0 && fit * floatsPerVector > maxBlockFloats) fit--;
  if (fit < std::min<int64_t>(total, 2)) return {};
  const int64_t blocks = (total + fit - 1) / fit;
  return {kernels, (total + blocks - 1) / blocks};
}

// The forward's route (a band of the image at a time) and the weight gradient's (the whole image
// padded).
ChannelsRoute channelsRoute(const Conv2dShape& s, KernelPath path, bool wholeImage) {
  const Conv2dKernels* kernels = directKernels(path);
  const bool wide = kernels && kernels->channelVectors > 2;
  return channelsRoute(s, path, wide ? kWideChannelsBlockFloats : kChannelsBlockFloats, wholeImage);
}

ChannelsPlan channelsPlan(const Conv2dShape& s, const ChannelsRoute& route) {
  ChannelsPlan plan;
  plan.s = &s;
  plan.paddedHeight = s.height + 2 * s.padHeight;
  plan.paddedWidth = s.width + 2 * s.padWidth;
  plan.chanOutPadded = (s.chanOut + route.kernels->lanes - 1) / route.kernels->lanes * route.kernels->lanes;
  plan.paddedFloats = wholeLines(plan.paddedHeight * plan.paddedWidth * s.chanIn);
  plan.bandRows = bandRowsFor(s);
  plan.bandFloats = bandFloatsFor(s, plan.bandRows, 0);
  plan.vectors = route.vectors;
  return plan;
}

// weight(d, o): the weight of window position d (the (ky, kx, c) order) for output channel o.
template <typename Weight>
void channelsForward(const Conv2dShape& s, const ChannelsRoute& route, const float* x, const Weight& weight,
                     const float* bias, float* y, ThreadPool* pool) {
  const Conv2dKernels& kernels = *route.kernels;
  ChannelsPlan plan = channelsPlan(s, route);
  const int64_t window = s.windowSize(), co = s.chanOut, cop = plan.chanOutPadded;
  auto weights = scratchFloats(window * cop), padBias = scratchFloats(bias ? cop : 0);
  for (int64_t d = 0; d < window; d++)
    for (int64_t o = 0; o < cop; o++) weights[d * cop + o] = o < co ? weight(d, o) : 0.0f;
  if (bias)
    for (int64_t o = 0; o < cop; o++) padBias[o] = o < co ? bias[o] : 0.0f;
  plan.weights = weights.get();
  plan.bias = bias ? padBias.get() : nullptr;
  forEachBand(s, plan.bandRows, plan.bandFloats, pool, [&](int64_t b, int64_t oy0, int64_t oy1, float* scratch) {
    kernels.channelsForwardBand(plan, x, y, b, oy0, oy1, scratch);
  });
}

void channelsWeightGradient(const Conv2dShape& s, const ChannelsRoute& route, const float* x, const float* dy,
                            float* dw, ThreadPool* pool) {
  const Conv2dKernels& kernels = *route.kernels;
  const ChannelsPlan plan = channelsPlan(s, route);
  const int64_t perChunk = plan.paddedFloats + s.outHeight() * s.outWidth() * s.chanOut + kernels.lanes;
  weightGradientByChunks(s, plan.chanOutPadded, 1, perChunk, dw, pool, [&](int64_t b, float* sums, float* scratch) {
    kernels.channelsWeightGradientSample(plan, x, dy, sums, b, scratch);
  });
}

// At stride 1 the input gradient is itself a convolution: of dy, with the kernel turned half a
// turn and its channel axes swapped, and padding kH − 1 − padHeight (kW − 1 − padWidth across).
// From the forward pass, dx[iy, ix, c] = Σ dy[iy + padHeight − ky, ix + padWidth − kx, o] ·
// w[ky, kx, c, o] over the outputs inside dy; with ky' = kH − 1 − ky the row read is
// iy − (kH − 1 − padHeight) + ky', a forward window at that padding, and the output has
// outHeight + kH − 1 − 2·padHeight = height rows. The padding must not be negative: padHeight
// < kH, padWidth < kW. The shape of that convolution, when it exists:
bool transposedShape(const Conv2dShape& s, Conv2dShape* t) {
  if (s.strideHeight != 1 || s.strideWidth != 1 || s.padHeight >= s.kHeight || s.padWidth >= s.kWidth) return false;
  *t = s;
  t->height = s.outHeight();
  t->width = s.outWidth();
  t->chanIn = s.chanOut;
  t->chanOut = s.chanIn;
  t->padHeight = s.kHeight - 1 - s.padHeight;
  t->padWidth = s.kWidth - 1 - s.padWidth;
  return true;
}

// The weights of the transposed shape (transposedShape) as weight(d, c): window position
// (ky', kx', o) of t, output channel c, holds w[kH − 1 − ky', kW − 1 − kx', c, o].
auto turnedWeights(const Conv2dShape& s, const float* w) {
  const int64_t taps = s.kHeight * s.kWidth, ci = s.chanIn, co = s.chanOut;
  return [=](int64_t d, int64_t c) { return w[((taps - 1 - d / co) * ci + c) * co + d % co]; };
}

// ---- Few output channels: conv2d_direct.h's kernels along the window rows -------------

const Conv2dKernels* fewOutputsKernels(const Conv2dShape& s, KernelPath path) {
  const Conv2dKernels* kernels = directKernels(path);
  if (!kernels || s.chanOut > kFewOutputsMax || s.outHeight() == 0 || s.outWidth() == 0) return nullptr;
  return bandFits(s) ? kernels : nullptr;
}

// The plan's sizes; rows and biasPattern are the caller's to fill.
FewOutputsPlan fewOutputsPlan(const Conv2dShape& s, const Conv2dKernels& kernels) {
  FewOutputsPlan plan;
  plan.s = &s;
  plan.paddedWidth = s.width + 2 * s.padWidth;
  plan.runVectors = (s.kWidth * s.chanIn + kernels.lanes - 1) / kernels.lanes;
  plan.bandRows = bandRowsFor(s);
  plan.bandFloats = bandFloatsFor(s, plan.bandRows, plan.runVectors * kernels.lanes);
  return plan;
}

// weight(d, o): the weight of window position d (the (ky, kx, c) order) for output channel o.
template <typename Weight>
void fewOutputsForward(const Conv2dShape& s, const Conv2dKernels& kernels, const float* x, const Weight& weight,
                       const float* bias, float* y, ThreadPool* pool) {
  FewOutputsPlan plan = fewOutputsPlan(s, kernels);
  const int64_t co = s.chanOut, run = s.kWidth * s.chanIn, runFloats = plan.runVectors * kernels.lanes;
  auto rows = scratchFloats(co * s.kHeight * runFloats);
  for (int64_t o = 0; o < co; o++)
    for (int64_t ky = 0; ky < s.kHeight; ky++)
      for (int64_t j = 0; j < runFloats; j++)
        rows[(o * s.kHeight + ky) * runFloats + j] = j < run ? weight(ky * run + j, o) : 0.0f;
  plan.rows = rows.get();
  float pattern[kFewOutputsPatternFloats];
  if (bias) {
    for (int64_t i = 0; i < kFewOutputsPatternFloats; i++) pattern[i] = bias[i % co];
    plan.biasPattern = pattern;
  }
  forEachBand(s, plan.bandRows, plan.bandFloats, pool, [&](int64_t b, int64_t oy0, int64_t oy1, float* scratch) {
    kernels.fewOutputsForwardBand(plan, x, y, b, oy0, oy1, scratch);
  });
}

void fewOutputsWeightGradient(const Conv2dShape& s, const Conv2dKernels& kernels, const float* x, const float* dy,
                              float* dw, ThreadPool* pool) {
  const FewOutputsPlan plan = fewOutputsPlan(s, kernels);
  const int64_t run = s.kWidth * s.chanIn, runFloats = plan.runVectors * kernels.lanes;
  weightGradientByChunks(
      s, s.chanOut * s.kHeight * runFloats, 1,
      [&](int64_t d, int64_t o) { return (o * s.kHeight + d / run) * runFloats + d % run; }, plan.bandFloats, dw, pool,
      [&](int64_t b, float* sums, float* scratch) {
        kernels.fewOutputsWeightGradientSample(plan, x, dy, sums, b, scratch);
      });
}

}  // namespace

void conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool) {
  const Tiling t = tilingOf(s);
  if (s.batch == 0 || t.pixels == 0) return;
  // Route 1's forward keeps its sums along the pixels and writes them out channels-last one float
  // at a time; with more output channels than kOneChannelForwardMaxChannels route 2 does better.
  const bool oneChannelForwardPays = s.chanOut <= kOneChannelForwardMaxChannels || !channelsRoute(s, path, false);
  if (const Conv2dKernels* direct = oneChannelForwardPays ? oneChannelKernels(s, path) : nullptr)
    return oneChannelForward(s, *direct, x, w, bias, y, pool);
  const int64_t co = s.chanOut;
  const auto weight = [&](int64_t d, int64_t o) { return w[d * co + o]; };
  if (const Conv2dKernels* few = fewOutputsKernels(s, path))
    return fewOutputsForward(s, *few, x, weight, bias, y, pool);
  if (const ChannelsRoute route = channelsRoute(s, path, false))
    return channelsForward(s, route, x, weight, bias, y, pool);
  Grid grid;
  if (useGrid(s, &grid)) return gridForward(s, grid, x, w, bias, y, path, pool);
  const int64_t window = s.windowSize(), tasks = s.batch * t.tiles;
  const Threads threads = threadsFor(s, tasks, pool);
  const int64_t workers = threads.tasks ? threads.tasks->threads() : 1;
  auto cols = scratchFloats(t.layout == Layout::Pointwise ? 0 : workers * t.tile * window);
  parallelFor(threads.tasks, tasks, [&](int64_t task, int worker) {
    const int64_t b = task / t.tiles, p0 = (task % t.tiles) * t.tile, count = std::min(t.tile, t.pixels - p0);
    const float* xb = x + b * s.height * s.width * s.chanIn;
    float* yt = y + (b * t.pixels + p0) * s.chanOut;
    float* c = cols.get() + worker * t.tile * window;
    GemmArgs g;  // y_tile = C · W
    g.m = count;
    g.n = s.chanOut;
    g.k = window;
    if (t.layout == Layout::Pointwise) {
      g.a = xb + p0 * s.chanIn;
      g.lda = window;
    } else if (t.layout == Layout::Rows) {
      gatherWindows(s, xb, p0, count, c);
      g.a = c;
      g.lda = window;
    } else {
      gatherColumns(s, xb, p0, count, c);
      g.transA = true;  // C stored as Cᵀ
      g.a = c;
      g.lda = count;
    }
    g.b = w;
    g.ldb = s.chanOut;
    g.c = yt;
    g.ldc = s.chanOut;
    g.beta = 0.0f;
    sgemm(g, path, threads.gemm);
    // The bias after the product, not as its starting value: with beta = 1 the GEMM reads C, which
    // for few output channels it keeps transposed (LeNet's first layer: +110 us per batch of 32).
    if (bias)
      for (int64_t r = 0; r < count; r++)
        for (int64_t o = 0; o < s.chanOut; o++) yt[r * s.chanOut + o] += bias[o];
  });
}

void conv2dBackwardInput(const Conv2dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool) {
  const int64_t image = s.height * s.width * s.chanIn;
  if (s.batch == 0) return;
  const Tiling t = tilingOf(s);
  if (t.pixels == 0) {
    std::memset(dx, 0, s.batch * image * sizeof(float));
    return;
  }
  // At stride 1, dx is the forward of dy by the turned kernel (transposedShape). With few input
  // channels (an image's first layer) that forward has few outputs; where the grid suits the
  // shape, the channels route takes it, a band of dy at a time, so also the images too large for
  // the grid (style transfer's).
  Conv2dShape turned;
  if (transposedShape(s, &turned)) {
    if (const Conv2dKernels* few = s.chanIn <= kFewOutputsMax ? fewOutputsKernels(turned, path) : nullptr)
      return fewOutputsForward(turned, *few, dy, turnedWeights(s, w), nullptr, dx, pool);
    if (const ChannelsRoute route =
            gridShaped(s) ? channelsRoute(turned, path, kTransposedBlockFloats, false) : ChannelsRoute{})
      return channelsForward(turned, route, dy, turnedWeights(s, w), nullptr, dx, pool);
  }
  Grid grid;
  if (useGrid(s, &grid)) return gridBackwardInput(s, grid, dy, w, dx, path, pool);
  if (const Conv2dKernels* direct = windowRowKernels(s, path))
    return windowRowInputGradient(s, *direct, dy, w, dx, pool);
  const int64_t window = s.windowSize();
  const Threads threads = threadsFor(s, s.batch, pool);
  const int64_t workers = threads.tasks ? threads.tasks->threads() : 1;
  auto dcols = scratchFloats(t.layout == Layout::Pointwise ? 0 : workers * t.tile * window);
  parallelFor(threads.tasks, s.batch, [&](int64_t b, int worker) {
    float* dxb = dx + b * image;
    GemmArgs g;
    g.transB = true;
    g.k = s.chanOut;
    g.beta = 0.0f;
    if (t.layout == Layout::Pointwise) {  // dx_b = dy_b · Wᵀ, every pixel its own window
      g.m = t.pixels;
      g.n = window;
      g.a = dy + b * t.pixels * s.chanOut;
      g.lda = s.chanOut;
      g.b = w;
      g.ldb = s.chanOut;
      g.c = dxb;
      g.ldc = window;
      sgemm(g, path, threads.gemm);
      return;
    }
    std::memset(dxb, 0, image * sizeof(float));
    float* d = dcols.get() + worker * t.tile * window;
    for (int64_t p0 = 0; p0 < t.pixels; p0 += t.tile) {
      const int64_t count = std::min(t.tile, t.pixels - p0);
      const float* dyTile = dy + (b * t.pixels + p0) * s.chanOut;
      if (t.layout == Layout::Rows) {  // dC = dy_tile · Wᵀ (count, window)
        g.m = count;
        g.n = window;
        g.a = dyTile;
        g.lda = s.chanOut;
        g.b = w;
        g.ldb = s.chanOut;
        g.c = d;
        g.ldc = window;
        sgemm(g, path, threads.gemm);
        scatterWindows(s, d, p0, count, dxb);
      } else {  // dCᵀ = W · dy_tileᵀ (window, count)
        g.m = window;
        g.n = count;
        g.a = w;
        g.lda = s.chanOut;
        g.b = dyTile;
        g.ldb = s.chanOut;
        g.c = d;
        g.ldc = count;
        sgemm(g, path, threads.gemm);
        scatterColumns(s, d, p0, count, dxb);
      }
    }
  });
}

void conv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool) {
  const Tiling t = tilingOf(s);
  if (s.batch == 0 || t.pixels == 0) return;
  if (const Conv2dKernels* direct = oneChannelKernels(s, path))
    return oneChannelWeightGradient(s, *direct, x, dy, dw, pool);
  // A pointwise convolution's GEMM reads the image in place, where this would copy it (AVX2,
  // 64 -> 4 channels at 16×16: 1.42× the GEMM's time).
  if (const Conv2dKernels* few = isPointwise(s) ? nullptr : fewOutputsKernels(s, path))
    return fewOutputsWeightGradient(s, *few, x, dy, dw, pool);
  if (const ChannelsRoute route = channelsRoute(s, path, true))
    return channelsWeightGradient(s, route, x, dy, dw, pool);
  Grid grid;
  if (useGrid(s, &grid)) return gridBackwardWeight(s, grid, x, dy, dw, path, pool);
  const int64_t window = s.windowSize(), size = window * s.chanOut;
  const Threads threads = threadsFor(s, s.batch, pool);
  // One matrix per batch chunk when the batch is split, summed in chunk order after the join, so
  // the result does not depend on which thread ran which chunk.
  const int64_t chunks = threads.tasks ? std::min<int64_t>(s.batch, threads.tasks->threads()) : 1;
  const bool pointwise = t.layout == Layout::Pointwise;
  auto partial = scratchFloats(chunks > 1 ? chunks * size : 0);
  auto cols = scratchFloats(pointwise ? 0 : chunks * t.tile * window);
  parallelFor(
      chunks > 1 ? threads.tasks : nullptr, chunks,
      [&](int64_t chunk, int) {
        const int64_t begin = s.batch * chunk / chunks, end = s.batch * (chunk + 1) / chunks;
        float* target = chunks > 1 ? partial.get() + chunk * size : dw;
        float* c = cols.get() + (pointwise ? 0 : chunk * t.tile * window);
        bool first = chunks > 1;
        for (int64_t b = begin; b < end; b++) {
          const float* xb = x + b * s.height * s.width * s.chanIn;
          for (int64_t p0 = 0; p0 < t.pixels; p0 += t.tile) {
            const int64_t count = std::min(t.tile, t.pixels - p0);
            GemmArgs g;  // dW += Cᵀ · dy_tile
            g.m = window;
            g.n = s.chanOut;
            g.k = count;
            if (t.layout == Layout::Columns) {
              gatherColumns(s, xb, p0, count, c);
              g.a = c;  // Cᵀ as stored
              g.lda = count;
            } else {
              g.transA = true;  // C is (count, window)
              g.a = pointwise ? xb + p0 * s.chanIn : c;
              if (!pointwise) gatherWindows(s, xb, p0, count, c);
              g.lda = window;
            }
            g.b = dy + (b * t.pixels + p0) * s.chanOut;
            g.ldb = s.chanOut;
            g.beta = first ? 0.0f : 1.0f;
            g.c = target;
            g.ldc = s.chanOut;
            sgemm(g, path, threads.gemm);
            first = false;
          }
        }
      },
      TaskOrder::Arrival);
  if (chunks > 1) {
    for (int64_t c = 0; c < chunks; c++) {
      const float* part = partial.get() + c * size;
      for (int64_t i = 0; i < size; i++) dw[i] += part[i];
    }
  }
}

// ---- References ------------------------------------------------------------------

namespace {

// Calls fn(outIndex, inIndex, weightIndex) for every product of the convolution whose input pixel
// lies inside the image (the padding contributes nothing).
template <typename Fn>
void forEachProduct(const Conv2dShape& s, const Fn& fn) {
  const int64_t oh = s.outHeight(), ow = s.outWidth();
  for (int64_t b = 0; b < s.batch; b++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t ky = 0; ky < s.kHeight; ky++) {
          const int64_t iy = oy * s.strideHeight - s.padHeight + ky;
          if (iy < 0 || iy >= s.height) continue;
          for (int64_t kx = 0; kx < s.kWidth; kx++) {
            const int64_t ix = ox * s.strideWidth - s.padWidth + kx;
            if (ix < 0 || ix >= s.width) continue;
            for (int64_t c = 0; c < s.chanIn; c++)
              for (int64_t o = 0; o < s.chanOut; o++)
                fn(((b * oh + oy) * ow + ox) * s.chanOut + o, ((b * s.height + iy) * s.width + ix) * s.chanIn + c,
                   ((ky * s.kWidth + kx) * s.chanIn + c) * s.chanOut + o);
          }
        }
}

}  // namespace

void conv2dForwardReference(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y) {
  const int64_t n = s.batch * s.outHeight() * s.outWidth() * s.chanOut;
  std::vector<double> acc(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; i++) acc[i] = bias ? bias[i % s.chanOut] : 0.0;
  forEachProduct(s, [&](int64_t out, int64_t in, int64_t wi) { acc[out] += static_cast<double>(x[in]) * w[wi]; });
  for (int64_t i = 0; i < n; i++) y[i] = static_cast<float>(acc[i]);
}

void conv2dBackwardInputReference(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  std::vector<double> acc(static_cast<size_t>(s.batch * s.height * s.width * s.chanIn), 0.0);
  forEachProduct(s, [&](int64_t out, int64_t in, int64_t wi) { acc[in] += static_cast<double>(dy[out]) * w[wi]; });
  for (size_t i = 0; i < acc.size(); i++) dx[i] = static_cast<float>(acc[i]);
}

void conv2dBackwardWeightReference(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  std::vector<double> acc(static_cast<size_t>(s.windowSize() * s.chanOut), 0.0);
  forEachProduct(s, [&](int64_t out, int64_t in, int64_t wi) { acc[wi] += static_cast<double>(x[in]) * dy[out]; });
  for (size_t i = 0; i < acc.size(); i++) dw[i] += static_cast<float>(acc[i]);
}

}  // namespace neurone
