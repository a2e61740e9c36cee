/**
 * Optimisers over `parameters()`, and the course's `Optim` (one call = one training step).
 *
 * The gradients' scale is the loss's `reduction` (see losses.ts): with the default `'mean'` a
 * PyTorch learning rate carries over; with `'sum'` (the course's convention) lr_ours =
 * lr_torch / batch gives the same SGD step (Adam is invariant to the gradient's scale apart from eps).
 */
import { FLOAT32_MAX, Tensor, describe } from './tensor';
import { Module, Parameter, accumulateGradients, forwardView } from './nn/module';
import { Loss } from './losses';
import { backend } from './backend';
import { checkKnownOptions } from './options';

/** Anything that updates parameters from their gradients. */
export interface Optimizer {
  /**
   * Applies one update to every parameter from its current gradient.
   * @param params The parameters to update (`net.parameters()`).
   */
  step(params: readonly Parameter[]): void;
  /** Learning rate (mutable, for schedules). */
  lr: number;
  /** `{ type, args, options }`, for serialisation (the `neurone` command's metrics.json); optional for an optimiser of one's own. */
  toJSON?(): { type: string; args: unknown[]; options: Record<string, unknown> };
  /**
   * The per-parameter state (momentum buffers, step counts), for checkpoints. Optional for stateless optimisers.
   * @param params The parameters whose state is read.
   */
  state?(params: readonly Parameter[]): OptimizerState;
  /**
   * Puts back a state from `state()` onto `params` (matched by parameter name).
   * @param params The parameters to restore onto.
   * @param state What `state()` returned.
   */
  loadState?(params: readonly Parameter[], state: OptimizerState): void;
}

/**
 * What an optimiser needs to continue exactly where it stopped: its type, the learning rate
 * (schedules change it), and per-parameter buffers and step counts keyed by parameter name.
 * Buffers are named `<parameter>.<buffer>`: `0.weight.velocity` (SGD), `0.weight.m`, `0.weight.v` (Adam).
 */
export interface OptimizerState {
  type: string;
  lr: number;
  buffers: Record<string, Float32Array>;
  /** Adam's step count t per parameter name. */
  steps: Record<string, number>;
}

/** Checks `state` is for optimiser `type` and `params`; returns, per parameter, its buffers in `names` order (or null if it has none yet). */
function stateBuffers(
  type: string,
  params: readonly Parameter[],
  state: OptimizerState,
  names: readonly string[],
): (Float32Array[] | null)[] {
  if (state === null || typeof state !== 'object' || state.type !== type) {
    throw new TypeError(
      `${type}.loadState: expected a ${type} state, got ${state?.type === undefined ? describe(state) : `a ${state.type} state`}`,
    );
  }
  if (!Array.isArray(params))
    throw new TypeError(`${type}.loadState: params must be an array of parameters (net.parameters()), got ${describe(params)}`);
  if (state.buffers === null || typeof state.buffers !== 'object')
    throw new TypeError(`${type}.loadState: state.buffers must be an object of Float32Arrays, got ${describe(state.buffers)}`);
  const known = new Set(params.flatMap((p) => names.map((b) => `${p.name}.${b}`)));
  for (const key of Object.keys(state.buffers)) {
    if (!known.has(key)) throw new RangeError(`${type}.loadState: buffer '${key}' matches no parameter of the network`);
  }
  return params.map((p) => {
    const found = names.map((b) => state.buffers[`${p.name}.${b}`]);
    if (found.every((f) => f === undefined)) return null;
    return found.map((f, i) => {
      if (!(f instanceof Float32Array)) throw new RangeError(`${type}.loadState: buffer '${p.name}.${names[i]}' is missing`);
      if (f.length !== p.value.data.length) {
        throw new RangeError(
          `${type}.loadState: buffer '${p.name}.${names[i]}' has ${f.length} values, parameter ${p.name} has ${p.value.data.length}`,
        );
      }
      // What the update reads back: a NaN or infinite moment (a second moment below 0) would make
      // every later step non-finite, and fit would blame the learning rate.
      const bad = backend().nonFiniteIndex(f, f.length);
      if (bad >= 0)
        throw new RangeError(`${type}.loadState: buffer '${p.name}.${names[i]}' holds ${f[bad]} at index ${bad}; expected finite values`);
      if (names[i] === 'v') {
        const negative = f.findIndex((x) => x < 0);
        if (negative >= 0) {
          throw new RangeError(
            `${type}.loadState: buffer '${p.name}.v' holds ${f[negative]} at index ${negative}; a second moment is >= 0`,
          );
        }
      }
      return f.slice();
    });
  });
}

