/**
 * Linear (fully connected) layer: y = x·W + b.
 *
 * Shapes: x (batch, in), W (in, out) as in the course, b (out), y (batch, out). An input with
 * more axes, (batch, …, in), is read as rows of its last axis, as PyTorch's nn.Linear and
 * Keras's Dense read it: the products below run over batch × … rows, the same weights at every
 * position. Gradients (δ = ∂L/∂y as the loss hands it down: its `reduction` makes the batch's
 * gradient the mean, or the course's sum; the products below add up the rows):
 *   ∂L/∂W = xᵀ·δ      (in, out)
 *   ∂L/∂b = Σ_rows δ  (out)
 *   ∂L/∂x = δ·Wᵀ      (rows, in)
 */
import { Tensor, zeros } from '../tensor';
import { backend } from '../backend';
import { InitName, checkInit, initialize } from '../init';
import { Module, ModuleConfig, Parameter, checkOptions } from './base';
import { ModuleSchema, checkArguments, flagOption, optionNames } from './schema';

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Initialisation of weight and bias (default `'heNormal'`). */
  init?: InitName;
}

/** The arguments of {@link Linear}. @internal */
export const LINEAR_SCHEMA: ModuleSchema = {
  args: [{ name: 'inputSize' }, { name: 'outputSize' }],
  options: ['bias', 'init'],
  flags: { bias: true },
  parameters: (v, o) => [
    ['weight', [v.inputSize, v.outputSize]],
    ...(flagOption(LINEAR_SCHEMA, o, 'bias') ? [['bias', [v.outputSize]] as [string, number[]]] : []),
  ],
};

/**
 * Where a Linear layer's backward pass hands its input and δ instead of writing ∂L/∂W, while fit
 * runs a plain-SGD step: fit then applies W −= lr·xᵀ·δ as one product, after its checks, and
 * neither writes nor reads the gradient (see fit's DeferredWeightSteps). @internal
 */
export interface WeightStepSink {
  /** Takes the pair when `layer` is one whose weight the step updates this way; false: compute ∂L/∂W as usual. */
  take(layer: Linear, input: Tensor, delta: Tensor): boolean;
}

let weightStepSink: WeightStepSink | null = null;

/** Installs `sink` for the backward passes that follow (null: none); returns the one it replaces. @internal */
export function setWeightStepSink(sink: WeightStepSink | null): WeightStepSink | null {
  const previous = weightStepSink;
  weightStepSink = sink;
  return previous;
}

/**
 * Fully connected layer.
 *
 * Shape: input (batch, inputSize) → output (batch, outputSize); weight (inputSize, outputSize).
 * An input (batch, …, inputSize) gives (batch, …, outputSize), the same weights at every position
 * (PyTorch's nn.Linear on more than two axes); a convolution's output goes through a Flatten first
 * to be read as one vector a sample.
 *
 * @example
 * const lin = new Linear(784, 10);              // He-normal weights and bias
 * const y = lin.forward(x);                     // x (32, 784) → y (32, 10)
 * const noBias = new Linear(10, 1, { bias: false, init: 'xavierUniform' });
 */
export class Linear extends Module {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = LINEAR_SCHEMA;

  /** Features per input sample; 0 until a lazily sized layer (`new Linear(null, out)`) sees its input. */
  readonly inputSize: number;
  /** Features per output sample. */
  readonly outputSize: number;
  /** (inputSize, outputSize): y = x·W + b, the transpose of PyTorch's `weight` (out, in). */
  readonly weight: Tensor;
  /** ∂L/∂weight summed over the batches since the last zeroGrad, the shape of weight. */
  readonly weightGrad: Tensor;
  /** (outputSize), or null with `{ bias: false }`. */
  readonly bias: Tensor | null;
  /** ∂L/∂bias, the shape of bias (null without one). */
  readonly biasGrad: Tensor | null;
  private readonly init: InitName;
  /** Set by deferZeroGrad: the next backwardUpdateGradient writes the gradients instead of adding. */
  private gradDeferred = false;
  /** True while a `new Linear(null, out)` has not yet seen an input to take its size from. */
  private sizePending = false;
  private readonly withBias: boolean;

