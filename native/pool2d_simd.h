// 2-D max and average pooling's forward and backward over the vector traits of simd.h (pool2d.cc
// and pool2d_loops.h hold the plain loops, the scalar path's, whose bits these keep),
// V::kLanes channels per register: written once, instantiated by pool2d_avx2.cc, pool2d_avx512.cc
// and pool2d_neon.cc; pool1d_simd.h's forward is this one with a single row. The window's
// positions are taken in row-major order with maxTakes's select (the first maximum wins, and the
// first NaN), or, for one-row windows of whole strides, merged block by block into the same
// results; so the results, argmax and gradients are those of pool2d.cc's loops bit for bit.
// Internal linkage, as simd.h explains.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "pool2d.h"
#include "pool2d_loops.h"
#include "simd.h"

namespace neurone {
namespace {

// The max-pooling select of pool1d_loops.h and pool2d.cc: v replaces the best so far when
// greater, or when v is NaN and the best is not (so the first maximum, and the first NaN, win).
// Written as !(v <= best) and best is not NaN: with best a number, !(v <= best) holds exactly when
// v is greater or NaN. Two compares and a mask and, where (v > best) or (v NaN and best not) took
// three compares and two mask operations.
template <typename V>
typename V::M maxTakes(typename V::F v, typename V::F best) {
  return V::both(V::notLessEqual(v, best), V::notNan(best));
}

// The 2×2 window of most CNNs (any stride): its four reads and picks in line, in the row-major
// order of maxForward2dSampleV (so the same values and argmax), and the argmax offsets held in
// registers. The general loop walks its window with a loop nest whose bookkeeping cost more than
// the compares: LeNet's first pooling (6 channels) took about 30 cycles an output pixel on
// AVX-512. A ragged vector is read as there, and stored masked where that is cheap
// (V::kCheapMaskedStores), else as there.
template <typename V>
void maxForward2x2SampleV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan, row = s.width * chan;
  const int64_t sampleEnd = (b + 1) * oh * ow * chan;
  const int64_t inputEnd = (b + 1) * s.height * row;
  const int64_t windowSpan = row + chan;  // the window's last value read, from its first
  const auto topLeft = V::set1i(0), topRight = V::set1i(static_cast<int32_t>(chan));
  const auto bottomLeft = V::set1i(static_cast<int32_t>(row));
  const auto bottomRight = V::set1i(static_cast<int32_t>(row + chan));
  for (int64_t oy = 0; oy < oh; oy++) {
    int64_t out = (b * oh + oy) * ow * chan;
    int64_t first = (b * s.height + oy * s.strideHeight) * row;
    for (int64_t ox = 0; ox < ow; ox++, out += chan, first += s.strideWidth * chan)
      for (int64_t c = 0; c < chan; c += V::kLanes) {
        const bool full = chan - c >= V::kLanes;
        const bool wholeReads = full || first + c + windowSpan + V::kLanes <= inputEnd;
        const auto m = V::firstLanes(chan - c);
        const float* x0 = x + first + c;
        const auto read = [&](int64_t d) { return wholeReads ? V::load(x0 + d) : V::loadFirst(m, x0 + d); };
        auto best = read(0);
        auto offset = topLeft;
        const auto pick = [&](typename V::F v, typename V::I at) {
          const auto take = maxTakes<V>(v, best);
          best = V::select(take, v, best);
          offset = V::selecti(take, at, offset);
        };
        pick(read(chan), topRight);
        pick(read(row), bottomLeft);
        pick(read(row + chan), bottomRight);
        const auto at = V::addi(offset, V::addi(V::set1i(static_cast<int32_t>(first + c)), V::iota()));
        if (full || (!V::kCheapMaskedStores && out + c + V::kLanes <= sampleEnd)) {
          V::store(y + out + c, best);
          V::storei(argmax + out + c, at);
        } else {
          V::storeFirst(y + out + c, m, best);
          V::storeFirsti(argmax + out + c, m, at);
        }
      }
  }
}

// Vectors whole vectors of channels from x0 taken through their window side by side. One
// vector's walk is a chain of dependent selects (about 4 cycles a window position on AVX2 on
// Zen 5); walking several at once overlaps the chains. The loops over the vectors are unrolled in
// full so that best and offset stay in registers.
template <typename V, int Vectors>
void maxWindowWholeVectors(const Pool2dShape& s, const float* x0, float* y0, int32_t* argmax0, int64_t firstIndex) {
  typename V::F best[Vectors];
  typename V::I offset[Vectors];
#pragma GCC unroll 8
  for (int u = 0; u < Vectors; u++) {
    best[u] = V::load(x0 + u * V::kLanes);
    offset[u] = V::set1i(0);
  }
  for (int64_t ky = 0; ky < s.kHeight; ky++)
    for (int64_t kx = ky == 0 ? 1 : 0; kx < s.kWidth; kx++) {
      const int64_t d = (ky * s.width + kx) * s.chan;
      const auto at = V::set1i(static_cast<int32_t>(d));
#pragma GCC unroll 8
      for (int u = 0; u < Vectors; u++) {
        const auto v = V::load(x0 + d + u * V::kLanes);
        const auto take = maxTakes<V>(v, best[u]);
        best[u] = V::select(take, v, best[u]);
        offset[u] = V::selecti(take, at, offset[u]);
      }
    }
#pragma GCC unroll 8
  for (int u = 0; u < Vectors; u++) {
    const auto first = V::set1i(static_cast<int32_t>(firstIndex + u * V::kLanes));
    V::store(y0 + u * V::kLanes, best[u]);
    V::storei(argmax0 + u * V::kLanes, V::addi(offset[u], V::addi(first, V::iota())));
  }
}

// ---- One-row windows that overlap by whole strides ---------------------------------------
//
// A window of one row whose width is Blocks strides (the deep CNN's 1-D pooling, 8 wide at
// stride 2: 4 blocks) is the maximum of Blocks consecutive blocks of `stride` pixels, and
// neighbouring windows share all blocks but one. The select is a merge of two runs of pixels,
// the earlier run on the left: the right run's best replaces the left's exactly where maxTakes
// says it would have replaced it in the pixel-by-pixel walk. That walk's result is the first
// NaN, else the first maximum, and merging left to right keeps both: a left NaN is kept; a
// right NaN wins over a left without one; and between numbers the right wins only when
// greater. So merging runs in any grouping gives the walk's value and argmax bit for bit, even
// where two merged runs overlap (a maximum in the overlap is found by the left run first). Per
// output, with P2(j) = merge(block j, block j + 1):
//   2 blocks: merge(block t, block t + 1)     3 blocks: merge(P2(t), P2(t + 1))
//   4 blocks: merge(P2(t), P2(t + 2))
// one new block and at most two merges besides it, where the walk makes Blocks · stride − 1
// selects (the deep CNN's pooling: 3 selects an output vector against 7).
template <typename V>
struct Best {
  typename V::F value;
  typename V::I index;  // flat index into x, per lane
};

// Later's best replaces earlier's where the pixel-by-pixel walk would have made it replace it.
template <typename V>
Best<V> mergeRuns(const Best<V>& earlier, const Best<V>& later) {
  const auto take = maxTakes<V>(later.value, earlier.value);
  return {V::select(take, later.value, earlier.value), V::selecti(take, later.index, earlier.index)};
}

// The windows of `blocks` consecutive blocks (2 to 4), from blocks taken one after the other, for
// Vectors vectors side by side: after block j of a walk (j = 0, 1, … in order), window
// t = j − blocks + 1 is complete when t ≥ 0: merge(block t, block j) for 2 blocks, and
// merge(P2(t), P2(j − 1)) for 3 and 4, P2(t) kept from the steps before. Used by the one-row
// pooling below and by the joint convolution + pooling of conv1d_direct.h. Fixed > 0 compiles
// the ring for that many blocks (the one-row pooling took 1.06 times as long with the count
// known at run time only); else `blocks` says.
template <typename V, int Vectors, int Fixed = 0>
struct WindowRing {
  int64_t runTimeBlocks;
  Best<V> last[Vectors] = {}, pair0[Vectors] = {}, pair1[Vectors] = {};

