/**
 * Learning-rate schedulers, as PyTorch's `torch.optim.lr_scheduler`: each is built on an
 * optimiser, remembers its learning rate at that moment as the base, and sets `optimizer.lr`.
 * Pass one to `fit` as `{ scheduler }`: it sets the rate before each epoch (step, cosine,
 * warm-up) or reads each epoch's record after it (reduce on plateau). The epoch-indexed ones
 * compute the rate from the epoch number alone, so a run resumed from a checkpoint gets the
 * rates of an uninterrupted one.
 */
import type { Optimizer } from './optim';
import type { EpochRecord } from './logger';
import { describe } from './tensor';
import { checkKnownOptions, checkMonitor } from './options';

/** What `fit` calls on a scheduler. */
export interface LRScheduler {
  /** The optimiser whose `lr` this scheduler sets (fit checks it is the one it trains with). */
  readonly optimizer: Optimizer;
  /**
   * Called by fit before the 1-based `epoch` runs.
   * @param epoch The epoch about to run, from 1.
   */
  epochStart?(epoch: number): void;
  /**
   * Called by fit with each finished epoch's record; returns a line for the log when it changed the rate.
   * @param record The finished epoch’s record.
   */
  epochEnd?(record: EpochRecord): string | undefined;
  /**
   * Called by fit when it resumes from a checkpoint (`resumeFrom`), with the records of the
   * epochs the checkpoint holds: a scheduler whose state follows them (a plateau's best value and
   * wait) rebuilds it. The learning rate itself comes back with the optimiser.
   * @param history The finished epochs' records, from epoch 1.
   */
  resume?(history: readonly EpochRecord[]): void;
  /**
   * The record's field epochEnd reads (`valLoss`, `trainAccuracy`…), when it reads one: fit refuses
   * a validation field without a validation set before the first epoch, not after it.
   */
  readonly monitor?: string;
}

function checkOptimizer(who: string, optimizer: unknown): Optimizer {
  if (optimizer === null || typeof optimizer !== 'object' || typeof (optimizer as Optimizer).lr !== 'number') {
    throw new TypeError(`${who}: expected an optimiser (SGD, Adam…) with an lr, got ${describe(optimizer)}`);
  }
  // The schedule is built from it: a NaN or negative base would schedule NaN or negative rates.
  const lr = (optimizer as Optimizer).lr;
  if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`${who}: the optimiser's learning rate must be a finite number >= 0, got ${lr}`);
  return optimizer as Optimizer;
}

function checkObject<T extends object>(who: string, options: T, known: readonly string[]): T {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
  checkKnownOptions(who, options, known);
  return options;
}

function checkRange(who: string, name: string, v: unknown, min: number, max: number, integer = false, openMin = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (openMin ? v > min : v >= min) && v <= max && (!integer || Number.isInteger(v));
  if (!ok) {
    throw new RangeError(
      `${who}: ${name} must be ${integer ? 'an integer' : 'a number'} in ${openMin ? '(' : '['}${min}, ${max}], got ${describe(v)}`,
    );
  }
  return v as number;
}

function checkEpoch(who: string, epoch: unknown): number {
  return checkRange(who, 'epoch', epoch, 1, Number.MAX_SAFE_INTEGER, true);
}

/**
 * A scheduler whose rate is a function of the epoch number: `lrAt(epoch)`, set by `epochStart`.
 * Extend it for a schedule of your own.
 *
 * @example
 * class Table extends EpochScheduler {
 *   constructor(optimizer: Optimizer, private readonly rates: number[]) { super(optimizer); }
 *   lrAt(epoch: number): number { return this.rates[Math.min(epoch, this.rates.length) - 1]; }
 * }
 * await fit(net, loss, opt, train, { epochs: 30, scheduler: new Table(opt, [0.1, 0.1, 0.05, 0.01]) });
 */
export abstract class EpochScheduler implements LRScheduler {
  /** The optimiser's learning rate when the scheduler was built. */
  readonly baseLr: number;

  /** @param optimizer The optimiser whose `lr` is set; its current `lr` is the base rate. */
  constructor(readonly optimizer: Optimizer) {
    this.baseLr = checkOptimizer(new.target.name, optimizer).lr;
  }

