/**
 * Training loop (`fit`, the course's `SGD` training function), `predict` and `evaluate`.
 */
import { FLOAT32_MAX, Tensor, zeros, formatShape, describe, isTensor, sliceRows, checkDataLength } from './tensor';
import { globalRng } from './random';
import { backend } from './backend';
import { Module, Parameter, accumulateGradients, forwardView, inferView, modulesOf } from './nn/module';
import { batchNormOfOneValue } from './nn/shapes';
import { keepModes } from './nn/mode';
import { Loss } from './losses';
import { Optimizer, SGD, usableLearningRate } from './optim';
import { Linear, WeightStepSink, setWeightStepSink } from './nn/linear';
import {
  classify,
  confusionMatrix,
  MAX_CONFUSION_CLASSES,
  Labels,
  ClassReport,
  MetricName,
  MetricAccumulator,
  checkMetricNames,
  checkTopK,
  computeMetrics,
  signedTargets,
} from './metrics';
import { LRScheduler } from './schedulers';
import { clipGradNorm, clipGradValue } from './clip';
import { EpochRecord, Logger } from './logger';
import { formatLoss } from './progress';
import { CheckpointError, CheckpointOptions, FitState, readCheckpoint, writeCheckpoint } from './checkpoint';
import { isSystemError } from './data/read';
import { checkKnownOptions, checkMonitor } from './options';

/**
 * What {@link fit} and {@link evaluate} take: inputs `x` with targets `y` (a tensor: class indices
 * (n,), one-hot, or regression targets), or with integer class `labels`, as a `Dataset` of
 * `neurone/data` carries them (which is one).
 */
export type TrainingData = { x: Tensor; y: Tensor } | { x: Tensor; labels: Int32Array };

/** Turns `{ x, labels }` into `{ x, y }` with y the (n,) class indices the classification losses accept. */
function withTargets(who: string, name: string, d: TrainingData): { x: Tensor; y: Tensor } {
  if (d !== null && typeof d === 'object' && 'labels' in d && !('y' in d)) {
    if (!(d.labels instanceof Int32Array))
      throw new TypeError(
        `${who}: ${name}.labels must be an Int32Array of class indices, got ${describe(d.labels)}${(d.labels as unknown) instanceof Float32Array ? ' (Int32Array.from(labels) converts it)' : ''}`,
      );
    return { x: d.x, y: { shape: [d.labels.length], data: Float32Array.from(d.labels) } };
  }
  return d as { x: Tensor; y: Tensor };
}

/** Early stopping: stop when the monitored value has not improved for `patience` epochs. */
export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Value watched (default 'valLoss' with a validation set, 'trainLoss' without; Keras's 'val_loss' is 'valLoss'). */
  monitor?: 'valLoss' | 'valAccuracy' | 'trainLoss' | 'trainAccuracy';
  /** At the end, put back the weights of the best epoch (default false). */
  restoreBest?: boolean;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
}

/** What `onBatchEnd` receives. */
export interface BatchInfo {
  epoch: number;
  /** 1-based batch index within the epoch. */
  batch: number;
  batches: number;
  /** Mean per-sample loss of the batch. */
  loss: number;
}

/** Options of {@link fit}. */
export interface FitOptions {
  /** Samples per step (default 32). */
  batchSize?: number;
  /** Passes over the data (default 10). */
  epochs?: number;
  /** Reorder the samples every epoch with the global seeded generator (default true). */
  shuffle?: boolean;
  /**
   * Skip the last batch of each epoch when it holds fewer than `batchSize` samples, as PyTorch's
   * `drop_last` (default false). Every step then sees a full batch, which BatchNorm1D needs when
   * the remainder would be a single sample. With shuffling, the samples skipped change from epoch
   * to epoch; `trainLoss` and `trainAccuracy` are over the samples trained on.
   */
  dropLast?: boolean;
  /** Evaluated after every epoch (valLoss, valAccuracy). */
  validation?: TrainingData;
  /**
   * Holds out this fraction of the training samples, in (0, 1), as the validation set: the last
   * n − ⌊n·(1 − fraction)⌋ of them, taken before any shuffling (as Keras does), so shuffle the
   * data first if it is sorted.
   * Not together with `validation`.
   */
  validationSplit?: number;
  /** Stop when the monitored value has not improved for `patience` epochs (default: none). */
  earlyStopping?: EarlyStopping;
  /**
   * Sets the learning rate epoch by epoch ({@link StepLR}, {@link CosineAnnealingLR},
   * {@link LinearWarmup}, {@link ReduceLROnPlateau}); built on the optimiser passed to fit.
   */
  scheduler?: LRScheduler;
  /**
   * Metrics besides loss and accuracy: `'top5'` (any `'topK'`), `'precision'`, `'recall'`,
   * `'f1'`, `'mse'`, `'mae'`; over the training batches into each record's `trainMetrics`, and on
   * the validation set after each epoch into `valMetrics`.
   */
  metrics?: readonly MetricName[];
  /**
   * Scales the gradients of each step so their global L2 norm is at most this ({@link clipGradNorm}).
   * With a loss's `reduction: 'sum'` the gradients are sums over the batch: PyTorch's `max_norm`
   * converts as `max_norm × batch`.
   */
  clipGradNorm?: number;
  /** Clamps every gradient value of each step into [−v, v] ({@link clipGradValue}; × batch under `reduction: 'sum'`, as clipGradNorm). */
  clipGradValue?: number;
  /**
   * Called after each epoch, after logging; may be async (fit waits, and a rejection rejects
   * fit). Typed to return anything, as onBatchEnd.
   * @param record The finished epoch, as it goes into the history.
   */
  onEpochEnd?: (record: TrainingRecord) => unknown;
  /**
   * Called after each batch's update; may be async: a promise it returns is awaited before the
   * next batch, and its rejection rejects fit. (Typed to return anything, so that an arrow
   * function written for its side effect, `() => (n += 1)`, still type-checks.)
   * @param info The epoch, the batch, the batches per epoch and the batch's mean loss.
   */
  onBatchEnd?: (info: BatchInfo) => unknown;
  /**
   * Stops training when aborted (an `AbortController`'s signal: from a callback, a timer, a
   * signal handler, a UI). The batch running finishes; an epoch cut short is not recorded (its
   * updates stay in the weights) and fit resolves with the finished epochs and `aborted: true`,
   * as TF.js's `model.stopTraining = true` ends fit. Checked after each batch and before each
   * epoch: a signal aborted before fit starts trains nothing.
   */
  signal?: AbortSignal;
  /** 0 silent, 1 one line per epoch (default), 2 also a terminal chart. Ignored when `logger` is given. */
  verbose?: 0 | 1 | 2;
  /** A logger of your own (e.g. with an svgPath). */
  logger?: Logger;
  /** Keep training when the loss or a gradient is NaN/Inf (default false: throw {@link NonFiniteError}). */
  allowNonFinite?: boolean;
  /**
   * Write a checkpoint (weights, optimiser state, epoch, shuffling state, history) to `path`
   * every `every` epochs and after the last one, atomically. `load(path)` reads it as a model.
   */
  checkpoint?: CheckpointOptions;
  /**
   * Continue from a checkpoint written with `checkpoint`, at the epoch after it; `epochs` is still
   * the total. With the same data and options, the result is the one of an uninterrupted run.
   * A file it cannot continue from (damaged, another network's) throws a {@link CheckpointError}
   * before anything changes; one the system will not let it read (ENOENT, EACCES, EIO) throws
   * that error, with its `code`.
   *
   * @example
   * await fit(net, loss, opt, train, { epochs: 20, checkpoint: { path: 'run.ckpt', every: 5 } });
   * // ...after a crash, in a new process, with a net and optimiser built the same way:
   * await fit(net, loss, opt, train, { epochs: 20, checkpoint: { path: 'run.ckpt', every: 5 }, resumeFrom: 'run.ckpt' });
   */
  resumeFrom?: string;
  /**
   * Epochs earlier `fit` calls already trained with this network and optimiser (default 0; Keras's
   * `initial_epoch`): this call trains epochs `initialEpoch + 1` to `epochs` (the total), numbered
   * so, and an epoch-indexed scheduler (StepLR, cosine, warm-up) goes on with its schedule where
   * the last call left it. Such a scheduler, driven by an earlier `fit`, is refused without it,
   * since its schedule would start again at epoch 1 while the optimiser's state carries on.
   *
   * @example
   * // One epoch a call, the schedule going on across the calls:
   * for (let e = 0; e < 20; e++) await fit(net, loss, opt, train, { epochs: e + 1, initialEpoch: e, scheduler });
   */
  initialEpoch?: number;
}

