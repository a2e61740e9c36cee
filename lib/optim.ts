/**
 * Optimisers over `parameters()`, and the course's `Optim` (one call = one training step).
 *
 * Gradients are sums over the batch (see losses.ts), so the learning rate of a step does not
 * get divided by the batch size: lr_ours = lr_torch / batch reproduces a PyTorch run with
 * the default mean reduction (for SGD; Adam is invariant to the gradient's scale apart from eps).
 */
import { Tensor, describe } from './tensor';
import { Module, Parameter } from './nn/module';
import { Loss } from './losses';

/** Anything that updates parameters from their gradients. */
export interface Optimizer {
  /** Applies one update to every parameter from its current gradient. */
  step(params: readonly Parameter[]): void;
  /** Learning rate (mutable, for schedules). */
  lr: number;
  /** `{ type, args, options }`, for serialisation. */
  toJSON(): { type: string; args: unknown[]; options: Record<string, unknown> };
}

function checkNumber(who: string, name: string, v: unknown, min: number, max = Infinity, openMax = false): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${who}: ${name} must be a number, got ${describe(v)}`);
  if (!(v >= min) || v > max || (openMax && v === max) || !Number.isFinite(v)) {
    throw new RangeError(`${who}: ${name} must be in [${min}, ${max}${openMax ? ')' : ']'}, got ${v}`);
  }
  return v;
}

/** Options of {@link SGD}. */
export interface SGDOptions {
  lr: number;
  /** Heavy-ball momentum in [0, 1) (default 0). */
  momentum?: number;
  /** L2 penalty added to the gradient: g + weightDecay · w (default 0). */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent, with optional momentum and weight decay (PyTorch's formulation):
 * g ← grad + wd·w;  v ← μ·v + g;  w ← w − lr·v  (v = g when μ = 0).
 *
 * @example
 * const opt = new SGD({ lr: 1e-3, momentum: 0.9 });
 * opt.step(net.parameters());
 */
export class SGD implements Optimizer {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** Velocity per parameter buffer; a WeakMap so replaced networks free their state. */
  private readonly velocity = new WeakMap<Float32Array, Float32Array>();

  constructor(options: SGDOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`SGD: expected options { lr, momentum?, weightDecay? }, got ${describe(options)}`);
    this.lr = checkNumber('SGD', 'lr', options.lr, 0);
    this.momentum = checkNumber('SGD', 'momentum', options.momentum ?? 0, 0, 1, true);
    this.weightDecay = checkNumber('SGD', 'weightDecay', options.weightDecay ?? 0, 0);
  }

  step(params: readonly Parameter[]): void {
    const { lr, momentum: mu, weightDecay: wd } = this;
    for (const p of params) {
      const w = p.value.data;
      const g = p.grad.data;
      if (mu === 0) {
        for (let i = 0; i < w.length; i++) w[i] -= lr * (g[i] + wd * w[i]);
        continue;
      }
      let v = this.velocity.get(w);
      if (!v) {
        v = new Float32Array(w.length);
        this.velocity.set(w, v);
      }
      for (let i = 0; i < w.length; i++) {
        v[i] = mu * v[i] + g[i] + wd * w[i];
        w[i] -= lr * v[i];
      }
    }
  }

  toJSON(): { type: string; args: unknown[]; options: Record<string, unknown> } {
    return { type: 'SGD', args: [], options: { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay } };
  }
}

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** Step size (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to √v̂ (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba), bias-corrected:
 * m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − lr · m̂ / (√v̂ + eps),
 * m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
 *
 * @example
 * const opt = new Adam({ lr: 1e-3 });
 * await fit(net, loss, opt, { x, y }, { epochs: 5 });
 */
export class Adam implements Optimizer {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly state = new WeakMap<Float32Array, { m: Float32Array; v: Float32Array; t: number }>();

  constructor(options: AdamOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError(`Adam: expected options { lr?, betas?, eps? }, got ${describe(options)}`);
    this.lr = checkNumber('Adam', 'lr', options.lr ?? 1e-3, 0);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError(`Adam: betas must be [beta1, beta2], got ${describe(betas)}`);
    this.betas = [checkNumber('Adam', 'betas[0]', betas[0], 0, 1, true), checkNumber('Adam', 'betas[1]', betas[1], 0, 1, true)];
    this.eps = checkNumber('Adam', 'eps', options.eps ?? 1e-8, 0);
    this.weightDecay = checkNumber('Adam', 'weightDecay', options.weightDecay ?? 0, 0);
  }

  step(params: readonly Parameter[]): void {
    const [b1, b2] = this.betas;
    for (const p of params) {
      const w = p.value.data;
      const g = p.grad.data;
      let s = this.state.get(w);
      if (!s) {
        s = { m: new Float32Array(w.length), v: new Float32Array(w.length), t: 0 };
        this.state.set(w, s);
      }
      s.t += 1;
      // Fold both bias corrections into the step size: lr·m̂/(√v̂+eps) ≈ lrT·m/(√v + eps·√(1−β₂ᵗ)).
      const c1 = 1 - Math.pow(b1, s.t);
      const c2 = Math.sqrt(1 - Math.pow(b2, s.t));
      const lrT = (this.lr * c2) / c1;
      const epsT = this.eps * c2;
      const { m, v } = s;
      const wd = this.weightDecay;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        w[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + epsT);
      }
    }
  }

  toJSON(): { type: string; args: unknown[]; options: Record<string, unknown> } {
    return { type: 'Adam', args: [], options: { lr: this.lr, betas: this.betas, eps: this.eps, weightDecay: this.weightDecay } };
  }
}

/** The network's per-sample loss averaged, in double precision. */
export function meanOf(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += t.data[i];
  return t.data.length === 0 ? 0 : s / t.data.length;
}

/**
 * The course's `Optim`: binds a network, a loss and an update rule; `step(x, y)` does one
 * training step (zero the gradients, forward, loss, backward, update) and returns the mean
 * loss of the batch. The update is `net.updateParameters(lr)` for a number, or an
 * {@link Optimizer} (SGD with momentum, Adam) over `net.parameters()`.
 *
 * @example
 * const optim = new Optim(net, new MSELoss(), 1e-3);
 * for (let i = 0; i < 100; i++) optim.step(x, y);
 */
export class Optim {
  readonly net: Module;
  readonly loss: Loss;
  readonly optimizer: Optimizer | null;
  readonly lr: number;

  constructor(net: Module, loss: Loss, lr: number | Optimizer) {
    if (!(net instanceof Module)) throw new TypeError(`Optim: net must be a Module, got ${describe(net)}`);
    if (!(loss instanceof Loss)) throw new TypeError(`Optim: loss must be a Loss, got ${describe(loss)}`);
    this.net = net;
    this.loss = loss;
    if (typeof lr === 'number') {
      this.lr = checkNumber('Optim', 'lr', lr, 0);
      this.optimizer = null;
    } else if (lr !== null && typeof lr === 'object' && typeof lr.step === 'function') {
      this.optimizer = lr;
      this.lr = lr.lr;
    } else {
      throw new TypeError(`Optim: expected a learning rate or an optimiser, got ${describe(lr)}`);
    }
  }

  /** One step on the batch (x, y); returns the batch's mean loss (before the update). */
  step(x: Tensor, y: Tensor): number {
    const net = this.net;
    net.zeroGrad();
    const yhat = net.forward(x);
    const value = meanOf(this.loss.forward(y, yhat));
    const delta = this.loss.backward(y, yhat);
    net.backwardUpdateGradient(x, delta);
    if (this.optimizer) this.optimizer.step(net.parameters());
    else net.updateParameters(this.lr);
    return value;
  }
}
