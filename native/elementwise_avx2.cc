// The elementwise kernels for AVX2+FMA: simd_math.h's exp- and log-based functions, rectifiers
// and non-finite scan on 8-wide registers (the log's mantissa and exponent read from the bit
// fields, AVX2 having no vgetmant/vgetexp), and the loops of elementwise_loops.h (optimiser
// steps) compiled for AVX2.
// Compiled with -mavx2 -mfma only; reached solely through kernelsAvx2().
#include "isa.h"
#if defined(NEURONE_TARGET_AVX2)
#include "elementwise.h"
#include "elementwise_loops.h"
#include "simd_math.h"

namespace neurone {
namespace {

const elementwise::Kernels kAvx2{applyV<Avx2, tanhV<Avx2>>,
                                 applyV<Avx2, sigmoidV<Avx2>>,
                                 rectifyV<Avx2>,
                                 rectifyBackwardV<Avx2>,
                                 expShiftSumV<Avx2>,
                                 bceSumV<Avx2>,
                                 elementwise::sgdStepLoop,
                                 elementwise::adamStepLoop,
                                 nonFiniteIndexV<Avx2>,
                                 elementwise::sumOfSquaresLoop,
                                 sumBlocksV<Avx2>};

}  // namespace

const elementwise::Kernels& elementwise::kernelsAvx2() { return kAvx2; }

}  // namespace neurone
#endif
