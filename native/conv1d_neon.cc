// The direct small-window convolution + max pooling of conv1d_direct.h with NEON (aarch64),
// 4 channels per register. Compiled into aarch64 binaries only; reached solely through
// convPoolKernelsNeon().
#if defined(__aarch64__)
#include "conv1d_direct.h"

namespace neurone {

const ConvPoolKernels& convPoolKernelsNeon() { return DirectConvPool<Neon>::kKernels; }

}  // namespace neurone
#endif