  // Takes block j as `next`; returns whether window j − blocks + 1 is complete, then in `out`.
  bool push(int64_t j, const Best<V>* next, Best<V>* out) {
    const int64_t blocks = Fixed > 0 ? Fixed : runTimeBlocks;
    const bool complete = j >= blocks - 1;
    if (blocks == 2) {
      if (complete) merge(last, next, out);
    } else {
      Best<V> newest[Vectors];  // P2(j − 1)
      if (j >= 1)
        merge(last, next, newest);
      else
        copy(next, newest);  // a value for the copies below, read by no window
      if (complete) merge(pair0, newest, out);
      if (blocks == 3) {
        copy(newest, pair0);
      } else {
        copy(pair1, pair0);
        copy(newest, pair1);
      }
    }
    copy(next, last);
    return complete;
  }

  static void merge(const Best<V>* earlier, const Best<V>* later, Best<V>* merged) {
#pragma GCC unroll 16
    for (int u = 0; u < Vectors; u++) merged[u] = mergeRuns<V>(earlier[u], later[u]);
  }
  static void copy(const Best<V>* from, Best<V>* to) {
#pragma GCC unroll 16
    for (int u = 0; u < Vectors; u++) to[u] = from[u];
  }
};

// The walk below takes a row in runs of outputs. A run's input stays in L1 across the channel
// vectors: walking whole rows, the deep CNN's first pooling (a 65 KB row) took 0.86 of the
// general walk's time on AVX2, against 0.68 in runs of at most kRunPixels pixels (29 outputs
// there; runs of 16 outputs also 0.68, of 64 outputs 0.81). A pass reads one vector a pixel,
// chan floats apart, and with chan a power of two those lines fall in a fraction of L1's sets:
// runs of 32 outputs at stride 3 and 128 channels (99 pixels) took 1.6 times the general walk's
// time. Pixels of more than kRowMaxChannels take the general walk (256 channels, 8 wide at
// stride 2, runs of 13 outputs: AVX2 1.17, AVX-512 0.93), and so do windows too wide for
// kRowMinRun outputs a run: each run first takes Blocks − 1 blocks no output of its own needs.
constexpr int64_t kRunPixels = 64;
constexpr int64_t kRowMaxChannels = 128;
constexpr int64_t kRowMinRun = 8;

// Whether a window is walked as overlapping blocks: one row, Blocks = kWidth / strideWidth from 2
// to 4 strides exactly, whole channel vectors (a ragged one takes the general walk), at most
// kRowMaxChannels of them, runs of at least kRowMinRun outputs, and at least three selects an
// output saved. The general walk takes four vectors side by side; this one, one vector along the
// row, and it lost to that walk where it saved fewer. Paired, one thread, batch 32, 254
// positions, 64 channels, runs of 32 outputs, time over the general walk's (AVX2 / AVX-512):
//   window/stride  8/2 (4 saved)  12/3 (7)   8/4 (3)    9/3 (4)    6/2 (2)    6/3 (2)    4/2 (1)    3/1 (0)
//                  0.68 / 0.61    0.61/0.51  0.94/0.88  0.72/0.62  0.86/0.69  0.97/1.09  1.12/1.09  1.24/1.25
template <typename V>
int rowBlocks(const Pool2dShape& s) {
  if (s.kHeight != 1 || s.kWidth % s.strideWidth != 0 || s.chan % V::kLanes != 0 || s.chan > kRowMaxChannels ||
      s.kWidth > kRunPixels || (kRunPixels - s.kWidth) / s.strideWidth + 1 < kRowMinRun)
    return 0;
  const int64_t blocks = s.kWidth / s.strideWidth;
  const int64_t selects = (s.strideWidth - 1) + std::min<int64_t>(blocks - 1, 2);
  return blocks <= 4 && s.kWidth - 1 - selects >= 3 ? static_cast<int>(blocks) : 0;
}

// One output row of sample b, run by run, each run walked along the row once per channel vector
// with the blocks and pairs its next outputs need kept in registers (WindowRing).
template <typename V, int Blocks>
void maxRowOverlappingV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b, int64_t oy) {
  const int64_t ow = s.outWidth(), chan = s.chan, stride = s.strideWidth;
  const int64_t rowStart = (b * s.height + oy * s.strideHeight) * s.width * chan;
  const int64_t outStart = (b * s.outHeight() + oy) * ow * chan;
  const auto pixelStep = V::set1i(static_cast<int32_t>(chan));
  const int64_t run = (kRunPixels - s.kWidth) / stride + 1;  // at least kRowMinRun (rowBlocks)
  for (int64_t t0 = 0; t0 < ow; t0 += run) {
    const int64_t t1 = std::min(ow, t0 + run);
    for (int64_t c = 0; c < chan; c += V::kLanes) {
      const float* x0 = x + rowStart + c;
      const auto firstIndex = V::addi(V::set1i(static_cast<int32_t>(rowStart + c)), V::iota());
      WindowRing<V, 1, Blocks> ring{Blocks};
      // Blocks t0, t0 + 1, …: block j is pixels [j·stride, (j + 1)·stride), walked in order.
      for (int64_t j = 0; j < t1 - t0 + Blocks - 1; j++) {
        const int64_t p = (t0 + j) * stride;
        Best<V> next{V::load(x0 + p * chan), V::addi(firstIndex, V::set1i(static_cast<int32_t>(p * chan)))};
        auto index = next.index;
        for (int64_t r = 1; r < stride; r++) {
          index = V::addi(index, pixelStep);
          next = mergeRuns<V>(next, Best<V>{V::load(x0 + (p + r) * chan), index});
        }
        Best<V> out{};
        if (ring.push(j, &next, &out)) {
          const int64_t t = t0 + j - Blocks + 1;
          V::store(y + outStart + c + t * chan, out.value);
          V::storei(argmax + outStart + c + t * chan, out.index);
        }
      }
    }
  }
}