/** The largest step count Adam's update takes (the kernels count steps in 31 bits). */
const MAX_ADAM_STEP = 2 ** 31 - 1;

/** Checks `params` is a list of parameters (what `net.parameters()` returns) before a step walks it. */
function checkParams(who: string, params: unknown): void {
  if (!Array.isArray(params))
    throw new TypeError(`${who}.step: params must be an array of parameters (net.parameters()), got ${describe(params)}`);
  params.forEach((p: Partial<Parameter> | null, i) => {
    if (p === null || typeof p !== 'object' || !(p.value?.data instanceof Float32Array) || !(p.grad?.data instanceof Float32Array)) {
      throw new TypeError(`${who}.step: params[${i}] must be a parameter { name, value, grad } with Float32Array data, got ${describe(p)}`);
    }
    // Checked for all before any is updated: a kernel's refusal halfway would leave some stepped.
    if (p.grad.data.length !== p.value.data.length) {
      throw new RangeError(
        `${who}.step: params[${i}] (${p.name}) has ${p.value.data.length} values and a gradient of ${p.grad.data.length}; expected the same length`,
      );
    }
  });
}

/**
 * Refuses PyTorch's constructor, `new SGD(net.parameters(), { lr })`: neurone's optimisers hold
 * no parameters, and JavaScript would otherwise read the array as the options (`unknown option
 * '0'`). `example` is the call with options only.
 */
function refuseParameters(who: string, options: unknown, example: string): void {
  const what = Array.isArray(options) ? `an array (PyTorch's ${who}(params, ...)?)` : options instanceof Module ? 'a network' : null;
  if (what === null) return;
  throw new TypeError(
    `${who}: the first argument is ${what}; neurone's optimisers take only their options, ` +
      `${example}, and get the parameters at each step, opt.step(net.parameters()), which fit does`,
  );
}

function checkNumber(who: string, name: string, v: unknown, min: number, max = Infinity, openMax = false): number {
  // NaN is a number, out of every range: a RangeError that names the range.
  if (typeof v !== 'number') throw new TypeError(`${who}: ${name} must be a number, got ${describe(v)}`);
  if (!(v >= min) || v > max || (openMax && v === max) || !Number.isFinite(v)) {
    throw new RangeError(`${who}: ${name} must be in [${min}, ${max}${openMax ? ')' : ']'}, got ${v}`);
  }
  return v;
}

/**
 * Whether `lr` is a learning rate the update kernels take: a finite float32 number ≥ 0. The
 * optimisers' constructors, `loadState` and `step` hold their rate to it, and `fit` checks it
 * before each step, naming where a bad one came from. @internal
 */
export function usableLearningRate(lr: unknown): lr is number {
  return typeof lr === 'number' && lr >= 0 && lr <= FLOAT32_MAX;
}

/** `lr` when {@link usableLearningRate}, else a TypeError (not a number) or RangeError naming `who`. */
function checkRate(who: string, lr: unknown): number {
  if (typeof lr !== 'number') throw new TypeError(`${who}: lr must be a number, got ${describe(lr)}`);
  if (!usableLearningRate(lr)) throw new RangeError(`${who}: lr must be a finite float32 number >= 0, got ${lr}`);
  return lr;
}

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Step size (required: SGD has no default that suits both summed and averaged gradients). */
  lr: number;
  /** Heavy-ball momentum in [0, 1) (default 0). */
  momentum?: number;
  /** L2 penalty added to the gradient: g + weightDecay · w (default 0). */
  weightDecay?: number;
  /** With momentum: the share of each gradient left out of the velocity, in [0, 1] (default 0). */
  dampening?: number;
  /** With momentum and no dampening: Nesterov's look-ahead, w −= lr · (g + momentum · v) (default false). */
  nesterov?: boolean;
}

const SGD_OPTIONS: Record<keyof SGDOptions, true> = { lr: true, momentum: true, weightDecay: true, dampening: true, nesterov: true };

/**
 * Stochastic gradient descent, with optional momentum, dampening d, Nesterov's look-ahead and
 * weight decay, as PyTorch's `torch.optim.SGD`:
 * g ← grad + wd·w;  v ← μ·v + (1 − d)·g (v ← g at the first step);  w ← w − lr·v, or with
 * Nesterov w ← w − lr·(g + μ·v)  (v = g when μ = 0).
 *
 * Built from its options alone, not PyTorch's `SGD(params, lr)`: the parameters come with each
 * `step(params)`, which `fit` calls with the network's.
 *
 * @example
 * const opt = new SGD({ lr: 1e-3, momentum: 0.9 });
 * opt.step(net.parameters());
 */