  /**
   * The learning rate of the 1-based `epoch`.
   * @param epoch The epoch, from 1.
   */
  abstract lrAt(epoch: number): number;

  /**
   * Sets the optimiser's rate for the 1-based `epoch` (fit calls it; call it yourself in a loop of your own).
   * @param epoch The epoch about to run, from 1.
   */
  epochStart(epoch: number): void {
    this.optimizer.lr = this.lrAt(checkEpoch(this.constructor.name, epoch));
  }
}

/** Options of {@link StepLR}. */
export interface StepLROptions {
  /** Epochs between two decays (a positive integer). */
  stepSize: number;
  /** Factor of each decay (default 0.1). */
  gamma?: number;
}

/**
 * Multiplies the rate by `gamma` every `stepSize` epochs: lr(e) = base · gamma^⌊(e − 1) / stepSize⌋.
 *
 * @example
 * const opt = new SGD({ lr: 0.1, momentum: 0.9 });
 * await fit(net, loss, opt, train, { epochs: 30, scheduler: new StepLR(opt, { stepSize: 10 }) });  // 0.1, 0.01, 0.001
 */
export class StepLR extends EpochScheduler {
  /** Epochs between two drops of the rate. */
  readonly stepSize: number;
  /** The factor of each drop. */
  readonly gamma: number;

  /**
   * @param optimizer The optimiser whose `lr` is set; its current `lr` is the base rate.
   * @param options stepSize, gamma (default 0.1).
   */
  constructor(optimizer: Optimizer, options: StepLROptions) {
    super(optimizer);
    checkObject('StepLR', options, ['stepSize', 'gamma']);
    this.stepSize = checkRange('StepLR', 'stepSize', options.stepSize, 1, Number.MAX_SAFE_INTEGER, true);
    this.gamma = checkRange('StepLR', 'gamma', options.gamma ?? 0.1, 0, 1, false, true);
  }

  /**
   * The learning rate of an epoch.
   * @param epoch The epoch, from 1.
   */
  lrAt(epoch: number): number {
    return this.baseLr * this.gamma ** Math.floor((checkEpoch('StepLR', epoch) - 1) / this.stepSize);
  }
}

/** Options of {@link CosineAnnealingLR}. */
export interface CosineOptions {
  /** Epochs from the base rate down to `minLr` (PyTorch's T_max); the rate stays at `minLr` after (PyTorch's climbs back up along the cosine). */
  epochs: number;
  /** The rate reached at the end (default 0). */
  minLr?: number;
}

/**
 * Half a cosine from the base rate down to `minLr` over `epochs` epochs:
 * lr(e) = minLr + (base − minLr) · (1 + cos(π (e − 1) / epochs)) / 2.
 *
 * @example
 * const opt = new Adam({ lr: 1e-3 });
 * await fit(net, loss, opt, train, { epochs: 20, scheduler: new CosineAnnealingLR(opt, { epochs: 20 }) });
 */
export class CosineAnnealingLR extends EpochScheduler {
  /** Epochs from the base rate down to `minLr`. */
  readonly epochs: number;
  /** The rate at the end of the half cosine. */
  readonly minLr: number;

  /**
   * @param optimizer The optimiser whose `lr` is set; its current `lr` is the base rate.
   * @param options epochs, minLr (default 0).
   */
  constructor(optimizer: Optimizer, options: CosineOptions) {
    super(optimizer);
    checkObject('CosineAnnealingLR', options, ['epochs', 'minLr']);
    this.epochs = checkRange('CosineAnnealingLR', 'epochs', options.epochs, 1, Number.MAX_SAFE_INTEGER, true);
    this.minLr = checkRange('CosineAnnealingLR', 'minLr', options.minLr ?? 0, 0, this.baseLr);
  }

  /**
   * The learning rate of an epoch.
   * @param epoch The epoch, from 1.
   */
  lrAt(epoch: number): number {
    const done = Math.min(checkEpoch('CosineAnnealingLR', epoch) - 1, this.epochs);
    return this.minLr + ((this.baseLr - this.minLr) * (1 + Math.cos((Math.PI * done) / this.epochs))) / 2;
  }
}