/** One epoch of {@link fit}: the logged figures, the learning rate and the requested metrics. */
export interface TrainingRecord extends EpochRecord {
  /** The learning rate of the epoch (as the scheduler set it before the epoch). */
  lr?: number;
  /** The `metrics` asked of fit, over the epoch's batches as they were seen (weights moving, like trainLoss). */
  trainMetrics?: Record<string, number>;
  /** The `metrics` asked of fit, on the validation set, after the epoch. */
  valMetrics?: Record<string, number>;
}

/** The result of {@link fit}. */
export interface History {
  /** One record per epoch this call trained (with resumeFrom, the checkpoint's before them). */
  epochs: TrainingRecord[];
  /** True when early stopping ended training before `epochs`. */
  stoppedEarly: boolean;
  /** True when `signal` stopped training (see {@link FitOptions.signal}). */
  aborted?: boolean;
  /** The monitored value and its best epoch, with early stopping. */
  monitor?: string;
  /** The epoch of the best monitored value (undefined when none was finite). */
  bestEpoch?: number;
  /** The best monitored value. */
  bestValue?: number;
  /** True when the weights of `bestEpoch` were put back. */
  restoredBest?: boolean;
}

/**
 * Thrown by `fit` when the loss or a gradient is NaN or ±Infinity (the weights were not updated),
 * or the weights are (before training, or after an update: batch names the step).
 */
export class NonFiniteError extends Error {
  /**
   * The error with the place training stopped at.
   * @param message What happened and where.
   * @param epoch The epoch (1-based).
   * @param batch The batch (1-based; 0 before training).
   * @param parameter The parameter's name, for a gradient or weights.
   */
  constructor(
    message: string,
    readonly epoch: number,
    readonly batch: number,
    /** `2.weight` for a gradient or weights; undefined for the loss. */
    readonly parameter?: string,
  ) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

function checkTensorArg(who: string, name: string, t: unknown): Tensor {
  if (!isTensor(t)) {
    const labels =
      t instanceof Int32Array && name.endsWith('y')
        ? `; class labels go in as { x, labels } (an Int32Array), as the loaders give them`
        : '';
    throw new TypeError(`${who}: ${name} must be a Tensor { shape, data: Float32Array }, got ${describe(t)}${labels}`);
  }
  checkDataLength(who, name, t as Tensor);
  return t as Tensor;
}

function checkOptionsObject(who: string, options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
}

function checkDataset(who: string, what: string, d: { x: Tensor; y: Tensor }): number {
  if (d === null || typeof d !== 'object' || !d.x || !d.y)
    throw new TypeError(`${who}: ${what} must be { x, y } tensors or { x, labels } with an Int32Array of labels, got ${describe(d)}`);
  checkTensorArg(who, `${what}.x`, d.x);
  checkTensorArg(who, `${what}.y`, d.y);
  const n = d.x.shape[0];
  if (d.x.shape.length < 1 || d.y.shape.length < 1 || d.y.shape[0] !== n) {
    throw new RangeError(
      `${who}: ${what}.x ${formatShape(d.x.shape)} and ${what}.y ${formatShape(d.y.shape)} must have the same number of rows`,
    );
  }
  return n;
}

/**
 * Asks the network for its output shape on the whole of `x`, so a shape it refuses is reported
 * with the caller's data shape (7291, 256) rather than a batch's (32, 256), before any step.
 * Returns that output shape.
 */
function checkFitsNetwork(who: string, what: string, net: Module, x: Tensor): number[] {
  try {
    return net.outputShape(x.shape);
  } catch (e) {
    if (e instanceof RangeError)
      throw new RangeError(`${who}: ${what} of shape ${formatShape(x.shape)} does not fit the network: ${e.message}`);
    throw e;
  }
}

/** The error for a learning rate {@link usableLearningRate} refused, saying `when` it was met. */
function learningRateError(lr: unknown, when: string): RangeError {
  return new RangeError(`fit: the learning rate is ${describe(lr)} (${when}); expected a finite float32 number >= 0`);
}

/**
 * Refuses, before the first step, a batch-norm layer that some batch of the epoch would give one
 * value per channel (a batch of one sample, where the layer's input holds one value a channel per
 * sample): training mode has no spread to normalise it by, and the layer would stop fit at the end
 * of the first epoch. `smallest` is the epoch's smallest batch. Walks nested Sequentials, from
 * the layers' shapes.
 */
function checkBatchNormBatches(net: Module, x: Tensor, batchSize: number, smallest: number, n: number): void {
  if (smallest !== 1) return;
  const layer = batchNormOfOneValue(net, x.shape.slice(1));
  if (!layer) return;
  const batch =
    batchSize === 1
      ? 'every batch holds 1 sample (batchSize 1)'
      : n === 1
        ? 'the data holds 1 sample'
        : `the last batch of each epoch holds 1 sample (${n} samples, batchSize ${batchSize}; pass { dropLast: true } to skip it)`;
  throw new RangeError(`fit: ${batch}, and ${layer.label()} needs more than one value per channel in training mode`);
}

/** The option names of {@link fit}; a Record so that adding an option without listing it does not compile. */
const FIT_OPTIONS: Record<keyof FitOptions, true> = {
  batchSize: true,
  epochs: true,
  shuffle: true,
  dropLast: true,
  validation: true,
  validationSplit: true,
  scheduler: true,
  metrics: true,
  clipGradNorm: true,
  clipGradValue: true,
  earlyStopping: true,
  onEpochEnd: true,
  onBatchEnd: true,
  signal: true,
  verbose: true,
  logger: true,
  allowNonFinite: true,
  checkpoint: true,
  resumeFrom: true,
  initialEpoch: true,
};
const EARLY_STOPPING_OPTIONS: Record<keyof EarlyStopping, true> = { patience: true, monitor: true, restoreBest: true, minDelta: true };
const CHECKPOINT_OPTIONS: Record<keyof CheckpointOptions, true> = { path: true, every: true };
const PREDICT_OPTIONS: Record<keyof PredictOptions, true> = { batchSize: true };
const EVALUATE_OPTIONS: Record<keyof EvaluateOptions, true> = { batchSize: true, metrics: true };

function checkLimit(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    throw new RangeError(`${who}: ${name} must be a positive finite number, got ${describe(v)}`);
  return v;
}

function checkPositiveInt(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new RangeError(`${who}: ${name} must be a positive integer, got ${describe(v)}`);
  return v;
}

/** Rows `order[start..end)` of t: a view when they are consecutive, else copied into a reusable (end − start, ...) tensor. */
class RowGatherer {
  private readonly rowSize: number;
  private buffers = new Map<number, Tensor>();

  constructor(private readonly t: Tensor) {
    this.rowSize = t.shape[0] === 0 ? 0 : t.data.length / t.shape[0];
  }

