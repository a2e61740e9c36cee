/**
 * Losses, all called with the targets first: `loss.forward(y, yhat)`, the course's (Lua Torch's)
 * order and tf.losses' `(labels, predictions)`, the reverse of PyTorch's `loss_fn(output, target)`.
 * A call whose arguments look swapped (labels where the network's output goes, a network's
 * output where only targets fit) is refused with an error naming the order; MSELoss's two
 * arguments, alike in shape and range, cannot be told apart.
 * - `forward(y, yhat)` returns one value per sample, shape (batch,), summed over the
 *   sample's other entries (not averaged), as in the course;
 * - `backward(y, yhat)` returns the gradient w.r.t. yhat of the batch's loss reduced as the
 *   loss's `reduction` says: `'mean'` (the default, as PyTorch and TensorFlow.js) divides by the
 *   batch size, so a learning rate tuned in PyTorch works unchanged; `'sum'` (the course's
 *   convention) does not, so parameter gradients are sums over the batch and a PyTorch learning
 *   rate converts as lr / batch.
 *
 * MSE, Hinge and CrossEntropyLoss compute here in double precision and store float32; BCELoss and
 * CELogSoftmaxLoss run in the backend's kernels (float32 on the native SIMD paths, their row sums
 * in double on the scalar and js paths).
 */
import {
  FLOAT32_MAX,
  Tensor,
  zeros,
  formatShape,
  describe,
  isTensor,
  sameShape,
  argmaxRows,
  checkDataLength,
  gradientTakenAt,
} from './tensor';
import { backend } from './backend';
import { checkKnownOptions } from './options';

/** How the per-sample losses of a batch are combined into the value whose gradient `backward` returns. */
export type Reduction = 'mean' | 'sum';

/** Options of every built-in loss. */
export interface LossOptions {
  /**
   * `'mean'` (default): the gradient is that of the mean over the batch of the per-sample losses,
   * as PyTorch's and TensorFlow.js's defaults, so their learning rates carry over (each sample's
   * loss still sums its own entries: MSE with k outputs is k times PyTorch's element mean).
   * `'sum'`: the gradient of the sum over the batch, the course's convention (no 1/batch factor).
   */
  reduction?: Reduction;
}

const LOSS_OPTION_NAMES = ['reduction'] as const;

/** Options of {@link CrossEntropyLoss} and {@link CELogSoftmaxLoss}. */
export interface CrossEntropyOptions extends LossOptions {
  /**
   * A weight per class, PyTorch's `weight` (Keras's `class_weight`, as an array): a sample's loss
   * and gradient are multiplied by its class's weight (with one-hot or soft targets, each class's
   * term by its own), for classes seen too rarely. With class indices, `'mean'` then divides by the
   * batch's total weight Σ weight[y] rather than its size, as PyTorch does (one-hot or soft targets:
   * by the batch size, as PyTorch for probability targets; a batch of total weight 0 gives 0).
   * The loss fit and evaluate report is the mean over samples of the weighted losses.
   */
  weight?: ArrayLike<number> | Tensor;
}

const CROSS_ENTROPY_OPTION_NAMES = [...LOSS_OPTION_NAMES, 'weight'] as const;

/** A cross-entropy's `weight` option as float32 values (null when not given), checked once. */
function checkClassWeight(who: string, v: unknown): Float32Array | null {
  if (v === undefined) return null;
  const values = isTensor(v) ? v.data : v;
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<unknown>).length !== 'number')
    throw new TypeError(`${who}: weight must be an array of one number per class, got ${describe(v)}`);
  const list = Array.from(values as ArrayLike<unknown>);
  if (list.length === 0) throw new RangeError(`${who}: weight is empty; give one number per class`);
  const bad = list.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > FLOAT32_MAX);
  if (bad >= 0) throw new RangeError(`${who}: weight[${bad}] must be a finite float32 number >= 0, got ${describe(list[bad])}`);
  return Float32Array.from(list as number[]);
}

/** What a weighted cross-entropy's `'mean'` divides by: Σ weight[y] for class indices (PyTorch's), else the batch size. */
function classWeightDivisor(classWeight: Float32Array | null, y: Tensor, yhat: Tensor): number {
  if (classWeight === null || y.shape.length !== 1) return yhat.shape[0];
  let total = 0;
  for (let b = 0; b < y.data.length; b++) total += classWeight[y.data[b]] ?? 0;
  return total;
}

/** A float32 value as messages show it: 0.3, not 0.30000001192092896. */
function shown(v: number): string {
  return String(Number(v.toPrecision(7)));
}

