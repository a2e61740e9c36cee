// Batch normalisation with AVX-512 (-mavx512f/dq/bw/vl), 16 channels per register: batchnorm_simd.h's
// loops. Reached solely through batchNormKernelsAvx512(), which batchnorm.cc calls only when the CPU
// has the instructions.
#if defined(__AVX512F__)
#include "batchnorm_simd.h"

namespace neurone {

const BatchNormKernels& batchNormKernelsAvx512() {
  static const BatchNormKernels kernels{nullptr, forwardV<Avx512>, nullptr, sumBlocksV<Avx512>, inputGradientV<Avx512>};
  return kernels;
}

}  // namespace neurone
#endif