  gather(order: Int32Array, start: number, end: number): Tensor {
    const rows = end - start;
    const s = this.rowSize;
    // Unshuffled (or any consecutive) rows are read in place: no copy.
    const first = order[start];
    let consecutive = true;
    for (let r = 1; r < rows && consecutive; r++) consecutive = order[start + r] === first + r;
    if (consecutive)
      return { shape: Object.freeze([rows, ...this.t.shape.slice(1)]), data: this.t.data.subarray(first * s, (first + rows) * s) };
    let out = this.buffers.get(rows);
    if (!out) {
      out = zeros([rows, ...this.t.shape.slice(1)]);
      this.buffers.set(rows, out);
    }
    for (let r = 0; r < rows; r++) {
      const from = order[start + r] * s;
      out.data.set(this.t.data.subarray(from, from + s), r * s);
    }
    return out;
  }
}

/** The first parameter whose gradient (or, with `of` 'value', whose weights) holds a NaN or ±Infinity, with that value and its index. */
function nonFiniteParameter(
  params: readonly Parameter[],
  of: 'grad' | 'value' = 'grad',
): { p: Parameter; value: number; index: number } | null {
  const k = backend();
  for (const p of params) {
    const g = p[of].data;
    const i = k.nonFiniteIndex(g, g.length);
    if (i >= 0) return { p, value: g[i], index: i };
  }
  return null;
}

/**
 * Plain SGD's step on the weights of Linear layers, fused with their gradient: W −= lr·xᵀ·δ as
 * one product over the weight, where the usual step writes ∂L/∂W = xᵀ·δ, scans it for NaN, then
 * reads it again with W to update W. A large layer's weight and gradient stream from the last
 * cache level in each of those three passes (the seed CNN's 4064 × 100 fc1: 1.6 MB each), and a
 * weight gradient over a batch of 32 is a product with a depth of 32 that has to write all of its
 * output anyway, so the fused product costs about what the gradient's did, and the scan and the
 * update's pass go: on an Intel Xeon, one thread, the seed CNN trained 1.27× as fast on AVX-512
 * and 1.20× on AVX2, the MLP at batch 32 1.19× and 1.14× (scripts/bench-ab.ts, BENCHMARKS.md).
 *
 * Only for exactly `SGD` without momentum or weight decay, without gradient clipping (both need
 * the gradients), and for Linear layers whose weight no other parameter shares. The product runs
 * after the whole backward pass, so every ∂L/∂input before it used the old weights, and after
 * the checks, so a step stopped by a non-finite gradient updates nothing: the check on the
 * fused weights' gradients becomes a bound from the x and δ they come from (see settle), and a
 * layer over it computes its gradient the usual way, for the usual check to report. The
 * weights' gradients are not written: fit leaves them at zero.
 */
class DeferredWeightSteps implements WeightStepSink {
  /** The parameters the optimiser updates as usual: all but the fused weights (settle adds those that fall back). */
  readonly rest: Parameter[];
  // The pairs taken in this step's backward pass (arrays reused across steps).
  private readonly owners: Linear[] = [];
  private readonly inputs: Tensor[] = [];
  private readonly deltas: Tensor[] = [];
  private count = 0;
  // Layers whose gradient was computed the usual way in this step (a pair over settle's bound).
  private readonly fellBack = new Set<Linear>();
  /** The fused weights, layers' values as a set. */
  private readonly fused: Set<Parameter>;

  private constructor(
    private readonly optimizer: SGD,
    private readonly layers: Map<Linear, Parameter>,
    private readonly params: readonly Parameter[],
  ) {
    this.fused = new Set(layers.values());
    this.rest = params.filter((p) => !this.fused.has(p));
  }

  /** The fused steps fit can take for this optimiser and these parameters, or null when none applies. */
  static for(optimizer: Optimizer, params: readonly Parameter[], clipping: boolean, batchSize: number): DeferredWeightSteps | null {
    if (clipping || !(optimizer instanceof SGD) || optimizer.constructor !== SGD) return null;
    if (optimizer.momentum !== 0 || optimizer.weightDecay !== 0) return null;
    const uses = new Map<Float32Array, number>();
    for (const p of params) uses.set(p.value.data, (uses.get(p.value.data) ?? 0) + 1);
    const layers = new Map<Linear, Parameter>();
    for (const p of params) {
      const m = p.module;
      // Fused only where the batch is smaller than the weight: the bound in settle reads x and δ,
      // and the passes it saves are over the weight and its gradient. The MLP at batch 256
      // (256·(784 + 256) values against 784·256) trained 0.97× as fast fused with a two-pass
      // bound, 0.99× (quartiles 0.98–1.01) with sumOfSquares.
      if (!(m instanceof Linear) || m.constructor !== Linear || p.value !== m.weight || uses.get(p.value.data) !== 1) continue;
      if (batchSize * (m.inputSize + m.outputSize) < m.inputSize * m.outputSize) layers.set(m, p);
    }
    return layers.size > 0 ? new DeferredWeightSteps(optimizer, layers, params) : null;
  }

  take(layer: Linear, input: Tensor, delta: Tensor): boolean {
    if (!this.layers.has(layer)) return false;
    const i = this.count++;
    this.owners[i] = layer;
    this.inputs[i] = input;
    this.deltas[i] = delta;
    return true;
  }

  /** The backward pass through `net`, taking the fused weights' pairs instead of their gradients. */
  backward(net: Module, x: Tensor, delta: Tensor): void {
    this.count = 0;
    this.fellBack.clear();
    const outer = setWeightStepSink(this);
    try {
      accumulateGradients(net, x, delta);
    } finally {
      setWeightStepSink(outer);
    }
  }

  /**
   * Checks that each pair's update is finite before any runs: |lr·xᵀ·δ| is at most
   * max(1, lr)·‖x‖·‖δ‖ (Cauchy–Schwarz on each element's sum; the float sums stay within twice
   * that), so a pair whose bound stays under half the largest float cannot overflow, and a NaN or
   * ±Infinity in x or δ makes the bound NaN or infinite. The squares are summed in double, so
   * the bound itself does not overflow. A layer with a pair over it gets its
   * gradient the usual way, for the usual check to judge. Returns the parameters to check and
   * update as usual in this step.
   */
  settle(): readonly Parameter[] {
    const scale = Math.max(1, this.optimizer.lr);
    const k = backend();
    for (let i = 0; i < this.count; i++) {
      const x = this.inputs[i].data,
        d = this.deltas[i].data;
      const bound = scale * Math.sqrt(k.sumOfSquares(x, x.length) * k.sumOfSquares(d, d.length));
      if (!(bound < FLOAT32_MAX / 2)) this.fellBack.add(this.owners[i]);
    }
    if (this.fellBack.size === 0) return this.rest;
    const seen = new Set<Linear>();
    for (let i = 0; i < this.count; i++) {
      const layer = this.owners[i];
      if (!this.fellBack.has(layer)) continue;
      layer.weightGradient(this.inputs[i], this.deltas[i], seen.has(layer) ? 1 : 0);
      seen.add(layer);
    }
    const back = new Set([...this.fellBack].map((layer) => this.layers.get(layer)));
    return this.params.filter((p) => !this.fused.has(p) || back.has(p));
  }

  /** W −= lr·xᵀ·δ for every pair taken, but those of layers that fell back, in the order taken. */
  apply(): void {
    const lr = this.optimizer.lr;
    for (let i = 0; i < this.count; i++) {
      const layer = this.owners[i];
      if (!this.fellBack.has(layer)) layer.stepWeight(this.inputs[i], this.deltas[i], lr);
    }
    this.count = 0;
  }

