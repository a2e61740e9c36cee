// The one-input-channel convolution at stride 1, computed directly over the vector traits of
// simd.h (see OneChannelPlan in conv2d.h for the grid). With P the padded image of width Wp,
// grid pixel q = oy·Wp + ox and tap t = (ky, kx):
//
//   forward       y[q, o]  = Σ_t  P[q + ky·Wp + kx] · w[t, o]            (+ bias[o] after the sum)
//   grad weight   dw[t, o] += Σ_b Σ_q  P[q + ky·Wp + kx] · dy[q, o]       dy 0 on the dropped columns
//
// The forward runs along q, L = V::kLanes pixels per vector: one load of P per tap serves every
// output channel of the block, the weight broadcast to the lanes; its sums, kept as (channel,
// pixel), are written out channels-last: a block of six channels interleaved in registers and
// copied run by run of an output row, fewer channels one value at a time. The weight gradient
// has two forms: along the channels (one vector of dy per pixel, each tap's pixel broadcast),
// which fills the lanes when chanOut does, and along q like the forward (dy copied out
// (channel, q), per-lane sums kept per lane and added across the lanes once per batch chunk),
// which fills them whatever chanOut is; OneChannelPlan::weightGradientAlongGrid picks one. Every
// sum runs in tap order (forward) or pixel order (weight gradient, per lane along the grid) from
// zero, with the path's fused multiply-add.
// Written once, instantiated by conv2d_avx2.cc, conv2d_avx512.cc and conv2d_neon.cc; internal
// linkage, as simd.h explains.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "conv2d.h"
#include "simd.h"

