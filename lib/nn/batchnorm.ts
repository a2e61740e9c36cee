/**
 * Batch normalisation over the channels of channels-last tensors, with PyTorch's semantics:
 * BatchNorm1D on (batch, features) or (batch, length, features), BatchNorm2D on
 * (batch, height, width, chan).
 *
 * Per channel c, over the rows r of the batch (samples, and positions for 3-D and 4-D input):
 *   training:   y = (x − μ_B) / sqrt(σ²_B + eps) · γ + β, μ_B and σ²_B the batch's mean and
 *               biased variance; the running estimates move by `momentum` towards μ_B and the
 *               unbiased variance σ²_B · n / (n − 1)
 *   evaluation: the same with the running estimates in place of μ_B and σ²_B
 * Backward (x̂ = the normalised input, n rows):
 *   ∂L/∂γ = Σ δ·x̂,  ∂L/∂β = Σ δ
 *   ∂L/∂x = γ / sqrt(σ² + eps) · (δ − mean(δ) − x̂ · mean(δ·x̂))   in training (through μ_B and σ²_B)
 *   ∂L/∂x = γ / sqrt(σ² + eps) · δ                                  in evaluation
 */
import { Tensor, describe, formatShape, zeros } from '../tensor';
import { backend } from '../backend';
import { Module, ModuleBuffer, ModuleConfig, Parameter, checkOptions, replayingForward } from './base';
import { ModuleSchema, checkArguments, flagOption, optionNames } from './schema';

/** Options of {@link BatchNorm1D} and {@link BatchNorm2D}, as PyTorch's. */
export interface BatchNormOptions {
  /** Added to the variance before its square root (default 1e-5, PyTorch's; Keras and TF.js use 1e-3); must be positive. */
  eps?: number;
  /**
   * How far each training batch moves the running estimates, in [0, 1] (default 0.1):
   * running = (1 − momentum)·running + momentum·batch, PyTorch's convention. Keras's and TF.js's
   * `momentum` is the weight of the old estimate instead: their 0.99 is 0.01 here.
   */
  momentum?: number;
  /** Learnable scale γ (initialised to 1) and shift β (initialised to 0) (default true). */
  affine?: boolean;
}

function batchNormSchema(channels: string): ModuleSchema {
  const schema: ModuleSchema = {
    args: [{ name: channels }],
    options: [{ name: 'eps', kind: 'float32', default: 1e-5 }, { name: 'momentum', kind: 'float32', default: 0.1 }, 'affine'],
    flags: { affine: true },
    parameters: (v, o) =>
      !flagOption(schema, o, 'affine')
        ? []
        : [
            ['weight', [v[channels]]],
            ['bias', [v[channels]]],
          ],
    buffers: (v) => [
      ['runningMean', [v[channels]]],
      ['runningVar', [v[channels]]],
    ],
  };
  return schema;
}

/** The arguments of {@link BatchNorm1D}. @internal */
export const BATCHNORM1D_SCHEMA = batchNormSchema('features');
/** The arguments of {@link BatchNorm2D}. @internal */
export const BATCHNORM2D_SCHEMA = batchNormSchema('chan');

/** The batch statistics a training-mode forward pass measured at one place, for its backward pass. */
class BatchStatistics {
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  /** Whether the last forward pass at this place measured them (it ran in training mode). */
  measured = false;

  constructor(channels: number) {
    this.mean = new Float32Array(channels);
    this.variance = new Float32Array(channels);
  }
}

/** What BatchNorm1D and BatchNorm2D share: all but the input shapes they accept. */
export abstract class BatchNorm extends Module {
  /** Channels (features) normalised, each on its own. */
  readonly channels: number;
  readonly eps: number;
  readonly momentum: number;
  /** γ (ones), or null without `affine`. */
  readonly weight: Tensor | null;
  readonly weightGrad: Tensor | null;
  /** β (zeros), or null without `affine`. */
  readonly bias: Tensor | null;
  readonly biasGrad: Tensor | null;
  /** The running estimate of each channel's mean (starts at 0); a buffer, not trained. */
  readonly runningMean: Tensor;
  /** The running estimate of each channel's (unbiased) variance (starts at 1); a buffer, not trained. */
  readonly runningVar: Tensor;
  /**
   * Training batches seen, PyTorch's `num_batches_tracked`: counted, written and read with PyTorch's
   * layout, not saved in neurone's (the running estimates do not depend on it with a momentum).
   */
  numBatchesTracked = 0;
  /**
   * While true, each training batch weighs 1 / (batches counted + 1) in the running estimates:
   * they become the plain mean over the batches since {@link BatchNorm.resetRunningStats}
   * (PyTorch's `momentum=None`), what `updateBatchNorm` (lib/averaging.ts) needs. @internal
   */
  cumulative = false;
  /** The batch statistics of the last pass called directly (scratch, `channels` each). */
  private readonly batchMean: Float32Array;
  private readonly batchVar: Float32Array;