/** The shortest decimal that reads back as the float32 `v` (0.3 for 0.30000001192092896), for JSON. */
function shortestFloat32(v: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** What the errors of a call whose arguments look swapped add. */
const ORDER_HINT = "losses take (y, yhat): the targets first, then the network's output (PyTorch's order is the reverse)";

/**
 * A loss function: `forward` gives one value per sample, `backward` the gradient w.r.t. yhat.
 * Every method takes the targets first, `(y, yhat)`: the reverse of PyTorch's
 * `loss_fn(output, target)`, the order of the course and of tf.losses' `(labels, predictions)`.
 *
 * @example
 * const loss = new MSELoss();
 * const perSample = loss.forward(y, yhat);  // (batch,)
 * const delta = loss.backward(y, yhat);     // same shape as yhat
 */
export abstract class Loss {
  /** `'mean'` (default) or `'sum'`: see {@link LossOptions.reduction}. */
  readonly reduction: Reduction;
  /** A weight per class, for a loss that takes `weight` (the cross-entropies); null otherwise. @internal */
  protected readonly classWeight: Float32Array | null;

  /**
   * @param options `{ reduction: 'mean' | 'sum' }` (default `'mean'`).
   * @param known The option names the subclass takes (default `reduction` alone). @internal
   */
  constructor(options: LossOptions = {}, known: readonly string[] = LOSS_OPTION_NAMES) {
    const who = new.target?.name ?? 'Loss';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`${who}: expected options { reduction?: 'mean' | 'sum' }, got ${describe(options)}`);
    }
    checkKnownOptions(who, options, known);
    const r = options.reduction ?? 'mean';
    if (r !== 'mean' && r !== 'sum') throw new RangeError(`${who}: reduction must be 'mean' or 'sum', got ${describe(r)}`);
    this.reduction = r;
    this.classWeight = known.includes('weight') ? checkClassWeight(who, (options as CrossEntropyOptions).weight) : null;
  }

  /**
   * Per-sample loss, shape (batch,). The targets come first: `forward(y, yhat)`, where PyTorch
   * writes `loss_fn(yhat, y)`.
   * @param y Targets, the first argument (shape per loss: same as yhat, or class indices).
   * @param yhat The network's output, the second argument, (batch, ...).
   */
  abstract forward(y: Tensor, yhat: Tensor): Tensor;
  /**
   * ∂(reduced loss)/∂yhat, shape of yhat: the gradient of the mean over the batch of the
   * per-sample losses with `reduction: 'mean'`, of their sum with `'sum'`. The targets come
   * first: `backward(y, yhat)`, the reverse of PyTorch's order.
   * @param y Targets, the first argument.
   * @param yhat The network's output, the second argument, (batch, ...).
   */
  abstract backward(y: Tensor, yhat: Tensor): Tensor;

  /**
   * The batch's loss reduced as `reduction` says (the mean or the sum of `forward(y, yhat)`):
   * the number whose gradient `backward` returns. PyTorch's `loss(yhat, y)` where a sample's loss
   * is one number (cross-entropy, or one output a sample); MSE, BCE and hinge with k outputs a
   * sample sum them, k times PyTorch's element mean under `'mean'`.
   * @param y Targets.
   * @param yhat Predictions, (batch, ...).
   */
  value(y: Tensor, yhat: Tensor): number {
    const s = this.sum(y, yhat);
    const divisor = this.meanDivisor(y, yhat);
    return this.reduction === 'sum' || divisor === 0 ? s : s / divisor;
  }

  /**
   * What `'mean'` divides the batch's summed loss and its gradient by: the batch size, or the
   * batch's total class weight for a weighted cross-entropy with class indices. @internal
   */
  private meanDivisor(y: Tensor, yhat: Tensor): number {
    return classWeightDivisor(this.classWeight, y, yhat);
  }

  /**
   * Divides a gradient of the summed loss in place by `divisor` (the batch size, see
   * meanDivisor) when `reduction` is `'mean'`; returns it. Built-in losses call it at the end of
   * `backward`, through gradientAt.
   * @internal
   */
  protected reduceGradient(gradient: Float32Array, divisor: number): Float32Array {
    if (this.reduction === 'mean' && divisor > 0 && divisor !== 1) {
      const scale = 1 / divisor;
      for (let i = 0; i < gradient.length; i++) gradient[i] *= scale;
    }
    return gradient;
  }

  /**
   * The end of a built-in `backward`: `gradient` (of the summed loss, at `yhat`) reduced as
   * {@link Loss.reduceGradient} does (by meanDivisor's figure for these targets), and recorded as
   * taken at `yhat`, which lets a Sequential refuse it after a later forward pass. Returns it.
   * @internal
   */
  protected gradientAt(y: Tensor, yhat: Tensor, gradient: Tensor): Tensor {
    this.reduceGradient(gradient.data, this.meanDivisor(y, yhat));
    gradientTakenAt.set(gradient, yhat);
    return gradient;
  }

  /**
   * The sum over the batch of `forward(y, yhat)`, the figure a training step reports. Losses
   * computed by a native kernel write the per-sample values into a buffer they keep rather than
   * into a new tensor, since a training loop asks for this every batch.
   * @param y Targets.
   * @param yhat Predictions, (batch, ...).
   */
  sum(y: Tensor, yhat: Tensor): number {
    return sumOf(this.forward(y, yhat).data);
  }

  /**
   * What a training step needs from the loss, in one call: the sum over the batch of
   * `forward(y, yhat)` and `backward(y, yhat)`. Losses whose kernel computes both in one pass
   * (BCE, cross-entropy from logits with class indices) make that one kernel call here; nothing
   * is kept between calls, so a `yhat` rewritten in place afterwards gets a fresh gradient from
   * the next call. The gradient may sit in a buffer the loss reuses: valid until its next call.
   * @param y Targets.
   * @param yhat Predictions, (batch, ...).
   */
  lossAndGradient(y: Tensor, yhat: Tensor): { sum: number; gradient: Tensor } {
    return { sum: this.sum(y, yhat), gradient: this.backward(y, yhat) };
  }

  /** `{ type: 'MSELoss', args: [{ reduction: 'mean' }] }`, for serialisation. */
  toJSON(): { type: string; args: unknown[] } {
    return { type: this.constructor.name, args: [{ reduction: this.reduction, ...this.extraOptions() }] };
  }

  /** `MSELoss()` (or `MSELoss({ reduction: 'sum' })`): the class name, for messages. */
  toString(): string {
    const given = Object.entries({ ...(this.reduction === 'mean' ? {} : { reduction: this.reduction }), ...this.extraOptions() });
    const list = (v: number[]): string => (v.length > 6 ? `${v.slice(0, 6).map(shown).join(', ')}, …` : v.map(shown).join(', '));
    const text = (v: unknown): string => (Array.isArray(v) ? `[${list(v as number[])}]` : `'${String(v)}'`);
    return `${this.constructor.name}(${given.length === 0 ? '' : `{ ${given.map(([k, v]) => `${k}: ${text(v)}`).join(', ')} }`})`;
  }

  /** Options beyond `reduction` the loss was given, for toJSON and toString. */
  private extraOptions(): Record<string, unknown> {
    return this.classWeight ? { weight: Array.from(this.classWeight, shortestFloat32) } : {};
  }

  /**
   * Checks yhat is (batch, ...) and y has the same shape; returns the per-sample size.
   * @param y Targets.
   * @param yhat Predictions.
   */
  protected checkSame(y: Tensor, yhat: Tensor): number {
    checkTensor(this, yhat, 'yhat', y);
    checkTensor(this, y, 'y', yhat);
    if (yhat.shape.length < 1) throw new RangeError(`${this}: expected yhat (batch, ...), got ${formatShape(yhat.shape)}`);
    if (!sameShape(y.shape, yhat.shape)) {
      // One value per sample against several outputs: class labels, as fit passes a dataset's.
      const labels =
        y.shape.length === 1 && yhat.shape.length === 2 && y.shape[0] === yhat.shape[0] && yhat.shape[1] > 1
          ? ` (class labels? ${this.constructor.name} takes a target per output: one-hot encode them with oneHot(labels, ${yhat.shape[1]}), or train a classifier with CELogSoftmaxLoss on logits)`
          : '';
      throw new RangeError(
        `${this}: expected y ${formatShape(yhat.shape)} (the shape of yhat), got ${formatShape(y.shape)}${labels}${positionsHint(y, yhat)}`,
      );
    }
    return yhat.shape[0] === 0 ? 0 : yhat.data.length / yhat.shape[0];
  }
}