  /**
   * Builds the layer with initialised weights.
   * @param inputSize Features per input sample (the input is (batch, inputSize)); `null` to take
   *   it from the first input's shape (PyTorch's `LazyLinear`): the weights are then drawn when
   *   `net.build(inputShape)`, `fit`, `predict`, `summary(inputShape)` or a forward pass first
   *   sees an input, so take `net.parameters()` (or build a `WeightAverage`) after that.
   * @param outputSize Features per output sample.
   * @param options bias (default true), init (default heNormal).
   * @example
   * const net = new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(null, 100));
   * net.build([256, 1]);   // the last layer becomes Linear(4064, 100)
   */
  constructor(inputSize: number | null, outputSize: number, options?: LinearOptions) {
    super();
    // Keras's Dense(units) brought over: one size, which neurone would read as the input's.
    if (outputSize === undefined && typeof inputSize === 'number')
      throw new TypeError(
        `Linear: outputSize is missing (got one size, ${inputSize}); Linear takes (inputSize, outputSize), and new Linear(null, ${inputSize}) takes its input size from the data (PyTorch's LazyLinear, Keras's Dense(${inputSize}))`,
      );
    const opts = checkOptions('Linear', options, optionNames(LINEAR_SCHEMA));
    // A lazily sized layer is checked with a stand-in size; its real one is checked when it comes.
    const v = checkArguments('Linear', LINEAR_SCHEMA, [inputSize === null ? 1 : inputSize, outputSize], opts);
    this.outputSize = v.outputSize;
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') {
      throw new TypeError(`Linear: option bias must be a boolean, got ${String(opts.bias)}`);
    }
    this.init = checkInit('Linear', opts.init ?? 'heNormal');
    this.withBias = flagOption(LINEAR_SCHEMA, opts, 'bias');
    this.inputSize = 0;
    this.weight = this.weightGrad = zeros([0, outputSize]);
    this.bias = this.biasGrad = null;
    if (inputSize === null) this.sizePending = true;
    else this.allocate(v.inputSize);
  }

  /** Whether the input size waits for the first input (`Linear(null, n)`), the weights not yet drawn. @internal */
  get lazy(): boolean {
    return this.sizePending;
  }

  /** @internal */
  unsizedLayer(): Module | undefined {
    return this.sizePending ? this : undefined;
  }

  /** Draws the weights for `inputSize` inputs (at construction, or at the first input of a lazily sized layer). */
  private allocate(inputSize: number): void {
    const outputSize = this.outputSize;
    Object.assign(this, {
      inputSize,
      weight: initialize(zeros([inputSize, outputSize]), this.init, inputSize, outputSize),
      weightGrad: zeros([inputSize, outputSize]),
      bias: this.withBias ? initialize(zeros([outputSize]), this.init, inputSize, outputSize) : null,
      biasGrad: this.withBias ? zeros([outputSize]) : null,
    });
    this.sizePending = false;
  }

  toString(): string {
    return this.sizePending ? `Linear(null, ${this.outputSize})` : super.toString();
  }

  /** @internal */
  description(): ModuleConfig {
    return this.sizePending
      ? { type: 'Linear', args: [null, this.outputSize], options: { bias: this.withBias, init: this.init } }
      : this.config();
  }

  config(): ModuleConfig {
    if (this.sizePending) {
      throw new RangeError(
        `${this.label()}: its input size is not known yet; call net.build(inputShape) or run a forward pass before saving or describing it`,
      );
    }
    return { type: 'Linear', args: [this.inputSize, this.outputSize], options: { bias: this.bias !== null, init: this.init } };
  }

  outputShape(inputShape: readonly number[]): number[] {
    const rank = inputShape.length;
    if (this.sizePending) {
      if (rank < 2 || !Number.isInteger(inputShape[rank - 1]) || inputShape[rank - 1] < 1) {
        throw this.shapeError(['batch', 'features'], inputShape);
      }
      this.allocate(inputShape[rank - 1]);
    }
    if (rank < 2 || inputShape[rank - 1] !== this.inputSize) {
      // An image or a sequence where features were expected: the fix is one layer away.
      if (rank > 2 && inputShape.slice(1).reduce((a, b) => a * b, 1) === this.inputSize) {
        const flatten = `add a Flatten() before it: ${inputShape.slice(1).join(' × ')} = ${this.inputSize} values per sample`;
        throw this.shapeError(['batch', this.inputSize], inputShape, 'input', [flatten]);
      }
      throw this.shapeError(rank > 2 ? ['batch', '…', this.inputSize] : ['batch', this.inputSize], inputShape);
    }
    return [...inputShape.slice(0, -1), this.outputSize];
  }

  /** The rows of the products for an input checked by outputShape: every axis but the last. */
  private rows(input: Tensor): number {
    return input.data.length / this.inputSize;
  }

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const [rows, out] = [this.rows(input), this.outputSize];
    const y = this.buffer('output', shape);
    const k = backend();
    k.sgemm(false, false, rows, out, this.inputSize, 1, input.data, 0, this.inputSize, this.weight.data, 0, out, 0, y.data, 0, out);
    if (this.bias) k.addRowVector(y.data, this.bias.data, rows, out);
    return y;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.checkBackward(input, delta);
    const [rows, out] = [this.rows(input), this.outputSize];
    // beta = 1 accumulates, beta = 0 overwrites when deferZeroGrad postponed the clearing to here.
    const beta = this.gradDeferred ? 0 : 1;
    if (weightStepSink === null || !weightStepSink.take(this, input, delta)) this.weightGradient(input, delta, beta);
    if (this.biasGrad) {
      if (this.gradDeferred) this.biasGrad.data.fill(0);
      backend().sumRows(delta.data, rows, out, this.biasGrad.data);
    }
    this.gradDeferred = false;
  }

  /**
   * ∂L/∂W = xᵀ·δ written into the weight's gradient (beta 0) or added to it (beta 1), for an
   * `input` and `delta` checkBackward accepted. @internal
   */
  weightGradient(input: Tensor, delta: Tensor, beta: 0 | 1): void {
    this.weightProduct(input, delta, 1, beta, this.weightGrad.data);
  }

  /**
   * Plain SGD's step on the weight straight from the batch, W −= lr·xᵀ·δ, without writing ∂L/∂W
   * (see {@link WeightStepSink}), for an `input` and `delta` checkBackward accepted. @internal
   */
  stepWeight(input: Tensor, delta: Tensor, lr: number): void {
    this.weightProduct(input, delta, -lr, 1, this.weight.data);
  }

  /** C = alpha·xᵀ·δ + beta·C for a C shaped as the weight: x is stored (batch, in), read transposed. */
  private weightProduct(input: Tensor, delta: Tensor, alpha: number, beta: number, c: Float32Array): void {
    const out = this.outputSize;
    backend().sgemm(
      true,
      false,
      this.inputSize,
      out,
      this.rows(input),
      alpha,
      input.data,
      0,
      this.inputSize,
      delta.data,
      0,
      out,
      beta,
      c,
      0,
      out,
    );
  }

  zeroGrad(): void {
    super.zeroGrad();
    this.gradDeferred = false;
  }

  deferZeroGrad(): void {
    // Only Linear's own backwardUpdateGradient honours the flag: a subclass that replaces it
    // gets its gradients cleared now.
    if (this.backwardUpdateGradient !== Linear.prototype.backwardUpdateGradient) this.zeroGrad();
    else this.gradDeferred = true;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [rows, out] = [this.rows(input), this.outputSize];
    const dx = this.buffer('delta', [...input.shape]);
    // ∂L/∂x = δ·Wᵀ: W is stored (in, out), read transposed.
    backend().sgemm(false, true, rows, this.inputSize, out, 1, delta.data, 0, out, this.weight.data, 0, out, 0, dx.data, 0, this.inputSize);
    return dx;
  }

  parameters(): Parameter[] {
    if (this.sizePending) return [];
    const ps: Parameter[] = [{ name: 'weight', value: this.weight, grad: this.weightGrad, module: this }];
    if (this.bias && this.biasGrad) ps.push({ name: 'bias', value: this.bias, grad: this.biasGrad, module: this });
    return ps;
  }
}
