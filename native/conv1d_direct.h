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
// Written once, instantiated by conv1d_avx2.cc, conv1d_avx512.cc and conv1d_neon.cc; internal
// linkage, as simd.h explains.
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

// Sample b's pooled outputs for Blocks blocks of V::kLanes channels from cb, side by side: the
// blocks' taps stay in registers, each input value is broadcast once for all of them, and their
// chains of multiply-adds overlap. With Ragged, the last block is ragged. Depth = kSize * chanIn is a
// template argument so that the taps and the sums are registers. The weights come lane-blocked
// by kConvLanes (see ConvPoolArgs::w), a multiple of V::kLanes: the block at channel c is at
// offset c % kConvLanes of its group's rows.
template <typename V, int64_t Depth, int Blocks, bool Ragged>
void directForwardBlocksV(const ConvPoolArgs& a, int64_t b, int64_t cb) {
  static_assert(kConvLanes % V::kLanes == 0, "a register's channels lie in one weight group");
  const Conv1dShape& s = *a.s;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const int64_t pooled = (convLength - a.poolSize) / a.poolStride + 1;
  const int64_t rowStep = s.stride * s.chanIn;
  const float* xs = a.x + b * s.length * s.chanIn;
  const bool withBias = a.bias != nullptr;
  // The loops over the blocks and taps are unrolled in full, so that the arrays are registers.
  // Whole vectors are stored whole: a masked store costs an AVX2 core on AMD a dozen cycles.
  const auto valid = V::firstLanes(co - (cb + (Blocks - 1) * V::kLanes));
  typename V::F taps[Blocks][Depth], bias[Blocks];
#pragma GCC unroll 16
  for (int u = 0; u < Blocks; u++) {
    const int64_t c = cb + u * V::kLanes;
    const float* wb = a.w + (c / kConvLanes) * Depth * kConvLanes + c % kConvLanes;
#pragma GCC unroll 16
    for (int64_t i = 0; i < Depth; i++) taps[u][i] = V::load(wb + i * kConvLanes);
    const auto lanes = u == Blocks - 1 ? valid : V::firstLanes(V::kLanes);
    bias[u] = withBias ? V::loadFirst(lanes, a.bias + c) : V::zero();
  }
  // Convolution row p of the blocks. The GEMM starts C at the bias (beta = 1) or stores the sum
  // alone; the zero padding of the weights leaves the lanes past chanOut at 0.
  const auto convolve = [&](int64_t p, typename V::F* v) {
    const float* xr = xs + p * rowStep;
#pragma GCC unroll 16
    for (int u = 0; u < Blocks; u++) v[u] = V::zero();
#pragma GCC unroll 16
    for (int64_t i = 0; i < Depth; i++) {
      const auto x = V::set1(xr[i]);
#pragma GCC unroll 16
      for (int u = 0; u < Blocks; u++) v[u] = V::fma(x, taps[u][i], v[u]);
    }
    if (withBias)
#pragma GCC unroll 16
      for (int u = 0; u < Blocks; u++) v[u] = V::add(v[u], bias[u]);
  };
  const auto index = [&](int64_t p) {
    return V::addi(V::set1i(static_cast<int32_t>((b * convLength + p) * co + cb)), V::iota());
  };
  const auto blockStep = V::set1i(V::kLanes);
  // Windows of 2 to 4 whole strides overlap their neighbours by whole blocks of stride rows: each
  // block is convolved and pooled once and merged into the windows that share it by the
  // WindowRing of pool2d_simd.h (the same bits as the row-by-row walk; see there). Row by row, the deep CNN's first
  // layer (window 8, stride 2) convolved every row four times. Block j is taken at step j, one call site for the
  // convolution: with several, GCC stopped inlining it, and its taps left the registers (the unpooled forward took
  // twice as long).
  const int64_t windowBlocks = a.poolSize % a.poolStride == 0 ? a.poolSize / a.poolStride : 0;
  if (windowBlocks >= 2 && windowBlocks <= 4) {
    const auto store = [&](int64_t t, const Best<V>* best) {
      const int64_t o0 = (b * pooled + t) * co + cb;
#pragma GCC unroll 16
      for (int u = 0; u < Blocks; u++) {
        const int64_t o = o0 + u * V::kLanes;
        if (!Ragged || u < Blocks - 1) {
          V::store(a.y + o, best[u].value);
          if (a.argmax) V::storei(a.argmax + o, best[u].index);
        } else {
          V::storeFirst(a.y + o, valid, best[u].value);
          if (a.argmax) V::storeFirsti(a.argmax + o, valid, best[u].index);
        }
      }
    };
    const int64_t step = a.poolStride;
    WindowRing<V, Blocks> ring{windowBlocks};
    Best<V> next[Blocks] = {}, out[Blocks] = {};
    for (int64_t j = 0; j < pooled + windowBlocks - 1; j++) {
      // Block j: its rows pooled in order.
      for (int64_t q = 0; q < step; q++) {
        typename V::F v[Blocks];
        const int64_t p = j * step + q;
        convolve(p, v);
        auto here = index(p);
#pragma GCC unroll 16
        for (int u = 0; u < Blocks; u++, here = V::addi(here, blockStep))
          next[u] = q == 0 ? Best<V>{v[u], here} : mergeRuns<V>(next[u], {v[u], here});
      }
      if (ring.push(j, next, out)) store(j - windowBlocks + 1, out);
    }
    return;
  }
  for (int64_t t = 0; t < pooled; t++) {
    const int64_t first = t * a.poolStride;
    typename V::F best[Blocks], v[Blocks];
    typename V::I arg[Blocks];
    convolve(first, best);
    arg[0] = index(first);
#pragma GCC unroll 16
    for (int u = 1; u < Blocks; u++) arg[u] = V::addi(arg[u - 1], blockStep);
    for (int64_t q = 1; q < a.poolSize; q++) {
      convolve(first + q, v);
      auto here = index(first + q);
#pragma GCC unroll 16
      for (int u = 0; u < Blocks; u++, here = V::addi(here, blockStep)) {
        const auto take = maxTakes<V>(v[u], best[u]);
        best[u] = V::select(take, v[u], best[u]);
        arg[u] = V::selecti(take, here, arg[u]);
      }
    }
    const int64_t out = (b * pooled + t) * co + cb;
#pragma GCC unroll 16
    for (int u = 0; u < Blocks; u++) {
      const int64_t o = out + u * V::kLanes;
      if (!Ragged || u < Blocks - 1) {
        V::store(a.y + o, best[u]);
        if (a.argmax) V::storei(a.argmax + o, arg[u]);
      } else {
        V::storeFirst(a.y + o, valid, best[u]);
        if (a.argmax) V::storeFirsti(a.argmax + o, valid, arg[u]);
      }
    }
  }
}

