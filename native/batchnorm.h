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

class ThreadPool;

// mean and variance (chan each) are overwritten; 0 when rows is 0.
void batchNormStatistics(const BatchNormShape& s, const float* x, float* mean, float* variance, KernelPath path,
                         ThreadPool* pool);
// scale / shift may be null (1 and 0); y may be x.
void batchNormForward(const BatchNormShape& s, const float* x, const float* mean, const float* variance,
                      const float* scale, const float* shift, float eps, float* y, KernelPath path, ThreadPool* pool);
// scale may be null (1); dx, dscale, dshift may each be null (not wanted); dx may be dy. dscale and
// dshift accumulate, dx is overwritten.
void batchNormBackward(const BatchNormShape& s, const float* x, const float* dy, const float* mean,
                       const float* variance, const float* scale, float eps, bool training, float* dx, float* dscale,
                       float* dshift, KernelPath path, ThreadPool* pool);

// The SIMD paths sum each channel in float over blocks of this many rows, and add the blocks' sums
// to a double in block order (batchnorm_simd.h says why). The blocks are what threads split, so a
// sum has the same bits whatever the thread count.
constexpr int64_t kBatchNormBlockRows = 64;
// Channels per pass of the SIMD paths: their per-channel constants live on the stack.
constexpr int64_t kBatchNormGroup = 64;

// The per-channel sums the SIMD paths take over a block of rows, for channels [c0, c0 + cn) of a
// group (arrays below are group-relative, cn long):
//   Deviation          x − pivot
//   SquaredDeviation   (x − pivot − fromPivot)², fromPivot = mean − pivot (exactly: fromPivotExact)
//   Gradient           dy, and dy · (x − pivot) with the mean as the pivot (two sums)
enum class BatchNormSum { Deviation, SquaredDeviation, Gradient };

struct BatchNormSumArgs {
  BatchNormSum kind;
  BatchNormShape s;
  int64_t c0 = 0, cn = 0;
  const float* x = nullptr;
  const float* dy = nullptr;
  const float* pivot = nullptr;
  const float* fromPivot = nullptr;
  const double* fromPivotExact = nullptr;
  int sums() const { return kind == BatchNormSum::Gradient ? 2 : 1; }
};

// The input gradient's pass for channels [c0, c0 + cn) once the sums are known: dx = gain · ((dy −
// a) − (x − centre) · b) in float (a, b 0 outside training), and where that is not finite the
// scalar table's formula in double from inv (1/σ), scale, sumDy, sumDyXhat and n = the batch's rows.
struct BatchNormGradientArgs {
  int64_t chan = 0, c0 = 0, cn = 0;
  const float *centre = nullptr, *gain = nullptr, *a = nullptr, *b = nullptr;
  const double *inv = nullptr, *sumDy = nullptr, *sumDyXhat = nullptr;
  const float* scale = nullptr;  // the whole layer's (indexed from c0), or null
  bool training = false;
  double n = 0;
};

// The family's entry points for one KernelPath. The scalar table (batchnorm.cc) does everything
// in double, row by row, on one thread: statistics and backward whole, sumBlocks and
// inputGradient null. The SIMD tables (batchnorm_simd.h: float, summed in blocks into double, a
// few float roundings from the scalar results, see there) give the block sums and the input
// gradient's rows, which batchnorm.cc spreads over the pool; statistics and backward null. forward
// is elementwise on every table, so any range of rows runs on its own.
struct BatchNormKernels {
  void (*statistics)(const BatchNormShape& s, const float* x, float* mean, float* variance);
  void (*forward)(const BatchNormShape& s, const float* x, const float* mean, const float* variance, const float* scale,
                  const float* shift, float eps, float* y);
  void (*backward)(const BatchNormShape& s, const float* x, const float* dy, const float* mean, const float* variance,
                   const float* scale, float eps, bool training, float* dx, float* dscale, float* dshift);
  // out[(block − b0) · sums · cn + k · cn + c] = sum k over the rows of block, for blocks [b0, b1).
  void (*sumBlocks)(const BatchNormSumArgs& args, int64_t b0, int64_t b1, double* out);
  // dx for `rows` rows of x, dy and dx (pointers at the first of them, rows of args.chan floats).
  void (*inputGradient)(const BatchNormGradientArgs& args, int64_t rows, const float* x, const float* dy, float* dx);
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
