// Max-pooling loops: the portable path (compiled by pool1d.cc at the baseline
// ISA) and the definition the SIMD versions of pool1d_simd.h follow bitwise. The
// loops run along the contiguous channel axis with branch-free selects.
//
// Every function here is `static` (internal linkage): each translation unit
// keeps its own copy, so a SIMD copy can never be linked into baseline code.
#pragma once

#include <cstdint>

#include "pool1d.h"

namespace neurone {
namespace pool {

// Sample b of the max-pool forward pass: y and the flat argmax index into x.
static inline void maxForwardSampleLoop(const Pool1dShape& s, const float* in, float* out, int32_t* argmax, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  for (int64_t t = 0; t < outLength; t++) {
    const int64_t start = (b * s.length + t * s.stride) * chan;
    float* __restrict y = out + (b * outLength + t) * chan;
    int32_t* __restrict arg = argmax + (b * outLength + t) * chan;
    const float* __restrict x0 = in + start;
    for (int64_t c = 0; c < chan; c++) {
      y[c] = x0[c];
      arg[c] = static_cast<int32_t>(start + c);
    }
    for (int64_t k = 1; k < s.kSize; k++) {
      const float* __restrict x = x0 + k * chan;
      const int32_t base = static_cast<int32_t>(start + k * chan);
      // v > y is false when either is NaN; the second test lets a NaN in (and keeps the first
      // NaN), so NaN is not hidden.
      for (int64_t c = 0; c < chan; c++) {
        const float v = x[c];
        const float cur = y[c];
        const bool take = (v > cur) | ((v != v) & (cur == cur));
        y[c] = take ? v : cur;
        arg[c] = take ? base + static_cast<int32_t>(c) : arg[c];
      }
    }
  }
}

// The windows covering position p, for p = 0, 1, 2... in turn: on return *first is the first
// window t with t·stride + kSize > p and *last = min(floor(p / stride), outLength − 1); *next
// carries floor(p / stride) from call to call (start *first = *next = 0). Stepped rather than
// divided: two divisions per position cost more than the gather they steer.
static inline void coveringWindows(const Pool1dShape& s, int64_t p, int64_t* first, int64_t* next, int64_t* last) {
  while (*first * s.stride + s.kSize <= p) ++*first;
  while ((*next + 1) * s.stride <= p) ++*next;
  *last = *next < s.outLength() - 1 ? *next : s.outLength() - 1;
}

// Sample b of the max-pool backward pass, written densely: instead of scattering each output
// gradient to its argmax (a dependent store per element, and a separate pass to clear dx), every
// input position p gathers from the windows t that cover it,
//
//   dx[p, c] = Σ_{t : t·stride ≤ p < t·stride + kSize} dy[t, c] · [argmax[t, c] = index(p, c)],
//
// with t from ceil((p − kSize + 1) / stride) to floor(p / stride) (at most ceil(kSize / stride)
// windows). The terms are added in increasing t, the order of the scatter, so the sums are
// bitwise those of the scatter. Returns how many (t, c) matched: each entry of a valid argmax
// matches exactly once, so a count below outLength·chan means some entry pointed outside its
// window (the binding refuses that).
static inline int64_t maxBackwardSampleLoop(const Pool1dShape& s, const float* dy, const int32_t* argmax,
                                            float* dxSample, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  int64_t matches = 0;
  int64_t tLo = 0, tNext = 0, tHi = 0;
  for (int64_t p = 0; p < s.length; p++) {
    const int64_t index = (b * s.length + p) * chan;
    float* __restrict d = dxSample + p * chan;
    for (int64_t c = 0; c < chan; c++) d[c] = 0.0f;
    coveringWindows(s, p, &tLo, &tNext, &tHi);
    for (int64_t t = tLo; t <= tHi; t++) {
      const int32_t* __restrict at = argmax + (b * outLength + t) * chan;
      const float* __restrict g = dy + (b * outLength + t) * chan;
      const int32_t base = static_cast<int32_t>(index);
      // Two plain loops (the select with both operands loaded, then the count) vectorise; one
      // loop doing both does not.
      for (int64_t c = 0; c < chan; c++) {
        const float v = g[c];
        d[c] += at[c] == base + static_cast<int32_t>(c) ? v : 0.0f;
      }
      int32_t hits = 0;
      for (int64_t c = 0; c < chan; c++) hits += at[c] == base + static_cast<int32_t>(c) ? 1 : 0;
      matches += hits;
    }
  }
  return matches;
}

}  // namespace pool
}  // namespace neurone