  protected constructor(who: string, schema: ModuleSchema, channels: number, options: BatchNormOptions | undefined) {
    super();
    const opts = checkOptions(who, options, optionNames(schema));
    const v = checkArguments(who, schema, [channels], opts);
    const name = schema.args[0].name;
    this.channels = v[name];
    // Positive in float32 too, as the kernels see it: 1e-50 would round to 0 there.
    if (!(Math.fround(v.eps) > 0)) throw new RangeError(`${who}: eps must be a positive number (in float32), got ${v.eps}`);
    if (!(v.momentum >= 0 && v.momentum <= 1)) throw new RangeError(`${who}: momentum must be a number in [0, 1], got ${v.momentum}`);
    if (opts.affine !== undefined && typeof opts.affine !== 'boolean') {
      throw new TypeError(`${who}: option affine must be a boolean, got ${describe(opts.affine)}`);
    }
    this.eps = v.eps;
    this.momentum = v.momentum;
    const affine = flagOption(schema, opts, 'affine');
    const c = this.channels;
    this.weight = affine ? { shape: [c], data: new Float32Array(c).fill(1) } : null;
    this.weightGrad = affine ? zeros([c]) : null;
    this.bias = affine ? zeros([c]) : null;
    this.biasGrad = affine ? zeros([c]) : null;
    this.runningMean = zeros([c]);
    this.runningVar = { shape: [c], data: new Float32Array(c).fill(1) };
    this.batchMean = new Float32Array(c);
    this.batchVar = new Float32Array(c);
  }

  config(): ModuleConfig {
    return {
      type: this.constructor.name,
      args: [this.channels],
      options: { eps: this.eps, momentum: this.momentum, affine: this.weight !== null },
    };
  }

  /** Sets the running estimates back to where they start (mean 0, variance 1, no batch counted), as PyTorch's `reset_running_stats()`. */
  resetRunningStats(): void {
    this.runningMean.data.fill(0);
    this.runningVar.data.fill(1);
    this.numBatchesTracked = 0;
  }

  /** Rows (values per channel) of an input of `shape`, checked by outputShape before. */
  private rows(input: Tensor): number {
    return input.data.length / this.channels;
  }

  /**
   * The statistics to normalise with: the running estimates in evaluation mode; in training mode
   * the batch's, measured now by a forward pass (into the record of its place inside a
   * Sequential, else into the module's scratch). A backward pass reuses what the forward pass of
   * its place measured while the input is the Sequential's own; otherwise (called directly, or
   * the first module's input, which the caller may rewrite) it measures them again.
   */
  private statistics(input: Tensor, pass: 'forward' | 'backward'): { mean: Float32Array; variance: Float32Array } {
    const saved = this.savedForBackward();
    let record: BatchStatistics | null = null;
    if (saved) {
      if (!(saved.moduleState instanceof BatchStatistics)) saved.moduleState = new BatchStatistics(this.channels);
      record = saved.moduleState as BatchStatistics;
      if (pass === 'forward') record.measured = false;
    }
    if (!this.training) return { mean: this.runningMean.data, variance: this.runningVar.data };
    if (pass === 'backward' && record?.measured && saved?.inputHeld) return record;
    const into = record ?? { mean: this.batchMean, variance: this.batchVar };
    const rows = this.rows(input);
    if (rows === 1) {
      // One value per channel has no spread to normalise by (PyTorch refuses it too).
      throw new RangeError(
        `${this.label()}: training mode needs more than one value per channel, got input ${formatShape(input.shape)}; use a batch of 2 or more, or net.eval()`,
      );
    }
    backend().batchNormStatistics(input.data, into.mean, into.variance, rows, this.channels);
    if (record) record.measured = true;
    return into;
  }

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const y = this.buffer('output', shape);
    const rows = this.rows(input);
    if (rows === 0) return y;
    const { mean, variance } = this.statistics(input, 'forward');
    backend().batchNormForward(
      input.data,
      mean,
      variance,
      this.weight?.data ?? null,
      this.bias?.data ?? null,
      this.eps,
      y.data,
      rows,
      this.channels,
    );
    if (this.training && !replayingForward()) this.updateRunningEstimates(mean, variance, rows);
    return y;
  }

  /** Moves the running estimates towards the batch statistics just measured (the variance unbiased). */
  private updateRunningEstimates(mean: Float32Array, variance: Float32Array, rows: number): void {
    const m = this.cumulative ? 1 / (this.numBatchesTracked + 1) : this.momentum;
    const unbias = rows / (rows - 1);
    const rm = this.runningMean.data;
    const rv = this.runningVar.data;
    for (let c = 0; c < this.channels; c++) {
      rm[c] = (1 - m) * rm[c] + m * mean[c];
      rv[c] = (1 - m) * rv[c] + m * variance[c] * unbias;
    }
    this.numBatchesTracked++;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.checkBackward(input, delta);
    const rows = this.rows(input);
    if (!this.weight || rows === 0) return;
    const { mean, variance } = this.statistics(input, 'backward');
    backend().batchNormBackward(
      input.data,
      delta.data,
      mean,
      variance,
      this.weight.data,
      this.eps,
      this.training,
      null,
      this.weightGrad?.data ?? null,
      this.biasGrad?.data ?? null,
      rows,
      this.channels,
    );
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    return this.backwardThrough(input, delta, false);
  }

  /** Both halves in one kernel call, which takes the sums Σ dy and Σ dy·x̂ they share once. @internal */
  protected backwardHalves(input: Tensor, delta: Tensor, parameterGradients: boolean, inputGradient: boolean): Tensor | null {
    // A subclass that overrides either half is called half by half, as it expects.
    const ownHalves =
      this.backwardUpdateGradient === BatchNorm.prototype.backwardUpdateGradient &&
      this.backwardDelta === BatchNorm.prototype.backwardDelta;
    if (!(parameterGradients && inputGradient && this.weight && ownHalves)) {
      return super.backwardHalves(input, delta, parameterGradients, inputGradient);
    }
    return this.backwardThrough(input, delta, true);
  }

  /** ∂L/∂input, and with `parameterGradients` the scale and shift gradients added in the same call. */
  private backwardThrough(input: Tensor, delta: Tensor, parameterGradients: boolean): Tensor {
    const shape = this.checkBackward(input, delta);
    const dx = this.buffer('delta', shape);
    const rows = this.rows(input);
    if (rows === 0) return dx;
    const { mean, variance } = this.statistics(input, 'backward');
    backend().batchNormBackward(
      input.data,
      delta.data,
      mean,
      variance,
      this.weight?.data ?? null,
      this.eps,
      this.training,
      dx.data,
      parameterGradients ? (this.weightGrad?.data ?? null) : null,
      parameterGradients ? (this.biasGrad?.data ?? null) : null,
      rows,
      this.channels,
    );
    return dx;
  }

  parameters(): Parameter[] {
    if (!this.weight || !this.weightGrad || !this.bias || !this.biasGrad) return [];
    return [
      { name: 'weight', value: this.weight, grad: this.weightGrad, module: this },
      { name: 'bias', value: this.bias, grad: this.biasGrad, module: this },
    ];
  }

  buffers(): ModuleBuffer[] {
    return [
      { name: 'runningMean', value: this.runningMean, module: this },
      { name: 'runningVar', value: this.runningVar, module: this },
    ];
  }
}

