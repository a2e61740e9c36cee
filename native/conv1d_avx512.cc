// The direct small-window convolution + max pooling of conv1d_direct.h with AVX-512
// (-mavx512f/dq/bw/vl), 16 channels per register. Reached solely through
// convPoolKernelsAvx512(), which conv1d.cc calls only when the CPU has the instructions.
#if defined(__AVX512F__)
#include "conv1d_direct.h"

namespace neurone {

const ConvPoolKernels& convPoolKernelsAvx512() { return DirectConvPool<Avx512>::kKernels; }

}  // namespace neurone
#endif
