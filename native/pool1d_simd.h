// The max-pooling loops of pool1d_loops.h over the vector traits of simd.h, V::kLanes channels
// per register: written once, instantiated by pool1d_avx2.cc and pool1d_avx512.cc (the compiler
// vectorises the loops' NaN-aware selects and match counts poorly). Bitwise the same results as
// the loops: the same comparisons, the same order of additions. Internal linkage, as simd.h
// explains.
#pragma once

#include <cstdint>

#include "pool1d.h"
#include "pool1d_loops.h"
#include "simd.h"

namespace neurone {
namespace {

// maxForwardSampleLoop's select: v replaces the best so far when greater, or when v is NaN and
// the best is not (so the first maximum, and the first NaN, win).
template <typename V>
typename V::M maxTakes(typename V::F v, typename V::F best) {
  return V::either(V::gt(v, best), V::both(V::isNan(v), V::notNan(best)));
}

template <typename V>
void maxForwardSampleV(const Pool1dShape& s, const float* in, float* out, int32_t* argmax, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  for (int64_t t = 0; t < outLength; t++) {
    const int64_t start = (b * s.length + t * s.stride) * chan;
    const float* x0 = in + start;
    float* y = out + (b * outLength + t) * chan;
    int32_t* arg = argmax + (b * outLength + t) * chan;
    for (int64_t c = 0; c < chan; c += V::kLanes) {
      const auto m = V::firstLanes(chan - c);
      auto best = V::loadFirst(m, x0 + c);
      auto at = V::addi(V::set1i(static_cast<int32_t>(start + c)), V::iota());
      for (int64_t k = 1; k < s.kSize; k++) {
        const auto v = V::loadFirst(m, x0 + k * chan + c);
        const auto take = maxTakes<V>(v, best);
        best = V::select(take, v, best);
        at = V::selecti(take, V::addi(V::set1i(static_cast<int32_t>(start + k * chan + c)), V::iota()), at);
      }
      V::storeFirst(y + c, m, best);
      V::storeFirsti(arg + c, m, at);
    }
  }
}

// The dense gather of maxBackwardSampleLoop (see the derivation there): per covering window, the
// lanes whose argmax names this position add their gradient. Lanes past the last channel are
// excluded from the comparison, so they neither add nor count; a lane that is not hit loads
// nothing, so a NaN there stays out.
template <typename V>
int64_t maxBackwardSampleV(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dxSample, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  auto matches = V::set1i(0);
  int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
  for (int64_t p = 0; p < s.length; p++) {
    const int64_t index = (b * s.length + p) * chan;
    pool::coveringWindows(s, p, &tLo, &tNext, &tHi);
    for (int64_t c = 0; c < chan; c += V::kLanes) {
      const auto valid = V::firstLanes(chan - c);
      const auto here = V::addi(V::set1i(static_cast<int32_t>(index + c)), V::iota());
      auto acc = V::zero();
      for (int64_t t = tLo; t <= tHi; t++) {
        const int64_t o = (b * outLength + t) * chan + c;
        const auto hit = V::equalWhere(valid, V::loadFirsti(valid, argmax + o), here);
        acc = V::add(acc, V::loadFirst(hit, dy + o));
        matches = V::countHits(matches, hit);
      }
      V::storeFirst(dxSample + p * chan + c, valid, acc);
    }
  }
  return V::totalCount(matches);
}

}  // namespace
}  // namespace neurone