/** Options of {@link LinearWarmup}. */
export interface WarmupOptions {
  /** Epochs of warm-up: the rate rises linearly over them and reaches the base rate after. */
  epochs: number;
  /** The first epoch's rate as a fraction of the base (default 0.1). */
  startFactor?: number;
  /** A schedule that takes over after the warm-up, its epoch 1 being the first after it. */
  then?: EpochScheduler;
}

/**
 * Linear warm-up (PyTorch's `LinearLR`, chained with `SequentialLR` when `then` is given):
 * base · (startFactor + (1 − startFactor) (e − 1) / epochs) for the first `epochs` epochs, then
 * the base rate or the `then` schedule.
 *
 * @example
 * const opt = new AdamW({ lr: 1e-3 });
 * const scheduler = new LinearWarmup(opt, { epochs: 3, then: new CosineAnnealingLR(opt, { epochs: 17 }) });
 */
export class LinearWarmup extends EpochScheduler {
  /** Epochs of the ramp up to the base rate. */
  readonly epochs: number;
  /** The first epoch's share of the base rate. */
  readonly startFactor: number;
  /** The schedule that follows the warm-up, its epochs counted from the warm-up's end. */
  readonly then: EpochScheduler | undefined;

  /**
   * @param optimizer The optimiser whose `lr` is set; its current `lr` is the base rate.
   * @param options epochs, startFactor (default 0.1), then.
   */
  constructor(optimizer: Optimizer, options: WarmupOptions) {
    super(optimizer);
    checkObject('LinearWarmup', options, ['epochs', 'startFactor', 'then']);
    this.epochs = checkRange('LinearWarmup', 'epochs', options.epochs, 1, Number.MAX_SAFE_INTEGER, true);
    this.startFactor = checkRange('LinearWarmup', 'startFactor', options.startFactor ?? 0.1, 0, 1, false, true);
    if (options.then !== undefined) {
      if (!(options.then instanceof EpochScheduler)) {
        throw new TypeError(`LinearWarmup: then must be an epoch schedule (StepLR, CosineAnnealingLR…), got ${describe(options.then)}`);
      }
      if (options.then.optimizer !== optimizer) throw new RangeError('LinearWarmup: then must schedule the same optimiser');
    }
    this.then = options.then;
  }

  /**
   * The learning rate of an epoch.
   * @param epoch The epoch, from 1.
   */
  lrAt(epoch: number): number {
    const e = checkEpoch('LinearWarmup', epoch);
    if (e > this.epochs) return this.then ? this.then.lrAt(e - this.epochs) : this.baseLr;
    return this.baseLr * (this.startFactor + ((1 - this.startFactor) * (e - 1)) / this.epochs);
  }
}

/** Options of {@link ReduceLROnPlateau}. */
export interface PlateauOptions {
  /** The value watched (default 'valLoss'); accuracies are maximised, losses minimised. */
  monitor?: 'valLoss' | 'valAccuracy' | 'trainLoss' | 'trainAccuracy';
  /** Multiplies the rate on a plateau (default 0.1). */
  factor?: number;
  /** Epochs without improvement before the rate drops (default 10). */
  patience?: number;
  /** Smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** The rate never goes below this (default 0). */
  minLr?: number;
  /**
   * A drop smaller than this is not made (default 1e-8, PyTorch's `eps`): with `minLr` 0 the
   * rate stops falling near 1e-8 instead of shrinking towards 0 on every plateau.
   */
  eps?: number;
}

/**
 * Multiplies the rate by `factor` when the monitored value has not improved by `minDelta` for
 * `patience` epochs, then waits `patience` epochs again (Keras's `ReduceLROnPlateau`; PyTorch's
 * with `patience - 1` and `threshold_mode='abs'`). A run resumed from a checkpoint rebuilds its
 * best value and wait from the checkpoint's epochs, so it lowers the rate where the uninterrupted
 * run would have.
 *
 * @example
 * const opt = new SGD({ lr: 0.05, momentum: 0.9 });
 * await fit(net, loss, opt, train, { validationSplit: 0.1, scheduler: new ReduceLROnPlateau(opt, { patience: 2, factor: 0.3 }) });
 */
