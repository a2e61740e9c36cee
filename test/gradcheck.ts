/**
 * Finite-difference gradient checks shared by the tests.
 *
 * The modules compute in float32; the check is done in float64 around them:
 *   L(x, θ) = Σᵢ rᵢ · f(x, θ)ᵢ, with r fixed random weights (so every output entry matters),
 * summed in float64. Its analytic gradient is what the module's backward gives for δ = r
 * (r is drawn as float32 values, so δ is exact). The numerical gradient is the central
 * difference (L(x + h eᵢ) − L(x − h eᵢ)) / (x⁺ − x⁻), where x⁺ and x⁻ are the float32 values
 * actually stored (dividing by their true difference removes the rounding of x ± h).
 *
 * Tolerance: |numeric − analytic| ≤ rtol·|analytic| + noise, where
 *   noise = C · ε₃₂ · S / h,  S = Σᵢ |rᵢ · f(x)ᵢ|, ε₃₂ = 2⁻²⁴,
 * is the float32 rounding of L's two evaluations divided by the step: each output entry is
 * a float32 result with a relative error of a few ε₃₂ (C = 16 covers the accumulation in
 * sums of up to a few dozen terms), and L sums them with weights |rᵢ|. The truncation error
 * h²/6 · f''' is ~2e-5 for the smooth activations at h = 1e-2, inside rtol = 1e-2 · |g| + noise;
 * piecewise-linear modules have no truncation error as long as no kink lies within h
 * (inputs are drawn away from kinks and ties). Measured (js backend, 1000 entries per
 * module): |numeric − analytic| stays below 0.03·noise for single modules and 0.4·noise for
 * a 5-module Sequential, while noise itself is typically 5–20 % of |g|. A wrong backward (a
 * missing term, a wrong transpose, a 1/batch factor) is off by O(|g|), outside this band; the
 * negative controls in test/nn/gradients.test.ts show a 3 % error and a 1/batch factor are caught.
 */
import { Tensor, zeros, tensor } from '../lib/tensor';
import { Module } from '../lib/nn/module';
import { Loss } from '../lib/losses';
import { Rng, globalRng } from '../lib/random';

const EPS32 = 2 ** -24;

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2). */
  h?: number;
  /** Relative tolerance (default 1e-2). */
  rtol?: number;
  /** Entries checked per tensor, picked at random when the tensor is larger (default 40). */
  samples?: number;
  /** Seed for r and the sampled entries. */
  seed?: number;
  /** Called for every checked entry (to measure the margins). */
  observe?: (entry: { what: string; analytic: number; numeric: number; noise: number }) => void;
}

export interface GradcheckFailure {
  what: string;
  index: number;
  analytic: number;
  numeric: number;
  tolerance: number;
}

/** Float32-representable random values in [-1, 1). */
export function randomTensor(shape: readonly number[], rng: Rng, low = -1, high = 1): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = low + (high - low) * rng.uniform();
  return t;
}

/** Indices to check: all of them, or `samples` distinct ones at random. */
function pick(n: number, samples: number, rng: Rng): number[] {
  if (n <= samples) return Array.from({ length: n }, (_, i) => i);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  rng.shuffle(all);
  return Array.from(all.subarray(0, samples));
}

function weightedSum(y: Tensor, r: Float32Array): { value: number; scale: number } {
  let value = 0;
  let scale = 0;
  for (let i = 0; i < y.data.length; i++) {
    value += r[i] * y.data[i];
    scale += Math.abs(r[i] * y.data[i]);
  }
  return { value, scale };
}

/**
 * Compares every gradient `fn` exposes with central differences of `evaluate`.
 * `targets` are the float32 buffers perturbed in place (restored afterwards), each with its
 * analytic gradient.
 */
function compare(
  targets: { what: string; data: Float32Array; grad: Float32Array }[],
  evaluate: () => { value: number; scale: number },
  opts: GradcheckOptions,
  rng: Rng,
): GradcheckFailure[] {
  const h = opts.h ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const failures: GradcheckFailure[] = [];
  for (const { what, data, grad } of targets) {
    for (const i of pick(data.length, opts.samples ?? 40, rng)) {
      const x0 = data[i];
      data[i] = x0 + h;
      const plus = data[i];
      const fPlus = evaluate();
      data[i] = x0 - h;
      const minus = data[i];
      const fMinus = evaluate();
      data[i] = x0;
      const numeric = (fPlus.value - fMinus.value) / (plus - minus);
      const noise = (16 * EPS32 * Math.max(fPlus.scale, fMinus.scale)) / h;
      const tolerance = rtol * Math.abs(grad[i]) + noise + 1e-6;
      opts.observe?.({ what, analytic: grad[i], numeric, noise });
      if (!(Math.abs(numeric - grad[i]) <= tolerance)) {
        failures.push({ what, index: i, analytic: grad[i], numeric, tolerance });
      }
    }
  }
  return failures;
}

/**
 * Gradient check of a module: ∂L/∂input from backwardDelta and ∂L/∂θ from
 * backwardUpdateGradient (which must accumulate: it is called on top of a non-zero gradient).
 * Returns the failures (empty when all pass).
 */
export function gradcheckModule(module: Module, input: Tensor, opts: GradcheckOptions = {}): GradcheckFailure[] {
  const rng = new Rng(opts.seed ?? 1);
  // Every pass starts from the same state of the shared random stream, so a module that draws
  // from it (Dropout's mask) draws the same values each time: the function differentiated is
  // the one of a fixed draw, and backward sees the draw its forward made.
  const streamState = globalRng().getState();
  const replay = <T>(pass: () => T): T => {
    globalRng().setState(streamState);
    return pass();
  };
  const y0 = replay(() => module.forward(input));
  const r = randomTensor(y0.shape, rng);
  const evaluate = (): { value: number; scale: number } =>
    weightedSum(
      replay(() => module.forward(input)),
      r.data,
    );

  const dx = replay(() => module.backwardDelta(input, r));
  // Pre-fill the gradients with a known value to check backwardUpdateGradient adds, not overwrites.
  const params = module.parameters();
  for (const p of params) p.grad.data.fill(0.5);
  replay(() => module.backwardUpdateGradient(input, r));
  const targets = [{ what: 'input', data: input.data, grad: dx.data }];
  for (const p of params) {
    const g = p.grad.data.map((v) => v - 0.5);
    targets.push({ what: p.name, data: p.value.data, grad: g });
  }
  return compare(targets, evaluate, opts, rng);
}

/** Gradient check of a loss: backward(y, yhat) against differences of Σ forward(y, yhat). */
export function gradcheckLoss(loss: Loss, y: Tensor, yhat: Tensor, opts: GradcheckOptions = {}): GradcheckFailure[] {
  const rng = new Rng(opts.seed ?? 1);
  // backward is the gradient of the mean of the per-sample losses, or of their sum.
  const weights = new Float32Array(yhat.shape[0]).fill(loss.reduction === 'mean' ? 1 / Math.max(1, yhat.shape[0]) : 1);
  const evaluate = (): { value: number; scale: number } => weightedSum(loss.forward(y, yhat), weights);
  const g = loss.backward(y, yhat);
  return compare([{ what: 'yhat', data: yhat.data, grad: g.data }], evaluate, opts, rng);
}

/** Jest-friendly summary of failures. */
export function describeFailures(f: GradcheckFailure[]): string {
  return f
    .slice(0, 5)
    .map((x) => `${x.what}[${x.index}]: analytic ${x.analytic}, numeric ${x.numeric} (tol ${x.tolerance.toExponential(2)})`)
    .join('\n');
}

export { tensor };
