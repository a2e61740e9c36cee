// exp, tanh, sigmoid and log over the vector traits of simd.h, and the elementwise loops built
// on them (whole vectors, then one masked vector for the ragged end): the activations, softmax's
// exponentials, the binary cross-entropy's sum; the rectifiers (ReLU, LeakyReLU); the
// non-finite scan; the block sums of sumRows.
// Written once, instantiated by elementwise_avx2.cc, elementwise_avx512.cc and
// elementwise_neon.cc; internal linkage, as simd.h explains.
#pragma once

#include <cstdint>

#include "elementwise_loops.h"
#include "simd.h"

namespace neurone {
namespace {

// exp(x) = 2^n · exp(r), n = round(x / ln 2), |r| <= ln2 / 2; exp(r) by a degree-6 Taylor
// polynomial (truncation error < 2e-8 relative on that range), 2^n applied by V::scale2n. x is
// clamped to [-104, 88.7] first: below, the result is 0 (or the smallest subnormals) whatever
// n is; above, it overflows to infinity all the same.
template <typename V>
typename V::F expV(typename V::F x) {
  // MINPS/MAXPS return their second operand when either is NaN: x goes second so NaN survives.
  x = V::max(V::set1(-104.0f), V::min(V::set1(88.7f), x));
  const auto n = V::roundNearest(V::mul(x, V::set1(1.44269504f)));
  // ln 2 split in two so n·ln2 is exact to float precision.
  auto r = V::fnma(n, V::set1(0.693145752f), x);
  r = V::fnma(n, V::set1(1.42860677e-6f), r);
  auto p = V::set1(1.0f / 720);
  p = V::fma(p, r, V::set1(1.0f / 120));
  p = V::fma(p, r, V::set1(1.0f / 24));
  p = V::fma(p, r, V::set1(1.0f / 6));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.0f));
  p = V::fma(p, r, V::set1(1.0f));
  return V::scale2n(p, n);
}

// tanh(|x|) = (1 - e) / (1 + e) with e = exp(-2|x|), sign restored after. Near 0 that
// difference cancels, so below 0.3 an odd Taylor polynomial takes over (x^11 term < 2e-8 · x
// there). NaN passes through both branches as NaN.
template <typename V>
typename V::F tanhV(typename V::F x) {
  const auto a = V::abs(x);
  const auto e = expV<V>(V::mul(a, V::set1(-2.0f)));
  const auto big = V::div(V::sub(V::set1(1.0f), e), V::add(V::set1(1.0f), e));
  const auto a2 = V::mul(a, a);
  auto p = V::set1(-1382.0f / 155925);
  p = V::fma(p, a2, V::set1(62.0f / 2835));
  p = V::fma(p, a2, V::set1(-17.0f / 315));
  p = V::fma(p, a2, V::set1(2.0f / 15));
  p = V::fma(p, a2, V::set1(-1.0f / 3));
  const auto small = V::fma(V::mul(p, a2), a, a);
  return V::withSignOf(V::select(V::lt(a, V::set1(0.3f)), small, big), x);
}

// sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) otherwise, e = exp(-|x|): never overflows.
template <typename V>
typename V::F sigmoidV(typename V::F x) {
  const auto e = expV<V>(V::sub(V::zero(), V::abs(x)));
  const auto r = V::div(V::set1(1.0f), V::add(V::set1(1.0f), e));
  return V::select(V::lt(x, V::zero()), V::mul(r, e), r);
}

// log(x) for x >= 0, with traits that split x = m · 2^e, m in [1, 2) (V::splitExponent):
// m folded into [√½, √2) so that s = (m − 1)/(m + 1) stays within ±0.172, then
// log m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9) (next term < 2e-9), plus e·ln 2.
// x = 0 gives -Inf (the exponent of 0 is -Inf); NaN stays NaN.
template <typename V>
typename V::F logV(typename V::F x) {
  typename V::F m, e;
  V::splitExponent(x, m, e);
  const auto high = V::gt(m, V::set1(1.41421356f));
  m = V::select(high, V::mul(m, V::set1(0.5f)), m);
  e = V::select(high, V::add(e, V::set1(1.0f)), e);
  const auto s = V::div(V::sub(m, V::set1(1.0f)), V::add(m, V::set1(1.0f)));
  const auto s2 = V::mul(s, s);
  auto p = V::set1(2.0f / 9);
  p = V::fma(p, s2, V::set1(2.0f / 7));
  p = V::fma(p, s2, V::set1(2.0f / 5));
  p = V::fma(p, s2, V::set1(2.0f / 3));
  p = V::fma(p, s2, V::set1(2.0f));
  return V::fma(e, V::set1(0.693147181f), V::mul(p, s));
}

// y[i] = Fn(x[i]); x and y may be the same array.
template <typename V, typename V::F (*Fn)(typename V::F)>
void applyV(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(y + i, Fn(V::load(x + i)));
  if (i < n) {
    const auto m = V::firstLanes(n - i);
    V::storeFirst(y + i, m, Fn(V::loadFirst(m, x + i)));
  }
}

