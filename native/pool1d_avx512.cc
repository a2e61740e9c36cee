// Max pooling with AVX-512 (-mavx512f/dq/bw/vl): the loops of pool1d_loops.h
// written with intrinsics, 16 channels per register, because the compiler does
// not vectorise their NaN-aware selects and match counts well. Same results,
// bitwise, as the loops (same comparisons, same order of additions). Reached
// solely through poolKernelsAvx512(), which pool1d.cc calls only when the CPU
// has the instructions.
#if defined(__AVX512F__)
#include <immintrin.h>

#include "avx512_lanes.h"
#include "pool1d.h"
#include "pool1d_loops.h"

namespace neurone {
namespace {

void maxForwardSample(const Pool1dShape& s, const float* in, float* out, int32_t* argmax, int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t t = 0; t < outLength; t++) {
    const int64_t start = (b * s.length + t * s.stride) * chan;
    const float* x0 = in + start;
    float* y = out + (b * outLength + t) * chan;
    int32_t* arg = argmax + (b * outLength + t) * chan;
    for (int64_t c = 0; c < chan; c += 16) {
      const __mmask16 m = firstLanes(chan - c);
      __m512 best = _mm512_maskz_loadu_ps(m, x0 + c);
      __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(start + c)), iota);
      for (int64_t k = 1; k < s.kSize; k++) {
        const __m512 v = _mm512_maskz_loadu_ps(m, x0 + k * chan + c);
        // v > best, or v is NaN while best is not: the first NaN wins and is never replaced.
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                               (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
        best = _mm512_mask_mov_ps(best, take, v);
        at = _mm512_mask_mov_epi32(
            at, take, _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(start + k * chan + c)), iota));
      }
      _mm512_mask_storeu_ps(y + c, m, best);
      _mm512_mask_storeu_epi32(arg + c, m, at);
    }
  }
}

// The dense gather of pool1d_loops.h (see the derivation there): a masked add per covering
// window, the lanes whose argmax names this position.
int64_t maxBackwardSample(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dxSample,
                          int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Matches are counted per lane (a popcount per step would be a library call without -mpopcnt).
  const __m512i one = _mm512_set1_epi32(1);
  __m512i matches = _mm512_setzero_si512();
  int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
  for (int64_t p = 0; p < s.length; p++) {
    const int64_t index = (b * s.length + p) * chan;
    pool::coveringWindows(s, p, &tLo, &tNext, &tHi);
    for (int64_t c = 0; c < chan; c += 16) {
      const __mmask16 m = firstLanes(chan - c);
      const __m512i here = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(index + c)), iota);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t t = tLo; t <= tHi; t++) {
        const int64_t o = (b * outLength + t) * chan + c;
        const __mmask16 hit = _mm512_mask_cmpeq_epi32_mask(m, _mm512_maskz_loadu_epi32(m, argmax + o), here);
        acc = _mm512_mask_add_ps(acc, hit, acc, _mm512_maskz_loadu_ps(hit, dy + o));
        matches = _mm512_mask_add_epi32(matches, hit, matches, one);
      }
      _mm512_mask_storeu_ps(dxSample + p * chan + c, m, acc);
    }
  }
  alignas(64) int32_t lane[16];  // summed in memory: GCC 12's _mm512_reduce_add_epi32 warns
  _mm512_store_si512(lane, matches);
  int64_t total = 0;
  for (int32_t count : lane) total += count;
  return total;
}

}  // namespace

const PoolKernels& poolKernelsAvx512() {
  static const PoolKernels kernels{maxForwardSample, maxBackwardSample};
  return kernels;
}

}  // namespace neurone
#endif
