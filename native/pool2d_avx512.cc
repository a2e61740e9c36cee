// 2-D max pooling with AVX-512 (-mavx512f/dq/bw/vl), 16 channels per register; 2×2 windows of
// stride 2 under 8 channels several pixels a register, other 2×2 windows of up to 8 channels on
// AVX2's 8-lane vectors: pool2d_simd.h's loops. Reached solely through
// pool2dKernelsAvx512(), which pool2d.cc calls only when the CPU has the instructions.
#if defined(__AVX512F__)
#include "pool2d_simd.h"

namespace neurone {

const Pool2dKernels& pool2dKernelsAvx512() {
  static const Pool2dKernels kernels = pool2dKernelsNarrowV<Avx512, Avx2>();
  return kernels;
}

}  // namespace neurone
#endif