// Each output pixel's channels in registers across its whole window, stored once (one-row windows
// of whole strides go to the block walk above): whole vectors four (then two, then one) at a
// time, then the ragged last one. That one (all of LeNet's 6
// channels on AVX2) is stored whole when the lanes past it stay inside this sample's outputs:
// they land on the next pixel's first channels, which are written after it (a masked store costs
// an AVX2 core on AMD a dozen cycles). The sample's last pixel stores masked, so nothing is
// written past the sample another thread may own.
template <typename V>
void maxForward2dSampleV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  if (const int blocks = rowBlocks<V>(s)) {
    for (int64_t oy = 0; oy < s.outHeight(); oy++) {
      if (blocks == 2)
        maxRowOverlappingV<V, 2>(s, x, y, argmax, b, oy);
      else if (blocks == 3)
        maxRowOverlappingV<V, 3>(s, x, y, argmax, b, oy);
      else
        maxRowOverlappingV<V, 4>(s, x, y, argmax, b, oy);
    }
    return;
  }
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const int64_t sampleEnd = (b + 1) * oh * ow * chan;
  const int64_t inputEnd = (b + 1) * s.height * s.width * chan;
  // The window's last value read, from the window's first.
  const int64_t windowSpan = ((s.kHeight - 1) * s.width + s.kWidth - 1) * chan;
  constexpr int64_t kLanes = V::kLanes;
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      const int64_t out = ((b * oh + oy) * ow + ox) * chan;
      const int64_t first = ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      int64_t c = 0;
      for (; c + 4 * kLanes <= chan; c += 4 * kLanes)
        maxWindowWholeVectors<V, 4>(s, x + first + c, y + out + c, argmax + out + c, first + c);
      if (c + 2 * kLanes <= chan) {
        maxWindowWholeVectors<V, 2>(s, x + first + c, y + out + c, argmax + out + c, first + c);
        c += 2 * kLanes;
      }
      if (c + kLanes <= chan) {
        maxWindowWholeVectors<V, 1>(s, x + first + c, y + out + c, argmax + out + c, first + c);
        c += kLanes;
      }
      if (c == chan) continue;
      // A ragged vector is read whole too while its window's reads stay inside this sample:
      // the lanes past the channels compare the next pixel's values, and their results are
      // overwritten as said above.
      const bool wholeReads = first + c + windowSpan + kLanes <= inputEnd;
      const auto m = V::firstLanes(chan - c);
      const float* x0 = x + first + c;
      auto best = wholeReads ? V::load(x0) : V::loadFirst(m, x0);
      auto offset = V::set1i(0);
      for (int64_t ky = 0; ky < s.kHeight; ky++)
        for (int64_t kx = ky == 0 ? 1 : 0; kx < s.kWidth; kx++) {
          const int64_t d = (ky * s.width + kx) * chan;
          const auto v = wholeReads ? V::load(x0 + d) : V::loadFirst(m, x0 + d);
          const auto take = maxTakes<V>(v, best);
          best = V::select(take, v, best);
          offset = V::selecti(take, V::set1i(static_cast<int32_t>(d)), offset);
        }
      const auto at = V::addi(offset, V::addi(V::set1i(static_cast<int32_t>(first + c)), V::iota()));
      if (out + c + kLanes <= sampleEnd) {
        V::store(y + out + c, best);
        V::storei(argmax + out + c, at);
      } else {
        V::storeFirst(y + out + c, m, best);
        V::storeFirsti(argmax + out + c, m, at);
      }
    }
}

