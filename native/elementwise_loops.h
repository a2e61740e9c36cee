// Optimiser updates, the non-finite scan and sumRows' block sums as plain loops (the scan is the
// scalar table's; the SIMD tables have simd_math.h's), included by
// elementwise.cc and by its AVX2 / AVX-512 twins so each compiles them with its
// own instruction set (the loops are memory-light and vectorise cleanly; the
// wider vectors halve or quarter the instructions per element).
//
// Every function here is `static`: each translation unit keeps a private copy,
// so the linker can never substitute an AVX-512 copy into baseline code (which
// an ordinary inline function, merged across translation units, would allow).
// For the same reason they call compiler builtins or intrinsics (sqrtInline), never inline
// library functions such as std::sqrt, which an unoptimised build emits out of line.
//
// Compiled with -mfma, the compiler may fuse a multiply and an add, so the
// SIMD paths can differ from the baseline one in the last bit; for a given
// path, results do not depend on the thread count (elements are independent).
#pragma once

#include <cstdint>
#include <cstring>
#if defined(_MSC_VER) && !defined(__clang__)
#include <cmath>
#include <xmmintrin.h>
#endif

namespace neurone {

// A square root that stays in line (MSVC has no __builtin_sqrtf; on x64 it gets the SSE
// instruction, elsewhere std::sqrt).
static inline float sqrtInline(float x) {
#if !defined(_MSC_VER) || defined(__clang__)
  return __builtin_sqrtf(x);
#elif defined(_M_X64)
  return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x)));
#else
  return std::sqrt(x);
#endif
}
namespace elementwise {

// See sgdStep in elementwise.h. Without dampening, (1 - 0) * gi is gi exactly: the same bits as
// the plain momentum update.
static inline void sgdStepLoop(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum,
                               float weightDecay, float dampening, bool nesterov) {
  const float keep = 1.0f - dampening;
  if (velocity && nesterov) {
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i] + weightDecay * w[i];
      float v = momentum * velocity[i] + keep * gi;
      velocity[i] = v;
      w[i] -= lr * (gi + momentum * v);
    }
  } else if (velocity) {
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i] + weightDecay * w[i];
      velocity[i] = momentum * velocity[i] + keep * gi;
      w[i] -= lr * velocity[i];
    }
  } else if (weightDecay != 0.0f) {
    for (int64_t i = 0; i < n; i++) w[i] -= lr * (g[i] + weightDecay * w[i]);
  } else {
    for (int64_t i = 0; i < n; i++) w[i] -= lr * g[i];
  }
}

// See Kernels::sumBlocks in elementwise.h: the plain loop, the scalar path's. The sums live in
// a local array while they add up, which the compiler knows nothing else writes: through
// `partial` itself the loop took 1.4 times as long.
static inline void sumBlocksLoop(const float* x, int64_t blocks, int64_t period, float* partial) {
  constexpr int64_t kMaxPeriod = 512;
  float sums[kMaxPeriod];
  std::memcpy(sums, partial, period * sizeof(float));
  for (int64_t b = 0; b < blocks; b++) {
    const float* block = x + b * period;
    for (int64_t i = 0; i < period; i++) sums[i] += block[i];
  }
  std::memcpy(partial, sums, period * sizeof(float));
}

// Adam's update with the bias corrections already folded into stepSize and epsHat (adamStep).
static inline void adamStepLoop(float* w, const float* g, float* m, float* v, int64_t n, float beta1, float beta2,
                                float weightDecay, float stepSize, float epsHat) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + weightDecay * w[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    w[i] -= stepSize * m[i] / (sqrtInline(v[i]) + epsHat);
  }
}

// Σ x[i]² in double (elementwise::Kernels::sumOfSquares): value i goes to partial sum i mod 32,
// then neighbours are added pairwise, s[j] = s[2j] + s[2j + 1], halving to one. A float's square
// is exact in double (24-bit significands, a 48-bit product), so a fused multiply-add rounds as
// the separate add does, and each partial sum adds the same values in the same order however
// the compiler lays it out in vectors: every path, and the js backend, give the same bits.
// 32 sums, not 8: the compiler keeps them in 8 vectors of 4, enough independent additions to
// hide their latency (the seed CNN's fc1 input, 130,000 floats, AVX-512: 27 µs with 8 sums,
// 20 µs with 32, about as fast as it arrives from L3).
static inline double sumOfSquaresLoop(const float* x, int64_t n) {
  constexpr int kSums = 32;
  double s[kSums] = {};
  int64_t i = 0;
  for (; i + kSums <= n; i += kSums)
    for (int j = 0; j < kSums; j++) {
      const double v = x[i + j];
      s[j] += v * v;
    }
  for (int j = 0; i + j < n; j++) {
    const double v = x[i + j];
    s[j] += v * v;
  }
  for (int width = kSums / 2; width >= 1; width /= 2)
    for (int j = 0; j < width; j++) s[j] = s[2 * j] + s[2 * j + 1];
  return s[0];
}

// A float is NaN or ±Inf exactly when its exponent bits are all ones. Testing the bits with an
// integer OR over a block vectorises (a float comparison reduction would not, without
// fast-math); only a block that holds one is searched element by element.
static inline int64_t nonFiniteIndexLoop(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = start + kBlock < n ? start + kBlock : n;
    uint32_t bad = 0;
    for (int64_t i = start; i < end; i++) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad) {
      for (int64_t i = start; i < end; i++) {
        uint32_t bits;
        std::memcpy(&bits, x + i, sizeof bits);
        if ((bits & 0x7f800000u) == 0x7f800000u) return i;
      }
    }
  }
  return -1;
}

}  // namespace elementwise
}  // namespace neurone