export class ReduceLROnPlateau implements LRScheduler {
  /** The record field watched (`valLoss` by default; fit refuses a validation field without validation data). */
  readonly monitor: NonNullable<PlateauOptions['monitor']>;
  /** The factor of each drop. */
  readonly factor: number;
  /** Epochs without improvement before a drop. */
  readonly patience: number;
  /** Smallest change that counts as an improvement. */
  readonly minDelta: number;
  /** The rate is never lowered below this. */
  readonly minLr: number;
  /** The smallest drop made. */
  readonly eps: number;
  private best: number | undefined;
  private waited = 0;

  /**
   * @param optimizer The optimiser whose `lr` is lowered.
   * @param options monitor, factor, patience, minDelta, minLr, eps.
   */
  constructor(
    readonly optimizer: Optimizer,
    options: PlateauOptions = {},
  ) {
    checkOptimizer('ReduceLROnPlateau', optimizer);
    checkObject('ReduceLROnPlateau', options, ['monitor', 'factor', 'patience', 'minDelta', 'minLr', 'eps']);
    this.monitor = checkMonitor('ReduceLROnPlateau: monitor', options.monitor ?? 'valLoss');
    this.factor = checkRange('ReduceLROnPlateau', 'factor', options.factor ?? 0.1, 0, 1, false, true);
    if (this.factor === 1) throw new RangeError('ReduceLROnPlateau: factor must be below 1, got 1');
    this.patience = checkRange('ReduceLROnPlateau', 'patience', options.patience ?? 10, 1, Number.MAX_SAFE_INTEGER, true);
    this.minDelta = checkRange('ReduceLROnPlateau', 'minDelta', options.minDelta ?? 1e-4, 0, Infinity);
    this.minLr = checkRange('ReduceLROnPlateau', 'minLr', options.minLr ?? 0, 0, Infinity);
    this.eps = checkRange('ReduceLROnPlateau', 'eps', options.eps ?? 1e-8, 0, Infinity);
  }

  /**
   * Takes one epoch's value of the monitored quantity; lowers the rate after `patience` epochs
   * without improvement. Returns true when it lowered it. A NaN (a training continued with
   * `allowNonFinite`) is an epoch without improvement, as in PyTorch.
   * @param value The monitored quantity this epoch.
   */
  step(value: number): boolean {
    if (typeof value !== 'number') throw new TypeError(`ReduceLROnPlateau: expected a number, got ${describe(value)}`);
    if (!this.observe(value)) return false;
    const lowered = Math.max(this.minLr, this.optimizer.lr * this.factor);
    if (!(this.optimizer.lr - lowered > this.eps)) return false;
    this.optimizer.lr = lowered;
    return true;
  }

  /** Counts one epoch's value; true when the rate is due to drop (the wait then starts again). */
  private observe(value: number): boolean {
    const higherIsBetter = this.monitor.endsWith('Accuracy');
    const improved =
      !Number.isNaN(value) &&
      (this.best === undefined || (higherIsBetter ? value > this.best + this.minDelta : value < this.best - this.minDelta));
    if (improved) {
      this.best = value;
      this.waited = 0;
      return false;
    }
    if (++this.waited < this.patience) return false;
    this.waited = 0;
    return true;
  }

  /**
   * Rebuilds the best value and the wait from a resumed run's earlier epochs, the rate left as
   * the checkpoint's optimiser has it.
   * @param history The finished epochs' records, from epoch 1.
   */
  resume(history: readonly EpochRecord[]): void {
    this.best = undefined;
    this.waited = 0;
    for (const record of history) {
      const value = record[this.monitor];
      if (typeof value === 'number') this.observe(value);
    }
  }

  /**
   * Reads the monitored value from fit's record; the log line says what changed.
   * @param record The finished epoch’s record.
   */
  epochEnd(record: EpochRecord): string | undefined {
    const value = record[this.monitor];
    if (value === undefined)
      throw new RangeError(`ReduceLROnPlateau: monitors ${this.monitor}, which this training does not report (no validation set?)`);
    const before = this.optimizer.lr;
    if (!this.step(value)) return undefined;
    return `${this.monitor} has not improved for ${this.patience} epoch${this.patience === 1 ? '' : 's'}: learning rate ${before.toPrecision(3)} → ${this.optimizer.lr.toPrecision(3)}`;
  }
}