/**
 * A network output with axes between the batch and its last, beside targets without them: most
 * often a Linear given a sequence or an image, which it reads position by position (as
 * nn.Linear), where a Flatten before it was meant. '' otherwise.
 */
function positionsHint(y: Tensor, yhat: Tensor): string {
  if (yhat.shape.length <= 2 || y.shape.length >= yhat.shape.length) return '';
  return (
    " (the network's output keeps axes between the batch and its last: a convolution's positions, or a Linear given " +
    '(batch, …, features), which reads each position as nn.Linear does; for one output vector a sample, put a Flatten() before the last Linear)'
  );
}

/**
 * Checks `t` is a tensor whose data fills its shape. A hand-built `{ shape: [1e9, 1e9], data }`
 * would otherwise send the per-sample loops over a billion rows of four values (minutes of
 * reading past the array, as NaN), and `{ shape: [2, 3], data: [1, 2] }` would give NaN losses.
 */
function checkTensor(loss: Loss, t: Tensor, what: 'y' | 'yhat', other: unknown): void {
  if (!isTensor(t)) throw new TypeError(`${loss}: expected ${what} to be a Tensor, got ${describe(t)}${notTensorHint(what, t, other)}`);
  checkDataLength(() => String(loss), what, t);
}

/** Integer arrays (Int32Array...) as the datasets' `labels` are: class indices, never a network's output. */
function isIntegerArray(v: unknown): boolean {
  return (
    v instanceof Int8Array ||
    v instanceof Uint8Array ||
    v instanceof Int16Array ||
    v instanceof Uint16Array ||
    v instanceof Int32Array ||
    v instanceof Uint32Array
  );
}

/**
 * What to add to the error for a `what` that is not a tensor: the argument order when it looks
 * like targets in the place of the output (labels, or a plain array after a tensor that would be
 * the output), the way to pass labels when they are in the right place.
 */
function notTensorHint(what: 'y' | 'yhat', t: unknown, other: unknown): string {
  if (what === 'yhat' && (isIntegerArray(t) || (Array.isArray(t) && isTensor(other)))) return `; ${ORDER_HINT}`;
  if (what === 'y' && isIntegerArray(t)) return ' (class labels go in a tensor: fromArray(labels))';
  return '';
}