  /** At the end of fit: the fused weights' gradients, never written, read zero. */
  finish(): void {
    for (const p of this.layers.values()) p.grad.data.fill(0);
  }
}

/**
 * fit's step on one batch (forward, loss, backward, the finiteness checks, clipping, the update,
 * the batch's hits), with what the checks keep between steps. A class of its own so that fit's
 * epoch loop stays small: V8 optimises that async function whole, by on-stack replacement, and
 * again after each deoptimisation; with the step inside it, each of those compilations took about
 * 60 ms, three times a training, which a sweep's trainings paid per run on the cores they train on.
 */
class TrainingStep {
  /** Correct predictions in the epoch so far; meaningful while {@link classified}. */
  hits = 0;
  /** Whether every batch of the epoch so far had class targets (else there is no training accuracy). */
  classified = true;
  private labels: Labels | null = null;
  // Finite gradients can still overflow the weights (a huge learning rate). The weights are not
  // scanned after every update (a pass over every weight, 5-10 % of a small network's step):
  // a non-finite weight makes the next step's loss or gradient non-finite, and those checks,
  // before they blame the data, ask whether the last update made the weights so. The last
  // update of an epoch is checked when the epoch ends.
  private lastUpdate: { epoch: number; batch: number } | null = null;
  /** Plain SGD's fused step on Linear weights, when it applies (see {@link DeferredWeightSteps}). */
  readonly fused: DeferredWeightSteps | null;

  constructor(
    private readonly net: Module,
    private readonly loss: Loss,
    private readonly optimizer: Optimizer,
    private readonly params: readonly Parameter[],
    private readonly xs: RowGatherer,
    private readonly ys: RowGatherer,
    private readonly batches: number,
    private readonly sumHint: string,
    private readonly allowNonFinite: boolean,
    private readonly maxValue: number | undefined,
    private readonly maxNorm: number | undefined,
    batchSize: number,
    /** Whether one-output targets are {−1, 1}, decided on the whole set (see signedTargets). */
    private readonly signed: boolean,
  ) {
    this.fused = DeferredWeightSteps.for(optimizer, params, maxValue !== undefined || maxNorm !== undefined, batchSize);
  }

  beginEpoch(): void {
    this.hits = 0;
    this.classified = true;
  }

  /** Trains on rows `order[start..end)`, batch number `batch` (from 1) of `epoch`; returns the batch's summed loss. */
  run(order: Int32Array, start: number, end: number, epoch: number, batch: number, trainMetrics: MetricAccumulator | null): number {
    const { net, params, batches, sumHint } = this;
    const xb = this.xs.gather(order, start, end);
    const yb = this.ys.gather(order, start, end);
    const yhat = forwardView(net, xb, false);
    // One kernel call for the loss and its gradient where the loss has one (BCE, cross-entropy from logits).
    const { sum: batchLoss, gradient: delta } = this.loss.lossAndGradient(yb, yhat);
    if (!Number.isFinite(batchLoss) && !this.allowNonFinite) {
      this.blameLastUpdate();
      throw new NonFiniteError(
        `fit: the loss is ${batchLoss} at epoch ${epoch}, batch ${batch}/${batches}; stopped before updating, so the weights are those of the previous step ` +
          `(lower the learning rate${sumHint}, check the inputs, or pass { allowNonFinite: true } to continue)`,
        epoch,
        batch,
      );
    }
    // The metrics see the predictions before the update, as the loss does.
    trainMetrics?.add(yhat, yb);
    // Clears the gradients (or lets the layers overwrite them in the backward pass just below).
    net.deferZeroGrad();
    const fused = this.fused;
    if (fused) fused.backward(net, xb, delta);
    else accumulateGradients(net, xb, delta);
    // What the optimiser updates: all the parameters, or all but the weights the fused step updates.
    let stepped = fused ? fused.rest : params;
    if (!this.allowNonFinite) {
      if (fused) stepped = fused.settle();
      const bad = nonFiniteParameter(stepped);
      if (bad) {
        this.blameLastUpdate();
        throw new NonFiniteError(
          `fit: the gradient of ${bad.p.name} (${bad.p.module.label()}) holds ${bad.value} at epoch ${epoch}, batch ${batch}/${batches}; ` +
            'stopped before updating, so the weights are those of the previous step (or pass { allowNonFinite: true } to continue)',
          epoch,
          batch,
          bad.p.name,
        );
      }
    }
    if (this.maxValue !== undefined) clipGradValue(params, this.maxValue);
    if (this.maxNorm !== undefined) clipGradNorm(params, this.maxNorm);
    // A callback may have changed it since the epoch began (onBatchEnd); a number check a step.
    if (!usableLearningRate(this.optimizer.lr)) throw learningRateError(this.optimizer.lr, `at epoch ${epoch}, batch ${batch}/${batches}`);
    fused?.apply();
    this.optimizer.step(stepped);
    this.lastUpdate = { epoch, batch };
    if (this.classified) {
      const l = classify(yhat, yb, this.labels ?? undefined, this.signed);
      this.labels = l;
      if (l) for (let i = 0; i < l.actual.length; i++) this.hits += l.actual[i] === l.predicted[i] ? 1 : 0;
      else this.classified = false;
    }
    return batchLoss;
  }