namespace neurone {
namespace {

// The largest power of two below n, n >= 2. A block's remainder (the last pixels of a row, the
// last channels or taps) runs as blocks of this size and below, so each kernel is compiled for
// a few sizes, not for every size up to its block (that took the NEON file 16 s to compile).
constexpr int halfBlock(int n) {
  int h = 1;
  while (2 * h < n) h *= 2;
  return h;
}

// run(size, first) over [first, first + count), count <= Block: the whole block when count is
// Block, else blocks of halfBlock(Block) and below. size is std::integral_constant<int, n>, so
// run instantiates its kernel for that n.
template <int Block, typename Run>
void inBlocks(int64_t first, int64_t count, const Run& run) {
  if constexpr (Block > 1) {
    if (count < Block) {
      constexpr int kHalf = halfBlock(Block);
      inBlocks<kHalf>(first, std::min<int64_t>(count, kHalf), run);
      if (count > kHalf) inBlocks<kHalf>(first + kHalf, count - kHalf, run);
      return;
    }
  }
  run(std::integral_constant<int, Block>{}, first);
}

// A row of count items (pixels of an output row, positions of a window row) in register blocks
// of the sizes a kernel is compiled for: Block, Block / 2 when even, and the powers of two below
// Block. A block of P items × Vectors vectors keeps P · Vectors sums, and a step of its loop takes
// max(P · Vectors, 8) / 2 cycles on two fused multiply-add units 4 cycles deep (under 8 sums the
// latency binds), plus about one for its setup and stores. The split of least cost is found once,
// at compile time, for every count under 2 · Block; a longer row takes whole blocks first.
// With AVX-512's 12-pixel blocks a 14-pixel row runs as 8 + 6, where halving blocks alone gives
// 12 + 2 (bncnn's 32 -> 64 at 14×14: 1.19× the time). With AnySize, every size up to Block is
// compiled and offered to the split: the one-channel weight gradient's taps, where halving ran a
// 3×3 kernel's 9 taps as 6 + 2 + 1, the last two bound by the adders' latency (bncnn's first
// layer, 1 -> 32: AVX-512's blocks of 12 run it as one block of 9).
constexpr int nextBlockSize(int size, int block, bool anySize) {
  if (anySize) return size - 1;
  int next = 0;
  for (int p = 1; p < size; p *= 2) next = p;
  if (block % 2 == 0 && block / 2 < size && block / 2 > next) next = block / 2;
  return next;
}

template <int Block>
struct RowSplit {
  int first[2 * Block];  // first[n]: the first block of the best split of n items, 0 < n < 2 · Block
};

template <int Block, int Vectors, bool AnySize>
constexpr RowSplit<Block> rowSplit() {
  RowSplit<Block> split{};
  int cost[2 * Block] = {};
  for (int n = 1; n < 2 * Block; n++) {
    cost[n] = -1;
    for (int size = Block; size > 0; size = nextBlockSize(size, Block, AnySize)) {
      if (size > n) continue;
      const int sums = size * Vectors, step = (sums > 8 ? sums : 8) + 2;  // in half cycles
      if (cost[n] < 0 || step + cost[n - size] < cost[n]) {
        cost[n] = step + cost[n - size];
        split.first[n] = size;
      }
    }
  }
  return split;
}

// run(size, first) with size = std::integral_constant<int, Size> for the block size `size`.
template <int Block, bool AnySize, int Size = Block, typename Run>
void runBlock(int size, int64_t first, const Run& run) {
  if constexpr (Size > 0) {
    if (size == Size) return run(std::integral_constant<int, Size>{}, first);
    runBlock<Block, AnySize, nextBlockSize(Size, Block, AnySize)>(size, first, run);
  }
}

// run(size, first) over [0, count) in the blocks above.
template <int Block, int Vectors, bool AnySize = false, typename Run>
void inRowBlocks(int64_t count, const Run& run) {
  static constexpr RowSplit<Block> kSplit = rowSplit<Block, Vectors, AnySize>();
  int64_t first = 0;
  for (; count - first >= 2 * Block; first += Block) run(std::integral_constant<int, Block>{}, first);
  while (first < count) {
    const int size = kSplit.first[count - first];
    runBlock<Block, AnySize>(size, first, run);
    first += size;
  }
}

// n floats at p set to zero, whole vectors then one masked.
template <typename V>
void zeroFloats(float* p, int64_t n) {
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(p + i, V::zero());
  if (i < n) V::storeFirst(p + i, V::firstLanes(n - i), V::zero());
}

// Sample b's image into `padded`, rows of paddedWidth pixels with the zero padding around it,
// `floats` floats in all (the tail past the image zeroed too).
void padImage(const Conv2dShape& s, int64_t paddedWidth, int64_t floats, const float* x, int64_t b, float* padded) {
  const int64_t row = s.width * s.chanIn;
  const float* xb = x + b * s.height * row;
  if (s.padWidth == 0) {
    // Without padding at the sides the image's rows lie back to back in the grid too: one copy,
    // and only the rows above it and the tail zeroed.
    const int64_t top = s.padHeight * row, image = s.height * row;
    std::memset(padded, 0, top * sizeof(float));
    copyFloats(padded + top, xb, image);
    std::memset(padded + top + image, 0, (floats - top - image) * sizeof(float));
    return;
  }
  std::memset(padded, 0, floats * sizeof(float));
  for (int64_t iy = 0; iy < s.height; iy++)
    copyFloats(padded + ((iy + s.padHeight) * paddedWidth + s.padWidth) * s.chanIn, xb + iy * row, row);
}

// The padded rows of sample b's image that output rows [oy0, oy1) read, rows of paddedWidth
// pixels, into band, and `tail` zeroed floats after them; returns the first one's index. The
// padding is stored in line, as gradientsOnGrid stores its zeros, rather than by a memset call for
// each side of each row (rows may be a few floats).
template <typename V>
int64_t padBand(const Conv2dShape& s, int64_t paddedWidth, const float* x, int64_t b, int64_t oy0, int64_t oy1,
                int64_t tail, float* band) {
  const int64_t firstRow = oy0 * s.strideHeight, rows = (oy1 - 1) * s.strideHeight + s.kHeight - firstRow;
  const int64_t ci = s.chanIn, rowFloats = paddedWidth * ci, image = s.width * ci, left = s.padWidth * ci;
  const float* xb = x + b * s.height * image;
  for (int64_t r = 0; r < rows; r++) {
    float* out = band + r * rowFloats;
    const int64_t iy = firstRow + r - s.padHeight;
    if (iy < 0 || iy >= s.height) {
      zeroFloats<V>(out, rowFloats);
      continue;
    }
    zeroFloats<V>(out, left);
    copyFloats(out + left, xb + iy * image, image);
    zeroFloats<V>(out + left + image, rowFloats - left - image);
  }
  zeroFloats<V>(band + rows * rowFloats, tail);
  return firstRow;
}

// Sample b's dy copied to dyb with a zeroed vector after it, for kernels whose last vector of
// channels reads past the last pixel's. The copy pays for itself even where none does: dyb starts
// a cache line, while read in place from a Float32Array (16-byte aligned) dy's vectors straddle
// lines (VGG's weight gradients on AVX2 then took 1.15-1.27× as long, paired runs).
template <typename V>
const float* gradientsWithTail(const Conv2dShape& s, const float* dy, int64_t b, float* dyb) {
  const int64_t gradients = s.outHeight() * s.outWidth() * s.chanOut;
  copyFloats(dyb, dy + b * gradients, gradients);
  std::memset(dyb + gradients, 0, V::kLanes * sizeof(float));
  return dyb;
}

// Vectors of grid pixels per forward block: kOneChannelChannels × this many sums, as many pixel
// vectors and a broadcast weight in registers (AVX2, NEON: 6 × 2 in 16; AVX-512: 6 × 4 in 32,
// 10 loads for 24 multiply-adds against 8 for 12).
template <typename V>
constexpr int64_t kOneChannelVectorsFor = V::kBlockSums / kOneChannelChannels;

// Output channels [c0, c0 + Channels) of sample yb, every block of grid pixels.
template <typename V, int Channels>
void forwardChannels(const OneChannelPlan& plan, const float* padded, const float* w, const float* bias, int64_t c0,
                     float* yb) {
  constexpr int64_t kBlock = kOneChannelVectorsFor<V> * V::kLanes;
  const Conv2dShape& s = *plan.s;
  const int64_t co = s.chanOut, wp = plan.paddedWidth, oh = s.outHeight(), ow = s.outWidth();
  for (int64_t q0 = 0; q0 < plan.gridPixels; q0 += kBlock) {
    typename V::F acc[Channels][kOneChannelVectorsFor<V>];
    for (int o = 0; o < Channels; o++)
      for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) acc[o][i] = V::zero();
    for (int64_t ky = 0; ky < s.kHeight; ky++)
      for (int64_t kx = 0; kx < s.kWidth; kx++) {
        const float* source = padded + q0 + ky * wp + kx;
        typename V::F pixels[kOneChannelVectorsFor<V>];
        for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) pixels[i] = V::load(source + i * V::kLanes);
        const float* tap = w + (ky * s.kWidth + kx) * co + c0;
        for (int o = 0; o < Channels; o++) {
          const auto weight = V::set1(tap[o]);
          for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) acc[o][i] = V::fma(pixels[i], weight, acc[o][i]);
        }
      }
    if (bias)
      for (int o = 0; o < Channels; o++) {
        const auto shift = V::set1(bias[c0 + o]);
        for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) acc[o][i] = V::add(acc[o][i], shift);
      }
    // Channels-last, run by run of one output row: the grid's extra columns, and its pixels
    // past the last output, dropped.
    if constexpr (Channels == 6) {
      // Six channels are laid out pixel by pixel in registers (interleave6), and each pixel's
      // or each run's floats copied whole.
      alignas(64) float pixels[kBlock * 6];
      for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) {
        const typename V::F planes[6] = {acc[0][i], acc[1][i], acc[2][i], acc[3][i], acc[4][i], acc[5][i]};
        V::interleave6(planes, pixels + i * V::kLanes * 6);
      }
      int64_t oy = q0 / wp, ox = q0 % wp;
      for (int64_t j = 0; j < kBlock && oy < oh; j += wp - ox, ox = 0, oy++) {
        const int64_t run = std::min(kBlock - j, ow - ox);
        if (run <= 0) continue;
        float* out = yb + (oy * ow + ox) * co + c0;
        if (co == 6) {
          copyFloats(out, pixels + j * 6, run * 6);
        } else {
          for (int64_t r = 0; r < run; r++) copyFloats(out + r * co, pixels + (j + r) * 6, 6);
        }
      }
    } else {
      float sums[Channels][kBlock];
      for (int o = 0; o < Channels; o++)
        for (int64_t i = 0; i < kOneChannelVectorsFor<V>; i++) V::store(sums[o] + i * V::kLanes, acc[o][i]);
      int64_t oy = q0 / wp, ox = q0 % wp;
      for (int64_t j = 0; j < kBlock && oy < oh; j += wp - ox, ox = 0, oy++) {
        const int64_t run = std::min(kBlock - j, ow - ox);
        float* out = yb + (oy * ow + ox) * co + c0;
        for (int64_t r = 0; r < run; r++, out += co)
          for (int o = 0; o < Channels; o++) out[o] = sums[o][j + r];
      }
    }
  }
}

