// Batch normalisation with AVX2 (-mavx2 -mfma), 8 channels per register: batchnorm_simd.h's
// loops. Reached solely through batchNormKernelsAvx2(), which batchnorm.cc calls only when the CPU
// has the instructions.
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "batchnorm_simd.h"

namespace neurone {

const BatchNormKernels& batchNormKernelsAvx2() {
  static const BatchNormKernels kernels{nullptr, forwardV<Avx2>, nullptr, sumBlocksV<Avx2>, inputGradientV<Avx2>};
  return kernels;
}

}  // namespace neurone
#endif