// pool2d.cc's maxBackwardSideBySide (see there) with V::kLanes channels at a time: each pixel of
// a window keeps its window's gradient in the lanes whose argmax names it, +0 elsewhere (the
// same bits as the plain loop's mask), and the matches are counted per lane. Whole vectors of
// channels first, then the ragged last one, so the lane masks are made once a sample. A ragged
// vector is stored masked where that is cheap (V::kCheapMaskedStores); elsewhere it is stored
// whole when the lanes past it stay inside the sample's dx: every position after it there is
// written later, by a later pixel or by the clearing of the row's tail or of the rows past the
// last window. Window > 0 compiles the loop for Window × Window windows (the table's 2×2 entry):
// with the window's loops of run-time length, LeNet's first pooling took about 1.15x as long.
template <typename V, int Window = 0>
int64_t maxBackwardSideBySide2dV(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const int64_t kHeight = Window > 0 ? Window : s.kHeight, kWidth = Window > 0 ? Window : s.kWidth;
  const int64_t covered = ow * kWidth * chan;  // the floats of a row that lie in some window
  const int64_t row = s.width * chan;
  const int64_t sampleEnd = (b + 1) * s.height * row;
  auto hits = V::set1i(0);
  // dx at `pixel` + c from the gradients and argmax of the window's output at `out` + c.
  const auto pixelVector = [&](int64_t pixel, int64_t out, int64_t c, typename V::M valid, bool full) {
    const auto at = full ? V::loadi(argmax + out + c) : V::loadFirsti(valid, argmax + out + c);
    const auto g = full ? V::load(dy + out + c) : V::loadFirst(valid, dy + out + c);
    const auto here = V::addi(V::set1i(static_cast<int32_t>(pixel + c)), V::iota());
    const auto hit = full ? V::equal(at, here) : V::equalWhere(valid, at, here);
    hits = V::countHits(hits, hit);
    if (full || (!V::kCheapMaskedStores && pixel + c + V::kLanes <= sampleEnd))
      V::store(dx + pixel + c, V::keep(hit, g));
    else
      V::storeFirst(dx + pixel + c, valid, V::keep(hit, g));
  };
  // Up to V::kLanes channels (LeNet's 6 on AVX-512) take one call a pixel, outside the loop over
  // vectors: through that loop, LeNet's first pooling took about 1.3x as long.
  const bool oneVector = chan <= V::kLanes;
  const auto firstLanes = V::firstLanes(chan), allLanes = V::firstLanes(V::kLanes);
  const auto lastLanes = V::firstLanes(chan % V::kLanes);
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ky = 0; ky < kHeight; ky++) {
      const int64_t rowStart = (b * s.height + oy * kHeight + ky) * row;
      int64_t pixel = rowStart, out = (b * oh + oy) * ow * chan;
      for (int64_t ox = 0; ox < ow; ox++, out += chan)
        for (int64_t kx = 0; kx < kWidth; kx++, pixel += chan) {
          if (oneVector) {
            pixelVector(pixel, out, 0, firstLanes, chan == V::kLanes);
          } else {
            int64_t c = 0;
            for (; c + V::kLanes <= chan; c += V::kLanes) pixelVector(pixel, out, c, allLanes, true);
            if (c < chan) pixelVector(pixel, out, c, lastLanes, false);
          }
        }
      std::memset(dx + rowStart + covered, 0, (row - covered) * sizeof(float));
    }
  const int64_t coveredRows = oh * kHeight;
  std::memset(dx + (b * s.height + coveredRows) * row, 0, (s.height - coveredRows) * row * sizeof(float));
  return V::totalCount(hits);
}

// A pixel's channels in the blocks the loops below take with their sums in registers: 4 vectors at
// a time, then one, then the ragged rest (the first lanes of `last`). block(c, vectors, ragged,
// lanes), with vectors and ragged as std::integral_constant, for the loops' template arguments.
template <typename V>
struct ChannelBlocks {
  int64_t chan;
  typename V::M all = V::firstLanes(V::kLanes), last = V::firstLanes(chan % V::kLanes);

  template <typename Block>
  void run(const Block& block) const {
    int64_t c = 0;
    for (; c + 4 * V::kLanes <= chan; c += 4 * V::kLanes)
      block(c, std::integral_constant<int, 4>{}, std::false_type{}, all);
    for (; c + V::kLanes <= chan; c += V::kLanes) block(c, std::integral_constant<int, 1>{}, std::false_type{}, all);
    if (c < chan) block(c, std::integral_constant<int, 1>{}, std::true_type{}, last);
  }
};

