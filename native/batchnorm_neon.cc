// Batch normalisation with NEON (aarch64), 4 channels per register: batchnorm_simd.h's
// loops. Reached solely through batchNormKernelsNeon(), which batchnorm.cc calls only when the CPU
// has the instructions.
#if defined(__aarch64__)
#include "batchnorm_simd.h"

namespace neurone {

const BatchNormKernels& batchNormKernelsNeon() {
  static const BatchNormKernels kernels{nullptr, forwardV<Neon>, nullptr, sumBlocksV<Neon>, inputGradientV<Neon>};
  return kernels;
}

}  // namespace neurone
#endif