function sumOf(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/**
 * The losses whose backend kernel computes the per-sample losses and the gradient in one pass
 * (BCE, cross-entropy from logits): forward, sum and lossAndGradient share `compute`, which
 * writes the gradient only into the buffer it is handed. `sum` and `lossAndGradient` write into
 * buffers kept between calls, so a training step allocates nothing.
 */
abstract class FusedLoss extends Loss {
  private sums: Float32Array = new Float32Array(0);
  private gradient: Float32Array = new Float32Array(0);
  /** Training-loop calls (sum, lossAndGradient) whose arguments were read whole by the checks so far. */
  private checkedCalls = 0;

  /**
   * Whether this call's checks read every value (BCE's ranges, cross-entropy's probability rows):
   * forward and backward always; a training loop's first CHECKED_TRAINING_CALLS calls, where
   * what they catch (a network without a Sigmoid, one with a Softmax) shows, reading every value
   * costing more than the kernel after that. @internal
   */
  protected checksThisCall(everyCall: boolean): boolean {
    if (everyCall) return true;
    if (this.checkedCalls >= CHECKED_TRAINING_CALLS) return false;
    this.checkedCalls++;
    return true;
  }

  forward(y: Tensor, yhat: Tensor): Tensor {
    let out: Tensor = zeros([0]);
    this.compute(
      y,
      yhat,
      (batch) => (out = zeros([batch])).data,
      (n) => this.gradientBuffer(n),
      true,
    );
    return out;
  }

  sum(y: Tensor, yhat: Tensor): number {
    // A subclass that redefines forward gets the sum of its own forward.
    if (this.forward !== FusedLoss.prototype.forward) return super.sum(y, yhat);
    this.compute(
      y,
      yhat,
      (batch) => this.sumsBuffer(batch),
      (n) => this.gradientBuffer(n),
      false,
    );
    return sumOf(this.sums);
  }

  lossAndGradient(y: Tensor, yhat: Tensor): { sum: number; gradient: Tensor } {
    // A subclass that redefines forward or backward gets its own, called separately.
    if (this.forward !== FusedLoss.prototype.forward || this.backward !== this.builtInBackward) return super.lossAndGradient(y, yhat);
    const fused = this.compute(
      y,
      yhat,
      (batch) => this.sumsBuffer(batch),
      (n) => this.gradientBuffer(n),
      false,
    );
    if (!fused) return { sum: sumOf(this.sums), gradient: this.backward(y, yhat) };
    return {
      sum: sumOf(this.sums),
      gradient: this.gradientAt(y, yhat, { shape: yhat.shape, data: this.gradient }),
    };
  }

  /** The class's own backward, to tell a subclass that replaced it. @internal */
  protected abstract readonly builtInBackward: Loss['backward'];

  private sumsBuffer(batch: number): Float32Array {
    if (this.sums.length !== batch) this.sums = new Float32Array(batch);
    return this.sums;
  }

  private gradientBuffer(n: number): Float32Array {
    if (this.gradient.length !== n) this.gradient = new Float32Array(n);
    return this.gradient;
  }

  /**
   * Checks the arguments, then writes per-sample losses into `output(batch)`; returns true when
   * it also wrote the gradient into `gradient(size of yhat)` (a scratch buffer otherwise).
   * `everyCall`: false from a training loop's calls (`sum`, `lossAndGradient`), where a check
   * that reads every value may be made on the first calls only (see BCELoss).
   * @internal
   */
  protected abstract compute(
    y: Tensor,
    yhat: Tensor,
    output: (batch: number) => Float32Array,
    gradient: (length: number) => Float32Array,
    everyCall: boolean,
  ): boolean;
}

/** Sums each sample's `n` values of `terms` into a (batch,) tensor. */
function perSample(batch: number, n: number, term: (i: number) => number): Tensor {
  const out = zeros([batch]);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = b * n; j < (b + 1) * n; j++) s += term(j);
    out.data[b] = s;
  }
  return out;
}

/**
 * Squared error per sample: ‖y − ŷ‖²; gradient −2 (y − ŷ).
 *
 * Reduction: `new MSELoss({ reduction: 'sum' })` for the course's summed gradient; the default `'mean'`
 * divides the gradient by the batch size only: PyTorch's default also divides by the k outputs of
 * a sample, so its learning rate divided by k gives the same steps (docs/COURSE.md).
 *
 * Shape: y, yhat (batch, ...) → (batch,).
 * @example
 * new MSELoss().forward(fromArray([[1, 2]]), fromArray([[0, 0]]))  // [5]
 */
export class MSELoss extends Loss {
  forward(y: Tensor, yhat: Tensor): Tensor {
    const n = this.checkSame(y, yhat);
    const a = y.data;
    const b = yhat.data;
    return perSample(yhat.shape[0], n, (i) => (a[i] - b[i]) * (a[i] - b[i]));
  }

  backward(y: Tensor, yhat: Tensor): Tensor {
    this.checkSame(y, yhat);
    const g = zeros(yhat.shape);
    for (let i = 0; i < g.data.length; i++) g.data[i] = -2 * (y.data[i] - yhat.data[i]);
    return this.gradientAt(y, yhat, g);
  }
}

/**
 * Binary cross-entropy, ŷ probabilities in [0, 1], y targets in [0, 1]:
 * per sample −Σ [y log ŷ + (1 − y) log(1 − ŷ)], each log clipped at −100 as in PyTorch, so
 * ŷ = 0 or 1 gives finite values (at most 100 per entry). Gradient
 * −y / ŷ + (1 − y) / (1 − ŷ), each denominator at least 1e-12: at ŷ exactly 0 or 1 and equal to
 * its target the loss's own slope, +1 or −1 (PyTorch's (ŷ − y) / max(ŷ(1 − ŷ), 1e-12) gives 0
 * there; after a Sigmoid both reach the network as 0). A finite value of either
 * argument outside [0, 1] (a network without a Sigmoid at the end, or the arguments swapped) is
 * refused with an error saying which: by `forward` and `backward` always, by `sum` and
 * `lossAndGradient` (what fit calls) on their first calls and whenever the loss is not finite.
 *
 * Reduction: `new BCELoss({ reduction: 'sum' })` for the course's summed gradient; the default `'mean'`
 * divides the gradient by the batch size only: PyTorch's default also divides by the k outputs of
 * a sample, so its learning rate divided by k gives the same steps (docs/COURSE.md).
 *
 * Shape: y, yhat (batch, ...) → (batch,).
 * @example
 * new BCELoss().forward(fromArray([[1]]), fromArray([[0.5]]))  // [0.6931]
 */