// Overlapping windows, or windows with gaps between them (stride ≠ window): the scalar path's loop
// (pool2d_loops.h's maxBackwardOverlappingLoop, which adds each window's gradient at its pixels)
// turned around, as average pooling's backward below: each pixel of dx gathers, from the windows
// that cover it and in the order that loop visits them, the gradients whose argmax entry is that
// pixel (+0 from the others, which changes no sum: none is −0), in registers, and is stored once
// (a pixel no window covers gets +0). So the bits are that loop's. An entry is compared with the
// pixels of its window, never used as an address; returns how many matched, as
// maxBackwardSideBySide2dV. Adding each entry's gradient at its own address, one channel at a
// time, ran 3 to 4 times slower than the scalar loop's form on vectors; this gather, against that
// form (a 3×3 window of stride 1 on 64 channels, one thread), 1.3 times faster on AVX-512 and 1.6 on
// AVX2, without the clearing pass and the read-modify-write of dx at every window position.
template <typename V, int Vectors, bool Ragged = false>
void maxGatherV(const float* dy, const int32_t* argmax, int64_t rowOfWindows, int64_t windowsDown, int64_t chan,
                int64_t windowsAcross, float* d, int64_t pixel, typename V::I& hits, typename V::M valid) {
  static_assert(!Ragged || Vectors == 1);
  typename V::F sum[Vectors];
  typename V::I here[Vectors];
  for (int v = 0; v < Vectors; v++) {
    sum[v] = V::zero();
    here[v] = V::addi(V::set1i(static_cast<int32_t>(pixel + v * V::kLanes)), V::iota());
  }
  for (int64_t wy = 0; wy < windowsDown; wy++)
    for (int64_t wx = 0; wx < windowsAcross; wx++) {
      const int64_t at = wy * rowOfWindows + wx * chan;
      for (int v = 0; v < Vectors; v++) {
        const int64_t i = at + v * V::kLanes;
        typename V::M hit;
        typename V::F g;
        if constexpr (Ragged) {
          hit = V::equalWhere(valid, V::loadFirsti(valid, argmax + i), here[v]);
          g = V::loadFirst(valid, dy + i);
        } else {
          hit = V::equal(V::loadi(argmax + i), here[v]);
          g = V::load(dy + i);
        }
        hits = V::countHits(hits, hit);
        sum[v] = V::add(sum[v], V::keep(hit, g));
      }
    }
  if constexpr (Ragged)
    V::storeFirst(d, valid, sum[0]);
  else
    for (int v = 0; v < Vectors; v++) V::store(d + v * V::kLanes, sum[v]);
}

// The windows along one axis that cover positions 0, 1, 2, ... in turn: [first, last], empty when
// first > last. Moved one position at a time, so no pixel pays for a division.
struct CoveringWindows {
  int64_t k, stride, windows;
  int64_t first = 0, last = -1, nextStart = 0;
  // To position p, the one after the last.
  void advance(int64_t p) {
    if (p == nextStart && last + 1 < windows) last++, nextStart += stride;
    while (first <= last && first * stride + k <= p) first++;
  }
  int64_t count() const { return std::max<int64_t>(last - first + 1, 0); }
};

// Each pixel (y, x) of sample b with the windows that cover it, in row-major order: gather(pixel's
// offset in the batch, offset of its first covering window's output, windows down, windows across).
template <typename Gather>
void forPixelsWithWindows(const Pool2dShape& s, int64_t b, const Gather& gather) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  CoveringWindows rows{s.kHeight, s.strideHeight, oh};
  for (int64_t y = 0; y < s.height; y++) {
    rows.advance(y);
    // (An empty range's first window may lie past the last: no output is read then.)
    const int64_t firstRow = (b * oh + std::min(rows.first, oh - 1)) * ow;
    CoveringWindows cols{s.kWidth, s.strideWidth, ow};
    for (int64_t x = 0; x < s.width; x++) {
      cols.advance(x);
      gather(((b * s.height + y) * s.width + x) * chan, (firstRow + std::min(cols.first, ow - 1)) * chan, rows.count(),
             cols.count());
    }
  }
}

template <typename V>
int64_t maxBackwardOverlapping2dV(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, int64_t b) {
  if (s.chan < V::kLanes) return pool::maxBackwardOverlappingLoop(s, dy, argmax, dx, b);
  const int64_t chan = s.chan, rowOfWindows = s.outWidth() * chan;
  const ChannelBlocks<V> blocks{chan};
  auto hits = V::set1i(0);
  forPixelsWithWindows(s, b, [&](int64_t pixel, int64_t out, int64_t down, int64_t across) {
    blocks.run([&](int64_t c, auto vectors, auto ragged, typename V::M lanes) {
      maxGatherV<V, decltype(vectors)::value, decltype(ragged)::value>(
          dy + out + c, argmax + out + c, rowOfWindows, down, chan, across, dx + pixel + c, pixel + c, hits, lanes);
    });
  });
  return V::totalCount(hits);
}

// Average pooling's forward (pool2d.cc's avgForwardSample, the scalar path's), with each
// window's sums held in registers, Vectors vectors of channels at a time: the plain loop, compiled
// for a path's vectors, read and wrote its output back at every window position and trailed
// PyTorch's on a VGG block's 2×2 pooling. The same adds from +0 in the same order, then the same
// multiply, so the same bits.
// Ragged: one vector of the first lanes of `valid` (the channels past the last whole vector).
template <typename V, int Vectors, bool Ragged = false>
void avgWindowV(const Pool2dShape& s, const float* x, float* y, typename V::F scale, typename V::M valid) {
  static_assert(!Ragged || Vectors == 1);
  typename V::F sum[Vectors];
  for (int v = 0; v < Vectors; v++) sum[v] = V::zero();
  for (int64_t ky = 0; ky < s.kHeight; ky++)
    for (int64_t kx = 0; kx < s.kWidth; kx++) {
      const float* p = x + (ky * s.width + kx) * s.chan;
      if constexpr (Ragged)
        sum[0] = V::add(sum[0], V::loadFirst(valid, p));
      else
        for (int v = 0; v < Vectors; v++) sum[v] = V::add(sum[v], V::load(p + v * V::kLanes));
    }
  if constexpr (Ragged)
    V::storeFirst(y, valid, V::mul(sum[0], scale));
  else
    for (int v = 0; v < Vectors; v++) V::store(y + v * V::kLanes, V::mul(sum[v], scale));
}

