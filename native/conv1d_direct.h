// Direct convolution + max pooling for small windows (kSize·chanIn <= kDirectMaxDepth) over the
// vector traits of simd.h, V::kLanes channels per register: the joint passes of conv1d.cc
// without per-sample GEMMs. With a window of a few taps (the seed CNN's 3 x 1) a GEMM spends
// more on packing and call overhead than on its k = 3 multiply-adds; here each convolution row
// is computed in a register and pooled at once, and the backward gathers each position's
// gradient and multiplies it in without writing the convolution's gradient anywhere.
//
// Bitwise what the GEMM gives on the same kernel path (see kSgemmPlainMnk and sgemmDepthBlock in
// gemm.h): every sum starts from zero and runs in depth order with the fused multiply-add of
// the path's tile, depth blocks are added as its epilogue adds them (with alpha = 1 the AVX2
// and AVX-512 epilogues both round block + C once), and the pooling is maxForwardSampleLoop /
// maxBackwardSampleLoop of pool1d_loops.h lane for lane. So a joint pass gives what
// conv1dForward then maxPool1dForward, or maxPool1dBackward then conv1dBackwardWeight, give.
// Written once, instantiated by conv1d_avx2.cc and conv1d_avx512.cc; internal linkage, as
// simd.h explains.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "conv1d.h"
#include "pool1d_simd.h"
#include "simd.h"