export class BCELoss extends FusedLoss {
  backward(y: Tensor, yhat: Tensor): Tensor {
    const n = this.checkSame(y, yhat);
    checkProbabilities(this, y, yhat);
    const grad = zeros(yhat.shape);
    // Two terms kept apart: (ŷ − y)/(ŷ(1 − ŷ)) would give 0 instead of −1 at ŷ = y = 1.
    backend().binaryCrossEntropy(yhat.data, y.data, new Float32Array(yhat.shape[0]), grad.data, yhat.shape[0], n);
    return this.gradientAt(y, yhat, grad);
  }

  /** @internal */
  protected readonly builtInBackward = BCELoss.prototype.backward;

  /**
   * The range check reads both arguments in JavaScript, which costs 4× the native loss itself
   * (80 µs a step on the autoencoder's 32 × 784 outputs): a training loop's calls check their
   * first CHECKED_TRAINING_CALLS steps, where a network without a Sigmoid or targets that are
   * not probabilities show, and any later step whose loss is not finite; forward and backward
   * check every call. A later step's value past 0 or 1 is not refused: every backend's kernel
   * clamps its log at −100, as PyTorch does at 0 and 1.
   * @internal
   */
  protected compute(
    y: Tensor,
    yhat: Tensor,
    output: (batch: number) => Float32Array,
    gradient: (length: number) => Float32Array,
    everyCall: boolean,
  ): boolean {
    const n = this.checkSame(y, yhat);
    const checked = this.checksThisCall(everyCall);
    if (checked) checkProbabilities(this, y, yhat);
    const losses = output(yhat.shape[0]);
    backend().binaryCrossEntropy(yhat.data, y.data, losses, gradient(yhat.data.length), yhat.shape[0], n);
    if (!checked && !Number.isFinite(sumOf(losses))) checkProbabilities(this, y, yhat);
    return true;
  }
}

/** The training-loop calls of a BCELoss whose arguments are range-checked (see BCELoss's compute). */
const CHECKED_TRAINING_CALLS = 4;

/** How far outside [0, 1] BCELoss lets a value be: float32 rounding of a probability, not a logit. */
const PROBABILITY_TOLERANCE = 1e-5;

/** The index of the first value of `d` outside [0, 1] (beyond rounding), -1 if none; NaN and ±Infinity count as inside. */
function outsideUnit(d: Float32Array): number {
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if ((v < -PROBABILITY_TOLERANCE || v > 1 + PROBABILITY_TOLERANCE) && Number.isFinite(v)) return i;
  }
  return -1;
}

/**
 * BCELoss's arguments are probabilities: yhat outside [0, 1] (logits: no Sigmoid at the end)
 * gives a meaningless finite loss (every backend clamps the log at −100); targets outside it are
 * not targets. The error says which, and names the argument order when the swapped call would
 * fit. NaN and ±Infinity are left to fit's non-finite checks, which name the epoch and batch.
 */
function checkProbabilities(loss: Loss, y: Tensor, yhat: Tensor): void {
  const p = outsideUnit(yhat.data);
  if (p >= 0) {
    throw new RangeError(
      `${loss}: yhat holds ${shown(yhat.data[p])} at flat index ${p}, outside [0, 1]; BCELoss takes probabilities as yhat: end the network with Sigmoid (or StableSigmoid)` +
        (outsideUnit(y.data) < 0 ? `, or, if yhat holds the targets, ${ORDER_HINT}` : ''),
    );
  }
  const t = outsideUnit(y.data);
  if (t >= 0) {
    throw new RangeError(
      `${loss}: y holds ${shown(y.data[t])} at flat index ${t}, outside [0, 1]; BCELoss's targets are probabilities (0 or 1 for hard labels)` +
        `, and if y is the network's output, ${ORDER_HINT}`,
    );
  }
}

/**
 * Reads class targets for a (batch, classes) prediction: either class indices, shape
 * (batch,), or one-hot / probability rows, shape (batch, classes). Returns a function giving
 * the target weight of (sample, class) and the sum of a sample's weights.
 */
