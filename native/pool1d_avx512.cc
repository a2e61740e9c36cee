// Max pooling with AVX-512 (-mavx512f/dq/bw/vl): pool1d_simd.h's loops, 16 channels per
// register. Reached solely through poolKernelsAvx512(), which pool1d.cc calls only when the
// CPU has the instructions.
#if defined(__AVX512F__)
#include "pool1d_simd.h"

namespace neurone {

const PoolKernels& poolKernelsAvx512() {
  static const PoolKernels kernels{maxForwardSampleV<Avx512>, maxBackwardSampleV<Avx512>};
  return kernels;
}

}  // namespace neurone
#endif