template <typename V>
void avgForward2dSampleV(const Pool2dShape& s, const float* x, float* y, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan;
  const auto scale = V::set1(1.0f / static_cast<float>(s.kHeight * s.kWidth));
  const ChannelBlocks<V> blocks{chan};
  for (int64_t oy = 0; oy < oh; oy++)
    for (int64_t ox = 0; ox < ow; ox++) {
      float* yo = y + ((b * oh + oy) * ow + ox) * chan;
      const float* xo = x + ((b * s.height + oy * s.strideHeight) * s.width + ox * s.strideWidth) * chan;
      blocks.run([&](int64_t c, auto vectors, auto ragged, typename V::M lanes) {
        avgWindowV<V, decltype(vectors)::value, decltype(ragged)::value>(s, xo + c, yo + c, scale, lanes);
      });
    }
}

// Average pooling's backward (pool2d_loops.h's avgBackwardSampleLoop, the scalar path's) turned
// around: each pixel of dx gathers the gradients of the windows that cover it, in the order the
// plain loop visits those windows (rows of windows, then windows along a row), in registers, and
// is stored once (a pixel no window covers gets the +0 the plain loop's clearing gives). Each
// gradient is multiplied by the scale and added to a sum from +0 as there, so the bits are the
// plain loop's, which read and wrote dx back at every position of every window.
template <typename V, int Vectors, bool Ragged = false>
void avgGatherV(const float* dy, int64_t rowOfWindows, int64_t windowsDown, int64_t chan, int64_t windowsAcross,
                float* d, typename V::F scale, typename V::M valid) {
  static_assert(!Ragged || Vectors == 1);
  typename V::F sum[Vectors];
  for (int v = 0; v < Vectors; v++) sum[v] = V::zero();
  for (int64_t wy = 0; wy < windowsDown; wy++)
    for (int64_t wx = 0; wx < windowsAcross; wx++) {
      const float* g = dy + wy * rowOfWindows + wx * chan;
      if constexpr (Ragged)
        sum[0] = V::add(sum[0], V::mul(V::loadFirst(valid, g), scale));
      else
        for (int v = 0; v < Vectors; v++) sum[v] = V::add(sum[v], V::mul(V::load(g + v * V::kLanes), scale));
    }
  if constexpr (Ragged)
    V::storeFirst(d, valid, sum[0]);
  else
    for (int v = 0; v < Vectors; v++) V::store(d + v * V::kLanes, sum[v]);
}

template <typename V>
void avgBackward2dSampleV(const Pool2dShape& s, const float* dy, float* dx, int64_t b) {
  if (s.chan < V::kLanes) return pool::avgBackwardSampleLoop(s, dy, dx, b);
  const int64_t chan = s.chan, rowOfWindows = s.outWidth() * chan;
  const auto scale = V::set1(1.0f / static_cast<float>(s.kHeight * s.kWidth));
  const ChannelBlocks<V> blocks{chan};
  forPixelsWithWindows(s, b, [&](int64_t pixel, int64_t out, int64_t down, int64_t across) {
    blocks.run([&](int64_t c, auto vectors, auto ragged, typename V::M lanes) {
      avgGatherV<V, decltype(vectors)::value, decltype(ragged)::value>(dy + out + c, rowOfWindows, down, chan, across,
                                                                       dx + pixel + c, scale, lanes);
    });
  });
}

// The kernel table of a path, each loop its own function (GCC, inlining the general forward loop
// into a dispatcher beside the 2×2 one, made the general one about 20 % slower); the backward
// pass's 2×2 entry is its general loop compiled for that window.
template <typename V>
Pool2dKernels pool2dKernelsV() {
  return {maxForward2dSampleV<V>,         maxBackwardSideBySide2dV<V>,  maxForward2x2SampleV<V>,
          maxBackwardSideBySide2dV<V, 2>, maxBackwardOverlapping2dV<V>, avgForward2dSampleV<V>,
          avgBackward2dSampleV<V>};
}

// ---- Several pixels a vector: 2×2 windows of stride 2 under 8 channels (AVX-512) --------------
//
// One pixel's channels a vector leave most lanes idle under 8 channels (LeNet's first pooling: 6
// of AVX2's 8 through the Narrow form below; an image's own 1 or 3 channels: 1 or 3). These loops
// fill AVX-512's 16 lanes with several pixels, each lane gathered by a two-source permute
// (V::permute2) from two vectors at a known place of the row:
//   forward   a vector holds P = 16 / chan output pixels, lane l channel l % chan of pixel l / chan,
//             whose window's top-left value is float 2 · (l / chan) · chan + l % chan of the first
//             pixel's window row; the vector's windows span 2 · P · chan ≤ 32 floats of each row,
//             two loads, from which the four window positions are permuted;
//   backward  a vector holds 16 consecutive floats of a window row of dx; float f of that row lies
//             in the window of output (f / (2 · chan)) · chan + f % chan of the output row. That
//             pattern repeats every lcm(16, 2 · chan) floats (a period); where a period's outputs
//             fit two vectors, one load of dy and one of argmax serve its every dx vector.
// The forward picks in the order of maxForward2x2SampleV and the backward keeps the same mask as
// maxBackwardSideBySide2dV, so the bits are theirs.
//
// The lanes of those loops for each channel count they take, laid out at compile time (laid out
// per sample, the backward's divisions took longer than its loop).
struct PackedLanes {
  static constexpr int kLanes = 16;
  static constexpr int kChannels = 8;   // the loops take fewer channels
  static constexpr int kMaxPeriod = 4;  // the backward takes periods of at most this many vectors
  // windowFirst[chan][l]: lane l's window's top-left float from the vector's first (forward).
  // Each vector of lanes on a line of its own: an index vector split across two lines made the
  // 6-channel backward take 1.2 times as long.
  alignas(64) int32_t windowFirst[kChannels][kLanes] = {};
  // period[chan]: lcm(16, 2 · chan) / 16 vectors. output[chan][v][l]: lane l of vector v of a
  // period of window-row floats, its window's output from the period's first (backward).
  int32_t period[kChannels] = {};
  alignas(64) int32_t output[kChannels][kMaxPeriod][kLanes] = {};