template <typename V>
void oneChannelForwardSampleV(const OneChannelPlan& plan, const float* x, const float* w, const float* bias, float* y,
                              int64_t b, float* scratch) {
  const Conv2dShape& s = *plan.s;
  padImage(s, plan.paddedWidth, plan.paddedFloats, x, b, scratch);
  float* yb = y + b * s.outHeight() * s.outWidth() * s.chanOut;
  for (int64_t c0 = 0; c0 < s.chanOut; c0 += kOneChannelChannels)
    inBlocks<kOneChannelChannels>(c0, std::min(kOneChannelChannels, s.chanOut - c0), [&](auto size, int64_t first) {
      forwardChannels<V, decltype(size)::value>(plan, scratch, w, bias, first, yb);
    });
}

// Weight-gradient blocks: Taps taps × Vectors vectors of channels from c0, their sums in
// registers with the pixel's gradient vectors and one broadcast: V::kBlockSums sums (AVX2's 16
// registers: 12; with four vectors, 2 taps, as 3 × 4 sums and 4 gradients do not fit), at most
// 12 taps.
template <typename V, int Vectors>
constexpr int kTapsFor = V::kBlockSums <= 12 ? (Vectors == 1   ? 12
                                                : Vectors == 2 ? 6
                                                : Vectors == 3 ? 4
                                                               : 2)
                                             : (V::kBlockSums / Vectors < 12 ? V::kBlockSums / Vectors : 12);

// sums[t, c0 ..] += Σ_{outputs q} P[q + tap t] · dy[q, c0 ..] for taps [t0, t0 + Taps): the
// lanes past chanOut pick up the next pixel's gradients, and are never read.
template <typename V, int Taps, int Vectors>
void weightGradientTaps(const OneChannelPlan& plan, const float* padded, const float* dyb, int64_t t0, int64_t c0,
                        float* sums) {
  const Conv2dShape& s = *plan.s;
  const int64_t co = s.chanOut, oh = s.outHeight(), ow = s.outWidth(), wp = plan.paddedWidth;
  const int64_t stride = plan.chanOutPadded;
  int64_t offset[Taps];
  typename V::F acc[Taps][Vectors];
  for (int j = 0; j < Taps; j++) {
    offset[j] = (t0 + j) / s.kWidth * wp + (t0 + j) % s.kWidth;
    for (int v = 0; v < Vectors; v++) acc[j][v] = V::load(sums + (t0 + j) * stride + c0 + v * V::kLanes);
  }
  for (int64_t oy = 0; oy < oh; oy++) {
    const float* pixels = padded + oy * wp;
    const float* g = dyb + oy * ow * co + c0;
    for (int64_t ox = 0; ox < ow; ox++, g += co) {
      typename V::F gradient[Vectors];
      for (int v = 0; v < Vectors; v++) gradient[v] = V::load(g + v * V::kLanes);
      for (int j = 0; j < Taps; j++) {
        const auto pixel = V::set1(pixels[ox + offset[j]]);
        for (int v = 0; v < Vectors; v++) acc[j][v] = V::fma(pixel, gradient[v], acc[j][v]);
      }
    }
  }
  for (int j = 0; j < Taps; j++)
    for (int v = 0; v < Vectors; v++) V::store(sums + (t0 + j) * stride + c0 + v * V::kLanes, acc[j][v]);
}

// Every tap for the channels from c0 in Vectors vectors.
template <typename V, int Vectors>
void weightGradientChannels(const OneChannelPlan& plan, const float* padded, const float* dyb, int64_t c0,
                            float* sums) {
  constexpr bool kAnySize = true;
  inRowBlocks<kTapsFor<V, Vectors>, Vectors, kAnySize>(plan.s->kHeight * plan.s->kWidth, [&](auto size, int64_t first) {
    weightGradientTaps<V, decltype(size)::value, Vectors>(plan, padded, dyb, first, c0, sums);
  });
}

// ---- The weight gradient along the grid ---------------------------------------------------
// Channels output channels × Taps taps of per-lane sums, V::kBlockSums of them: each step loads
// the Channels gradient vectors once and one vector of P per tap, and every pair is one
// multiply-add (AVX2: 3 × 4 sums, 3 gradients and a pixel vector in 16 registers; AVX-512: 6 × 4
// in 32).
template <typename V>
constexpr int kGridChannels = V::kBlockSums / 4;

// sums[t, c0 + c, lane] += Σ_q P[q + tap t] · dyT[c0 + c, q] for the q of that lane, t in
// [t0, t0 + Taps). The lanes are added up once a batch chunk (weightGradientByChunks in
// conv2d.cc): added up per sample, LeNet's first weight gradient on AVX-512 spent an eighth of
// its time on those sums (paired, batch 32: 0.89 of the time without them).
template <typename V, int Channels, int Taps>
void gridWeightGradientBlock(const OneChannelPlan& plan, const float* padded, const float* dyT, int64_t c0, int64_t t0,
                             float* sums) {
  const Conv2dShape& s = *plan.s;
  const int64_t grid = plan.gridPixels, wp = plan.paddedWidth;
  const float* pixels[Taps];
  for (int j = 0; j < Taps; j++) pixels[j] = padded + (t0 + j) / s.kWidth * wp + (t0 + j) % s.kWidth;
  const float* gradients = dyT + c0 * grid;
  typename V::F acc[Taps][Channels];
  for (int j = 0; j < Taps; j++)
    for (int c = 0; c < Channels; c++) acc[j][c] = V::zero();
  for (int64_t q = 0; q < grid; q += V::kLanes) {
    typename V::F gradient[Channels];
    for (int c = 0; c < Channels; c++) gradient[c] = V::inRegister(V::load(gradients + c * grid + q));
    for (int j = 0; j < Taps; j++) {
      const auto pixel = V::load(pixels[j] + q);
      for (int c = 0; c < Channels; c++) acc[j][c] = V::fma(pixel, gradient[c], acc[j][c]);
    }
  }
  for (int j = 0; j < Taps; j++)
    for (int c = 0; c < Channels; c++) {
      float* partial = sums + ((t0 + j) * plan.chanOutPadded + c0 + c) * V::kLanes;
      V::store(partial, V::add(V::load(partial), acc[j][c]));
    }
}