// Sample b's pooled outputs: whole blocks of channels two at a time while both blocks' taps fit
// the registers with their sums (up to kBlockSums), then one at a time.
template <typename V, int64_t Depth>
void directForwardSampleV(const ConvPoolArgs& a, int64_t b) {
  const int64_t co = a.s->chanOut;
  int64_t cb = 0;
  if constexpr (2 * (Depth + 3) <= V::kBlockSums)
    for (; cb + 2 * V::kLanes <= co; cb += 2 * V::kLanes) directForwardBlocksV<V, Depth, 2, false>(a, b, cb);
  for (; cb + V::kLanes <= co; cb += V::kLanes) directForwardBlocksV<V, Depth, 1, false>(a, b, cb);
  if (cb < co) directForwardBlocksV<V, Depth, 1, true>(a, b, cb);
}

// dw (depth x chanOut) = (overwrite ? 0 : dw) + x_bᵀ·dconv_b, dconv_b gathered position by
// position as maxBackwardSampleLoop writes it,
//   dconv[p, c] = 0 + Σ_{windows t covering p, in order} (argmax[t, c] == index(p, c) ? dy[t, c] : 0),
// and summed as sgemm sums that product: by depth blocks of a.depthBlock positions, each from
// zero, the first stored (when overwrite) or added, the others added (every position, covered
// or not, is multiplied in: 0 · x is not 0 when x is not finite). Here for Blocks blocks of
// V::kLanes channels from cb side by side, as the forward takes them; with Ragged, the last is
// ragged. Returns the matches, counted per lane.
//
// Windows that do not overlap (stride >= size, the usual pooling) cover a position at most once,
// so the positions are walked window by window: the window's argmax and dy are loaded once, and
// each of its positions takes one compare. (Walked position by position, finding each one's
// windows, the bookkeeping cost more than the gather: about 9 cycles a position and vector of
// channels on AVX2 for the seed CNN's first layer.) The window index counts up with the walk:
// a division per window took half again as long as the old walk.
template <typename V, int64_t Depth, int Blocks, bool Ragged>
typename V::I directWeightGradientBlocksV(const ConvPoolArgs& a, int64_t b, int64_t cb, float* dw, bool overwrite) {
  auto hits = V::set1i(0);
  const Conv1dShape& s = *a.s;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const Pool1dShape pooling{s.batch, convLength, co, a.poolSize, a.poolStride};
  const int64_t pooled = pooling.outLength();
  const int64_t rowStep = s.stride * s.chanIn;
  const bool disjoint = a.poolStride >= a.poolSize;
  const float* xs = a.x + b * s.length * s.chanIn;
  // Whole vectors are loaded whole (see the forward), an unhit lane of dy masked to +0 after the
  // load, which adds what the masked load's zero would.
  const auto valid = V::firstLanes(co - (cb + (Blocks - 1) * V::kLanes));
  const auto ragged = [](int u) { return Ragged && u == Blocks - 1; };
  const auto loadArgmax = [&](int u, int64_t o) {
    return ragged(u) ? V::loadFirsti(valid, a.argmaxIn + o) : V::loadi(a.argmaxIn + o);
  };
  // A lane that is not hit adds +0, never its dy, so a NaN there stays out.
  const auto routed = [&](int u, typename V::I at, typename V::I here, int64_t o) {
    if (!ragged(u)) {
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
    // The loops over acc are unrolled in full, so that its sums are registers (GCC 12 left the
    // array on the stack otherwise: AVX2 took 1.7 times as long).
    typename V::F acc[Blocks][Depth];
#pragma GCC unroll 16
    for (int u = 0; u < Blocks; u++)
#pragma GCC unroll 16
      for (int64_t i = 0; i < Depth; i++) acc[u][i] = V::zero();
    const auto multiplyIn = [&](int64_t p, const typename V::F* d) {
      const float* xr = xs + p * rowStep;
#pragma GCC unroll 16
      for (int64_t i = 0; i < Depth; i++) {
        const auto x = V::set1(xr[i]);
#pragma GCC unroll 16
        for (int u = 0; u < Blocks; u++) acc[u][i] = V::fma(x, d[u], acc[u][i]);
      }
    };
    typename V::I here[Blocks];
    here[0] = V::addi(V::set1i(static_cast<int32_t>((b * convLength + p0) * co + cb)), V::iota());
    for (int u = 1; u < Blocks; u++) here[u] = V::addi(here[u - 1], V::set1i(V::kLanes));
    const auto next = [&]() {
      for (int u = 0; u < Blocks; u++) here[u] = V::addi(here[u], step);
    };
    typename V::F d[Blocks];
    if (disjoint) {
      typename V::F zeros[Blocks];
      for (int u = 0; u < Blocks; u++) zeros[u] = V::zero();
      for (int64_t p = p0, t = p0 / a.poolStride; p < p1; t++) {
        const int64_t periodEnd = std::min(p1, (t + 1) * a.poolStride);
        const int64_t coveredEnd = t < pooled ? std::min(periodEnd, t * a.poolStride + a.poolSize) : p;
        if (p < coveredEnd) {
          const int64_t o = (b * pooled + t) * co + cb;
          typename V::I at[Blocks];
          for (int u = 0; u < Blocks; u++) at[u] = loadArgmax(u, o + u * V::kLanes);
          for (; p < coveredEnd; p++, next()) {
            for (int u = 0; u < Blocks; u++) d[u] = V::add(V::zero(), routed(u, at[u], here[u], o + u * V::kLanes));
            multiplyIn(p, d);
          }
        }
        for (; p < periodEnd; p++, next()) multiplyIn(p, zeros);
      }
    } else {
      for (int64_t p = p0; p < p1; p++, next()) {
        pool::coveringWindows(pooling, p, &tLo, &tNext, &tHi);
        for (int u = 0; u < Blocks; u++) d[u] = V::zero();
        for (int64_t t = tLo; t <= tHi; t++) {
          const int64_t o = (b * pooled + t) * co + cb;
          for (int u = 0; u < Blocks; u++)
            d[u] = V::add(d[u], routed(u, loadArgmax(u, o + u * V::kLanes), here[u], o + u * V::kLanes));
        }
        multiplyIn(p, d);
      }
    }
#pragma GCC unroll 16
    for (int u = 0; u < Blocks; u++)
#pragma GCC unroll 16
      for (int64_t i = 0; i < Depth; i++) {
        float* row = dw + i * co + cb + u * V::kLanes;
        if (!ragged(u)) {
          V::store(row, overwrite && p0 == 0 ? acc[u][i] : V::add(acc[u][i], V::load(row)));
        } else {
          V::storeFirst(row, valid, overwrite && p0 == 0 ? acc[u][i] : V::add(acc[u][i], V::loadFirst(valid, row)));
        }
      }
  }
  return hits;
}

// Sample b's weight gradient, the blocks of channels taken as the forward takes them. Returns
// the matches.
template <typename V, int64_t Depth>
int64_t directWeightGradientSampleV(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite) {
  const int64_t co = a.s->chanOut;
  auto hits = V::set1i(0);
  int64_t cb = 0;
  if constexpr (2 * (Depth + 3) <= V::kBlockSums)
    for (; cb + 2 * V::kLanes <= co; cb += 2 * V::kLanes)
      hits = V::addi(hits, directWeightGradientBlocksV<V, Depth, 2, false>(a, b, cb, dw, overwrite));
  for (; cb + V::kLanes <= co; cb += V::kLanes)
    hits = V::addi(hits, directWeightGradientBlocksV<V, Depth, 1, false>(a, b, cb, dw, overwrite));
  if (cb < co) hits = V::addi(hits, directWeightGradientBlocksV<V, Depth, 1, true>(a, b, cb, dw, overwrite));
  return V::totalCount(hits);
}

// The ConvPoolKernels of traits V: one instantiation per depth 1..kDirectMaxDepth, picked at
// run time. Unpooled convolutions take the direct forward while its taps leave four registers
// beside the sums (kBlockSums − 4: depth 8 on AVX2 and NEON, all 16 on AVX-512). Paired against
// the per-sample GEMMs on AVX2 (Zen 5, batch 32, length 256): depth 3 0.55-0.59, 5 0.78, 7 0.84,
// 10 0.98, 12 1.07, 15 1.11, 16 1.30-1.36; on AVX-512 0.37-0.91 up to 16.
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
  static constexpr ConvPoolKernels kKernels{forward, weightGradient, V::kBlockSums - 4};
};

}  // namespace
}  // namespace neurone
