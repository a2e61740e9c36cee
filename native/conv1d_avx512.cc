// Direct convolution + max pooling for small windows (kSize·chanIn <= kDirectMaxDepth), with
// AVX-512, 16 channels per register: the joint passes of conv1d.cc without per-sample GEMMs.
// With a window of a few taps (the seed CNN's 3 x 1) a GEMM spends more on packing and call
// overhead than on its k = 3 multiply-adds; here each convolution row is computed in a register
// and pooled at once, and the backward gathers each position's gradient and multiplies it in
// without writing the convolution's gradient anywhere.
//
// Bitwise what the GEMM path gives on the same kernel path (see kSgemmPlainMnk and
// sgemmDepthBlock in gemm.h): every sum starts from zero and runs in depth order with the fused
// multiply-add of the AVX-512 tile, depth blocks are added as its epilogue adds them, and the
// pooling is maxForwardSampleLoop / maxBackwardSampleLoop of pool1d_loops.h lane for lane. So a
// joint pass gives what conv1dForward then maxPool1dForward, or maxPool1dBackward then
// conv1dBackwardWeight, give. Reached solely through convPoolKernelsAvx512(), which conv1d.cc
// calls only when the CPU has the instructions.
#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "avx512_lanes.h"
#include "conv1d.h"
#include "pool1d_loops.h"

namespace neurone {
namespace {

// Sample b's pooled outputs: for each 16-channel block, the block's taps stay in registers.
// Depth = kSize * chanIn is a template argument so that the taps and the sums are registers.
template <int64_t Depth>
void forwardSample(const ConvPoolArgs& a, int64_t b) {
  const Conv1dShape& s = *a.s;
  constexpr int64_t depth = Depth;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const int64_t pooled = (convLength - a.poolSize) / a.poolStride + 1;
  const int64_t rowStep = s.stride * s.chanIn;
  const float* xs = a.x + b * s.length * s.chanIn;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t cb = 0; cb < co; cb += kConvLanes) {
    const __mmask16 valid = firstLanes(co - cb);
    __m512 taps[Depth];
    const float* wb = a.w + (cb / kConvLanes) * depth * kConvLanes;
    for (int64_t i = 0; i < depth; i++) taps[i] = _mm512_loadu_ps(wb + i * kConvLanes);
    const bool withBias = a.bias != nullptr;
    const __m512 bias = withBias ? _mm512_maskz_loadu_ps(valid, a.bias + cb) : _mm512_setzero_ps();
    // Convolution row p of this block. The GEMM starts C at the bias (beta = 1) or stores the
    // sum alone; the zero padding of the weights leaves the lanes past chanOut at 0.
    auto convolve = [&](int64_t p) {
      const float* xr = xs + p * rowStep;
      __m512 v = _mm512_setzero_ps();
      for (int64_t i = 0; i < depth; i++) v = _mm512_fmadd_ps(_mm512_set1_ps(xr[i]), taps[i], v);
      return withBias ? _mm512_add_ps(v, bias) : v;
    };
    for (int64_t t = 0; t < pooled; t++) {
      const int64_t first = t * a.poolStride;
      __m512 best = convolve(first);
      __m512i arg = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>((b * convLength + first) * co + cb)), iota);
      for (int64_t q = 1; q < a.poolSize; q++) {
        const __m512 v = convolve(first + q);
        // maxForwardSampleLoop's select: the first maximum, and a NaN wins over a number.
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                               (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
        best = _mm512_mask_mov_ps(best, take, v);
        const __m512i here =
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>((b * convLength + first + q) * co + cb)), iota);
        arg = _mm512_mask_mov_epi32(arg, take, here);
      }
      const int64_t out = (b * pooled + t) * co + cb;
      _mm512_mask_storeu_ps(a.y + out, valid, best);
      if (a.argmax) _mm512_mask_storeu_epi32(a.argmax + out, valid, arg);
    }
  }
}

