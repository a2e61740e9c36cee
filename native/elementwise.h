// Elementwise and row-wise work of a training step: activations and their
// derivatives, bias, softmax, cross-entropy from logits, optimiser updates.
//
// Most of it is memory-bound and written as plain loops the compiler
// vectorises at the baseline ISA. The exp- and log-based functions (tanh, sigmoid,
// softmax, BCE) and the rectifiers (ReLU, LeakyReLU) get AVX2 / AVX-512 / NEON
// versions, as does the non-finite scan; the optimiser steps are compiled for each
// (elementwise_loops.h), all picked through the same KernelPath as the GEMM. Arrays are (rows, cols) row-major where
// rows/cols appear. These functions trust their arguments: the binding
// validates them.
#pragma once

#include <cstdint>

#include "activations_generated.h"  // enum class Activation, from the op table (npm run gen)
#include "cpu.h"
#include "threadpool.h"

namespace neurone {

// y = f(x); x and y may be the same array. alpha is LeakyReLU's negative slope. ReLU and
// LeakyReLU keep NaN.
void activationForward(Activation f, float alpha, const float* x, float* y, int64_t n, KernelPath path);
// dx = dy * f'(x), with y = f(x) given too (tanh and sigmoid derive from y). dx may be the same
// array as x, y or dy. ReLU and LeakyReLU give dx = NaN where x is NaN.
void activationBackward(Activation f, float alpha, const float* x, const float* y, const float* dy, float* dx,
                        int64_t n, KernelPath path);

// y[r, c] += v[c]
void addRowVector(float* y, const float* v, int64_t rows, int64_t cols);
// out[c] += sum over r of x[r, c]
void sumRows(const float* x, int64_t rows, int64_t cols, float* out, KernelPath path);

// Softmax (or log-softmax) of each row. x and y may be the same array.
void softmaxForward(const float* x, float* y, int64_t rows, int64_t cols, bool logOutput, KernelPath path);
// dx from dy through softmax (y = softmax(x)) or log-softmax (y = log-softmax(x)). dx may be the same
// array as y or dy.
void softmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, bool logOutput);

// Per-row cross-entropy from raw logits: loss[r] = logsumexp(x[r]) - x[r, label[r]];
// grad (if not null) = softmax(x[r]) - onehot(label[r]). Labels are checked by the caller, which
// passes its own copy (a label is read once here, to address memory). grad must not be logits: the
// exponentials are written to grad before the label's logit is read for the loss.
void crossEntropyLogits(const float* logits, const int32_t* labels, float* loss, float* grad, int64_t rows,
                        int64_t cols, KernelPath path);

// Binary cross-entropy of probabilities p against targets y, rows of `cols` values:
//   loss[r] = -Σ_c y log p + (1 - y) log(1 - p), each log clamped at -100 (so p = 0 or 1 is finite);
//   grad (if not null) = -y / max(p, 1e-12) + (1 - y) / max(1 - p, 1e-12), per element.
void binaryCrossEntropy(const float* p, const float* y, float* loss, float* grad, int64_t rows, int64_t cols,
                        KernelPath path);

// SGD with optional momentum, dampening, Nesterov's look-ahead and L2 weight decay (PyTorch's
// formulation):
//   g' = g + wd * w;  v = momentum * v + (1 - dampening) * g' (if velocity);
//   w -= lr * (velocity ? (nesterov ? g' + momentum * v : v) : g')
// PyTorch's first step sets v = g' undamped: the caller passes dampening 0 to a zero velocity then.
void sgdStep(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, float weightDecay,
             float dampening, bool nesterov, KernelPath path);
// Adam (Kingma & Ba) with bias correction for step t (1-based) and L2 weight decay.
void adamStep(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
              float weightDecay, int64_t step, KernelPath path);

// Inverted dropout drawn from xoshiro128**, lib/random.ts's Rng, whose four state words `state`
// holds and advances: the i-th draw u drops x[i] when u / 2^32 < p, compared in double as
// Rng.uniform() < p is, so the mask is the one the Rng would draw. factors[i] = dropped ? 0 :
// keep; y[i] = x[i] · factors[i] (y may be x).
void dropoutForward(const float* x, float* factors, float* y, int32_t* state, int64_t n, double p, float keep);