// ReLU (Leaky false) or LeakyReLU forward and backward, elementwise::Kernels::rectify and
// rectifyBackward: the scalar table's loops (elementwise.cc) as selects, so every path gives its
// bits. NaN takes the x branch forward, and is dx backward; x = −0 gives +0 (ReLU) and counts
// as x ≤ 0. Each vector is loaded before its result is stored: y or dx may be x or dy.
template <typename V, bool Leaky>
typename V::F rectifyVector(typename V::F x, typename V::F slope) {
  const auto pass = V::notLessEqual(x, V::zero());  // x > 0, or NaN
  return Leaky ? V::select(pass, x, V::mul(slope, x)) : V::keep(pass, x);
}

template <typename V, bool Leaky>
typename V::F rectifyGradient(typename V::F x, typename V::F dy, typename V::F slope) {
  const auto negative = Leaky ? V::mul(slope, dy) : V::zero();
  return V::select(V::gt(x, V::zero()), dy, V::select(V::isNan(x), x, negative));
}

template <typename V, bool Leaky>
void rectifyLoopV(const float* x, float* y, int64_t n, float alpha) {
  const auto slope = V::set1(alpha);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(y + i, rectifyVector<V, Leaky>(V::load(x + i), slope));
  if (i < n) {
    const auto m = V::firstLanes(n - i);
    V::storeFirst(y + i, m, rectifyVector<V, Leaky>(V::loadFirst(m, x + i), slope));
  }
}

template <typename V, bool Leaky>
void rectifyBackwardLoopV(const float* x, const float* dy, float* dx, int64_t n, float alpha) {
  const auto slope = V::set1(alpha);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes)
    V::store(dx + i, rectifyGradient<V, Leaky>(V::load(x + i), V::load(dy + i), slope));
  if (i < n) {
    const auto m = V::firstLanes(n - i);
    V::storeFirst(dx + i, m, rectifyGradient<V, Leaky>(V::loadFirst(m, x + i), V::loadFirst(m, dy + i), slope));
  }
}

template <typename V>
void rectifyV(const float* x, float* y, int64_t n, float alpha, bool leaky) {
  leaky ? rectifyLoopV<V, true>(x, y, n, alpha) : rectifyLoopV<V, false>(x, y, n, alpha);
}

template <typename V>
void rectifyBackwardV(const float* x, const float* dy, float* dx, int64_t n, float alpha, bool leaky) {
  leaky ? rectifyBackwardLoopV<V, true>(x, dy, dx, n, alpha) : rectifyBackwardLoopV<V, false>(x, dy, dx, n, alpha);
}

// The lane sums of expShiftSumV and bceSumV run in float over at most this many values, then go
// into a double: a row's rounding error then stays that of one block however long the row. With
// the lane sums alone it grew with the row over the lanes: NEON's four lanes were 2.3e-5 off on a
// softmax row of 100,003 (AVX2's eight and AVX-512's sixteen less). A row of at most a block gives
// the bits it gave before the blocks.
constexpr int64_t kLaneSumBlock = 1024;

// The sum of n values' terms, one partial sum a lane (each lane's terms in order), added across
// lanes at the end of each block of kLaneSumBlock values into a double: whole(i) gives the terms
// of the whole vector at i, ragged(i, m) those of the ragged end's first lanes m (the masked
// vector only once: a masked store on every vector costs a dozen cycles on AMD). A single running
// sum made every term wait on the last addition, which took as long as the terms on AVX-512.
template <typename V, typename Whole, typename Ragged>
float sumInBlocksV(int64_t n, Whole whole, Ragged ragged) {
  double sum = 0.0;
  int64_t i = 0;
  for (int64_t blockEnd = 0; blockEnd < n;) {
    blockEnd = n - blockEnd > kLaneSumBlock ? blockEnd + kLaneSumBlock : n;
    auto acc = V::zero();
    for (; i + V::kLanes <= blockEnd; i += V::kLanes) acc = V::add(acc, whole(i));
    if (i < blockEnd) {  // only in the last block: kLaneSumBlock is a multiple of every path's lanes
      const auto m = V::firstLanes(blockEnd - i);
      acc = V::addWhere(m, acc, ragged(i, m));
      i = blockEnd;
    }
    sum += V::sumLanes(acc);
  }
  return static_cast<float>(sum);
}

// y[i] = exp(x[i] - shift); returns the sum of y (elementwise::Kernels::expShiftSum).
template <typename V>
float expShiftSumV(const float* x, float shift, float* y, int64_t n) {
  const auto s = V::set1(shift);
  return sumInBlocksV<V>(
      n,
      [&](int64_t i) {
        const auto e = expV<V>(V::sub(V::load(x + i), s));
        V::store(y + i, e);
        return e;
      },
      [&](int64_t i, const auto& m) {
        const auto e = expV<V>(V::sub(V::loadFirst(m, x + i), s));
        V::storeFirst(y + i, m, e);
        return e;
      });
}