function classTargets(
  loss: Loss,
  y: Tensor,
  yhat: Tensor,
  classWeight: Float32Array | null = null,
): { weight: (b: number, c: number) => number; total: (b: number) => number } {
  checkTensor(loss, yhat, 'yhat', y);
  checkTensor(loss, y, 'y', yhat);
  if (yhat.shape.length !== 2) {
    // Class indices (batch,) where the output goes, after a (batch, classes) output: swapped.
    const swapped = yhat.shape.length === 1 && y.shape.length === 2 && y.shape[0] === yhat.shape[0];
    throw new RangeError(
      `${loss}: expected yhat (batch, classes), got ${formatShape(yhat.shape)}${swapped ? `; ${ORDER_HINT}` : positionsHint(y, yhat)}`,
    );
  }
  const [batch, classes] = yhat.shape;
  if (y.shape.length === 1 && y.shape[0] === batch) {
    for (let b = 0; b < batch; b++) {
      const c = y.data[b];
      if (!Number.isInteger(c) || c < 0 || c >= classes) {
        throw new RangeError(`${loss}: class index y[${b}] = ${c} is not an integer in [0, ${classes})`);
      }
    }
    if (classWeight === null) return { weight: (b, c) => (y.data[b] === c ? 1 : 0), total: () => 1 };
    checkClassWeightLength(loss, classWeight, classes);
    return { weight: (b, c) => (y.data[b] === c ? classWeight[c] : 0), total: (b) => classWeight[y.data[b]] };
  }
  if (!sameShape(y.shape, yhat.shape)) {
    throw new RangeError(
      `${loss}: expected y (${batch},) class indices or ${formatShape(yhat.shape)} one-hot, got ${formatShape(y.shape)}`,
    );
  }
  checkNotSwapped(loss, y, yhat);
  if (classWeight !== null) checkClassWeightLength(loss, classWeight, classes);
  const w = (c: number): number => (classWeight === null ? 1 : classWeight[c]);
  return {
    weight: (b, c) => y.data[b * classes + c] * w(c),
    total: (b) => {
      let s = 0;
      for (let c = 0; c < classes; c++) s += y.data[b * classes + c] * w(c);
      return s;
    },
  };
}

function checkClassWeightLength(loss: Loss, classWeight: Float32Array, classes: number): void {
  if (classWeight.length !== classes)
    throw new RangeError(`${loss}: weight holds ${classWeight.length} values, one per class, and yhat has ${classes} classes`);
}

/**
 * Refuses one-hot (or probability) rows given as yhat with a y holding a negative value: a
 * network's output (logits, log-probabilities) in the targets' place, which a target weight
 * never is. A negative y with any other yhat is left as it was (a weight, however odd).
 */
function checkNotSwapped(loss: Loss, y: Tensor, yhat: Tensor): void {
  let negative = -1;
  for (let i = 0; i < y.data.length && negative < 0; i++) if (y.data[i] < 0) negative = i;
  if (negative < 0) return;
  const classes = yhat.shape[1];
  for (let b = 0; b < yhat.shape[0]; b++) {
    let total = 0;
    for (let c = 0; c < classes; c++) {
      const v = yhat.data[b * classes + c];
      if (!(v >= 0 && v <= 1)) return;
      total += v;
    }
    if (Math.abs(total - 1) > 1e-3) return;
  }
  throw new RangeError(
    `${loss}: y holds ${shown(y.data[negative])} at row ${Math.floor(negative / classes)}, which no target weight is, and yhat's rows are one-hot or probabilities; ${ORDER_HINT}`,
  );
}

/**
 * Negative log-likelihood of log-probabilities (the output of {@link LogSoftmax}):
 * per sample −Σ_c y_c ŷ_c, i.e. −ŷ[label] for a one-hot y. Gradient −y (divided by the batch
 * size with the default `reduction: 'mean'`). This is PyTorch's `NLLLoss`; PyTorch's
 * `CrossEntropyLoss` (from logits) is {@link CELogSoftmaxLoss}. A yhat that is not
 * log-probabilities (a positive value, or a row whose exponentials do not sum to 1) is refused
 * with an error saying so.
 * (The course's `1 − ⟨y, ŷ⟩` variant is not a log-likelihood and is not provided.)
 *
 * Reduction: `new CrossEntropyLoss({ reduction: 'sum' })` for the course's summed gradient; the default `'mean'`
 * divides the gradient by the batch size (PyTorch's default).
 *
 * Shape: yhat (batch, classes); y (batch,) class indices or (batch, classes) one-hot → (batch,).
 * @example
 * const logp = new LogSoftmax().forward(logits);
 * new CrossEntropyLoss().forward(fromArray([2, 0]), logp)  // −logp[0][2], −logp[1][0]
 */
export class CrossEntropyLoss extends Loss {
  /** @param options `reduction` (default `'mean'`) and `weight`, a weight per class (PyTorch's). */
  constructor(options: CrossEntropyOptions = {}) {
    super(options, CROSS_ENTROPY_OPTION_NAMES);
  }

  /** The weight of each class, or null (see {@link CrossEntropyOptions.weight}). */
  get weight(): Float32Array | null {
    return this.classWeight;
  }