export class SGD implements Optimizer {
  /** The step size; schedulers and `fit`'s checkpoints set it between steps. */
  lr: number;
  /** Velocity decay (0: plain SGD), PyTorch's `momentum`. */
  readonly momentum: number;
  /** L2 penalty added to each gradient (`g + weightDecay · w`), PyTorch's `weight_decay`. */
  readonly weightDecay: number;
  /** Share of the gradient left out of the velocity (`v ← momentum · v + (1 − dampening) · g`). */
  readonly dampening: number;
  /** Nesterov momentum: the step uses `g + momentum · v`. */
  readonly nesterov: boolean;
  /** Velocity per parameter buffer; a WeakMap so replaced networks free their state. */
  private readonly velocity = new WeakMap<Float32Array, Float32Array>();

  /**
   * Builds the optimiser.
   * @param options lr (required), momentum, weightDecay, dampening, nesterov.
   */
  constructor(options: SGDOptions) {
    refuseParameters('SGD', options, 'new SGD({ lr: 0.1 })');
    if (options === null || typeof options !== 'object')
      throw new TypeError(`SGD: expected options { lr, momentum?, weightDecay?, dampening?, nesterov? }, got ${describe(options)}`);
    checkKnownOptions('SGD', options, Object.keys(SGD_OPTIONS));
    this.lr = checkRate('SGD', options.lr);
    this.momentum = checkNumber('SGD', 'momentum', options.momentum ?? 0, 0, 1, true);
    this.weightDecay = checkNumber('SGD', 'weightDecay', options.weightDecay ?? 0, 0, FLOAT32_MAX);
    this.dampening = checkNumber('SGD', 'dampening', options.dampening ?? 0, 0, 1);
    const nesterov = options.nesterov ?? false;
    if (typeof nesterov !== 'boolean') throw new TypeError(`SGD: nesterov must be true or false, got ${describe(nesterov)}`);
    if (nesterov && (this.momentum === 0 || this.dampening !== 0))
      throw new RangeError(
        `SGD: nesterov needs a momentum above 0 and no dampening, got momentum ${this.momentum} and dampening ${this.dampening}`,
      );
    this.nesterov = nesterov;
  }

  step(params: readonly Parameter[]): void {
    checkParams('SGD', params);
    // lr may have been set since construction (a scheduler, a user): a NaN or negative rate
    // would ruin every weight. fit checks it too, with the epoch and the scheduler that set it.
    checkRate('SGD.step', this.lr);
    const { lr, momentum: mu, weightDecay: wd, nesterov } = this;
    const k = backend();
    for (const p of params) {
      const w = p.value.data;
      let v: Float32Array | null = null;
      // PyTorch's first step takes the whole gradient into the velocity: no dampening then.
      let dampening = this.dampening;
      if (mu !== 0) {
        v = this.velocity.get(w) ?? null;
        if (!v) {
          v = new Float32Array(w.length);
          this.velocity.set(w, v);
          dampening = 0;
        }
      }
      k.sgdStep(w, p.grad.data, v, w.length, lr, mu, wd, dampening, nesterov);
    }
  }

  toJSON(): { type: string; args: unknown[]; options: Record<string, unknown> } {
    return {
      type: 'SGD',
      args: [],
      options: { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, dampening: this.dampening, nesterov: this.nesterov },
    };
  }