// Index of the first NaN or ±Infinity in x, or -1 when all n values are finite.
int64_t nonFiniteIndex(const float* x, int64_t n, KernelPath path);

// Σ x[i]² over n values, in double: each block of kSumOfSquaresBlock values in the order
// elementwise_loops.h gives, the blocks' sums then added in order, the blocks spread over `pool`
// (may be null) for large n. The same result on every path and thread count; NaN with a NaN in
// x, +Infinity with an infinity.
constexpr int64_t kSumOfSquaresBlock = 32768;
double sumOfSquares(const float* x, int64_t n, KernelPath path, ThreadPool* pool);

// The activations again, split into contiguous chunks across `pool` when n is large enough
// for the threads to pay (big conv activations); otherwise the same as above.
void activationForwardParallel(Activation f, float alpha, const float* x, float* y, int64_t n, KernelPath path,
                               ThreadPool* pool);
void activationBackwardParallel(Activation f, float alpha, const float* x, const float* y, const float* dy, float* dx,
                                int64_t n, KernelPath path, ThreadPool* pool);

// The optimiser steps split into contiguous chunks across `pool` for large parameters.
void sgdStepParallel(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, float weightDecay,
                     float dampening, bool nesterov, KernelPath path, ThreadPool* pool);
void adamStepParallel(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                      float eps, float weightDecay, int64_t step, KernelPath path, ThreadPool* pool);
// nonFiniteIndex, chunks scanned across `pool` for large arrays (the first bad index still wins).
int64_t nonFiniteIndexParallel(const float* x, int64_t n, KernelPath path, ThreadPool* pool);

// Plain scalar versions of the SIMD functions, for the tests.
void activationForwardReference(Activation f, float alpha, const float* x, float* y, int64_t n);

namespace elementwise {
// The SIMD entry points, one table per KernelPath (defined in elementwise_avx2.cc / elementwise_avx512.cc).
struct Kernels {
  void (*tanh)(const float* x, float* y, int64_t n);
  void (*sigmoid)(const float* x, float* y, int64_t n);
  // ReLU (leaky false) or LeakyReLU of slope alpha: activationForward's and activationBackward's
  // formulas (dx from x and dy). y or dx may be x or dy.
  void (*rectify)(const float* x, float* y, int64_t n, float alpha, bool leaky);
  void (*rectifyBackward)(const float* x, const float* dy, float* dx, int64_t n, float alpha, bool leaky);
  // y[i] = exp(x[i] - shift); returns the sum of y.
  float (*expShiftSum)(const float* x, float shift, float* y, int64_t n);
  // Σ_i y log p + (1 - y) log(1 - p) with logs clamped at -100, and grad per element as
  // binaryCrossEntropy describes (grad may be null). The scalar table adds the terms in order,
  // the SIMD tables one partial sum a lane.
  float (*bceSum)(const float* p, const float* y, float* grad, int64_t n);
  // The optimiser steps of elementwise_loops.h, compiled for this path.
  void (*sgdStep)(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, float weightDecay,
                  float dampening, bool nesterov);
  void (*adamStep)(float* w, const float* g, float* m, float* v, int64_t n, float beta1, float beta2, float weightDecay,
                   float stepSize, float epsHat);
  // The first index of a NaN or ±Inf, or -1: elementwise_loops.h's loop on the scalar path,
  // simd_math.h's vectors on the others.
  int64_t (*nonFiniteIndex)(const float* x, int64_t n);
  // Σ x[i]² in double, elementwise_loops.h's loop compiled for the path (the same bits on every one).
  double (*sumOfSquares)(const float* x, int64_t n);
  // partial[i] += x[b * period + i] for every block b < blocks, i < period (sumRows' narrow case);
  // period is a multiple of 16, the widest path's lanes.
  void (*sumBlocks)(const float* x, int64_t blocks, int64_t period, float* partial);
};
const Kernels& kernelsAvx2();
const Kernels& kernelsNeon();
const Kernels& kernelsAvx512();
}  // namespace elementwise

}  // namespace neurone
