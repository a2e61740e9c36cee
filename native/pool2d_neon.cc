// 2-D max pooling with NEON (aarch64), 4 channels per register: pool2d_simd.h's loops.
// Compiled into aarch64 binaries only; reached solely through pool2dKernelsNeon().
#if defined(__aarch64__)
#include "pool2d_simd.h"

namespace neurone {

const Pool2dKernels& pool2dKernelsNeon() {
  static const Pool2dKernels kernels = pool2dKernelsV<Neon>();
  return kernels;
}

}  // namespace neurone
#endif
