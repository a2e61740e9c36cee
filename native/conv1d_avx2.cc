// The direct small-window convolution + max pooling of conv1d_direct.h with AVX2+FMA
// (-mavx2 -mfma), 8 channels per register. Reached solely through convPoolKernelsAvx2(), which
// conv1d.cc calls only when the CPU has the instructions.
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "conv1d_direct.h"

namespace neurone {

const ConvPoolKernels& convPoolKernelsAvx2() { return DirectConvPool<Avx2>::kKernels; }

}  // namespace neurone
#endif
