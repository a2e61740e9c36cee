// Max pooling with AVX2 (-mavx2 -mfma): the forward loop of pool1d_loops.h as
// the compiler vectorises it (hand-written blends measured no faster), and the
// backward gather with intrinsics, 8 channels per register (the compiler's
// version of that loop is slower than the scatter it replaced). Bitwise the same
// results as the loops. Reached solely through poolKernelsAvx2(), which
// pool1d.cc calls only when the CPU has the instructions.
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "pool1d.h"
#include "pool1d_loops.h"

namespace neurone {
namespace {

// kLanes + 8 - w: the first w of 8 lanes set, for masked loads and stores of a ragged tail.
alignas(32) const int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// The dense gather of pool1d_loops.h (see the derivation there). Lanes past the last channel
// are excluded from the comparison, so they neither add nor count.
int64_t maxBackwardSample(const Pool1dShape& s, const float* dy, const int32_t* argmax, float* dxSample,
                          int64_t b) {
  const int64_t outLength = s.outLength();
  const int64_t chan = s.chan;
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i matches = _mm256_setzero_si256();  // minus the count, per lane (a hit is -1)
  int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
  for (int64_t p = 0; p < s.length; p++) {
    const int64_t index = (b * s.length + p) * chan;
    pool::coveringWindows(s, p, &tLo, &tNext, &tHi);
    for (int64_t c = 0; c < chan; c += 8) {
      const int64_t width = chan - c < 8 ? chan - c : 8;
      const __m256i valid = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLanes + 8 - width));
      const __m256i here = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(index + c)), iota);
      __m256 acc = _mm256_setzero_ps();
      for (int64_t t = tLo; t <= tHi; t++) {
        const int64_t o = (b * outLength + t) * chan + c;
        const __m256i at = _mm256_maskload_epi32(argmax + o, valid);
        const __m256i hit = _mm256_and_si256(_mm256_cmpeq_epi32(at, here), valid);
        // Masked load: a lane that is not hit reads nothing, so NaN there stays out.
        acc = _mm256_add_ps(acc, _mm256_maskload_ps(dy + o, hit));
        matches = _mm256_add_epi32(matches, hit);
      }
      _mm256_maskstore_ps(dxSample + p * chan + c, valid, acc);
    }
  }
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), matches);
  int64_t total = 0;
  for (int32_t v : lanes) total -= v;
  return total;
}

}  // namespace

const PoolKernels& poolKernelsAvx2() {
  static const PoolKernels kernels{pool::maxForwardSampleLoop, maxBackwardSample};
  return kernels;
}

}  // namespace neurone
#endif
