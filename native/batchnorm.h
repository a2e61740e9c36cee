// Batch normalisation on channels-last tensors, seen as (rows, chan): rows is the batch times
// the positions each channel is normalised over (lengths, pixels).
//
//   statistics:  mean[c] = Σ_r x[r, c] / rows,  variance[c] = Σ_r (x[r, c] − mean[c])² / rows
//   forward:     y = (x − mean) / sqrt(variance + eps) · scale + shift   (scale, shift optional)
//   backward:    dscale += Σ dy·x̂, dshift += Σ dy, and dx through the batch statistics (training)
//                or through the affine map alone (evaluation, running estimates)
//
// These functions trust their arguments: the binding validates them.
#pragma once

#include <cstdint>

#include "cpu.h"

namespace neurone {

struct BatchNormShape {
  int64_t rows = 0, chan = 0;
};

// mean and variance (chan each) are overwritten; 0 when rows is 0.
void batchNormStatistics(const BatchNormShape& s, const float* x, float* mean, float* variance, KernelPath path);
// scale / shift may be null (1 and 0); y may be x.
void batchNormForward(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                      const float* scale, const float* shift, float eps, float* y, KernelPath path);
// scale may be null (1); dx, dscale, dshift may each be null (not wanted); dx may be dy. dscale and
// dshift accumulate, dx is overwritten.
void batchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                       const float* variance, const float* scale, float eps, bool training, float* dx, float* dscale,
                       float* dshift, KernelPath path);

// The family's entry points for one KernelPath: the scalar loops of batchnorm.cc, all in double,
// and batchnorm_simd.h's over the vector traits (float, summed in blocks into double: a few float
// roundings from the scalar results, see there).
struct BatchNormKernels {
  void (*statistics)(const BatchNormShape& s, const float* x, float* mean, float* variance);
  void (*forward)(const BatchNormShape& s, const float* x, const float* mean, const float* variance, const float* scale,
                  const float* shift, float eps, float* y);
  void (*backward)(const BatchNormShape& s, const float* x, const float* dy, const float* mean, const float* variance,
                   const float* scale, float eps, bool training, float* dx, float* dscale, float* dshift);
};
// The table for `path`, by the fallback rule of cpu.h (dispatchPath).
const BatchNormKernels& batchNormKernelsFor(KernelPath path);
const BatchNormKernels& batchNormKernelsAvx2();
const BatchNormKernels& batchNormKernelsAvx512();
const BatchNormKernels& batchNormKernelsNeon();

// Plain loops, the oracle for the tests (the same formulas, written out per element).
void batchNormStatisticsReference(const BatchNormShape& s, const float* x, float* mean, float* variance);
void batchNormForwardReference(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                               const float* scale, const float* shift, float eps, float* y);
void batchNormBackwardReference(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                                const float* variance, const float* scale, float eps, bool training, float* dx,
                                float* dscale, float* dshift);

}  // namespace neurone