  constexpr PackedLanes() {
    for (int chan = 1; chan < kChannels; chan++) {
      const int perVector = kLanes / chan;
      for (int l = 0; l < kLanes; l++)
        windowFirst[chan][l] = l < perVector * chan ? 2 * (l / chan) * chan + l % chan : 0;
      period[chan] = std::lcm(kLanes, 2 * chan) / kLanes;
      for (int v = 0; v < std::min(period[chan], kMaxPeriod); v++)
        for (int l = 0; l < kLanes; l++) {
          const int f = v * kLanes + l;
          output[chan][v][l] = f / (2 * chan) * chan + f % chan;
        }
    }
  }
};
inline constexpr PackedLanes kPackedLanes{};

// Whether the packed forward takes s (its backward asks also for a short period).
inline bool packs2x2(const Pool2dShape& s) {
  return s.chan < PackedLanes::kChannels && s.strideHeight == 2 && s.strideWidth == 2;
}

// The vector at p[i], its lanes from p[end] on zero and not read.
template <typename V>
typename V::F loadBefore(const float* p, int64_t i, int64_t end) {
  return i + V::kLanes <= end ? V::load(p + i) : V::loadFirst(V::firstLanes(end - i), p + i);
}
template <typename V>
typename V::I loadBefore(const int32_t* p, int64_t i, int64_t end) {
  return i + V::kLanes <= end ? V::loadi(p + i) : V::loadFirsti(V::firstLanes(end - i), p + i);
}

template <typename V>
void maxForward2x2PackedSampleV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan, row = s.width * chan;
  const int64_t perVector = V::kLanes / chan, vectorOutputs = perVector * chan;
  const int64_t inputEnd = s.batch * s.height * row;
  const auto topLeft = V::loadi(kPackedLanes.windowFirst[chan]);
  const auto topRight = V::addi(topLeft, V::set1i(static_cast<int32_t>(chan)));
  const auto toRight = V::set1i(static_cast<int32_t>(chan)), toBottom = V::set1i(static_cast<int32_t>(row));
  const auto toBottomRight = V::set1i(static_cast<int32_t>(row + chan));
  // The windows of the vector of outputs at `out` whose first window starts at x[first]; `ends`
  // when its reads may pass x's end (their lanes past it are zero, and feed no stored lane).
  const auto windows = [&](int64_t first, int64_t out, typename V::M stored, bool ends) {
    const auto read = [&](int64_t i) { return ends ? loadBefore<V>(x, i, inputEnd) : V::load(x + i); };
    const auto top0 = read(first), top1 = read(first + V::kLanes);
    const auto bottom0 = read(first + row), bottom1 = read(first + row + V::kLanes);
    auto best = V::permute2(top0, topLeft, top1);
    auto offset = V::set1i(0);
    const auto pick = [&](typename V::F v, typename V::I at) {
      const auto take = maxTakes<V>(v, best);
      best = V::select(take, v, best);
      offset = V::selecti(take, at, offset);
    };
    pick(V::permute2(top0, topRight, top1), toRight);
    pick(V::permute2(bottom0, topLeft, bottom1), toBottom);
    pick(V::permute2(bottom0, topRight, bottom1), toBottomRight);
    const auto at = V::addi(offset, V::addi(V::set1i(static_cast<int32_t>(first)), topLeft));
    V::storeFirst(y + out, stored, best);
    V::storeFirsti(argmax + out, stored, at);
  };
  const int64_t whole = ow / perVector;  // vectors of perVector outputs a row
  const auto allStored = V::firstLanes(vectorOutputs), lastStored = V::firstLanes((ow - whole * perVector) * chan);
  for (int64_t oy = 0; oy < oh; oy++) {
    const int64_t top = (b * s.height + 2 * oy) * row, out = (b * oh + oy) * ow * chan;
    // A row's reads reach 2 vectors past its last window's first float, in the row below.
    const bool ends = top + row + 2 * ow * chan + 2 * V::kLanes > inputEnd;
    int64_t i = 0;
    if (!ends)
      for (; i < whole; i++) windows(top + 2 * i * vectorOutputs, out + i * vectorOutputs, allStored, false);
    for (; i < whole; i++) windows(top + 2 * i * vectorOutputs, out + i * vectorOutputs, allStored, true);
    if (whole * perVector < ow) windows(top + 2 * whole * vectorOutputs, out + whole * vectorOutputs, lastStored, true);
  }
}