/**
 * Batch normalisation of features, as PyTorch's `nn.BatchNorm1d(features)`: each feature
 * normalised over the batch (and, for 3-D input, over the positions), then scaled by γ and
 * shifted by β. In training mode with the batch's mean and biased variance, updating the running
 * estimates (mean; unbiased variance) by `momentum`; in evaluation mode (`net.eval()`, `predict`,
 * `evaluate`) with those estimates. The running estimates are buffers: saved and loaded, never
 * trained.
 *
 * Shape: (batch, features) or (batch, length, features) → the same; weight and bias (features).
 * neurone's channels-last (batch, length, features) is PyTorch's (batch, features, length).
 * @example
 * const net = new Sequential(new Flatten(), new Linear(784, 256), new BatchNorm1D(256), new ReLU(), new Linear(256, 10));
 * new BatchNorm1D(64, { momentum: 0.01, affine: false });
 */
export class BatchNorm1D extends BatchNorm {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = BATCHNORM1D_SCHEMA;

  /**
   * Builds the layer: γ = 1, β = 0, running mean 0, running variance 1.
   * @param features The features (channels) normalised: the input's last axis.
   * @param options eps (1e-5), momentum (0.1), affine (true).
   */
  constructor(features: number, options?: BatchNormOptions) {
    super('BatchNorm1D', BATCHNORM1D_SCHEMA, features, options);
  }

  outputShape(inputShape: readonly number[]): number[] {
    if ((inputShape.length !== 2 && inputShape.length !== 3) || inputShape[inputShape.length - 1] !== this.channels) {
      throw this.shapeError(inputShape.length === 3 ? ['batch', 'length', this.channels] : ['batch', this.channels], inputShape);
    }
    return [...inputShape];
  }
}

/**
 * Batch normalisation of image channels, as PyTorch's `nn.BatchNorm2d(chan)`: each channel
 * normalised over the batch and every pixel, then scaled by γ and shifted by β; training and
 * evaluation modes as {@link BatchNorm1D}.
 *
 * Shape: (batch, height, width, chan) → the same (channels-last: PyTorch's is
 * (batch, chan, height, width)); weight and bias (chan).
 * @example
 * new BatchNorm2D(32).forward(x)   // x (16, 28, 28, 32), each of the 32 channels normalised over 16·28·28 values
 */
export class BatchNorm2D extends BatchNorm {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = BATCHNORM2D_SCHEMA;

  /**
   * Builds the layer: γ = 1, β = 0, running mean 0, running variance 1.
   * @param chan The channels normalised: the input's last axis.
   * @param options eps (1e-5), momentum (0.1), affine (true).
   */
  constructor(chan: number, options?: BatchNormOptions) {
    super('BatchNorm2D', BATCHNORM2D_SCHEMA, chan, options);
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 4 || inputShape[3] !== this.channels) {
      throw this.shapeError(['batch', 'height', 'width', this.channels], inputShape);
    }
    return [...inputShape];
  }
}
