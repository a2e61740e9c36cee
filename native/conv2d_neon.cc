// The direct one-channel convolution with NEON (aarch64), 4 floats per register:
// conv2d_direct.h's loops. Compiled into aarch64 binaries only; reached solely through
// conv2dKernelsNeon().
#if defined(__aarch64__)
#include "conv2d_direct.h"

namespace neurone {

const Conv2dKernels& conv2dKernelsNeon() { return conv2dKernelsV<Neon>(); }

}  // namespace neurone
#endif
