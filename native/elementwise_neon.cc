// The elementwise kernels for NEON (aarch64): simd_math.h's exp- and log-based functions,
// rectifiers and non-finite scan on 4-wide registers (the log's mantissa and exponent read from
// the bit fields, as on AVX2), and the loops of elementwise_loops.h (optimiser steps),
// which the compiler vectorises with NEON by itself. Compiled into aarch64 binaries only.
#if defined(__aarch64__)
#include "elementwise.h"
#include "elementwise_loops.h"
#include "simd_math.h"

namespace neurone {
namespace {

const elementwise::Kernels kNeon{applyV<Neon, tanhV<Neon>>,
                                 applyV<Neon, sigmoidV<Neon>>,
                                 rectifyV<Neon>,
                                 rectifyBackwardV<Neon>,
                                 expShiftSumV<Neon>,
                                 bceSumV<Neon>,
                                 elementwise::sgdStepLoop,
                                 elementwise::adamStepLoop,
                                 nonFiniteIndexV<Neon>,
                                 elementwise::sumOfSquaresLoop,
                                 sumBlocksV<Neon>};

}  // namespace

const elementwise::Kernels& elementwise::kernelsNeon() { return kNeon; }

}  // namespace neurone
#endif