  forward(y: Tensor, yhat: Tensor): Tensor {
    const { weight } = classTargets(this, y, yhat, this.classWeight);
    this.checkLogProbabilities(yhat);
    const [batch, classes] = yhat.shape;
    const out = zeros([batch]);
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let c = 0; c < classes; c++) {
        const w = weight(b, c);
        if (w !== 0) s -= w * yhat.data[b * classes + c];
      }
      out.data[b] = s;
    }
    return out;
  }

  backward(y: Tensor, yhat: Tensor): Tensor {
    const { weight } = classTargets(this, y, yhat, this.classWeight);
    this.checkLogProbabilities(yhat);
    const [batch, classes] = yhat.shape;
    const g = zeros(yhat.shape);
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < classes; c++) {
        const w = weight(b, c);
        g.data[b * classes + c] = w === 0 ? 0 : -w; // not −0, which reads oddly when printed
      }
    }
    return this.gradientAt(y, yhat, g);
  }

  /**
   * Refuses a yhat that is not log-probabilities (a value above 0, or a row whose exponentials do
   * not sum to 1): PyTorch's `CrossEntropyLoss` takes logits, and logits fed here would drive the
   * loss to −∞ instead of training. Rows holding NaN or ±Infinity are left to fit's non-finite check.
   */
  private checkLogProbabilities(yhat: Tensor): void {
    const [batch, classes] = yhat.shape;
    const d = yhat.data;
    for (let b = 0; b < batch; b++) {
      let total = 0;
      let largest = -Infinity;
      for (let c = 0; c < classes; c++) {
        const v = d[b * classes + c];
        total += Math.exp(v);
        if (v > largest) largest = v;
      }
      if (!Number.isFinite(total) || Number.isNaN(largest)) continue;
      if (largest > LOG_PROBABILITY_TOLERANCE || Math.abs(total - 1) > LOG_PROBABILITY_TOLERANCE) {
        const fix = probabilityRows(yhat)
          ? 'Its rows are probabilities, as a Softmax at the end of the network gives: replace that Softmax with LogSoftmax, ' +
            'or remove it and use CELogSoftmaxLoss (PyTorch’s CrossEntropyLoss, from logits).'
          : "For raw scores (logits), as PyTorch's CrossEntropyLoss takes them, use CELogSoftmaxLoss, or end the network with LogSoftmax.";
        throw new RangeError(
          `${this}: yhat row ${b} is not log-probabilities (largest value ${largest.toPrecision(4)}, its exponentials sum to ${total.toPrecision(4)}, not 1). ` +
            `CrossEntropyLoss is PyTorch's NLLLoss: it takes the output of LogSoftmax. ${fix}`,
        );
      }
    }
  }
}

/**
 * How far from 0 (for the largest value) and 1 (for the sum of exponentials) a log-probability
 * row may be: float32 rounding over thousands of classes stays below 1e-4, a finite-difference
 * probe of 1e-2 below 0.03; logits of a fresh network (near 0, so exponentials summing to about
 * the number of classes) are far outside.
 */
const LOG_PROBABILITY_TOLERANCE = 0.05;

/** Whether every row of yhat (batch, classes ≥ 2) is a probability distribution: values in [0, 1] summing to 1. */
function probabilityRows(yhat: Tensor): boolean {
  const [batch, classes] = yhat.shape;
  if (classes < 2 || batch === 0) return false;
  const d = yhat.data;
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let c = 0; c < classes; c++) {
      const v = d[b * classes + c];
      if (!(v >= 0 && v <= 1)) return false;
      total += v;
    }
    // A softmax row sums to 1 within float32 rounding, about 1e-7 a class.
    if (!(Math.abs(total - 1) <= 1e-4)) return false;
  }
  return true;
}

/** The fewest rows whose all being probabilities CELogSoftmaxLoss takes for a Softmax output (see refuseProbabilities). */
const PROBABILITY_ROWS_REFUSED = 4;

/**
 * Refuses a yhat whose every row is probabilities (a network ending with Softmax, TF.js's and
 * Keras's habit): the loss would apply softmax a second time and train slowly without a word
 * (3 epochs of a Fashion-MNIST MLP: loss 1.66 against 0.46, accuracy 0.82 against 0.85). Logits
 * whose every row of a batch of at least PROBABILITY_ROWS_REFUSED happens to lie in [0, 1] and
 * sum to 1 within 1e-4 do not occur in training; a training loop checks its first
 * CHECKED_TRAINING_CALLS steps (and backward every call: a loop's soft targets take it).
 */
function refuseProbabilities(loss: Loss, yhat: Tensor): void {
  // A single row of two logits lands in [0, 1] summing to 1 within 1e-4 about once in 50,000
  // draws: a hand-written loop of batch 1 would meet it. Four rows at once, about once in 10^18.
  if (yhat.shape[0] < PROBABILITY_ROWS_REFUSED || !probabilityRows(yhat)) return;
  throw new RangeError(
    `${loss}: every row of yhat is probabilities (values in [0, 1] summing to 1), as a Softmax at the end of the network gives; ` +
      'CELogSoftmaxLoss takes raw scores (logits) and applies log-softmax itself, so the Softmax would be applied twice. ' +
      'Remove the final Softmax (predict still returns probabilities), or end the network with LogSoftmax and use CrossEntropyLoss.',
  );
}

/**
 * Cross-entropy from raw logits (log-softmax fused in, as the course's CE):
 * per sample Σ_c y_c (lse(ŷ) − ŷ_c), with lse(ŷ) = log Σ e^(ŷ_c) computed with the maximum
 * factored out, so logits of ±1e4 give finite values. Gradient (Σ_c y_c)·softmax(ŷ) − y,
 * i.e. softmax(ŷ) − onehot(y).
 *
 * Reduction: `new CELogSoftmaxLoss({ reduction: 'sum' })` for the course's summed gradient; the default `'mean'`
 * divides the gradient by the batch size (PyTorch's default).
 *
 * Shape: yhat (batch, classes) logits; y (batch,) class indices or (batch, classes) one-hot → (batch,).
 * @example
 * new CELogSoftmaxLoss().forward(fromArray([0]), fromArray([[0, 0]]))  // [0.6931]
 */
export class CELogSoftmaxLoss extends FusedLoss {
  private labels = new Int32Array(0);

