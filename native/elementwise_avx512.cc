// The elementwise kernels for AVX-512: simd_math.h's exp- and log-based functions, rectifiers
// and non-finite scan on 16-wide registers, and the loops of elementwise_loops.h (optimiser
// steps) compiled for AVX-512. Compiled with -mavx512f (and friends) only; reached solely through
// kernelsAvx512(), after CPUID said yes.
#if defined(__AVX512F__)
#include "elementwise.h"
#include "elementwise_loops.h"
#include "simd_math.h"

namespace neurone {
namespace {

const elementwise::Kernels kAvx512{applyV<Avx512, tanhV<Avx512>>,
                                   applyV<Avx512, sigmoidV<Avx512>>,
                                   rectifyV<Avx512>,
                                   rectifyBackwardV<Avx512>,
                                   expShiftSumV<Avx512>,
                                   bceSumV<Avx512>,
                                   elementwise::sgdStepLoop,
                                   elementwise::adamStepLoop,
                                   nonFiniteIndexV<Avx512>,
                                   elementwise::sumOfSquaresLoop,
                                   sumBlocksV<Avx512>};

}  // namespace

const elementwise::Kernels& elementwise::kernelsAvx512() { return kAvx512; }

}  // namespace neurone
#endif