// Every tap for the channels [c0, c0 + Channels).
template <typename V, int Channels>
void gridWeightGradientChannels(const OneChannelPlan& plan, const float* padded, const float* dyT, int64_t c0,
                                float* sums) {
  constexpr int kTaps = V::kBlockSums / Channels;
  const int64_t taps = plan.s->kHeight * plan.s->kWidth;
  for (int64_t t0 = 0; t0 < taps; t0 += kTaps)
    inBlocks<kTaps>(t0, std::min<int64_t>(kTaps, taps - t0), [&](auto size, int64_t first) {
      gridWeightGradientBlock<V, Channels, decltype(size)::value>(plan, padded, dyT, c0, first, sums);
    });
}

// Channels [c0, c0 + Channels) of sample b's dy laid out (channel, q) on the grid, gridPixels
// floats a channel, zero on the dropped columns and past the last output so they add nothing.
// Pixel by pixel with the channel count known to the compiler: a loop over a run-time count of
// channels, or one channel at a time, took twice as long (a C++ probe on an Intel Xeon, LeNet's
// 6 channels, batch 32: 43 us this way, 87-92 us those).
template <typename V, int Channels>
void gradientsOnGrid(const OneChannelPlan& plan, const float* dy, int64_t b, int64_t c0, float* dyT) {
  const Conv2dShape& s = *plan.s;
  const int64_t co = s.chanOut, oh = s.outHeight(), ow = s.outWidth(), wp = plan.paddedWidth;
  const int64_t grid = plan.gridPixels;
  const float* source = dy + b * oh * ow * co + c0;
  float* rows = dyT + c0 * grid;
  // Six channels of a row of at least a vector of pixels, in registers (deinterleave6): vector by
  // vector, the last one overlapping the one before where the row is not whole vectors.
  const bool inRegisters = Channels == 6 && co == 6 && ow >= V::kLanes;
  for (int64_t oy = 0; oy < oh; oy++) {
    float* out = rows + oy * wp;
    if (inRegisters) {
      for (int64_t ox = 0; ox < ow; ox += V::kLanes) {
        const int64_t at = std::min(ox, ow - V::kLanes);
        typename V::F planes[6];
        V::deinterleave6(source + at * 6, planes);
        for (int c = 0; c < 6; c++) V::store(out + c * grid + at, planes[c]);
      }
      source += ow * 6;
    } else {
      for (int64_t ox = 0; ox < ow; ox++, source += co)
        for (int c = 0; c < Channels; c++) out[c * grid + ox] = source[c];
    }
    // The dropped columns; past the last row's outputs, the tail to the grid's end. Stored in
    // line: a memset call for each (a few floats) cost its own time and made the compiler reload
    // deinterleave6's permutation constants after it (LeNet's first weight gradient, AVX-512).
    const int64_t end = oy + 1 < oh ? wp : grid - oy * wp;
    for (int c = 0; c < Channels; c++) zeroFloats<V>(out + c * grid + ow, end - ow);
  }
}

template <typename V>
void gridWeightGradientSample(const OneChannelPlan& plan, const float* x, const float* dy, float* sums, int64_t b,
                              float* scratch) {
  const Conv2dShape& s = *plan.s;
  padImage(s, plan.paddedWidth, plan.paddedFloats, x, b, scratch);
  float* dyT = scratch + plan.paddedFloats;
  inBlocks<kGridMaxChannels>(0, s.chanOut, [&](auto size, int64_t first) {
    gradientsOnGrid<V, decltype(size)::value>(plan, dy, b, first, dyT);
  });
  for (int64_t c0 = 0; c0 < s.chanOut; c0 += kGridChannels<V>)
    inBlocks<kGridChannels<V>>(c0, std::min<int64_t>(kGridChannels<V>, s.chanOut - c0), [&](auto size, int64_t first) {
      gridWeightGradientChannels<V, decltype(size)::value>(plan, scratch, dyT, first, sums);
    });
}

template <typename V>
void oneChannelWeightGradientSampleV(const OneChannelPlan& plan, const float* x, const float* dy, float* sums,
                                     int64_t b, float* scratch) {
  if (plan.weightGradientAlongGrid) return gridWeightGradientSample<V>(plan, x, dy, sums, b, scratch);
  const Conv2dShape& s = *plan.s;
  const int64_t co = s.chanOut;
  float* padded = scratch;
  padImage(s, plan.paddedWidth, plan.paddedFloats, x, b, padded);
  const float* dyb = gradientsWithTail<V>(s, dy, b, scratch + plan.paddedFloats);
  for (int64_t c0 = 0; c0 < co; c0 += 4 * V::kLanes) {
    const int64_t vectors = std::min<int64_t>(4, (co - c0 + V::kLanes - 1) / V::kLanes);
    switch (vectors) {
      case 4:
        weightGradientChannels<V, 4>(plan, padded, dyb, c0, sums);
        break;
      case 3:
        weightGradientChannels<V, 3>(plan, padded, dyb, c0, sums);
        break;
      case 2:
        weightGradientChannels<V, 2>(plan, padded, dyb, c0, sums);
        break;
      default:
        weightGradientChannels<V, 1>(plan, padded, dyb, c0, sums);
        break;
    }
  }
}

// ---- The input gradient by window rows (WindowRowPlan in conv2d.h) ---------------------
//
// A block is Pixels outputs × Vectors vectors of their runs; its sums, one row of weights and a
// broadcast gradient stay in registers (Pixels · Vectors + Vectors + 1 of them: AVX2 and NEON
// fill 16 of their registers; AVX-512 keeps 24 sums in its 32, for Pixels + Vectors loads a
// step, at most 12 pixels, whose gradients each need a pointer).
template <typename V, int Vectors>
constexpr int kPixelsFor = V::kBlockSums >= 24 ? std::min(12, V::kBlockSums / Vectors)
                           : Vectors == 1      ? 8
                           : Vectors == 2      ? 5
                           : Vectors == 3      ? 3
                                               : 2;