// Binary cross-entropy terms and their sum (elementwise::Kernels::bceSum), for traits with logV:
// log's argument is clamped at 0 first, so p outside [0, 1] gives the
// scalar loop's -100 (its fmax drops the NaN of a negative log) and NaN p still gives NaN
// (MAXPS returns its second operand then).
template <typename V>
typename V::F bceTerm(typename V::F pv, typename V::F yv) {
  const auto one = V::set1(1.0f), floor = V::set1(-100.0f);
  // The clamp's constant goes first so a NaN log (from NaN p) survives it.
  const auto logP = V::max(floor, logV<V>(V::max(V::zero(), pv)));
  const auto logQ = V::max(floor, logV<V>(V::max(V::zero(), V::sub(one, pv))));
  return V::fma(yv, logP, V::mul(V::sub(one, yv), logQ));
}

template <typename V>
typename V::F bceGradient(typename V::F pv, typename V::F yv) {
  const auto one = V::set1(1.0f), tiny = V::set1(1e-12f);
  return V::sub(V::div(V::sub(one, yv), V::max(tiny, V::sub(one, pv))), V::div(yv, V::max(tiny, pv)));
}

// The terms' sum as sumInBlocksV adds them; the gradient written beside them when grad is given.
template <typename V>
float bceSumV(const float* p, const float* y, float* grad, int64_t n) {
  return sumInBlocksV<V>(
      n,
      [&](int64_t i) {
        const auto pv = V::load(p + i), yv = V::load(y + i);
        if (grad) V::store(grad + i, bceGradient<V>(pv, yv));
        return bceTerm<V>(pv, yv);
      },
      [&](int64_t i, const auto& m) {
        const auto pv = V::loadFirst(m, p + i), yv = V::loadFirst(m, y + i);
        if (grad) V::storeFirst(grad + i, m, bceGradient<V>(pv, yv));
        return bceTerm<V>(pv, yv);
      });
}

// Index of the first NaN or ±Inf in x, or -1 (elementwise::Kernels::nonFiniteIndex). |x| ≤ FLT_MAX
// fails exactly for NaN and ±Inf: a block's failures are gathered in four masks (a mask
// operation, a compare and a load a vector, no arithmetic on x, so subnormal gradients cost no
// more than others) and a block with one is searched value by value for the first index. The
// scalar table's integer test of the exponent bits took 1.3-1.8 times as long on data in L2
// (a sum of x · 0, tried first, ran as fast as the compares but multiplies the gradients). The
// search is that scalar test's loop.
template <typename V>
int64_t nonFiniteIndexV(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1024;
  constexpr int64_t kStep = 4 * V::kLanes;
  const auto largest = V::set1(3.40282347e38f);
  const auto none = V::firstLanes(0);
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = start + kBlock < n ? start + kBlock : n;
    typename V::M bad[4] = {none, none, none, none};
    int64_t i = start;
    for (; i + kStep <= end; i += kStep)
      for (int u = 0; u < 4; u++)
        bad[u] = V::either(bad[u], V::notLessEqual(V::abs(V::load(x + i + u * V::kLanes)), largest));
    for (; i + V::kLanes <= end; i += V::kLanes)
      bad[0] = V::either(bad[0], V::notLessEqual(V::abs(V::load(x + i)), largest));
    if (i < end) {
      const auto v = V::loadFirst(V::firstLanes(end - i), x + i);  // zeros past the end
      bad[0] = V::either(bad[0], V::notLessEqual(V::abs(v), largest));
    }
    if (V::anyLane(V::either(V::either(bad[0], bad[1]), V::either(bad[2], bad[3]))))
      return start + elementwise::nonFiniteIndexLoop(x + start, end - start);
  }
  return -1;
}

// Kernels::sumBlocks (elementwise.h) for a period of whole vectors: up to four vectors of
// partial sums at a time stay in registers over all the blocks (the plain loop, compiled for
// a run-time period, reloaded and stored them every block). Each sum still adds its blocks in
// order: the bits are the plain loop's.
template <typename V, int Vectors>
void sumBlockVectors(const float* x, int64_t blocks, int64_t period, float* partial) {
  typename V::F acc[Vectors];
  for (int v = 0; v < Vectors; v++) acc[v] = V::load(partial + v * V::kLanes);
  for (int64_t b = 0; b < blocks; b++)
    for (int v = 0; v < Vectors; v++) acc[v] = V::add(acc[v], V::load(x + b * period + v * V::kLanes));
  for (int v = 0; v < Vectors; v++) V::store(partial + v * V::kLanes, acc[v]);
}

template <typename V>
void sumBlocksV(const float* x, int64_t blocks, int64_t period, float* partial) {
  int64_t first = 0;
  for (; first + 4 * V::kLanes <= period; first += 4 * V::kLanes)
    sumBlockVectors<V, 4>(x + first, blocks, period, partial + first);
  switch ((period - first) / V::kLanes) {
    case 3:
      sumBlockVectors<V, 3>(x + first, blocks, period, partial + first);
      break;
    case 2:
      sumBlockVectors<V, 2>(x + first, blocks, period, partial + first);
      break;
    case 1:
      sumBlockVectors<V, 1>(x + first, blocks, period, partial + first);
      break;
    default:
      break;
  }
}

}  // namespace
}  // namespace neurone
