// The elementwise kernels for NEON (aarch64): simd_math.h's exp-based functions on 4-wide
// registers (BCE stays on the baseline loop, as on AVX2: NEON has no mantissa/exponent split
// for the vector log), and the loops of elementwise_loops.h (optimiser steps, non-finite scan),
// which the compiler vectorises with NEON by itself. Compiled into aarch64 binaries only.
#if defined(__aarch64__)
#include "elementwise.h"
#include "elementwise_loops.h"
#include "simd_math.h"

namespace neurone {
namespace {

const elementwise::Kernels kNeon{
    applyV<Neon, tanhV<Neon>>,      applyV<Neon, sigmoidV<Neon>>, expShiftSumV<Neon>,
    elementwise::bceTermsScalar,    elementwise::sgdStepLoop,     elementwise::adamStepLoop,
    elementwise::nonFiniteIndexLoop};

}  // namespace

const elementwise::Kernels& elementwise::kernelsNeon() { return kNeon; }

}  // namespace neurone
#endif