// The block's outputs: Pixels of one output column, (oy0 + p, ox), or of one row, (oy0,
// order[p]). Each adds its runs to dx with a load and a store, and a load that overlaps a store
// still in flight waits for it. Down a column no two runs of a kernel row share a dx row; along
// a row, neighbours' runs overlap unless taken `apart` (WindowRowPlan::order), which a row of
// few outputs cannot avoid: LeNet's second layer (8 outputs a row, 32-float runs 6 floats apart)
// spent half its input gradient on these adds. Columns unless the output is wider than high
// with columns too short to fill a block.
struct PixelBlock {
  bool down;  // a column of outputs from (oy0, ox0), else a row in `order`
  int64_t oy0, ox0;
  const int64_t* order;  // the row's outputs, when not down
  int64_t outputRow(int p) const { return down ? oy0 + p : oy0; }
  int64_t outputColumn(int p) const { return down ? ox0 : order[p]; }
};

// The block's outputs: for each kernel row, every run summed over the output channels from
// zero, then added to the padded dx, pixel after pixel.
template <typename V, int Pixels, int Vectors>
void inputGradientPixels(const WindowRowPlan& plan, const float* dyb, const PixelBlock& block, float* padded) {
  const Conv2dShape& s = *plan.s;
  const int64_t co = s.chanOut, ci = s.chanIn, ow = s.outWidth(), runFloats = plan.runVectors * V::kLanes;
  const float* gradients[Pixels];
  float* runs[Pixels];
  for (int p = 0; p < Pixels; p++) {
    gradients[p] = dyb + (block.outputRow(p) * ow + block.outputColumn(p)) * co;
    runs[p] =
        padded + (block.outputRow(p) * s.strideHeight * plan.paddedWidth + block.outputColumn(p) * s.strideWidth) * ci;
  }
  const auto lastLanes = V::firstLanes(s.kWidth * ci - (Vectors - 1) * V::kLanes);
  for (int64_t ky = 0; ky < s.kHeight; ky++) {
    typename V::F acc[Pixels][Vectors];
    for (int p = 0; p < Pixels; p++)
      for (int v = 0; v < Vectors; v++) acc[p][v] = V::zero();
    const float* weights = plan.rows + ky * co * runFloats;
    for (int64_t o = 0; o < co; o++, weights += runFloats) {
      typename V::F row[Vectors];
      // Held in registers: folded into each multiply-add, the loads bound the loop (10 for 8
      // multiply-adds at 4 vectors × 2 pixels; LeNet's second layer 198-279 -> 176-255 us).
      for (int v = 0; v < Vectors; v++) row[v] = V::inRegister(V::load(weights + v * V::kLanes));
      for (int p = 0; p < Pixels; p++) {
        const auto g = V::set1(gradients[p][o]);
        for (int v = 0; v < Vectors; v++) acc[p][v] = V::fma(g, row[v], acc[p][v]);
      }
    }
    // The last vector's lanes past the run hold 0 · dy, which is NaN for an infinite dy: kept
    // out of the neighbouring pixels they overlap.
    for (int p = 0; p < Pixels; p++) {
      float* run = runs[p] + ky * plan.paddedWidth * ci;
      acc[p][Vectors - 1] = V::keep(lastLanes, acc[p][Vectors - 1]);
      for (int v = 0; v < Vectors; v++) V::store(run + v * V::kLanes, V::add(V::load(run + v * V::kLanes), acc[p][v]));
    }
  }
}

template <typename V, int Vectors>
void inputGradientRows(const WindowRowPlan& plan, const float* dyb, float* padded) {
  const int64_t oh = plan.s->outHeight(), ow = plan.s->outWidth();
  constexpr int64_t kPixels = kPixelsFor<V, Vectors>;
  if (std::min(oh, kPixels) >= std::min(ow, kPixels)) {
    for (int64_t ox = 0; ox < ow; ox++)
      for (int64_t i = 0; i < oh; i += kPixels)
        inBlocks<kPixels>(i, std::min(kPixels, oh - i), [&](auto size, int64_t first) {
          inputGradientPixels<V, decltype(size)::value, Vectors>(plan, dyb, {true, first, ox, nullptr}, padded);
        });
    return;
  }
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t i = 0; i < ow; i += kPixels)
      inBlocks<kPixels>(i, std::min(kPixels, ow - i), [&](auto size, int64_t first) {
        inputGradientPixels<V, decltype(size)::value, Vectors>(plan, dyb, {false, oy, 0, plan.order + first}, padded);
      });
}

template <typename V>
void windowRowInputGradientSampleV(const WindowRowPlan& plan, const float* dy, float* dx, int64_t b, float* scratch) {
  const Conv2dShape& s = *plan.s;
  const int64_t ci = s.chanIn;
  std::memset(scratch, 0, plan.paddedFloats * sizeof(float));
  const float* dyb = dy + b * s.outHeight() * s.outWidth() * s.chanOut;
  switch (plan.runVectors) {
    case 1:
      inputGradientRows<V, 1>(plan, dyb, scratch);
      break;
    case 2:
      inputGradientRows<V, 2>(plan, dyb, scratch);
      break;
    case 3:
      inputGradientRows<V, 3>(plan, dyb, scratch);
      break;
    default:
      inputGradientRows<V, 4>(plan, dyb, scratch);
      break;
  }
  float* dxb = dx + b * s.height * s.width * ci;
  for (int64_t iy = 0; iy < s.height; iy++)
    copyFloats(dxb + iy * s.width * ci, scratch + ((iy + s.padHeight) * plan.paddedWidth + s.padWidth) * ci,
               s.width * ci);
}

// ---- Forward and weight gradient over output channels (ChannelsPlan in conv2d.h) ---------

// A forward block is Pixels outputs of one row × Vectors (1 or 2) vectors of channels; a
// weight-gradient block Depth depth positions × Vectors vectors. Their V::kBlockSums sums, a row
// of weights or gradients and a broadcast stay in registers, and each multiply-add needs under
// one load (with 4 vectors of channels, 2 pixels: 6 loads for 8, and VGG's 3 -> 32 forward ran
// no faster than the GEMM).
template <typename V, int Vectors>
constexpr int kPixelsForChannels = V::kBlockSums / Vectors;
template <typename V, int Vectors>
constexpr int kDepthForChannels = V::kBlockSums / Vectors;
// Up to 4 vectors of channels where 24 sums fit (AVX-512: 6 pixels × 4 vectors, 10 loads for 24
// multiply-adds against 14 at 12 × 2), else 2 (AVX2, NEON: 3 × 4 sums and 4 weight vectors would
// not leave a register for the broadcast).
template <typename V>
constexpr int kChannelVectorsFor = V::kBlockSums >= 24 ? 4 : 2;