  /** Throws if the last update made a weight non-finite (see {@link lastUpdate}). */
  blameLastUpdate(): void {
    const last = this.lastUpdate;
    if (this.allowNonFinite || last === null) return;
    const bad = nonFiniteParameter(this.params, 'value');
    if (!bad) return;
    throw new NonFiniteError(
      `fit: the update at epoch ${last.epoch}, batch ${last.batch}/${this.batches} made the weights of ${bad.p.name} (${bad.p.module.label()}) ${bad.value} at index ${bad.index} ` +
        `(lower the learning rate${this.sumHint}, or pass { allowNonFinite: true } to continue)`,
      last.epoch,
      last.batch,
      bad.p.name,
    );
  }
}

/**
 * A fit that has not finished, and whether it is suspended at one of its yields to the event loop,
 * where only code that did not await it (or timers) runs: not while it runs its own code or the
 * caller's callbacks, including the wait for an async onEpochEnd.
 */
interface FitInProgress {
  yielded: boolean;
  /** The network it trains (null for a fit that refuses its arguments before training). */
  readonly net: Module | null;
}

/** The fits in progress. */
const fitsRunning = new Set<FitInProgress>();
let warnedNotAwaited = false;

/**
 * The fit in progress on `net` or on a module in it, with that module; null when there is none.
 * Each running fit's network is walked as it is now, not as it was when that fit began: a module
 * added to it during the fit (from a callback) is trained by it too.
 */
function fitOn(net: Module): { fit: FitInProgress; module: Module } | null {
  if (fitsRunning.size === 0) return null;
  const trained = new Map<Module, FitInProgress>();
  for (const f of fitsRunning) if (f.net) for (const m of modulesOf(f.net)) if (!trained.has(m)) trained.set(m, f);
  for (const m of modulesOf(net)) {
    const f = trained.get(m);
    if (f) return { fit: f, module: m };
  }
  return null;
}

/**
 * Registers a fit on `net`, refusing it when a fit that has not finished already trains the
 * network or a module in it: the two would run interleaved, batch by batch, on the same weights
 * (and the same buffers of the forward pass). Returns the release, for fit's `finally`.
 */
function beginFit(net: Module): { progress: FitInProgress; release: () => void } {
  const running = fitOn(net);
  if (running) {
    const what =
      running.module !== net
        ? `this network's ${running.module.label()} is`
        : running.fit.net === net
          ? 'this network is'
          : 'this network is part of a network that is';
    const cause = running.fit.yielded
      ? 'was the first fit awaited?'
      : 'this fit was called from one of its callbacks (onBatchEnd, onEpochEnd) or from code it awaits; train the network after the first fit returns';
    throw new Error(`fit: ${what} already being trained by a fit that has not finished: ${cause}`);
  }
  const progress: FitInProgress = { yielded: false, net };
  fitsRunning.add(progress);
  return { progress, release: () => fitsRunning.delete(progress) };
}

/**
 * Warns, once a thread, when `who` (predict, evaluate) runs on a network that a fit suspended
 * at one of its yields is training: the caller did not await fit, and gets figures from weights
 * halfway through training. From fit's callbacks (the usual place to evaluate) it does not warn.
 */
function warnIfFitting(who: string, net: unknown): void {
  if (warnedNotAwaited || !(net instanceof Module)) return;
  const running = fitOn(net);
  if (!running || !running.fit.yielded) return;
  warnedNotAwaited = true;
  process.emitWarning(
    `${who} ran on a network that a fit which has not finished is training (was fit awaited?): its figures come from the weights ` +
      'as they are between two batches. Await fit first, or call it from onEpochEnd or onBatchEnd.',
    { code: 'NEURONE_FIT_NOT_AWAITED' },
  );
}

/** How many times its first batch's loss the first epoch's mean may reach before fit warns of a divergence. */
const DIVERGENCE_FACTOR = 2;

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
/** fit lets the event loop run (timers, signals, progress output) after the first batch that ends this long after the last time it did. */
const YIELD_MS = 2;

/**
 * Trains `net` on `dataset` with `loss` and `optimizer` (the course's `SGD` training function).
 * Each step: zero the gradients, forward, loss, backward (the gradient of the loss reduced as its
 * `reduction` says: the batch mean by default),
 * check the loss and gradients are finite, update. Yields to the event loop every few milliseconds.
 *
 * With exactly `SGD` and no momentum, weight decay or gradient clipping, each Linear layer's weight
 * is updated straight from the batch, W −= lr·xᵀ·δ in one product, without writing its gradient
 * (the same update to rounding, one pass over the weight instead of three): after fit, those
 * weights' gradients read zero. Subclass SGD to keep every gradient written.
 *
 * The parameters trained are those `net.parameters()` lists when fit starts, as a PyTorch optimiser
 * holds the parameters it was built with: a layer added to the network during training (from
 * `onEpochEnd`, say) runs in the forward pass but is updated only by the next call to fit.
 *
 * fit returns a promise: await it before using the network. A second fit on the network (or on a
 * module in it) while one has not finished is refused, since the two would train it batch by batch
 * in turns; `predict` or `evaluate` on it while fit waits between batches, outside fit's callbacks,
 * gets figures from half-trained weights and emits a warning (once a thread, code
 * `NEURONE_FIT_NOT_AWAITED`). From `onEpochEnd` and `onBatchEnd` they do not warn.
 *
 * Shuffling and Dropout's masks draw from the one random stream `seed()` sets: two fits of
 * different networks awaited together in one thread take their draws in turns, as their batches
 * interleave, so neither replays from the seed alone. For runs that reproduce, train one after
 * the other, or side by side in worker threads (`sweep`), each with its own stream.
 *
 * A batch whose rows are consecutive in `dataset` (every batch with `shuffle: false`) is passed to
 * the network and the loss as a view into `dataset`, not a copy: modules and losses must treat their
 * inputs as read-only, as all of this library's do.
 *
 * @returns the per-epoch history (train/validation loss and accuracy, seconds).
 * @throws NonFiniteError when the loss or a gradient becomes NaN/Inf (before any update
 * with it), or the weights are NaN/Inf (before training, or after an update), naming the epoch,
 * batch and parameter, unless `allowNonFinite`.
 * @throws RangeError when `dataset` or the validation set has no samples, or when a batch of one
 * sample would reach a batch-norm layer that sees one value per channel (see `dropLast`).
 * @throws Error when a fit that has not finished is already training the network or a module in it.
 *
 * @example
 * seed(0);
 * const net = new Sequential(new Linear(2, 8), new TanH(), new Linear(8, 1), new Sigmoid());
 * const history = await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), { x, y }, {
 *   epochs: 200, batchSize: 4, verbose: 0,
 *   earlyStopping: { patience: 10, monitor: 'trainLoss' },
 * });
 * history.epochs.at(-1)?.trainAccuracy  // 1
 * @param net The network trained (its weights change in place).
 * @param loss The loss minimised (its `reduction` sets the gradient scale).
 * @param optimizer The update rule: SGD, Adam, AdamW, or your own {@link Optimizer}.
 * @param dataset `{ x, y }` or `{ x, labels }`: inputs (n, ...) and their targets.
 * @param options Batch size, epochs, validation, scheduler, metrics, clipping, early stopping, logging, checkpoints.
 */
export async function fit(
  net: Module,
  loss: Loss,
  optimizer: Optimizer,
  dataset: TrainingData,
  options: FitOptions = {},
): Promise<History> {
  if (!(net instanceof Module)) return fitInTrainingMode(net, loss, optimizer, dataset, options, { yielded: false, net: null });
  const { progress, release } = beginFit(net);
  // Training mode for the epochs (evaluate switches to evaluation mode for the validation
  // passes and back); each module's own mode is put back at the end, as Lightning does.
  const restoreModes = keepModes(net);
  try {
    net.train();
    return await fitInTrainingMode(net, loss, optimizer, dataset, options, progress);
  } finally {
    restoreModes();
    release();
  }
}

/** The last epoch each epoch-indexed scheduler was asked to start, by any fit: a second fit must say where to go on. */
const scheduledEpochs = new WeakMap<LRScheduler, number>();

/** {@link fit}'s body, with `net` in training mode; `progress` says where it is, for {@link warnIfFitting} and {@link beginFit}. */
async function fitInTrainingMode(
  net: Module,
  loss: Loss,
  optimizer: Optimizer,
  dataset: TrainingData,
  options: FitOptions,
  progress: FitInProgress,
): Promise<History> {
  // evaluate's (x, y) form brought to fit: the y would be read as options ("unknown option 'shape'").
  if (isTensor(dataset) && (isTensor(options) || ArrayBuffer.isView(options) || Array.isArray(options)))
    throw new TypeError(
      'fit: data must be one object { x, y }, got x and y as two arguments (evaluate takes either form); write fit(net, loss, optimizer, { x, y }, options)',
    );
  checkOptionsObject('fit', options);
  checkKnownOptions('fit', options, Object.keys(FIT_OPTIONS));
  if (options.earlyStopping !== undefined) {
    checkOptionsObject('fit: earlyStopping', options.earlyStopping);
    checkKnownOptions('fit: earlyStopping', options.earlyStopping, Object.keys(EARLY_STOPPING_OPTIONS));
  }
  if (options.checkpoint !== undefined) {
    checkOptionsObject('fit: checkpoint', options.checkpoint);
    checkKnownOptions('fit: checkpoint', options.checkpoint, Object.keys(CHECKPOINT_OPTIONS));
  }
  let data = withTargets('fit', 'data', dataset);
  let validation = options.validation === undefined ? undefined : withTargets('fit', 'validation', options.validation);
  if (options.validationSplit !== undefined) {
    const fraction = options.validationSplit;
    if (validation !== undefined) throw new RangeError('fit: give validation or validationSplit, not both');
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
      throw new RangeError(`fit: validationSplit must be a number in (0, 1), got ${describe(fraction)}`);
    }
    const total = checkDataset('fit', 'data', data);
    // Keras's count: the training part is floor(n·(1 − fraction)) samples, the rest held out.
    const held = total - Math.floor(total * (1 - fraction));
    if (held === 0 || held === total) {
      throw new RangeError(
        `fit: validationSplit ${fraction} of ${total} samples leaves ${held === 0 ? 'no validation' : 'no training'} sample`,
      );
    }
    const keep = total - held;
    validation = { x: sliceRows(data.x, keep, total), y: sliceRows(data.y, keep, total) };
    data = { x: sliceRows(data.x, 0, keep), y: sliceRows(data.y, 0, keep) };
  }

