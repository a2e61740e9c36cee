// Batch normalisation over the vector traits of simd.h, V::kLanes channels per register: written
// once, instantiated by batchnorm_avx2.cc, batchnorm_avx512.cc and batchnorm_neon.cc. The formulas
// are batchnorm.h's; what differs from the scalar table is where the rounding happens.
//
// The scalar code does every operation in double. Here the elements are summed in float, in
// blocks of kBatchNormBlockRows rows per lane (sumBlocksV), and batchnorm.cc adds each block's sum
// to a per-channel double in block order: the rounding error of a block is that of 64 float
// additions, and the blocks do not pile up. Both statistics passes work from a pivot (batchnorm.cc
// says why). The element-wise passes run in float with one fused multiply-add where the scalar
// code rounds a double once. The difference from the scalar results is a few float roundings of
// the values involved: relative to the spread of a channel for its mean and variance (far outliers
// in a long column widen it, still far below the batch's own sampling noise), relative to the
// terms for the outputs; batchnorm_test bounds it at offsets 0, 1000 and 1e5.
//
// Channels are taken kBatchNormGroup at a time, so that the per-channel constants live on the
// stack (no allocation: simd.h explains why these files call no library code). The loops here
// cover a range of rows or blocks; batchnorm.cc hands the ranges to threads. Internal linkage, as
// simd.h explains.
#pragma once

#include <cstdint>

#include "batchnorm.h"
#include "simd.h"

