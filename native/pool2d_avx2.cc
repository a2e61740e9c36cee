// 2-D max pooling with AVX2 (-mavx2 -mfma), 8 channels per register: pool2d_simd.h's
// loop. Reached solely through pool2dKernelsAvx2(), which pool2d.cc calls only when the CPU has
// the instructions.
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "pool2d_simd.h"

namespace neurone {

const Pool2dKernels& pool2dKernelsAvx2() {
  static const Pool2dKernels kernels = pool2dKernelsV<Avx2>();
  return kernels;
}

}  // namespace neurone
#endif