template <typename V>
int64_t maxBackward2x2PackedSampleV(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                                    int64_t b) {
  const int64_t oh = s.outHeight(), ow = s.outWidth(), chan = s.chan, row = s.width * chan;
  const int64_t covered = ow * 2 * chan;  // the floats of a row that lie in some window
  const int64_t outputEnd = s.batch * oh * ow * chan;
  // Which output each float of a window row reads repeats every period: lcm(16, 2 · chan) floats,
  // half as many outputs, read as two vectors of dy and two of argmax.
  const int64_t period = kPackedLanes.period[chan], periodOutputs = period * V::kLanes / 2;
  auto hits = V::set1i(0);
  // The first `vectors` vectors of a period whose outputs start at `outputs`, the first at dx[at];
  // the last with `lastFloats` floats of the row.
  const auto routePeriod = [&](int64_t at, int64_t outputs, int64_t vectors, int64_t lastFloats, bool ends) {
    const auto g0 = ends ? loadBefore<V>(dy, outputs, outputEnd) : V::load(dy + outputs);
    const auto g1 = ends ? loadBefore<V>(dy, outputs + V::kLanes, outputEnd) : V::load(dy + outputs + V::kLanes);
    const auto w0 = ends ? loadBefore<V>(argmax, outputs, outputEnd) : V::loadi(argmax + outputs);
    const auto w1 =
        ends ? loadBefore<V>(argmax, outputs + V::kLanes, outputEnd) : V::loadi(argmax + outputs + V::kLanes);
    for (int64_t v = 0; v < vectors; v++, at += V::kLanes) {
      const auto index = V::loadi(kPackedLanes.output[chan][v]);
      const auto valid = V::firstLanes(v + 1 < vectors ? V::kLanes : lastFloats);
      const auto g = V::permute2(g0, index, g1);
      const auto winner = V::permute2i(w0, index, w1);
      const auto here = V::addi(V::set1i(static_cast<int32_t>(at)), V::iota());
      const auto hit = V::equalWhere(valid, winner, here);
      hits = V::countHits(hits, hit);
      V::storeFirst(dx + at, valid, V::keep(hit, g));
    }
  };
  const int64_t periodFloats = period * V::kLanes, wholePeriods = covered / periodFloats;
  const int64_t rest = covered - wholePeriods * periodFloats;
  for (int64_t oy = 0; oy < oh; oy++) {
    const int64_t outputRow = (b * oh + oy) * ow * chan;
    // The row's reads reach 2 vectors past its last period's first output.
    const bool ends = outputRow + ow * chan + 2 * V::kLanes > outputEnd;
    for (int64_t ky = 0; ky < 2; ky++) {
      const int64_t rowStart = (b * s.height + 2 * oy + ky) * row;
      int64_t p = 0;
      if (!ends)
        for (; p < wholePeriods; p++)
          routePeriod(rowStart + p * periodFloats, outputRow + p * periodOutputs, period, V::kLanes, false);
      for (; p < wholePeriods; p++)
        routePeriod(rowStart + p * periodFloats, outputRow + p * periodOutputs, period, V::kLanes, true);
      if (rest > 0)
        routePeriod(rowStart + p * periodFloats, outputRow + p * periodOutputs, (rest + V::kLanes - 1) / V::kLanes,
                    rest - (rest - 1) / V::kLanes * V::kLanes, true);
      std::memset(dx + rowStart + covered, 0, (row - covered) * sizeof(float));
    }
  }
  const int64_t coveredRows = oh * 2;
  std::memset(dx + (b * s.height + coveredRows) * row, 0, (s.height - coveredRows) * row * sizeof(float));
  return V::totalCount(hits);
}

// AVX-512's 2×2 loops. Under 8 channels at stride 2, several pixels a vector (above); the
// backward only where a period spans at most 4 vectors (1, 2, 3, 4 and 6 channels). Paired with
// the Narrow loops below (C++ harness on a Zen 5 core, batch 32, 24×24 images, best of 200, time
// new/old): forward 1 channel 0.19, 3 channels 0.42, 5 channels 0.53, 6 channels (LeNet's first
// pooling) 0.85-0.87; backward 0.41, 0.54, and 0.69-0.71 for 6. From 8 channels on they were
// level (12 channels: forward 1.02, backward 1.0), and a backward loading dy again for every
// vector, as the 5- and 7-channel periods would, was slower for 6 channels (1.2).
//
// Otherwise a path whose vectors a few channels leave mostly empty can run the 2×2 loops on Narrow's
// shorter vectors when the channels fit one: AVX-512 takes AVX2's for up to 8 channels. The loops
// make one vector a pixel either way, and the 256-bit one costs less. Paired on an Intel Xeon
// (one thread, time with/without): LeNet's first pooling, (32, 24, 24, 6), forward 0.84-0.87,
// backward 0.71-0.73; 8 channels 0.76 and 0.52; 4 channels 0.86 and 0.75. For 12 and 16
// channels AVX2's two vectors took 1.06-1.45× as long. The bits are the same on every path.
template <typename V, typename Narrow>
void maxForward2x2NarrowV(const Pool2dShape& s, const float* x, float* y, int32_t* argmax, int64_t b) {
  static_assert(V::kLanes == PackedLanes::kLanes);
  if (packs2x2(s)) return maxForward2x2PackedSampleV<V>(s, x, y, argmax, b);
  if (s.chan <= Narrow::kLanes) return maxForward2x2SampleV<Narrow>(s, x, y, argmax, b);
  maxForward2x2SampleV<V>(s, x, y, argmax, b);
}
template <typename V, typename Narrow>
int64_t maxBackward2x2NarrowV(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx, int64_t b) {
  if (packs2x2(s) && kPackedLanes.period[s.chan] <= PackedLanes::kMaxPeriod)
    return maxBackward2x2PackedSampleV<V>(s, dy, argmax, dx, b);
  if (s.chan <= Narrow::kLanes) return maxBackwardSideBySide2dV<Narrow, 2>(s, dy, argmax, dx, b);
  return maxBackwardSideBySide2dV<V, 2>(s, dy, argmax, dx, b);
}
// Overlapping windows over up to Narrow::kLanes channels: the narrower vector, whose lanes those
// channels fill or nearly.
template <typename V, typename Narrow>
int64_t maxBackwardOverlappingNarrowV(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx,
                                      int64_t b) {
  if (s.chan <= Narrow::kLanes) return maxBackwardOverlapping2dV<Narrow>(s, dy, argmax, dx, b);
  return maxBackwardOverlapping2dV<V>(s, dy, argmax, dx, b);
}
template <typename V, typename Narrow>
Pool2dKernels pool2dKernelsNarrowV() {
  return {maxForward2dSampleV<V>,
          maxBackwardSideBySide2dV<V>,
          maxForward2x2NarrowV<V, Narrow>,
          maxBackward2x2NarrowV<V, Narrow>,
          maxBackwardOverlappingNarrowV<V, Narrow>,
          avgForward2dSampleV<V>,
          avgBackward2dSampleV<V>};
}

}  // namespace
}  // namespace neurone