  if (!(net instanceof Module)) throw new TypeError(`fit: net must be a Module, got ${describe(net)}`);
  if (!(loss instanceof Loss)) throw new TypeError(`fit: loss must be a Loss, got ${describe(loss)}`);
  if (optimizer === null || typeof optimizer !== 'object' || typeof optimizer.step !== 'function') {
    throw new TypeError(`fit: optimizer must have a step(params) method (SGD, Adam), got ${describe(optimizer)}`);
  }
  const n = checkDataset('fit', 'data', data);
  const outputShape = checkFitsNetwork('fit', 'data.x', net, data.x);
  // No samples: the mean loss would be 0 / 0 (NaN) and no step would run.
  if (n === 0) throw new RangeError(`fit: data.x ${formatShape(data.x.shape)} has 0 samples; fit needs at least 1`);
  // An empty validation set would report valLoss 0, which early stopping would take as perfect.
  if (validation !== undefined && checkDataset('fit', 'validation', validation) === 0) {
    throw new RangeError(`fit: validation.x ${formatShape(validation.x.shape)} has 0 samples; give a non-empty validation set or none`);
  }
  // Before the first epoch, not at its end (where evaluating it would first refuse it).
  if (validation !== undefined) checkFitsNetwork('fit', 'validation.x', net, validation.x);
  const batchSize = checkPositiveInt('fit', 'batchSize', options.batchSize ?? 32);
  const epochs = checkPositiveInt('fit', 'epochs', options.epochs ?? 10);
  const shuffle = options.shuffle ?? true;
  for (const name of ['onBatchEnd', 'onEpochEnd'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new TypeError(`fit: ${name} must be a function, got ${describe(options[name])}`);
  const signal = options.signal;
  // Read as an AbortSignal is read (aborted), so one from another realm or a polyfill does too.
  if (
    signal !== undefined &&
    (signal === null || typeof signal !== 'object' || typeof (signal as { aborted?: unknown }).aborted !== 'boolean')
  )
    throw new TypeError(`fit: signal must be an AbortSignal (new AbortController().signal), got ${describe(signal)}`);
  const dropLast = options.dropLast ?? false;
  if (typeof dropLast !== 'boolean') throw new TypeError(`fit: dropLast must be true or false, got ${describe(dropLast)}`);
  // The samples an epoch trains on: all, or the full batches' with dropLast.
  const used = dropLast ? n - (n % batchSize) : n;
  if (used === 0) {
    throw new RangeError(`fit: dropLast with batchSize ${batchSize} leaves no batch of data.x's ${n} samples; use a smaller batchSize`);
  }
  checkBatchNormBatches(net, data.x, batchSize, dropLast ? batchSize : n % batchSize || batchSize, n);
  if (options.logger !== undefined && !(options.logger instanceof Logger))
    throw new TypeError(`fit: logger must be a Logger (new Logger({ verbose, svgPath })), got ${describe(options.logger)}`);
  const logger = options.logger ?? new Logger({ verbose: options.verbose ?? 1 });
  // The bar stopped however the epochs end: one left drawing when fit throws keeps its redraw
  // timer (the process never exits) and the terminal's cursor hidden.
  try {
    const stop = options.earlyStopping;
    const monitor = stop
      ? stop.monitor === undefined
        ? validation
          ? 'valLoss'
          : 'trainLoss'
        : checkMonitor('fit: earlyStopping.monitor', stop.monitor)
      : undefined;
    if (stop) {
      checkPositiveInt('fit', 'earlyStopping.patience', stop.patience);
      if (monitor?.startsWith('val') && !validation) {
        throw new RangeError(`fit: earlyStopping monitors ${monitor} but no validation set was given`);
      }
    }
    const higherIsBetter = monitor === 'valAccuracy' || monitor === 'trainAccuracy';
    const checkpointEvery = options.checkpoint ? checkPositiveInt('fit', 'checkpoint.every', options.checkpoint.every ?? 1) : 0;
    const minDelta = stop?.minDelta ?? 0;
    const initialEpoch = options.initialEpoch ?? 0;
    if (options.initialEpoch !== undefined) {
      if (typeof initialEpoch !== 'number' || !Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs)
        throw new RangeError(
          `fit: initialEpoch must be an integer in [0, ${epochs - 1}] (epochs ${epochs} is the total, the earlier calls' included), got ${describe(initialEpoch)}`,
        );
      if (options.resumeFrom !== undefined)
        throw new RangeError('fit: give initialEpoch or resumeFrom, not both (the checkpoint says where it stopped)');
      if (options.checkpoint !== undefined)
        throw new RangeError(
          'fit: a checkpoint holds a run from its first epoch; continue a checkpointed run with resumeFrom, not initialEpoch',
        );
    }
    const scheduler = options.scheduler;
    if (scheduler !== undefined) {
      if (scheduler === null || typeof scheduler !== 'object' || (!scheduler.epochStart && !scheduler.epochEnd)) {
        throw new TypeError(`fit: scheduler must be a learning-rate scheduler (StepLR, CosineAnnealingLR…), got ${describe(scheduler)}`);
      }
      if (scheduler.optimizer !== optimizer)
        throw new RangeError('fit: the scheduler was built on another optimiser than the one fit trains with');
      if (typeof scheduler.monitor === 'string' && scheduler.monitor.startsWith('val') && !validation)
        throw new RangeError(
          `fit: the scheduler monitors ${scheduler.monitor} but no validation set was given; pass validation (or validationSplit), or build it with monitor: '${scheduler.monitor.replace(/^val/, 'train')}'`,
        );
      const scheduled = scheduledEpochs.get(scheduler);
      if (scheduled !== undefined && options.initialEpoch === undefined && options.resumeFrom === undefined)
        throw new RangeError(
          `fit: this scheduler set the rates of epochs up to ${scheduled} in an earlier fit, and would start its schedule again at epoch 1; ` +
            `pass { initialEpoch: ${scheduled}, epochs: ${scheduled} + more } to go on with it (epochs is the total), or build a new scheduler to start over`,
        );
    }
    const metrics = options.metrics === undefined ? [] : checkMetricNames('fit', options.metrics);
    checkTopK('fit', metrics, outputShape);
    const maxNorm = options.clipGradNorm === undefined ? undefined : checkLimit('fit', 'clipGradNorm', options.clipGradNorm);
    const maxValue = options.clipGradValue === undefined ? undefined : checkLimit('fit', 'clipGradValue', options.clipGradValue);

    const params = net.parameters();
    // What restoreBest takes back to the best epoch: the parameters and the buffers (BatchNorm's
    // running estimates, which belong with the weights they were measured under).
    const keptAtBest = [...params, ...net.buffers()];
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const xs = new RowGatherer(data.x);
    const ys = new RowGatherer(data.y);
    const batches = Math.ceil(used / batchSize);
    const history: History = { epochs: [], stoppedEarly: false, monitor };
    let best: number | undefined;
    let bestEpoch: number | undefined;
    let bestWeights: Float32Array[] | null = null;
    let waited = 0;
    let firstEpoch = initialEpoch + 1;
    if (options.resumeFrom !== undefined) {
      let r: FitState;
      try {
        r = readCheckpoint(options.resumeFrom, net, optimizer, order);
      } catch (e) {
        if (isSystemError(e)) throw e; // the file could not be read, not found wanting
        throw new CheckpointError(options.resumeFrom, e);
      }
      ({ best, bestEpoch, waited, bestWeights } = r);
      history.epochs.push(...r.history);
      scheduler?.resume?.(r.history);
      // The checkpoint's rate is the next epoch's: a drop after its last epoch is marked too.
      logger.resumed(r.history, scheduler?.epochEnd !== undefined ? optimizer.lr : undefined);
      firstEpoch = r.epoch + 1;
      if (!r.stoppedEarly && firstEpoch <= epochs) logger.message(`resuming after epoch ${r.epoch} from ${options.resumeFrom}`);
      if (r.stoppedEarly) {
        // The run had ended: its last checkpoint is the one of the epoch early stopping ended it at.
        history.stoppedEarly = true;
        firstEpoch = epochs + 1;
        logger.message(
          `${options.resumeFrom} is the checkpoint of a run that early stopping ended after epoch ${r.epoch}: nothing to train`,
        );
      }
    }

    // Weights already NaN/Inf (loaded, set by hand) would train silently at chance: the gradient
    // check below cannot see them, since the loss is then NaN only for some losses and inputs.
    if (!options.allowNonFinite) {
      const bad = nonFiniteParameter(params, 'value');
      if (bad) {
        throw new NonFiniteError(
          `fit: the weights of ${bad.p.name} (${bad.p.module.label()}) hold ${bad.value} at index ${bad.index} before training; ` +
            're-initialise or reload the network (or pass { allowNonFinite: true } to train anyway)',
          firstEpoch,
          0,
          bad.p.name,
        );
      }
    }

    // Summed gradients grow with the batch: the usual cause of a divergence with a learning rate
    // brought from PyTorch or Keras, whose losses average.
    const sumHint =
      loss.reduction === 'sum' && batchSize > 1
        ? `; ${loss} sums the gradient over the batch of ${batchSize}, so a learning rate meant for averaged gradients is ${batchSize} times too large here`
        : '';
    // {−1, 1} or {0, 1} one-output targets: decided on the whole set, not batch by batch.
    const signed = signedTargets(data.y);
    const steps = new TrainingStep(
      net,
      loss,
      optimizer,
      params,
      xs,
      ys,
      batches,
      sumHint,
      options.allowNonFinite ?? false,
      maxValue,
      maxNorm,
      batchSize,
      signed,
    );

    /** Writes the checkpoint of the epoch just finished, when fit was asked for checkpoints. */
    const checkpointAt = (epoch: number, stoppedEarly: boolean): void => {
      if (!options.checkpoint) return;
      writeCheckpoint(options.checkpoint.path, net, optimizer, {
        epoch,
        order,
        history: history.epochs,
        best,
        bestEpoch,
        waited,
        bestWeights,
        stoppedEarly,
      });
    };

    let lastYield = performance.now();
    let firstBatchLoss = Infinity;
    /** Whether the signal stopped an epoch before its last batch (its updates are in the weights, its record is not). */
    let cutShort = false;
    /** Says where the signal stopped training, and marks the history; true when it has. */
    const abortedAt = (epoch: number, batch: number): boolean => {
      if (!signal?.aborted) return false;
      history.aborted = true;
      logger.message(
        batch === 0
          ? `stopped by the signal before epoch ${epoch}`
          : `stopped by the signal after batch ${batch} of ${batches} of epoch ${epoch}; that epoch is not recorded`,
      );
      return true;
    };
    for (let epoch = firstEpoch; epoch <= epochs; epoch++) {
      if (abortedAt(epoch, 0)) break;
      const t0 = performance.now();
      scheduler?.epochStart?.(epoch);
      if (!usableLearningRate(optimizer.lr)) {
        throw learningRateError(optimizer.lr, scheduler?.epochStart ? `the scheduler set it for epoch ${epoch}` : `at epoch ${epoch}`);
      }
      const epochLr = optimizer.lr;
      const trainMetrics = metrics.length > 0 ? new MetricAccumulator('fit', metrics, signed) : null;
      if (shuffle) globalRng().shuffle(order);
      let lossSum = 0;
      steps.beginEpoch();
      for (let b = 0; b < batches; b++) {
        const start = b * batchSize;
        const end = Math.min(used, start + batchSize);
        const batchLoss = steps.run(order, start, end, epoch, b + 1, trainMetrics);
        lossSum += batchLoss;
        if (b === 0 && epoch === firstEpoch) firstBatchLoss = batchLoss / (end - start);
        const batchEnded = options.onBatchEnd?.({ epoch, batch: b + 1, batches, loss: batchLoss / (end - start) });
        // Awaited only when it returns a promise: a synchronous callback costs no trip through the event loop.
        if (isThenable(batchEnded)) {
          await batchEnded;
          lastYield = performance.now();
        }
        logger.progress(epoch, b + 1, batches, batchLoss / (end - start), epochs);
        // Yielding costs ~10 µs, a visible share of a small batch's step: yield every few ms instead.
        if (performance.now() - lastYield > YIELD_MS) {
          progress.yielded = true;
          await nextTick();
          progress.yielded = false;
          lastYield = performance.now();
        }
        if (b + 1 < batches && abortedAt(epoch, b + 1)) {
          cutShort = true;
          break;
        }
      }
      if (cutShort) {
        // The epoch's last update is checked as a finished epoch's is: the weights fit returns.
        steps.blameLastUpdate();
        break;
      }
      progress.yielded = true;
      await nextTick();
      progress.yielded = false;
      lastYield = performance.now();
      steps.blameLastUpdate();
      const record: TrainingRecord = { epoch, trainLoss: lossSum / used, seconds: 0, lr: epochLr };
      if (trainMetrics) record.trainMetrics = trainMetrics.values();
      if (steps.classified) record.trainAccuracy = steps.hits / used;
      if (validation) {
        // The validation set's ±1 targets read as the training set's (decided on both together).
        const v = evaluateSet(
          net,
          loss,
          validation.x,
          validation.y,
          { batchSize: Math.max(batchSize, 256), metrics },
          signed || signedTargets(validation.y),
        );
        record.valLoss = v.loss;
        if (v.accuracy !== undefined) record.valAccuracy = v.accuracy;
        if (v.metrics) record.valMetrics = v.metrics;
      }
      record.seconds = (performance.now() - t0) / 1000;
      history.epochs.push(record);
      // The schedule has reached this epoch: a later fit with this scheduler must say where to go on.
      if (scheduler?.epochStart) scheduledEpochs.set(scheduler, epoch);
      logger.epoch(record, epochs);
      // A loss that stays finite can still diverge (cross-entropy from logits grows linearly with
      // them): the first epoch ending far above its first batch says the steps are too large.
      if (
        epoch === firstEpoch &&
        batches > 1 &&
        record.trainLoss > DIVERGENCE_FACTOR * firstBatchLoss &&
        Number.isFinite(record.trainLoss)
      ) {
        logger.message(
          `warning: the training loss rose from ${firstBatchLoss.toPrecision(4)} (first batch) to ${record.trainLoss.toPrecision(4)} (epoch ${epoch}'s mean): ` +
            `the learning rate ${optimizer.lr} looks too large${sumHint}`,
        );
      }
      await options.onEpochEnd?.(record);
      const changed = scheduler?.epochEnd?.(record);
      if (changed) {
        logger.message(`after epoch ${epoch}: ${changed}`);
        // The curves' figure marks the drop, at the epoch after which it happened.
        logger.annotate(epoch, `lr → ${optimizer.lr.toExponential(1)}`);
      }

      if (stop && monitor) {
        const value = record[monitor];
        if (value === undefined) throw new RangeError(`fit: earlyStopping monitors ${monitor}, which this task does not produce`);
        // A NaN or infinite value (allowNonFinite) is never an improvement, not even the first.
        const improved =
          Number.isFinite(value) && (best === undefined || (higherIsBetter ? value > best + minDelta : value < best - minDelta));
        if (improved) {
          best = value;
          bestEpoch = epoch;
          waited = 0;
          if (stop.restoreBest) bestWeights = keptAtBest.map((p) => p.value.data.slice());
        } else if (++waited >= stop.patience) {
          history.stoppedEarly = true;
          logger.message(
            `early stopping after epoch ${epoch}: ${monitor} ` +
              (bestEpoch === undefined
                ? `has not been finite in ${waited} epochs`
                : `has not improved since epoch ${bestEpoch} (${formatLoss(best as number)})`),
          );
          // The run's end, whatever checkpoint.every: a resume then knows there is nothing left to train.
          checkpointAt(epoch, true);
          break;
        }
      }
      if (epoch % checkpointEvery === 0 || epoch === epochs) checkpointAt(epoch, false);
    }
    if (stop) {
      history.bestEpoch = bestEpoch;
      history.bestValue = best;
      const last = history.epochs[history.epochs.length - 1]?.epoch;
      // An epoch cut short moved the weights past the last recorded one, which may be the best.
      if (stop.restoreBest && bestWeights && (bestEpoch !== last || cutShort)) {
        keptAtBest.forEach((p, i) => p.value.data.set((bestWeights as Float32Array[])[i]));
        history.restoredBest = true;
      }
    }
    steps.fused?.finish();
    logger.end();
    return history;
  } finally {
    logger.stopProgress();
  }
}

/** Options of {@link predict} and {@link evaluate}. */
export interface PredictOptions {
  /** Samples per forward pass (default 256); bounds the memory used. */
  batchSize?: number;
}

/**
 * Runs the network over `x` in batches and returns all outputs, through {@link Module.infer}
 * (nothing kept for a backward pass, Conv1D + MaxPool1D fused).
 *
 * Shape: x (n, ...) → (n, ...output).
 * @example
 * const scores = predict(net, xTest);          // (n, 10)
 * const labels = argmaxRows(scores);           // Int32Array(n)
 * @param net The network, run through {@link Module.infer}.
 * @param x Inputs, (n, ...).
 * @param options `{ batchSize }` (default 256).
 */
export function predict(net: Module, x: Tensor, options: PredictOptions = {}): Tensor {
  if (!(net instanceof Module)) throw new TypeError(`predict: net must be a Module, got ${describe(net)}`);
  warnIfFitting('predict', net);
  checkTensorArg('predict', 'x', x);
  checkOptionsObject('predict', options);
  checkKnownOptions('predict', options, Object.keys(PREDICT_OPTIONS));
  checkFitsNetwork('predict', 'x', net, x);
  const batchSize = checkPositiveInt('predict', 'batchSize', options.batchSize ?? 256);
  const n = x.shape[0];
  const rowSize = n === 0 ? 0 : x.data.length / n;
  let out: Tensor | null = null;
  let outRow = 0;
  // Evaluation mode for the passes (Dropout off, BatchNorm on its running estimates), then each
  // module's mode as it was: predicting does not change the network.
  const restoreModes = keepModes(net);
  net.eval();
  try {
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const xb: Tensor = {
        shape: Object.freeze([end - start, ...x.shape.slice(1)]),
        data: x.data.subarray(start * rowSize, end * rowSize),
      };
      const yb = inferView(net, xb);
      if (!out) {
        outRow = yb.data.length / (end - start);
        out = zeros([n, ...yb.shape.slice(1)]);
      }
      out.data.set(yb.data, start * outRow);
    }
  } finally {
    restoreModes();
  }
  return out ?? zeros([0, ...net.outputShape([1, ...x.shape.slice(1)]).slice(1)]);
}

/** The result of {@link evaluate}. */
export interface Evaluation {
  /** Mean per-sample loss. */
  loss: number;
  /** Classification tasks only. */
  accuracy?: number;
  /** `confusion[actual][predicted]`, classification tasks of at most {@link MAX_CONFUSION_CLASSES} classes only. */
  confusion?: number[][];
  /** The `metrics` asked for, by name. */
  metrics?: Record<string, number>;
  /** Per-class precision, recall and F1, when one of them was asked for. */
  classReport?: ClassReport;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions extends PredictOptions {
  /** Metrics besides loss and accuracy: `'top5'`, `'precision'`, `'recall'`, `'f1'`, `'mse'`, `'mae'`. */
  metrics?: readonly MetricName[];
}

/**
 * Loss, accuracy and confusion matrix of `net` on a dataset, in batches: the same `{ x, y }` or
 * `{ x, labels }` that {@link fit} takes, or `x` and `y` as two arguments.
 *
 * @param net The network, run through {@link Module.infer}.
 * @param loss The loss whose mean per-sample value is reported.
 * @param data `{ x, y }` or `{ x, labels }`.
 * @param options `{ batchSize, metrics }` (batch size default 256).
 * @example
 * const { loss, accuracy, confusion } = evaluate(net, new CELogSoftmaxLoss(), testSet);
 * evaluate(net, new CELogSoftmaxLoss(), xTest, yTest);   // the same with two tensors
 */
export function evaluate(net: Module, loss: Loss, data: TrainingData, options?: EvaluateOptions): Evaluation;
/**
 * The same with inputs and targets as two tensors.
 *
 * @param net The network, run through {@link Module.infer}.
 * @param loss The loss whose mean per-sample value is reported.
 * @param x Inputs, (n, ...).
 * @param y Targets: (n,) class indices, one-hot rows or regression targets.
 * @param options `{ batchSize, metrics }` (batch size default 256).
 */
export function evaluate(net: Module, loss: Loss, x: Tensor, y: Tensor, options?: EvaluateOptions): Evaluation;
export function evaluate(
  net: Module,
  loss: Loss,
  dataOrX: TrainingData | Tensor,
  yOrOptions?: Tensor | EvaluateOptions,
  maybeOptions?: EvaluateOptions,
): Evaluation {
  if (!(loss instanceof Loss)) throw new TypeError(`evaluate: loss must be a Loss, got ${describe(loss)}`);
  warnIfFitting('evaluate', net);
  const isTensor = dataOrX !== null && typeof dataOrX === 'object' && (dataOrX as Tensor).data instanceof Float32Array;
  let x: Tensor;
  let y: Tensor;
  let options: EvaluateOptions;
  if (isTensor) {
    x = dataOrX as Tensor;
    y = yOrOptions as Tensor;
    options = maybeOptions ?? {};
  } else {
    if (dataOrX === null || typeof dataOrX !== 'object') {
      throw new TypeError(`evaluate: data must be { x, y }, { x, labels } or two tensors x, y; got ${describe(dataOrX)}`);
    }
    ({ x, y } = withTargets('evaluate', 'data', dataOrX as TrainingData));
    options = (yOrOptions as EvaluateOptions | undefined) ?? {};
  }
  return evaluateSet(net, loss, x, y, options);
}

/**
 * {@link evaluate} on tensors `x`, `y`; `signed` says whether one-output targets are {−1, 1}
 * when the caller decided it on a larger set (fit's validation: a validation set of +1 alone
 * would otherwise be read as {0, 1}).
 */
function evaluateSet(net: Module, loss: Loss, x: Tensor, y: Tensor, options: EvaluateOptions, signed?: boolean): Evaluation {
  checkOptionsObject('evaluate', options);
  checkKnownOptions('evaluate', options, Object.keys(EVALUATE_OPTIONS));
  const metrics = options.metrics === undefined ? [] : checkMetricNames('evaluate', options.metrics);
  const n = checkDataset('evaluate', 'data', { x, y });
  const yhat = predict(net, x, { batchSize: options.batchSize });
  checkTopK('evaluate', metrics, yhat.shape);
  const lossValue = n === 0 ? 0 : loss.sum(y, yhat) / n;
  const result: Evaluation = { loss: lossValue };
  const l = classify(yhat, y, undefined, signed);
  if (l) {
    let hits = 0;
    for (let i = 0; i < n; i++) hits += l.actual[i] === l.predicted[i] ? 1 : 0;
    result.accuracy = n === 0 ? 0 : hits / n;
    // Beyond MAX_CONFUSION_CLASSES the matrix would take gigabytes: left out.
    if (l.classes <= MAX_CONFUSION_CLASSES) result.confusion = confusionMatrix(l.predicted, l.actual, l.classes);
  }
  if (metrics.length > 0) {
    const { values, report } = computeMetrics('evaluate', metrics, yhat, y, signed);
    result.metrics = values;
    if (report) result.classReport = report;
  }
  return result;
}