namespace neurone {
namespace {

// Loads channels [c, c + lanes) of a row: a whole vector, or the first lanes only.
template <typename V>
typename V::F loadChannels(const float* p, int64_t lanes) {
  return lanes >= V::kLanes ? V::load(p) : V::loadFirst(V::firstLanes(lanes), p);
}

template <typename V>
void storeChannels(float* p, int64_t lanes, typename V::F v) {
  if (lanes >= V::kLanes) {
    V::store(p, v);
  } else {
    V::storeFirst(p, V::firstLanes(lanes), v);
  }
}

// The lanes of v that are ±Inf or NaN (v − v is NaN exactly there).
template <typename V>
typename V::M nonFinite(typename V::F v) {
  return V::isNan(V::sub(v, v));
}

// out[c] = the float formula's vector of group-relative channels c (value(c)) for the cn channels
// of a row; each vector with a non-finite lane (an overflow in float, or a non-finite input)
// is redone element by element in double (scalar(k) for channel k), as the scalar table computes.
// Unless out is the row's input too, the vectors are stored as they come and checked once a
// row, the rare redo reading the stored block back: with a test and a branch for every vector,
// BatchNorm2D(32)'s forward on (32, 28, 28, 32) ran at twice the time of a copy. In place, a
// redo needs the input it would overwrite, so each vector is checked before it is stored.
template <typename V, typename Value, typename Scalar>
void mapRow(int64_t cn, float* out, bool inPlace, Value value, Scalar scalar) {
  const auto redo = [&](int64_t c) {
    const int64_t end = cn - c < V::kLanes ? cn : c + V::kLanes;
    for (int64_t k = c; k < end; k++) out[k] = scalar(k);
  };
  if (!inPlace) {
    auto bad = V::isNan(V::zero());  // no lanes
    for (int64_t c = 0; c < cn; c += V::kLanes) {
      const auto v = value(c);
      bad = V::either(bad, nonFinite<V>(v));
      storeChannels<V>(out + c, cn - c, v);
    }
    if (!V::anyLane(bad)) return;
    for (int64_t c = 0; c < cn; c += V::kLanes)
      if (V::anyLane(nonFinite<V>(loadChannels<V>(out + c, cn - c)))) redo(c);
    return;
  }
  for (int64_t c = 0; c < cn; c += V::kLanes) {
    const auto v = value(c);
    if (V::anyLane(nonFinite<V>(v)))
      redo(c);
    else
      storeChannels<V>(out + c, cn - c, v);
  }
}

// acc[k][v] = Σ_{r in [r0, r1)} term(r, c + v · lanes, k) for Vectors vectors from group-relative
// channel c, stored to row k of part (rows of partRow floats) from c. acc must live in registers:
// in memory each addition waits on the store of the one before (BatchNorm2D(32)'s statistics on
// (32, 28, 28, 32) took 354 us with a run-time vector count, and still 224 us, three times what
// reading the data twice takes, with a compile-time count whose loops GCC 12 left rolled). So
// Vectors is a compile-time count and the loops over it and Sums are unrolled in full.
template <typename V, int Sums, int Vectors, typename Term>
void sumRowBlock(int64_t r0, int64_t r1, int64_t c, Term term, float* part, int64_t partRow) {
  typename V::F acc[Sums][Vectors];
  for (int k = 0; k < Sums; k++)
    for (int v = 0; v < Vectors; v++) acc[k][v] = V::zero();
  for (int64_t r = r0; r < r1; r++)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; v++)
#pragma GCC unroll 2
      for (int k = 0; k < Sums; k++) acc[k][v] = V::add(acc[k][v], term(r, c + v * V::kLanes, k));
  for (int k = 0; k < Sums; k++)
    for (int v = 0; v < Vectors; v++) V::store(part + k * partRow + c + v * V::kLanes, acc[k][v]);
}

// For blocks [b0, b1) of kBatchNormBlockRows rows of the group [c0, c0 + cn) and each k < Sums:
// out[(block − b0) · Sums · cn + k · cn + c] = Σ term(r, c, k) over the block's rows, summed in
// float lane by lane in row order. term(r, c, k) returns the k-th terms of the vector of
// group-relative channel c in row r. A row's vectors are taken side by side, up to four at a time,
// each into its own register: one chain of additions per vector would wait on the adder's latency
// at every row (four times as long for 32 channels on AVX2). Where a lane's block sum comes out
// non-finite (float overflows long before double, and the data may hold an Inf or NaN), that
// lane's block is summed again in double with scalarTerm(r, c, k), one channel: what the scalar
// table computes. batchnorm.cc adds the blocks' sums to doubles in block order.
template <typename V, int Sums, typename Term, typename ScalarTerm>
void sumBlocks(int64_t rows, int64_t cn, int64_t b0, int64_t b1, double* out, Term term, ScalarTerm scalarTerm) {
  constexpr int64_t kVectors = (kBatchNormGroup + V::kLanes - 1) / V::kLanes;
  constexpr int64_t kSide = 4;  // vectors summed side by side
  const int64_t vectors = (cn + V::kLanes - 1) / V::kLanes;
  constexpr int64_t kPartRow = kVectors * V::kLanes;
  alignas(64) float part[Sums][kPartRow];
  for (int64_t block = b0; block < b1; block++, out += Sums * cn) {
    const int64_t r0 = block * kBatchNormBlockRows;
    const int64_t r1 = r0 + kBatchNormBlockRows < rows ? r0 + kBatchNormBlockRows : rows;
    for (int64_t v0 = 0; v0 < vectors; v0 += kSide) {
      const int64_t c = v0 * V::kLanes;
      switch (vectors - v0 < kSide ? vectors - v0 : kSide) {
        case 1:
          sumRowBlock<V, Sums, 1>(r0, r1, c, term, part[0], kPartRow);
          break;
        case 2:
          sumRowBlock<V, Sums, 2>(r0, r1, c, term, part[0], kPartRow);
          break;
        case 3:
          sumRowBlock<V, Sums, 3>(r0, r1, c, term, part[0], kPartRow);
          break;
        default:
          sumRowBlock<V, Sums, kSide>(r0, r1, c, term, part[0], kPartRow);
          break;
      }
    }
    for (int k = 0; k < Sums; k++) {
      for (int64_t c = 0; c < cn; c++) {
        if (part[k][c] - part[k][c] == 0.0f) {
          out[k * cn + c] = part[k][c];
          continue;
        }
        double exact = 0;
        for (int64_t r = r0; r < r1; r++) exact += scalarTerm(r, c, k);
        out[k * cn + c] = exact;
      }
    }
  }
}

// BatchNormKernels::sumBlocks: the terms of args.kind (batchnorm.h) over blocks [b0, b1).
template <typename V>
void sumBlocksV(const BatchNormSumArgs& args, int64_t b0, int64_t b1, double* out) {
  const int64_t chan = args.s.chan, rows = args.s.rows, cn = args.cn;
  const float* xg = args.x + args.c0;
  const float* pivot = args.pivot;
  switch (args.kind) {
    case BatchNormSum::Deviation:
      return sumBlocks<V, 1>(
          rows, cn, b0, b1, out,
          [&](int64_t r, int64_t c, int) {
            return V::sub(loadChannels<V>(xg + r * chan + c, cn - c), V::load(pivot + c));
          },
          [&](int64_t r, int64_t c, int) { return static_cast<double>(xg[r * chan + c]) - pivot[c]; });
    case BatchNormSum::SquaredDeviation: {
      // The deviations about the pivot, less the mean's distance from it (a spread-sized number,
      // so rounded to float it is off by a unit of the spread, not of the offset): x − mean
      // without the rounding of a large mean to float.
      const float* fromPivot = args.fromPivot;
      const double* exact = args.fromPivotExact;
      return sumBlocks<V, 1>(
          rows, cn, b0, b1, out,
          [&](int64_t r, int64_t c, int) {
            const auto d =
                V::sub(V::sub(loadChannels<V>(xg + r * chan + c, cn - c), V::load(pivot + c)), V::load(fromPivot + c));
            return V::mul(d, d);
          },
          [&](int64_t r, int64_t c, int) {
            const double d = static_cast<double>(xg[r * chan + c]) - pivot[c] - exact[c];
            return d * d;
          });
    }
    case BatchNormSum::Gradient: {
      const float* dyg = args.dy + args.c0;
      return sumBlocks<V, 2>(
          rows, cn, b0, b1, out,
          [&](int64_t r, int64_t c, int k) {
            const auto g = loadChannels<V>(dyg + r * chan + c, cn - c);
            if (k == 0) return g;
            return V::mul(g, V::sub(loadChannels<V>(xg + r * chan + c, cn - c), V::load(pivot + c)));
          },
          [&](int64_t r, int64_t c, int k) {
            const double g = dyg[r * chan + c];
            return k == 0 ? g : g * (static_cast<double>(xg[r * chan + c]) - pivot[c]);
          });
    }
  }
}

// The correctly rounded square root of a double, by the instruction (no library call, and MSVC,
// which builds the AVX-512 file for Windows, has no __builtin_sqrt).
inline double squareRoot(double v) {
#if defined(__aarch64__)
  return vget_lane_f64(vsqrt_f64(vdup_n_f64(v)), 0);
#else
  return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(v)));