  /** @internal */
  protected readonly builtInBackward = CELogSoftmaxLoss.prototype.backward;

  /** @param options `reduction` (default `'mean'`) and `weight`, a weight per class (PyTorch's). */
  constructor(options: CrossEntropyOptions = {}) {
    super(options, CROSS_ENTROPY_OPTION_NAMES);
  }

  /** The weight of each class, or null (see {@link CrossEntropyOptions.weight}). */
  get weight(): Float32Array | null {
    return this.classWeight;
  }

  /** With class indices, one kernel call gives the losses and the gradient. @internal */
  protected compute(
    y: Tensor,
    yhat: Tensor,
    output: (batch: number) => Float32Array,
    gradient: (length: number) => Float32Array,
    everyCall: boolean,
  ): boolean {
    const { weight } = classTargets(this, y, yhat, this.classWeight);
    if (this.checksThisCall(everyCall)) refuseProbabilities(this, yhat);
    const [batch, classes] = yhat.shape;
    const out = output(batch);
    if (y.shape.length === 1) {
      // Class indices (already validated): one fused kernel call for loss and gradient.
      if (this.labels.length !== batch) this.labels = new Int32Array(batch);
      for (let b = 0; b < batch; b++) this.labels[b] = y.data[b];
      const g = gradient(yhat.data.length);
      backend().crossEntropyLogits(yhat.data, this.labels, out, g, batch, classes);
      const classWeight = this.classWeight;
      if (classWeight !== null) {
        // Each sample's loss and gradient row times its class's weight.
        for (let b = 0; b < batch; b++) {
          const w = classWeight[this.labels[b]];
          out[b] *= w;
          for (let i = b * classes; i < (b + 1) * classes; i++) g[i] *= w;
        }
      }
      return true;
    }
    const logp = new Float32Array(yhat.data.length);
    backend().softmaxForward(yhat.data, logp, batch, classes, true);
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let c = 0; c < classes; c++) {
        const w = weight(b, c);
        if (w !== 0) s -= w * logp[b * classes + c];
      }
      out[b] = s;
    }
    return false;
  }

  backward(y: Tensor, yhat: Tensor): Tensor {
    const { weight, total } = classTargets(this, y, yhat, this.classWeight);
    refuseProbabilities(this, yhat);
    const [batch, classes] = yhat.shape;
    const g = zeros(yhat.shape);
    backend().softmaxForward(yhat.data, g.data, batch, classes, false);
    for (let b = 0; b < batch; b++) {
      const t = total(b);
      for (let c = 0; c < classes; c++) {
        const i = b * classes + c;
        g.data[i] = t * g.data[i] - weight(b, c);
      }
    }
    return this.gradientAt(y, yhat, g);
  }
}

/**
 * Hinge loss for targets y ∈ {−1, +1}: per sample Σ max(0, 1 − y ŷ); gradient −y where the
 * margin is violated (1 − y ŷ > 0), 0 elsewhere. Called `forward(y, yhat)`, targets first: a y
 * that is not ±1 beside a yhat that is all ±1 (the arguments swapped) is refused.
 *
 * Reduction: `new HingeLoss({ reduction: 'sum' })` for the course's summed gradient; the default `'mean'`
 * divides the gradient by the batch size (PyTorch's default).
 *
 * Shape: y, yhat (batch, ...) → (batch,).
 * @example
 * new HingeLoss().forward(fromArray([[1]]), fromArray([[0.2]]))  // [0.8]
 */
export class HingeLoss extends Loss {
  forward(y: Tensor, yhat: Tensor): Tensor {
    const n = this.checkSame(y, yhat);
    this.checkNotSwapped(y, yhat);
    return perSample(yhat.shape[0], n, (i) => Math.max(0, 1 - y.data[i] * yhat.data[i]));
  }

  backward(y: Tensor, yhat: Tensor): Tensor {
    this.checkSame(y, yhat);
    this.checkNotSwapped(y, yhat);
    const g = zeros(yhat.shape);
    for (let i = 0; i < g.data.length; i++) g.data[i] = 1 - y.data[i] * yhat.data[i] > 0 ? -y.data[i] : 0;
    return this.gradientAt(y, yhat, g);
  }

  /**
   * Refuses a y that is not ±1 beside a yhat that is all ±1: the scores in the targets' place.
   * Any other y is computed as before.
   */
  private checkNotSwapped(y: Tensor, yhat: Tensor): void {
    const at = y.data.findIndex((v) => v !== 1 && v !== -1);
    if (at < 0 || !yhat.data.every((v) => v === 1 || v === -1)) return;
    throw new RangeError(
      `${this}: y holds ${shown(y.data[at])} at flat index ${at}, not a target in {-1, +1}, and yhat holds only -1 and +1; ${ORDER_HINT}`,
    );
  }
}

/**
 * Class labels from one-hot (or score) rows: the same function as {@link argmaxRows}, kept under
 * the name that reads as the inverse of `oneHot`.
 *
 * Shape: (batch, classes) → Int32Array(batch).
 * @deprecated Use {@link argmaxRows}, the one name for it.
 * @param t One-hot or score rows, (batch, classes).
 * @example
 * fromOneHot(fromArray([[0, 0, 1], [1, 0, 0]]))  // Int32Array [2, 0]
 */
export function fromOneHot(t: Tensor): Int32Array {
  return argmaxRows(t);
}