// run(vectors, c0) for each block of plan.vectors vectors of output channels (fewer in the
// last), vectors = std::integral_constant<int, n>.
template <typename V, typename Run>
void inChannelBlocks(const ChannelsPlan& plan, const Run& run) {
  constexpr int kMax = kChannelVectorsFor<V>;
  const int64_t chanOut = plan.s->chanOut;
  for (int64_t c0 = 0; c0 < chanOut; c0 += plan.vectors * V::kLanes) {
    const int64_t vectors = std::min(plan.vectors, (chanOut - c0 + V::kLanes - 1) / V::kLanes);
    if constexpr (kMax >= 4) {
      if (vectors == 4) {
        run(std::integral_constant<int, 4>{}, c0);
        continue;
      }
      if (vectors == 3) {
        run(std::integral_constant<int, 3>{}, c0);
        continue;
      }
    }
    if (vectors == 2)
      run(std::integral_constant<int, 2>{}, c0);
    else
      run(std::integral_constant<int, 1>{}, c0);
  }
}

// Outputs [ox0, ox0 + Pixels) of row oy, channels from c0 in Vectors vectors.
template <typename V, int Pixels, int Vectors>
void channelsForwardPixels(const ChannelsPlan& plan, const float* top, int64_t oy, int64_t ox0, int64_t c0, float* yb) {
  const Conv2dShape& s = *plan.s;
  const int64_t ci = s.chanIn, co = s.chanOut, cop = plan.chanOutPadded, run = s.kWidth * ci;
  const int64_t step = s.strideWidth * ci;
  // The loops over acc unrolled in full, as in channelsWeightGradientBlock.
  typename V::F acc[Pixels][Vectors];
#pragma GCC unroll 32
  for (int p = 0; p < Pixels; p++)
    for (int v = 0; v < Vectors; v++) acc[p][v] = V::zero();
  for (int64_t ky = 0; ky < s.kHeight; ky++) {
    const float* rows = top + (ky * plan.paddedWidth + ox0 * s.strideWidth) * ci;
    const float* weights = plan.weights + ky * run * cop + c0;
    for (int64_t j = 0; j < run; j++, weights += cop) {
      typename V::F w[Vectors];
      for (int v = 0; v < Vectors; v++) w[v] = V::load(weights + v * V::kLanes);
      // Past 8 pixels, one pointer stepped from pixel to pixel, as in fewOutputsPixels: with
      // rows + p · step + j GCC kept a register for each pixel's offset and spilled some (AVX-512,
      // 12-pixel blocks of one vector: 16 -> 16 at 14×14 forward 0.96 of the time, 3 -> 32 at
      // 32×32 0.91); up to 8 the offsets fit, and the stepping cost AVX2 up to 2 %.
      const float* at = rows + j;
#pragma GCC unroll 32
      for (int p = 0; p < Pixels; p++) {
        const auto x = V::set1(Pixels > 8 ? *at : rows[p * step + j]);
        at += step;
        for (int v = 0; v < Vectors; v++) acc[p][v] = V::fma(x, w[v], acc[p][v]);
      }
    }
  }
  const int64_t ow = s.outWidth(), ragged = co - (c0 + (Vectors - 1) * V::kLanes);
  const auto lastLanes = V::firstLanes(ragged);
#pragma GCC unroll 32
  for (int p = 0; p < Pixels; p++) {
    float* out = yb + (oy * ow + ox0 + p) * co + c0;
    for (int v = 0; v < Vectors; v++) {
      const auto sum = plan.bias ? V::add(acc[p][v], V::load(plan.bias + c0 + v * V::kLanes)) : acc[p][v];
      if (v < Vectors - 1 || ragged >= V::kLanes)
        V::store(out + v * V::kLanes, sum);
      else
        V::storeFirst(out + v * V::kLanes, lastLanes, sum);
    }
  }
}

// Each output row in the blocks of inRowBlocks, every size up to the block offered: AVX-512's
// one-vector blocks take 24 pixels, and halving alone ran a 14-pixel row as 12 + 2 and a 7-pixel
// one as 4 + 2 + 1, the small blocks bound by the adders' latency (16 -> 16 at 14×14: 0.66 of
// the time as 7 + 7; ConvTranspose2D's 7×7 gradient, 16 -> 16 at stride 2: 0.50).
template <typename V, int Vectors>
void channelsForwardBlock(const ChannelsPlan& plan, const float* band, int64_t firstRow, int64_t oy0, int64_t oy1,
                          int64_t c0, float* yb) {
  const int64_t ow = plan.s->outWidth();
  for (int64_t oy = oy0; oy < oy1; oy++) {
    // Padded row oy · strideHeight, the window's top row, in the band.
    const float* top = band + (oy * plan.s->strideHeight - firstRow) * plan.paddedWidth * plan.s->chanIn;
    inRowBlocks<kPixelsForChannels<V, Vectors>, Vectors, true>(ow, [&](auto size, int64_t first) {
      channelsForwardPixels<V, decltype(size)::value, Vectors>(plan, top, oy, first, c0, yb);
    });
  }
}

template <typename V>
void channelsForwardBandV(const ChannelsPlan& plan, const float* x, float* y, int64_t b, int64_t oy0, int64_t oy1,
                          float* scratch) {
  const Conv2dShape& s = *plan.s;
  // Scalar reads of the window: no vector reaches past the band's last row.
  const int64_t firstRow = padBand<V>(s, plan.paddedWidth, x, b, oy0, oy1, 0, scratch);
  float* yb = y + b * s.outHeight() * s.outWidth() * s.chanOut;
  inChannelBlocks<V>(plan, [&](auto vectors, int64_t c0) {
    channelsForwardBlock<V, decltype(vectors)::value>(plan, scratch, firstRow, oy0, oy1, c0, yb);
  });
}