namespace neurone {
namespace {

// Sample b's pooled outputs: for each block of V::kLanes channels, the block's taps stay in
// registers. Depth = kSize * chanIn is a template argument so that the taps and the sums are
// registers. The weights come lane-blocked by kConvLanes (see ConvPoolArgs::w), a multiple of
// V::kLanes: the block at channel cb is at offset cb % kConvLanes of its group's rows.
template <typename V, int64_t Depth>
void directForwardSampleV(const ConvPoolArgs& a, int64_t b) {
  static_assert(kConvLanes % V::kLanes == 0, "a register's channels lie in one weight group");
  const Conv1dShape& s = *a.s;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const int64_t pooled = (convLength - a.poolSize) / a.poolStride + 1;
  const int64_t rowStep = s.stride * s.chanIn;
  const float* xs = a.x + b * s.length * s.chanIn;
  const bool withBias = a.bias != nullptr;
  for (int64_t cb = 0; cb < co; cb += V::kLanes) {
    const auto valid = V::firstLanes(co - cb);
    typename V::F taps[Depth];
    const float* wb = a.w + (cb / kConvLanes) * Depth * kConvLanes + cb % kConvLanes;
    for (int64_t i = 0; i < Depth; i++) taps[i] = V::load(wb + i * kConvLanes);
    const auto bias = withBias ? V::loadFirst(valid, a.bias + cb) : V::zero();
    // Convolution row p of this block. The GEMM starts C at the bias (beta = 1) or stores the
    // sum alone; the zero padding of the weights leaves the lanes past chanOut at 0.
    auto convolve = [&](int64_t p) {
      const float* xr = xs + p * rowStep;
      auto v = V::zero();
      for (int64_t i = 0; i < Depth; i++) v = V::fma(V::set1(xr[i]), taps[i], v);
      return withBias ? V::add(v, bias) : v;
    };
    for (int64_t t = 0; t < pooled; t++) {
      const int64_t first = t * a.poolStride;
      auto best = convolve(first);
      auto arg = V::addi(V::set1i(static_cast<int32_t>((b * convLength + first) * co + cb)), V::iota());
      for (int64_t q = 1; q < a.poolSize; q++) {
        const auto v = convolve(first + q);
        const auto take = maxTakes<V>(v, best);
        best = V::select(take, v, best);
        const auto here = V::addi(V::set1i(static_cast<int32_t>((b * convLength + first + q) * co + cb)), V::iota());
        arg = V::selecti(take, here, arg);
      }
      const int64_t out = (b * pooled + t) * co + cb;
      // Whole vectors are stored whole: a masked store costs an AVX2 core on AMD a dozen cycles.
      if (co - cb >= V::kLanes) {
        V::store(a.y + out, best);
        if (a.argmax) V::storei(a.argmax + out, arg);
      } else {
        V::storeFirst(a.y + out, valid, best);
        if (a.argmax) V::storeFirsti(a.argmax + out, valid, arg);
      }
    }
  }
}

// dw (depth x chanOut) = (overwrite ? 0 : dw) + x_bᵀ·dconv_b, dconv_b gathered position by
// position as maxBackwardSampleLoop writes it,
//   dconv[p, c] = 0 + Σ_{windows t covering p, in order} (argmax[t, c] == index(p, c) ? dy[t, c] : 0),
// and summed as sgemm sums that product: by depth blocks of a.depthBlock positions, each from
// zero, the first stored (when overwrite) or added, the others added (every position, covered
// or not, is multiplied in: 0 · x is not 0 when x is not finite). Returns the matches.
//
// Windows that do not overlap (stride >= size, the usual pooling) cover a position at most once,
// so the positions are walked window by window: the window's argmax and dy are loaded once, and
// each of its positions takes one compare. (Walked position by position, finding each one's
// windows, the bookkeeping cost more than the gather: about 9 cycles a position and vector of
// channels on AVX2 for the seed CNN's first layer.) The window index counts up with the walk:
// a division per window took half again as long as the old walk.
template <typename V, int64_t Depth>
int64_t directWeightGradientSampleV(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite) {
  const Conv1dShape& s = *a.s;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const Pool1dShape pooling{s.batch, convLength, co, a.poolSize, a.poolStride};
  const int64_t pooled = pooling.outLength();
  const int64_t rowStep = s.stride * s.chanIn;
  const bool disjoint = a.poolStride >= a.poolSize;
  const float* xs = a.x + b * s.length * s.chanIn;
  auto hits = V::set1i(0);
  for (int64_t cb = 0; cb < co; cb += V::kLanes) {
    const auto valid = V::firstLanes(co - cb);
    // Whole vectors are loaded whole (see the forward), an unhit lane of dy masked to +0 after
    // the load, which adds what the masked load's zero would.
    const bool whole = co - cb >= V::kLanes;
    const auto loadArgmax = [&](int64_t o) {
      return whole ? V::loadi(a.argmaxIn + o) : V::loadFirsti(valid, a.argmaxIn + o);
    };
    // A lane that is not hit adds +0, never its dy, so a NaN there stays out.
    const auto routed = [&](typename V::I at, typename V::I here, int64_t o) {
      if (whole) {
        const auto hit = V::equal(at, here);
        hits = V::countHits(hits, hit);
        return V::keep(hit, V::load(a.dy + o));
      }
      const auto hit = V::equalWhere(valid, at, here);
      hits = V::countHits(hits, hit);
      return V::loadFirst(hit, a.dy + o);
    };
    const auto step = V::set1i(static_cast<int32_t>(co));
    int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
    for (int64_t p0 = 0; p0 < convLength; p0 += a.depthBlock) {
      const int64_t p1 = std::min(convLength, p0 + a.depthBlock);
      typename V::F acc[Depth];
      for (int64_t i = 0; i < Depth; i++) acc[i] = V::zero();
      const auto multiplyIn = [&](int64_t p, typename V::F d) {
        const float* xr = xs + p * rowStep;
        for (int64_t i = 0; i < Depth; i++) acc[i] = V::fma(V::set1(xr[i]), d, acc[i]);
      };
      auto here = V::addi(V::set1i(static_cast<int32_t>((b * convLength + p0) * co + cb)), V::iota());
      if (disjoint) {
        for (int64_t p = p0, t = p0 / a.poolStride; p < p1; t++) {
          const int64_t periodEnd = std::min(p1, (t + 1) * a.poolStride);
          const int64_t coveredEnd = t < pooled ? std::min(periodEnd, t * a.poolStride + a.poolSize) : p;
          if (p < coveredEnd) {
            const int64_t o = (b * pooled + t) * co + cb;
            const auto at = loadArgmax(o);
            for (; p < coveredEnd; p++, here = V::addi(here, step))
              multiplyIn(p, V::add(V::zero(), routed(at, here, o)));
          }
          for (; p < periodEnd; p++, here = V::addi(here, step)) multiplyIn(p, V::zero());
        }
      } else {
        for (int64_t p = p0; p < p1; p++, here = V::addi(here, step)) {
          pool::coveringWindows(pooling, p, &tLo, &tNext, &tHi);
          auto d = V::zero();
          for (int64_t t = tLo; t <= tHi; t++) {
            const int64_t o = (b * pooled + t) * co + cb;
            d = V::add(d, routed(loadArgmax(o), here, o));
          }
          multiplyIn(p, d);
        }
      }
      for (int64_t i = 0; i < Depth; i++) {
        float* row = dw + i * co + cb;
        if (whole) {
          V::store(row, overwrite && p0 == 0 ? acc[i] : V::add(acc[i], V::load(row)));
        } else {
          V::storeFirst(row, valid, overwrite && p0 == 0 ? acc[i] : V::add(acc[i], V::loadFirst(valid, row)));
        }
      }
    }
  }
  return V::totalCount(hits);
}

// The ConvPoolKernels of traits V: one instantiation per depth 1..kDirectMaxDepth, picked at
// run time.
template <typename V>
struct DirectConvPool {
  template <size_t... D>
  static constexpr std::array<void (*)(const ConvPoolArgs&, int64_t), sizeof...(D)> forwardTable(
      std::index_sequence<D...>) {
    return {&directForwardSampleV<V, static_cast<int64_t>(D) + 1>...};
  }
  template <size_t... D>
  static constexpr std::array<int64_t (*)(const ConvPoolArgs&, int64_t, float*, bool), sizeof...(D)> weightTable(
      std::index_sequence<D...>) {
    return {&directWeightGradientSampleV<V, static_cast<int64_t>(D) + 1>...};
  }
  static void forward(const ConvPoolArgs& a, int64_t b) {
    static constexpr auto kForward = forwardTable(std::make_index_sequence<kDirectMaxDepth>());
    kForward[a.s->kSize * a.s->chanIn - 1](a, b);
  }
  static int64_t weightGradient(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite) {
    static constexpr auto kWeight = weightTable(std::make_index_sequence<kDirectMaxDepth>());
    return kWeight[a.s->kSize * a.s->chanIn - 1](a, b, dw, overwrite);
  }
  static constexpr ConvPoolKernels kKernels{forward, weightGradient};
};

}  // namespace
}  // namespace neurone
