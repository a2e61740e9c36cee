// The direct one-channel convolution with AVX2 (-mavx2 -mfma), 8 floats per register:
// conv2d_direct.h's loops. Reached solely through conv2dKernelsAvx2(), which conv2d.cc calls
// only when the CPU has the instructions.
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "conv2d_direct.h"

namespace neurone {

const Conv2dKernels& conv2dKernelsAvx2() { return conv2dKernelsV<Avx2>(); }

}  // namespace neurone
#endif
