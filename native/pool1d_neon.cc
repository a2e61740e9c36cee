// Max pooling with NEON (aarch64): pool1d_simd.h's loops, 4 channels per register. Compiled
// into aarch64 binaries only; reached solely through poolKernelsNeon().
#if defined(__aarch64__)
#include "pool1d_simd.h"

namespace neurone {

const PoolKernels& poolKernelsNeon() {
  static const PoolKernels kernels{maxForwardSampleV<Neon>, maxBackwardSampleV<Neon>};
  return kernels;
}

}  // namespace neurone
#endif