// dw (depth x chanOut) = (overwrite ? 0 : dw) + x_bᵀ·dconv_b, dconv_b gathered position by
// position as maxBackwardSampleLoop writes it,
//   dconv[p, c] = 0 + Σ_{windows t covering p, in order} (argmax[t, c] == index(p, c) ? dy[t, c] : 0),
// and summed as sgemm sums that product: by depth blocks of a.depthBlock positions, each from
// zero, the first stored (when overwrite) or added, the others added (every position, covered
// or not, is multiplied in: 0 · x is not 0 when x is not finite). Returns the matches.
template <int64_t Depth>
int64_t weightGradientSample(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite) {
  const Conv1dShape& s = *a.s;
  const int64_t co = s.chanOut, convLength = s.outLength();
  const Pool1dShape pooling{s.batch, convLength, co, a.poolSize, a.poolStride};
  const int64_t pooled = pooling.outLength();
  const int64_t rowStep = s.stride * s.chanIn;
  // Windows that do not overlap (stride >= size, the usual pooling) cover a position at most
  // once: window p / stride, when p % stride < size. Stepped, not divided.
  const bool disjoint = a.poolStride >= a.poolSize;
  const float* xs = a.x + b * s.length * s.chanIn;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Matches counted per lane (no popcount instruction assumed), summed at the end.
  const __m512i one = _mm512_set1_epi32(1);
  __m512i hits = _mm512_setzero_si512();
  for (int64_t cb = 0; cb < co; cb += kConvLanes) {
    const __mmask16 valid = firstLanes(co - cb);
    int64_t tLo = 0, tNext = 0, tHi = 0;  // see coveringWindows in pool1d_loops.h
    for (int64_t p0 = 0; p0 < convLength; p0 += a.depthBlock) {
      const int64_t p1 = std::min(convLength, p0 + a.depthBlock);
      __m512 acc[Depth];
      for (int64_t i = 0; i < Depth; i++) acc[i] = _mm512_setzero_ps();
      int64_t window = p0 / a.poolStride, offset = p0 % a.poolStride;
      for (int64_t p = p0; p < p1; p++) {
        const __m512i here =
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>((b * convLength + p) * co + cb)), iota);
        // The windows covering p, [first, last] in order (none when last < first).
        int64_t first, last;
        if (disjoint) {
          first = window;
          last = offset < a.poolSize && window < pooled ? window : window - 1;
          if (++offset == a.poolStride) {
            offset = 0;
            window++;
          }
        } else {
          pool::coveringWindows(pooling, p, &tLo, &tNext, &tHi);
          first = tLo;
          last = tHi;
        }
        __m512 d = _mm512_setzero_ps();
        for (int64_t t = first; t <= last; t++) {
          const int64_t o = (b * pooled + t) * co + cb;
          const __mmask16 hit =
              _mm512_mask_cmpeq_epi32_mask(valid, _mm512_maskz_loadu_epi32(valid, a.argmaxIn + o), here);
          // Masked load: a lane that is not hit reads nothing, so a NaN there stays out.
          d = _mm512_add_ps(d, _mm512_maskz_loadu_ps(hit, a.dy + o));
          hits = _mm512_mask_add_epi32(hits, hit, hits, one);
        }
        const float* xr = xs + p * rowStep;
        for (int64_t i = 0; i < Depth; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(xr[i]), d, acc[i]);
      }
      for (int64_t i = 0; i < Depth; i++) {
        float* row = dw + i * co + cb;
        const __m512 sum = overwrite && p0 == 0 ? acc[i] : _mm512_add_ps(acc[i], _mm512_maskz_loadu_ps(valid, row));
        _mm512_mask_storeu_ps(row, valid, sum);
      }
    }
  }
  alignas(64) int32_t lanes[kConvLanes];
  _mm512_store_si512(lanes, hits);
  int64_t matches = 0;
  for (int32_t n : lanes) matches += n;
  return matches;
}

// One instantiation per depth 1..kDirectMaxDepth, picked at run time.
template <size_t... D>
constexpr std::array<void (*)(const ConvPoolArgs&, int64_t), sizeof...(D)> forwardTable(std::index_sequence<D...>) {
  return {&forwardSample<static_cast<int64_t>(D) + 1>...};
}
template <size_t... D>
constexpr std::array<int64_t (*)(const ConvPoolArgs&, int64_t, float*, bool), sizeof...(D)> weightTable(
    std::index_sequence<D...>) {
  return {&weightGradientSample<static_cast<int64_t>(D) + 1>...};
}
constexpr auto kForward = forwardTable(std::make_index_sequence<kDirectMaxDepth>());
constexpr auto kWeight = weightTable(std::make_index_sequence<kDirectMaxDepth>());

void forwardAnyDepth(const ConvPoolArgs& a, int64_t b) { kForward[a.s->kSize * a.s->chanIn - 1](a, b); }

int64_t weightAnyDepth(const ConvPoolArgs& a, int64_t b, float* dw, bool overwrite) {
  return kWeight[a.s->kSize * a.s->chanIn - 1](a, b, dw, overwrite);
}

}  // namespace

const ConvPoolKernels& convPoolKernelsAvx512() {
  static const ConvPoolKernels kernels{forwardAnyDepth, weightAnyDepth};
  return kernels;
}

}  // namespace neurone
#endif
