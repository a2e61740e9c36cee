/**
 * Weight averaging: a running average of a network's weights along training, evaluated or kept
 * in place of the last weights. Two kinds:
 *
 * - uniform (stochastic weight averaging, Izmailov et al. 2018): the plain mean of every snapshot
 *   folded in, e.g. the weights at the end of each of the last k epochs;
 * - exponential (Polyak / EMA): avg ← decay · avg + (1 − decay) · w at every update, e.g. after
 *   every batch, with decay close to 1.
 *
 * The average lives outside the network; {@link WeightAverage.apply} copies it in (keeping the
 * live weights aside) and {@link WeightAverage.restore} puts the live weights back, so training
 * can go on after an evaluation of the average. Batch norm's running estimates are not weights:
 * average them too (`buffers: net.buffers()`, usual with an EMA), or measure them again for the
 * average with {@link updateBatchNorm} (usual after SWA).
 */
import { Tensor, describe, sliceRows, tensorArg } from './tensor';
import { Module, ModuleBuffer, Parameter, modulesOf } from './nn/module';
import { BatchNorm } from './nn/batchnorm';
import { keepModes } from './nn/mode';
import { batchNormOfOneValue } from './nn/shapes';
import { checkKnownOptions } from './options';

/** Options of {@link WeightAverage}. */
export interface WeightAverageOptions {
  /**
   * Exponential moving average with this decay in [0, 1): avg ← decay·avg + (1 − decay)·w.
   * Left out (the default): the uniform mean of all snapshots (SWA).
   */
  decay?: number;
  /**
   * Buffers averaged with the weights (`net.buffers()`: batch norm's running estimates), as
   * PyTorch's `AveragedModel(use_buffers=True)`: applied and restored with them, so an EMA of a
   * network with batch norm is evaluated with estimates that follow the averaged weights.
   * Left out, the network's own estimates stay in place ({@link updateBatchNorm} measures them
   * again for the average).
   */
  buffers?: readonly ModuleBuffer[];
}

/**
 * A running average of `params` (what `net.parameters()` returns).
 *
 * @example
 * // SWA over the last 5 of 20 epochs
 * const avg = new WeightAverage(net.parameters());
 * await fit(net, loss, opt, train, { epochs: 20, onEpochEnd: (r) => { if (r.epoch > 15) avg.update(); } });
 * avg.apply();                       // the network now holds the mean of epochs 16..20
 *
 * @example
 * // EMA of the weights (and of batch norm's running estimates) after every batch,
 * // evaluated without disturbing training
 * const ema = new WeightAverage(net.parameters(), { decay: 0.999, buffers: net.buffers() });
 * await fit(net, loss, opt, train, { epochs: 10, onBatchEnd: () => ema.update() });
 * const acc = ema.evaluateWith(() => evaluate(net, loss, xVal, yVal).accuracy);
 */
export class WeightAverage {
  readonly params: readonly Parameter[];
  /** The EMA decay, or undefined for the uniform mean. */
  readonly decay: number | undefined;
  /** Snapshots folded in since construction or the last {@link reset}. */
  count = 0;
  /** What is averaged: the parameters' values, then the buffers'. */
  private readonly averaged: readonly { name: string; value: Tensor }[];
  private readonly avg: Float64Array[];
  private saved: Float32Array[] | null = null;

  /**
   * Starts an average of `params`.
   * @param params The parameters averaged (`net.parameters()`).
   * @param options decay (none: a plain mean); buffers averaged too.
   */
  constructor(params: readonly Parameter[], options: WeightAverageOptions = {}) {
    if (!Array.isArray(params) || params.some((p) => !(p?.value?.data instanceof Float32Array))) {
      throw new TypeError(`WeightAverage: params must be an array of parameters (net.parameters()), got ${describe(params)}`);
    }
    if (options === null || typeof options !== 'object')
      throw new TypeError(`WeightAverage: options must be an object, got ${describe(options)}`);
    checkKnownOptions('WeightAverage', options, ['decay', 'buffers']);
    const buffers = options.buffers ?? [];
    if (!Array.isArray(buffers) || buffers.some((b) => !(b?.value?.data instanceof Float32Array))) {
      throw new TypeError(`WeightAverage: buffers must be an array of buffers (net.buffers()), got ${describe(options.buffers)}`);
    }
    const d = options.decay;
    if (d !== undefined && (typeof d !== 'number' || !(d >= 0 && d < 1))) {
      throw new RangeError(`WeightAverage: decay must be a number in [0, 1), got ${describe(d)}`);
    }
    this.params = params;
    this.decay = d;
    this.averaged = [...params, ...buffers].map((t) => ({ name: t.name, value: t.value }));
    this.avg = this.averaged.map((t) => new Float64Array(t.value.data.length));
  }

  /** Folds the current weights into the average (the first update copies them). */
  update(): void {
    if (this.saved) throw new Error('WeightAverage.update: the average is applied; call restore() first');
    const first = this.count === 0;
    const a = first ? 0 : (this.decay ?? this.count / (this.count + 1));
    const b = 1 - a;
    this.averaged.forEach((t, i) => {
      const w = t.value.data;
      const m = this.avg[i];
      if (w.length !== m.length) throw new RangeError(`WeightAverage.update: ${t.name} changed size (${m.length} → ${w.length})`);
      for (let j = 0; j < w.length; j++) m[j] = a * m[j] + b * w[j];
    });
    this.count++;
  }

  /** Forgets every snapshot (the next update starts a new average). */
  reset(): void {
    this.count = 0;
    for (const m of this.avg) m.fill(0);
  }