// sums[ky · run + j0 + d, c0 ..] += Σ_p row(p, ky)[j0 + d] · dy[p, c0 ..] for d < Depth; the
// lanes past chanOut pick up the next pixel's gradients, and are never read.
template <typename V, int Depth, int Vectors>
void channelsWeightGradientBlock(const ChannelsPlan& plan, const float* padded, const float* dyb, int64_t ky,
                                 int64_t j0, int64_t c0, float* sums) {
  const Conv2dShape& s = *plan.s;
  const int64_t ci = s.chanIn, co = s.chanOut, cop = plan.chanOutPadded, run = s.kWidth * ci;
  const int64_t oh = s.outHeight(), ow = s.outWidth(), step = s.strideWidth * ci;
  float* target = sums + (ky * run + j0) * cop + c0;
  // The loops over acc are unrolled in full: GCC 12 left the 24-deep one of AVX-512 rolled and
  // kept acc in memory, a load and a store for every multiply-add (LeNet's 6 -> 16 at 1.85× the
  // time of two 12-deep blocks).
  typename V::F acc[Depth][Vectors];
#pragma GCC unroll 32
  for (int d = 0; d < Depth; d++)
    for (int v = 0; v < Vectors; v++) acc[d][v] = V::load(target + d * cop + v * V::kLanes);
  for (int64_t oy = 0; oy < oh; oy++) {
    const float* row = padded + ((oy * s.strideHeight + ky) * plan.paddedWidth) * ci + j0;
    const float* g = dyb + oy * ow * co + c0;
    for (int64_t ox = 0; ox < ow; ox++, row += step, g += co) {
      typename V::F gradient[Vectors];
      for (int v = 0; v < Vectors; v++) gradient[v] = V::load(g + v * V::kLanes);
#pragma GCC unroll 32
      for (int d = 0; d < Depth; d++) {
        const auto x = V::set1(row[d]);
        for (int v = 0; v < Vectors; v++) acc[d][v] = V::fma(x, gradient[v], acc[d][v]);
      }
    }
  }
#pragma GCC unroll 32
  for (int d = 0; d < Depth; d++)
    for (int v = 0; v < Vectors; v++) V::store(target + d * cop + v * V::kLanes, acc[d][v]);
}

// Each kernel row's run in blocks of any size up to the block, as the forward's rows: a 3-channel
// 3×3 run of 9 ran as 8 + 1, the last block with a single chain of sums (VGG's first weight
// gradient on AVX-512: 0.79 of the time as one block of 9).
template <typename V, int Vectors>
void channelsWeightGradientChannels(const ChannelsPlan& plan, const float* padded, const float* dyb, int64_t c0,
                                    float* sums) {
  const int64_t run = plan.s->kWidth * plan.s->chanIn;
  for (int64_t ky = 0; ky < plan.s->kHeight; ky++)
    inRowBlocks<kDepthForChannels<V, Vectors>, Vectors, true>(run, [&](auto size, int64_t first) {
      channelsWeightGradientBlock<V, decltype(size)::value, Vectors>(plan, padded, dyb, ky, first, c0, sums);
    });
}

template <typename V>
void channelsWeightGradientSampleV(const ChannelsPlan& plan, const float* x, const float* dy, float* sums, int64_t b,
                                   float* scratch) {
  const Conv2dShape& s = *plan.s;
  float* padded = scratch;
  padImage(s, plan.paddedWidth, plan.paddedFloats, x, b, padded);
  const float* dyb = gradientsWithTail<V>(s, dy, b, scratch + plan.paddedFloats);
  inChannelBlocks<V>(plan, [&](auto vectors, int64_t c0) {
    channelsWeightGradientChannels<V, decltype(vectors)::value>(plan, padded, dyb, c0, sums);
  });
}

// ---- Few output channels (FewOutputsPlan in conv2d.h) ---------------------------------

// Pixels (forward) or window-row vectors (weight gradient) per register block with C output
// channels: C sums for each, C weight vectors or broadcast gradients and the loaded row vector in
// the registers, at most kBlockSums sums and 16 items. Paths with 12-sum blocks are counted as
// having 16 registers (AVX2 has; NEON's 32 would allow more, untried), AVX-512 as having 32.
template <typename V, int C>
constexpr int fewOutputsBlock() {
  constexpr int kRegisters = V::kBlockSums <= 12 ? 16 : 32;
  constexpr int kFit = (kRegisters - 1 - C) / C, kSums = V::kBlockSums / C;
  return std::min(16, std::min(kFit, kSums));
}

// Outputs [0, Pixels) from `window`, the first one's window row 0 in the band, to out (Pixels · C
// floats, channels-last). A window row's last vector is cut to the row (keep): the floats past it
// belong to the next pixel, and an infinite one there times a zero weight would be NaN.
template <typename V, int C, int Pixels>
void fewOutputsPixels(const FewOutputsPlan& plan, const float* window, float* out) {
  const Conv2dShape& s = *plan.s;
  const int64_t run = s.kWidth * s.chanIn, whole = run / V::kLanes, step = s.strideWidth * s.chanIn;
  const int64_t rowFloats = plan.paddedWidth * s.chanIn, runFloats = plan.runVectors * V::kLanes;
  const int64_t channelFloats = s.kHeight * runFloats;
  const auto lastLanes = V::firstLanes(run - whole * V::kLanes);
  constexpr int kSums = Pixels * C;
  typename V::F acc[kSums];
#pragma GCC unroll 64
  for (int i = 0; i < kSums; i++) acc[i] = V::zero();
  const auto pass = [&](const float* xr, const float* wr, auto cut) {
    typename V::F w[C];
    for (int c = 0; c < C; c++) w[c] = V::inRegister(V::load(wr + c * channelFloats));
    // One pointer stepped from pixel to pixel: with xr + p · step GCC kept a register for each
    // of the 16 offsets, more than x86 has, and reloaded them from the stack every step.
    const float* at = xr;
#pragma GCC unroll 16
    for (int p = 0; p < Pixels; p++, at += step) {
      auto x = V::load(at);
      if constexpr (decltype(cut)::value) x = V::keep(lastLanes, x);
      for (int c = 0; c < C; c++) acc[p * C + c] = V::fma(x, w[c], acc[p * C + c]);
    }
  };
  for (int64_t ky = 0; ky < s.kHeight; ky++) {
    const float* xr = window + ky * rowFloats;
    const float* wr = plan.rows + ky * runFloats;
    for (int64_t v = 0; v < whole; v++) pass(xr + v * V::kLanes, wr + v * V::kLanes, std::false_type{});
    if (whole < plan.runVectors) pass(xr + whole * V::kLanes, wr + whole * V::kLanes, std::true_type{});
  }
  for (int g = 0; g * V::kLanes < kSums; g++) {
    typename V::F part[V::kLanes];
    for (int i = 0; i < V::kLanes; i++) part[i] = g * V::kLanes + i < kSums ? acc[g * V::kLanes + i] : V::zero();
    auto sum = V::laneSums(part);
    if (plan.biasPattern) sum = V::add(sum, V::load(plan.biasPattern + g * V::kLanes));
    const int count = std::min(V::kLanes, kSums - g * V::kLanes);
    if (count == V::kLanes)
      V::store(out + g * V::kLanes, sum);
    else
      V::storeFirst(out + g * V::kLanes, V::firstLanes(count), sum);
  }
}

