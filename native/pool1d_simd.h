// The max-pooling loops of pool1d_loops.h over the vector traits of simd.h, V::kLanes channels
// per register: written once, instantiated by pool1d_avx2.cc, pool1d_avx512.cc and pool1d_neon.cc
// (the compiler vectorises the loops' NaN-aware selects and match counts poorly). Bitwise the
// same results as the loops: the same select (taken in the same order, or merged block by block
// to the same result), the same order of additions. Internal linkage, as simd.h explains.
#pragma once

#include <cstdint>

#include "pool1d.h"
#include "pool1d_loops.h"
#include "pool2d_simd.h"
#include "simd.h"

namespace neurone {
namespace {

// The forward pass is the 2-D loop's with one row: the same select, the same flat argmax
// (pool2d_simd.h).
template <typename V>
void maxForwardSampleV(const Pool1dShape& s, const float* in, float* out, int32_t* argmax, int64_t b) {
  Pool2dShape row;
  row.batch = s.batch;
  row.height = 1;
  row.width = s.length;
  row.chan = s.chan;
  row.kWidth = s.kSize;
  row.strideWidth = s.stride;
  maxForward2dSampleV<V>(row, in, out, argmax, b);
}

// The dense gather of maxBackwardSampleLoop (see the derivation there): per covering window, the
// lanes whose argmax names this position add their gradient. Lanes past the last channel are
// excluded from the comparison, so they neither add nor count; a lane that is not hit loads
// nothing, so a NaN there stays out.
template <typename V>
int64_t maxBackwardSampleV(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dxSample, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  // Whole vectors are loaded whole and a lane that is not hit is masked to +0 after the load,
  // which adds what the masked load's zero would (a masked store costs an AVX2 core on AMD a dozen
  // cycles).
  const int64_t whole = chan - chan % V::kLanes;
  auto matches = V::set1i(0);
  int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
  for (int64_t p = 0; p < s.length; p++) {
    const int64_t index = (b * s.length + p) * chan;
    pool::coveringWindows(s, p, &tLo, &tNext, &tHi);
    int64_t c = 0;
    for (; c < whole; c += V::kLanes) {
      const auto here = V::addi(V::set1i(static_cast<int32_t>(index + c)), V::iota());
      auto acc = V::zero();
      for (int64_t t = tLo; t <= tHi; t++) {
        const int64_t o = (b * outLength + t) * chan + c;
        const auto hit = V::equal(V::loadi(argmax + o), here);
        acc = V::add(acc, V::keep(hit, V::load(dy + o)));
        matches = V::countHits(matches, hit);
      }
      V::store(dxSample + p * chan + c, acc);
    }
    if (c < chan) {
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
