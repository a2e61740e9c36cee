// The direct one-channel convolution with AVX-512, 16 floats per register: conv2d_direct.h's
// loops. Reached solely through conv2dKernelsAvx512(), which conv2d.cc calls only when the CPU
// and the OS support the instructions.
#if defined(__AVX512F__)
#include "conv2d_direct.h"

namespace neurone {

const Conv2dKernels& conv2dKernelsAvx512() { return conv2dKernelsV<Avx512>(); }

}  // namespace neurone
#endif