template <typename V, int C>
void fewOutputsRows(const FewOutputsPlan& plan, const float* band, int64_t firstRow, int64_t oy0, int64_t oy1,
                    float* yb) {
  const Conv2dShape& s = *plan.s;
  constexpr int kPixels = fewOutputsBlock<V, C>();
  const int64_t ow = s.outWidth(), rowFloats = plan.paddedWidth * s.chanIn, step = s.strideWidth * s.chanIn;
  for (int64_t oy = oy0; oy < oy1; oy++) {
    const float* row = band + (oy * s.strideHeight - firstRow) * rowFloats;
    inRowBlocks<kPixels, C, true>(ow, [&](auto size, int64_t first) {
      fewOutputsPixels<V, C, decltype(size)::value>(plan, row + first * step, yb + (oy * ow + first) * C);
    });
  }
}

// Runs fn(std::integral_constant<int, C>) for the plan's C = chanOut (1 to kFewOutputsMax).
template <typename Fn>
void withFewOutputs(int64_t chanOut, const Fn& fn) {
  switch (chanOut) {
    case 1:
      return fn(std::integral_constant<int, 1>{});
    case 2:
      return fn(std::integral_constant<int, 2>{});
    case 3:
      return fn(std::integral_constant<int, 3>{});
    default:
      return fn(std::integral_constant<int, 4>{});
  }
}

template <typename V>
void fewOutputsForwardBandV(const FewOutputsPlan& plan, const float* x, float* y, int64_t b, int64_t oy0, int64_t oy1,
                            float* scratch) {
  const Conv2dShape& s = *plan.s;
  const int64_t firstRow = padBand<V>(s, plan.paddedWidth, x, b, oy0, oy1, plan.runVectors * V::kLanes, scratch);
  float* yb = y + b * s.outHeight() * s.outWidth() * s.chanOut;
  withFewOutputs(s.chanOut,
                 [&](auto c) { fewOutputsRows<V, decltype(c)::value>(plan, scratch, firstRow, oy0, oy1, yb); });
}

// sums[c, unit u0 + u] += Σ_p row(p, ky)[v · lanes ..] · dy[p, c] for the Units window-row
// vectors from u0 (unit = ky · runVectors + v), output rows [oy0, oy1) of the band.
template <typename V, int C, int Units>
void fewOutputsGradientUnits(const FewOutputsPlan& plan, const float* band, int64_t firstRow, const float* dyb,
                             int64_t oy0, int64_t oy1, int64_t u0, float* sums) {
  const Conv2dShape& s = *plan.s;
  const int64_t ow = s.outWidth(), rowFloats = plan.paddedWidth * s.chanIn, step = s.strideWidth * s.chanIn;
  int64_t offset[Units];
  for (int u = 0; u < Units; u++)
    offset[u] = (u0 + u) / plan.runVectors * rowFloats + (u0 + u) % plan.runVectors * V::kLanes;
  typename V::F acc[Units][C];
#pragma GCC unroll 64
  for (int u = 0; u < Units; u++)
    for (int c = 0; c < C; c++) acc[u][c] = V::zero();
  for (int64_t oy = oy0; oy < oy1; oy++) {
    const float* row = band + (oy * s.strideHeight - firstRow) * rowFloats;
    const float* gradients = dyb + oy * ow * C;
    for (int64_t ox = 0; ox < ow; ox++) {
      const float* window = row + ox * step;
      typename V::F g[C];
      for (int c = 0; c < C; c++) g[c] = V::set1(gradients[ox * C + c]);
#pragma GCC unroll 64
      for (int u = 0; u < Units; u++) {
        const auto x = V::load(window + offset[u]);
        for (int c = 0; c < C; c++) acc[u][c] = V::fma(x, g[c], acc[u][c]);
      }
    }
  }
  const int64_t channelFloats = s.kHeight * plan.runVectors * V::kLanes;
#pragma GCC unroll 64
  for (int u = 0; u < Units; u++)
    for (int c = 0; c < C; c++) {
      float* target = sums + c * channelFloats + (u0 + u) * V::kLanes;
      V::store(target, V::add(V::load(target), acc[u][c]));
    }
}

template <typename V>
void fewOutputsWeightGradientSampleV(const FewOutputsPlan& plan, const float* x, const float* dy, float* sums,
                                     int64_t b, float* scratch) {
  const Conv2dShape& s = *plan.s;
  const int64_t oh = s.outHeight(), units = s.kHeight * plan.runVectors;
  const float* dyb = dy + b * oh * s.outWidth() * s.chanOut;
  for (int64_t oy0 = 0; oy0 < oh; oy0 += plan.bandRows) {
    const int64_t oy1 = std::min(oh, oy0 + plan.bandRows);
    const int64_t firstRow = padBand<V>(s, plan.paddedWidth, x, b, oy0, oy1, plan.runVectors * V::kLanes, scratch);
    withFewOutputs(s.chanOut, [&](auto c) {
      constexpr int kC = decltype(c)::value, kUnits = fewOutputsBlock<V, kC>();
      inRowBlocks<kUnits, kC, true>(units, [&](auto size, int64_t first) {
        fewOutputsGradientUnits<V, kC, decltype(size)::value>(plan, scratch, firstRow, dyb, oy0, oy1, first, sums);
      });
    });
  }
}

template <typename V>
const Conv2dKernels& conv2dKernelsV() {
  static const Conv2dKernels kernels{V::kLanes,
                                     kChannelVectorsFor<V>,
                                     kOneChannelVectorsFor<V>,
                                     oneChannelForwardSampleV<V>,
                                     oneChannelWeightGradientSampleV<V>,
                                     windowRowInputGradientSampleV<V>,
                                     channelsForwardBandV<V>,
                                     channelsWeightGradientSampleV<V>,
                                     fewOutputsForwardBandV<V>,
                                     fewOutputsWeightGradientSampleV<V>};
  return kernels;
}

}  // namespace
}  // namespace neurone