  /**
   * The learning rate and the velocity of every parameter that has one (copies).
   * @example
   * const s = opt.state(net.parameters());   // { type: 'SGD', lr, buffers: { '0.weight.velocity': ... }, steps: {} }
   * @param params The parameters whose state is read (`net.parameters()`).
   */
  state(params: readonly Parameter[]): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    for (const p of params) {
      const v = this.velocity.get(p.value.data);
      if (v) buffers[`${p.name}.velocity`] = v.slice();
    }
    return { type: 'SGD', lr: this.lr, buffers, steps: {} };
  }

  /**
   * Restores a state from {@link SGD.state} onto `params` (same names and sizes); momentum and weight decay stay this optimiser's own.
   * @param params The parameters to restore onto.
   * @param state What `state()` returned.
   */
  loadState(params: readonly Parameter[], state: OptimizerState): void {
    const found = stateBuffers('SGD', params, state, ['velocity']);
    this.lr = checkRate('SGD.loadState', state.lr);
    params.forEach((p, i) => {
      const f = found[i];
      if (f) this.velocity.set(p.value.data, f[0]);
      else this.velocity.delete(p.value.data);
    });
  }
}

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** Step size (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to √v̂ (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

const ADAM_OPTIONS: Record<keyof AdamOptions, true> = { lr: true, betas: true, eps: true, weightDecay: true };

/** Options of {@link AdamW}: those of Adam, its weight decay decoupled. */
export interface AdamWOptions extends Omit<AdamOptions, 'weightDecay'> {
  /** Weight decay decoupled from the gradient: w −= lr · weightDecay · w each step (default 0.01, as PyTorch's). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba), bias-corrected:
 * m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − lr · m̂ / (√v̂ + eps),
 * m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).
 *
 * Built from its options alone, not PyTorch's `Adam(params, lr)`: the parameters come with each
 * `step(params)`, which `fit` calls with the network's.
 *
 * @example
 * const opt = new Adam({ lr: 1e-3 });
 * await fit(net, loss, opt, { x, y }, { epochs: 5 });
 */
export class Adam implements Optimizer {
  /** The step size; schedulers and `fit`'s checkpoints set it between steps. */
  lr: number;
  /** The decays (β₁, β₂) of the gradient's running mean and of its square's. */
  readonly betas: [number, number];
  /** Added to √v̂ in the denominator. */
  readonly eps: number;
  /** L2 penalty: added to the gradient (Adam), or shrinking the weights by lr · weightDecay (AdamW). */
  readonly weightDecay: number;
  /** 'Adam' or 'AdamW': the name in messages, `toJSON` and `state`. */
  private readonly kind: string;
  /** AdamW: the weight decay shrinks the weights directly instead of joining the gradient. */
  private readonly decoupled: boolean;
  /** Moments and step count per parameter buffer (`state` is the export method). */
  private readonly state_ = new WeakMap<Float32Array, { m: Float32Array; v: Float32Array; t: number }>();

  /**
   * Builds the optimiser.
   * @param options lr (default 1e-3), betas, eps, weightDecay.
   */
  constructor(options: AdamOptions = {}) {
    const kind = new.target === AdamW || new.target.prototype instanceof AdamW ? 'AdamW' : 'Adam';
    refuseParameters(kind, options, `new ${kind}({ lr: 0.001 })`);
    if (options === null || typeof options !== 'object' || Array.isArray(options))
      throw new TypeError(`${kind}: expected options { lr?, betas?, eps?, weightDecay? }, got ${describe(options)}`);
    checkKnownOptions(kind, options, Object.keys(ADAM_OPTIONS));
    this.kind = kind;
    this.decoupled = kind === 'AdamW';
    this.lr = checkRate(kind, options.lr ?? 1e-3);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError(`${kind}: betas must be [beta1, beta2], got ${describe(betas)}`);
    this.betas = [checkNumber(kind, 'betas[0]', betas[0], 0, 1, true), checkNumber(kind, 'betas[1]', betas[1], 0, 1, true)];
    // Within float32, as the update kernel takes them: refused there, after the step had begun.
    this.eps = checkNumber(kind, 'eps', options.eps ?? 1e-8, 0, FLOAT32_MAX);
    this.weightDecay = checkNumber(kind, 'weightDecay', options.weightDecay ?? (this.decoupled ? 0.01 : 0), 0, FLOAT32_MAX);
  }

  step(params: readonly Parameter[]): void {
    checkParams(this.kind, params);
    // Before the decoupled decay shrinks a weight or a step is counted: see SGD's step.
    checkRate(`${this.kind}.step`, this.lr);
    const [b1, b2] = this.betas;
    // AdamW (Loshchilov & Hutter): w ← w − lr·wd·w, apart from the adaptive step.
    const shrink = this.decoupled ? 1 - this.lr * this.weightDecay : 1;
    const l2 = this.decoupled ? 0 : this.weightDecay;
    for (const p of params) {
      const t = this.state_.get(p.value.data)?.t ?? 0;
      if (t >= MAX_ADAM_STEP) throw new RangeError(`${this.kind}.step: ${p.name} has taken ${t} steps, the most the update counts`);
    }
    for (const p of params) {
      const w = p.value.data;
      const g = p.grad.data;
      let s = this.state_.get(w);
      if (!s) {
        s = { m: new Float32Array(w.length), v: new Float32Array(w.length), t: 0 };
        this.state_.set(w, s);
      }
      s.t += 1;
      if (shrink !== 1) for (let i = 0; i < w.length; i++) w[i] *= shrink;
      // The backend folds both bias corrections into the step size and epsilon.
      backend().adamStep(w, g, s.m, s.v, w.length, this.lr, b1, b2, this.eps, l2, s.t);
    }
  }

  toJSON(): { type: string; args: unknown[]; options: Record<string, unknown> } {
    return { type: this.kind, args: [], options: { lr: this.lr, betas: this.betas, eps: this.eps, weightDecay: this.weightDecay } };
  }

  /**
   * The learning rate and, per parameter, the moments m, v and step count t (copies).
   * @example
   * const s = opt.state(net.parameters());   // buffers '0.weight.m', '0.weight.v'; steps { '0.weight': 120 }
   * @param params The parameters whose state is read (`net.parameters()`).
   */
  state(params: readonly Parameter[]): OptimizerState {
    const buffers: Record<string, Float32Array> = {};
    const steps: Record<string, number> = {};
    for (const p of params) {
      const s = this.state_.get(p.value.data);
      if (!s) continue;
      buffers[`${p.name}.m`] = s.m.slice();
      buffers[`${p.name}.v`] = s.v.slice();
      steps[p.name] = s.t;
    }
    return { type: this.kind, lr: this.lr, buffers, steps };
  }

  /**
   * Restores a state from {@link Adam.state} onto `params` (same names and sizes); betas, eps and weight decay stay this optimiser's own.
   * @param params The parameters to restore onto.
   * @param state What `state()` returned.
   */
  loadState(params: readonly Parameter[], state: OptimizerState): void {
    const found = stateBuffers(this.kind, params, state, ['m', 'v']);
    const lr = checkRate(`${this.kind}.loadState`, state.lr);
    // Every check before the first change: a refused state leaves the optimiser as it was.
    const steps = params.map((p, i) => {
      if (!found[i]) return 0;
      const t = state.steps?.[p.name];
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t >= MAX_ADAM_STEP) {
        throw new RangeError(
          `${this.kind}.loadState: step count of ${p.name} must be an integer in [1, ${MAX_ADAM_STEP - 1}], got ${describe(t)}`,
        );
      }
      return t;
    });
    this.lr = lr;
    params.forEach((p, i) => {
      const f = found[i];
      if (f) this.state_.set(p.value.data, { m: f[0], v: f[1], t: steps[i] });
      else this.state_.delete(p.value.data);
    });
  }
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay. The decay shrinks each weight by
 * lr·weightDecay·w every step instead of being added to the gradient, where Adam's scaling
 * would weaken it for parameters with large gradients. Default weightDecay 0.01, as PyTorch's.
 *
 * @example
 * const opt = new AdamW({ lr: 1e-3, weightDecay: 0.05 });
 */
export class AdamW extends Adam {
  /** @param options lr (default 1e-3), betas, eps, weightDecay (default 0.01). */
  constructor(options: AdamWOptions = {}) {
    super(options);
  }
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

  /**
   * Binds the network, the loss and the update rule.
   * @param net The network trained.
   * @param loss The loss minimised.
   * @param lr A learning rate (plain gradient steps) or an optimiser (SGD, Adam…).
   */
  constructor(net: Module, loss: Loss, lr: number | Optimizer) {
    if (!(net instanceof Module)) throw new TypeError(`Optim: net must be a Module, got ${describe(net)}`);
    if (!(loss instanceof Loss)) throw new TypeError(`Optim: loss must be a Loss, got ${describe(loss)}`);
    this.net = net;
    this.loss = loss;
    if (typeof lr === 'number') {
      this.lr = checkRate('Optim', lr);
      this.optimizer = null;
    } else if (lr !== null && typeof lr === 'object' && typeof lr.step === 'function') {
      this.optimizer = lr;
      this.lr = lr.lr;
    } else {
      throw new TypeError(`Optim: expected a learning rate or an optimiser, got ${describe(lr)}`);
    }
  }

  /**
   * One step on the batch (x, y); returns the batch's mean loss (before the update).
   * @param x Inputs of the batch.
   * @param y Targets of the batch.
   */
  step(x: Tensor, y: Tensor): number {
    const net = this.net;
    const yhat = forwardView(net, x, false);
    const batch = yhat.shape[0];
    // Loss and gradient in one call (one kernel pass for the fused losses).
    const { sum: total, gradient: delta } = this.loss.lossAndGradient(y, yhat);
    const value = batch === 0 ? 0 : total / batch;
    net.deferZeroGrad();
    accumulateGradients(net, x, delta);
    if (this.optimizer) this.optimizer.step(net.parameters());
    else net.updateParameters(this.lr);
    return value;
  }
}
