// Max pooling with AVX2 (-mavx2 -mfma): pool1d_simd.h's loops, 8 channels per register.
// Reached solely through poolKernelsAvx2(), which pool1d.cc calls only when the CPU has the
// instructions.
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "pool1d_simd.h"

namespace neurone {

const PoolKernels& poolKernelsAvx2() {
  static const PoolKernels kernels{maxForwardSampleV<Avx2>, maxBackwardSampleV<Avx2>};
  return kernels;
}

}  // namespace neurone
#endif