#endif
}

// 1 / sqrt(variance + eps) for the group's channels, in double as the scalar code.
inline void inverseDeviationsOf(const float* variance, float eps, int64_t cn, double* inv) {
  for (int64_t c = 0; c < cn; c++) inv[c] = 1.0 / squareRoot(static_cast<double>(variance[c]) + eps);
}

template <typename V>
void forwardV(const BatchNormShape& s, const float* x, const float* mean, const float* variance, const float* scale,
              const float* shift, float eps, float* y) {
  const int64_t chan = s.chan;
  for (int64_t c0 = 0; c0 < chan; c0 += kBatchNormGroup) {
    const int64_t cn = chan - c0 < kBatchNormGroup ? chan - c0 : kBatchNormGroup;
    double inv[kBatchNormGroup];
    inverseDeviationsOf(variance + c0, eps, cn, inv);
    alignas(64) float gain[kBatchNormGroup] = {}, offset[kBatchNormGroup] = {}, centre[kBatchNormGroup] = {};
    for (int64_t c = 0; c < cn; c++) {
      gain[c] = static_cast<float>(inv[c] * (scale ? scale[c0 + c] : 1.0f));
      offset[c] = shift ? shift[c0 + c] : 0.0f;
      centre[c] = mean[c0 + c];
    }
    for (int64_t r = 0; r < s.rows; r++) {
      const float* xr = x + r * chan + c0;
      float* yr = y + r * chan + c0;
      mapRow<V>(
          cn, yr, x == y,
          [&](int64_t c) {
            const auto d = V::sub(loadChannels<V>(xr + c, cn - c), V::load(centre + c));
            return V::fma(d, V::load(gain + c), V::load(offset + c));
          },
          [&](int64_t k) {
            const double g = inv[k] * (scale ? scale[c0 + k] : 1.0f);
            return static_cast<float>((static_cast<double>(xr[k]) - centre[k]) * g + offset[k]);
          });
    }
  }
}

// BatchNormKernels::inputGradient: dx = gain · ((dy − a) − (x − centre) · b) for `rows` rows.
template <typename V>
void inputGradientV(const BatchNormGradientArgs& g, int64_t rows, const float* x, const float* dy, float* dx) {
  const int64_t chan = g.chan, c0 = g.c0, cn = g.cn;
  const float *centre = g.centre, *gain = g.gain, *a = g.a, *b = g.b;
  for (int64_t r = 0; r < rows; r++) {
    const int64_t at = r * chan + c0;
    // In place (dx is dy), each element's dy is read before its dx is written.
    mapRow<V>(
        cn, dx + at, dx == dy,
        [&](int64_t c) {
          const auto d = V::sub(loadChannels<V>(x + at + c, cn - c), V::load(centre + c));
          const auto t = V::fnma(d, V::load(b + c), V::sub(loadChannels<V>(dy + at + c, cn - c), V::load(a + c)));
          return V::mul(V::load(gain + c), t);
        },
        [&](int64_t k) {
          const double scaled = g.inv[k] * (g.scale ? g.scale[c0 + k] : 1.0f);
          const double meanDy = g.training ? g.sumDy[k] / g.n : 0.0,
                       meanDyXhat = g.training ? g.sumDyXhat[k] / g.n : 0.0;
          const double xhat = (static_cast<double>(x[at + k]) - centre[k]) * g.inv[k];
          return static_cast<float>(scaled * (dy[at + k] - meanDy - xhat * meanDyXhat));
        });
  }
}

}  // namespace
}  // namespace neurone
