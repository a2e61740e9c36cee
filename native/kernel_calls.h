// The entry points whose run needs only the checked fields and the kernel path: each runKernel
// takes its checked call (the struct ops_generated.h fills) and returns nothing. binding.cc's one
// generic run() hands every call without an overload of its own to the runKernel that matches it,
// so such a kernel adds its few lines here, not to binding.cc (kept under 300 lines). Included by
// binding.cc alone (it brings napi.h in through ops_generated.h).
#pragma once

#include "batchnorm.h"
#include "elementwise.h"
#include "ops_generated.h"

namespace neurone {

inline void runKernel(const AddRowVectorCall& a, KernelPath) {
  if (a.matrix > 0) addRowVector(a.y.data, a.v.data, a.rows, a.cols);
}

inline void runKernel(const SumRowsCall& a, KernelPath) {
  if (a.matrix > 0) sumRows(a.x.data, a.rows, a.cols, a.out.data);
}

inline void runKernel(const BatchNormStatisticsCall& a, KernelPath path) {
  batchNormStatistics({a.rows, a.chan}, a.x.data, a.mean.data, a.variance.data, path);
}

inline void runKernel(const BatchNormForwardCall& a, KernelPath path) {
  batchNormForward({a.rows, a.chan}, a.x.data, a.mean.data, a.variance.data, a.scale.data, a.shift.data, a.eps,
                   a.y.data, path);
}

inline void runKernel(const BatchNormBackwardCall& a, KernelPath path) {
  batchNormBackward({a.rows, a.chan}, a.x.data, a.dy.data, a.mean.data, a.variance.data, a.scale.data, a.eps,
                    a.training, a.dx.data, a.dscale.data, a.dshift.data, path);
}

}  // namespace neurone
