// The direct small-window convolution + max pooling of conv1d_direct.h with AVX2+FMA
// (-mavx2 -mfma), 8 channels per register. Reached solely through convPoolKernelsAvx2(), which
// conv1d.cc calls only when the CPU has the instructions.
#if defined(__AVX2__) && defined(__FMA__)
#include "conv1d_direct.h"

namespace neurone {

const ConvPoolKernels& convPoolKernelsAvx2() { return DirectConvPool<Avx2>::kKernels; }

}  // namespace neurone
#endif
