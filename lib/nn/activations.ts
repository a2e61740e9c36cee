/**
 * Activations: parameter-free modules applied elementwise (or along the last axis for
 * Softmax and LogSoftmax). Output shape = input shape.
 *
 * Each backward recomputes what it needs from the input instead of caching the output:
 * Sequential hands the input back, and a cache keyed on tensor identity would go stale once
 * buffers are reused between batches. Arithmetic is in double precision, stored as float32.
 */
import { Tensor, zeros, describe } from '../tensor';
import { Module, ModuleConfig } from './module';

/** Common shape handling: any tensor with at least one dimension, output of the same shape. */
abstract class Activation extends Module {
  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) throw this.shapeError(['batch', '...'], inputShape);
    return [...inputShape];
  }

  config(): ModuleConfig {
    return { type: this.constructor.name, args: [] };
  }
}

/** Elementwise activations: subclasses give f(x) and f'(x). */
abstract class Elementwise extends Activation {
  protected abstract f(x: number): number;
  protected abstract df(x: number): number;

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = zeros(shape);
    const x = input.data;
    const out = y.data;
    for (let i = 0; i < x.length; i++) out[i] = this.f(x[i]);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const shape = this.checkBackward(input, delta);
    const dx = zeros(shape);
    const x = input.data;
    const d = delta.data;
    const out = dx.data;
    for (let i = 0; i < x.length; i++) out[i] = d[i] * this.df(x[i]);
    return dx;
  }
}

/**
 * Hyperbolic tangent. y = tanh(x); ∂y/∂x = 1 − y².
 *
 * Shape: any → same.
 * @example
 * new TanH().forward(fromArray([[0, 1]]))  // [[0, 0.7616]]
 */
export class TanH extends Elementwise {
  protected f(x: number): number {
    return Math.tanh(x);
  }
  protected df(x: number): number {
    const t = Math.tanh(x);
    return 1 - t * t;
  }
}

/**
 * Logistic sigmoid, the course's formula y = 1 / (1 + e^(−x)); ∂y/∂x = y (1 − y).
 * For very negative x, e^(−x) overflows to Infinity and y is 0, still finite; prefer
 * {@link StableSigmoid}, which never forms the overflowing exponential.
 *
 * Shape: any → same.
 * @example
 * new Sigmoid().forward(fromArray([[0]]))  // [[0.5]]
 */
export class Sigmoid extends Elementwise {
  protected f(x: number): number {
    return 1 / (1 + Math.exp(-x));
  }
  protected df(x: number): number {
    const s = 1 / (1 + Math.exp(-x));
    return s * (1 - s);
  }
}

/** σ(x) without overflow: only ever exponentiates a non-positive number. */
export function stableSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Sigmoid evaluated without overflow for any |x| (e^(−|x|) only): finite and exact at ±1e4.
 *
 * Shape: any → same.
 * @example
 * new StableSigmoid().forward(fromArray([[-1e4, 1e4]]))  // [[0, 1]]
 */
export class StableSigmoid extends Elementwise {
  protected f(x: number): number {
    return stableSigmoid(x);
  }
  protected df(x: number): number {
    const s = stableSigmoid(x);
    return s * (1 - s);
  }
}

/**
 * Rectified linear unit: y = max(0, x). The derivative at 0 is taken as 0.
 *
 * Shape: any → same.
 * @example
 * new ReLU().forward(fromArray([[-1, 2]]))  // [[0, 2]]
 */
export class ReLU extends Elementwise {
  protected f(x: number): number {
    return x > 0 ? x : 0;
  }
  protected df(x: number): number {
    return x > 0 ? 1 : 0;
  }
}

/**
 * Leaky ReLU: y = x for x > 0, slope·x otherwise.
 *
 * Shape: any → same.
 * @example
 * new LeakyReLU(0.1).forward(fromArray([[-1, 2]]))  // [[-0.1, 2]]
 */
export class LeakyReLU extends Elementwise {
  readonly slope: number;

  constructor(slope = 0.01) {
    super();
    if (typeof slope !== 'number' || !Number.isFinite(slope)) {
      throw new TypeError(`LeakyReLU: slope must be a finite number, got ${describe(slope)}`);
    }
    this.slope = slope;
  }

