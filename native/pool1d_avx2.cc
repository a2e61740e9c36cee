// The max-pooling loops of pool1d_loops.h compiled for AVX2 (-mavx2 -mfma); reached
// solely through poolKernelsAvx2(), which pool1d.cc calls only when the CPU has the instructions.
#if defined(__AVX2__) && defined(__FMA__)
#include "pool1d.h"
#include "pool1d_loops.h"

namespace neurone {

const PoolKernels& poolKernelsAvx2() {
  static const PoolKernels kernels{pool::maxForwardSampleLoop, pool::maxBackwardSampleLoop};
  return kernels;
}

}  // namespace neurone
#endif