  /** The average of each parameter, as new Float32Arrays in `params` order. */
  weights(): Float32Array[] {
    this.checkCount('weights');
    return this.avg.slice(0, this.params.length).map((m) => Float32Array.from(m));
  }

  /** Copies the average into the network (the buffers' too, when given), keeping the live values for {@link restore}. */
  apply(): void {
    this.checkCount('apply');
    if (this.saved) return;
    this.saved = this.averaged.map((t) => t.value.data.slice());
    this.averaged.forEach((t, i) => t.value.data.set(this.avg[i]));
  }

  /** Puts back the values that {@link apply} replaced (no-op when the average is not applied). */
  restore(): void {
    if (!this.saved) return;
    const saved = this.saved;
    this.averaged.forEach((t, i) => t.value.data.set(saved[i]));
    this.saved = null;
  }

  /**
   * Runs `fn` with the averaged weights in the network, then restores the live ones.
   * @param fn What to run with the averaged weights in place (an evaluation).
   */
  evaluateWith<T>(fn: () => T): T {
    this.apply();
    try {
      return fn();
    } finally {
      this.restore();
    }
  }

  /** The snapshot count and the running means, for a run continued later ({@link setState}). @internal */
  state(): { count: number; means: Float64Array[] } {
    return { count: this.count, means: this.avg.map((m) => m.slice()) };
  }

  /** Puts back a {@link state} of an average of the same parameters. @internal */
  setState(state: { count: number; means: readonly Float64Array[] }): void {
    if (this.saved) throw new Error('WeightAverage.setState: the average is applied; call restore() first');
    const { count, means } = state;
    if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`WeightAverage.setState: count must be a count, got ${count}`);
    if (means.length !== this.avg.length || means.some((m, i) => m.length !== this.avg[i].length))
      throw new RangeError(
        `WeightAverage.setState: means of sizes (${means.map((m) => m.length).join(', ')}) for tensors of sizes (${this.avg.map((m) => m.length).join(', ')})`,
      );
    this.count = count;
    means.forEach((m, i) => this.avg[i].set(m));
  }

  private checkCount(who: string): void {
    if (this.count === 0) throw new Error(`WeightAverage.${who}: no snapshot yet; call update() first`);
  }
}

/** Options of {@link updateBatchNorm}. */
export interface UpdateBatchNormOptions {
  /** Samples per forward pass (default 256). */
  batchSize?: number;
}

/**
 * Measures the running estimates of every batch norm in `net` again, over the samples `x`: each
 * is reset, then set to the plain mean of the batches' statistics (a forward pass per batch in
 * training mode, no gradient), as PyTorch's `torch.optim.swa_utils.update_bn`. Averaged weights
 * ({@link WeightAverage.apply}) need it: the estimates a network holds were measured with its
 * last weights, and normalising the average's activations with them can cost much of its
 * accuracy. Every module's mode is put back afterwards; a network without batch norm is left as
 * it is. A last batch of one sample is left out where a batch norm would see one value per
 * channel in it (no spread to measure); a batch norm over image positions measures it.
 *
 * @example
 * const swa = new WeightAverage(net.parameters());
 * await fit(net, loss, opt, train, { epochs: 20, onEpochEnd: (r) => { if (r.epoch > 15) swa.update(); } });
 * swa.apply();
 * updateBatchNorm(net, train.x);     // the running estimates of the averaged weights
 * @param net The network whose batch norms are measured.
 * @param x The samples to measure them on (the training inputs), `(n, …)`.
 * @param options batchSize.
 */
export function updateBatchNorm(net: Module, x: Tensor, options: UpdateBatchNormOptions = {}): void {
  const who = 'updateBatchNorm';
  if (!(net instanceof Module)) throw new TypeError(`${who}: net must be a Module, got ${describe(net)}`);
  tensorArg(who, 'x', x);
  if (options === null || typeof options !== 'object') throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  checkKnownOptions(who, options, ['batchSize']);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 2)
    throw new RangeError(`${who}: batchSize must be an integer >= 2 (a batch norm measures a spread), got ${describe(batchSize)}`);
  if (x.shape.length < 2 || x.shape[0] < 2)
    throw new RangeError(`${who}: x must hold at least two samples (n, …), got shape (${x.shape.join(', ')})`);
  const norms = modulesOf(net).filter((m): m is BatchNorm => m instanceof BatchNorm);
  if (norms.length === 0) return;
  const restoreModes = keepModes(net);
  const kept = norms.map((bn) => ({
    mean: bn.runningMean.data.slice(),
    variance: bn.runningVar.data.slice(),
    count: bn.numBatchesTracked,
  }));
  let done = false;
  try {
    net.train();
    for (const bn of norms) {
      bn.resetRunningStats();
      bn.cumulative = true;
    }
    const n = x.shape[0];
    const oneValue = batchNormOfOneValue(net, x.shape.slice(1)) !== undefined;
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      // A last batch of one sample measures no spread where a batch norm sees one value per
      // channel (after a Flatten); a BatchNorm2D's image positions are a spread (PyTorch counts them).
      if (end - start < 2 && oneValue) break;
      net.forward(sliceRows(x, start, end));
    }
    done = true;
  } finally {
    norms.forEach((bn, i) => {
      bn.cumulative = false;
      // A pass that failed (an input the network refuses) leaves the estimates as they were.
      if (!done) {
        bn.runningMean.data.set(kept[i].mean);
        bn.runningVar.data.set(kept[i].variance);
        bn.numBatchesTracked = kept[i].count;
      }
    });
    restoreModes();
  }
}