  config(): ModuleConfig {
    return { type: 'LeakyReLU', args: [this.slope] };
  }

  protected f(x: number): number {
    return x > 0 ? x : this.slope * x;
  }
  protected df(x: number): number {
    return x > 0 ? 1 : this.slope;
  }
}

/**
 * SoftPlus: y = log(1 + eˣ), computed as max(x, 0) + log1p(e^(−|x|)) so it never overflows;
 * ∂y/∂x = σ(x).
 *
 * Shape: any → same.
 * @example
 * new SoftPlus().forward(fromArray([[0]]))  // [[0.6931]]
 */
export class SoftPlus extends Elementwise {
  protected f(x: number): number {
    return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }
  protected df(x: number): number {
    return stableSigmoid(x);
  }
}

/**
 * Identity: y = x (a placeholder, e.g. a linear output layer's "activation").
 *
 * Shape: any → same.
 * @example
 * new Identity().forward(x)  // a copy of x
 */
export class Identity extends Elementwise {
  protected f(x: number): number {
    return x;
  }
  protected df(): number {
    return 1;
  }
}

/**
 * Writes softmax (or log-softmax) of each row of length `n` of `x` into `y`. Subtracting the
 * row maximum before exponentiating keeps every exponent ≤ 0, so logits of ±1e4 are fine.
 */
export function softmaxRows(x: Float32Array, y: Float32Array, n: number, log: boolean): void {
  const rows = n === 0 ? 0 : x.length / n;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(x[o + j] - max);
    if (log) {
      const lse = max + Math.log(sum);
      for (let j = 0; j < n; j++) y[o + j] = x[o + j] - lse;
    } else {
      for (let j = 0; j < n; j++) y[o + j] = Math.exp(x[o + j] - max) / sum;
    }
  }
}

/**
 * Softmax over the last axis: yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ), stable for large logits.
 *
 * Backward is the full Jacobian-vector product, not the diagonal:
 * ∂yᵢ/∂xₖ = yᵢ(1[i=k] − yₖ), so (∂L/∂x)ₖ = Σᵢ δᵢ yᵢ(1[i=k] − yₖ) = yₖ (δₖ − Σᵢ δᵢ yᵢ).
 *
 * Shape: (..., classes) → same.
 * @example
 * new Softmax().forward(fromArray([[0, Math.log(3)]]))  // [[0.25, 0.75]]
 */
export class Softmax extends Activation {
  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = zeros(shape);
    softmaxRows(input.data, y.data, shape[shape.length - 1], false);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const shape = this.checkBackward(input, delta);
    const n = shape[shape.length - 1];
    const dx = zeros(shape);
    const y = dx.data; // softmax written here first, then overwritten row by row with the JVP
    softmaxRows(input.data, y, n, false);
    const d = delta.data;
    const rows = n === 0 ? 0 : y.length / n;
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let dot = 0;
      for (let j = 0; j < n; j++) dot += d[o + j] * y[o + j];
      for (let j = 0; j < n; j++) y[o + j] = y[o + j] * (d[o + j] - dot);
    }
    return dx;
  }
}

/**
 * Log-softmax over the last axis: yᵢ = xᵢ − log Σⱼ e^(xⱼ) (log-sum-exp with the maximum
 * factored out, so finite for logits of ±1e4). Pair it with {@link CrossEntropyLoss}.
 *
 * Backward, full JVP: ∂yᵢ/∂xₖ = 1[i=k] − softmaxₖ, so (∂L/∂x)ₖ = δₖ − softmaxₖ Σᵢ δᵢ.
 *
 * Shape: (..., classes) → same.
 * @example
 * new LogSoftmax().forward(fromArray([[0, 0]]))  // [[-0.6931, -0.6931]]
 */
export class LogSoftmax extends Activation {
  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = zeros(shape);
    softmaxRows(input.data, y.data, shape[shape.length - 1], true);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const shape = this.checkBackward(input, delta);
    const n = shape[shape.length - 1];
    const dx = zeros(shape);
    const p = dx.data;
    softmaxRows(input.data, p, n, false);
    const d = delta.data;
    const rows = n === 0 ? 0 : p.length / n;
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += d[o + j];
      for (let j = 0; j < n; j++) p[o + j] = d[o + j] - p[o + j] * sum;
    }
    return dx;
  }
}
