/**
 * Linear (fully connected) layer: y = x·W + b.
 *
 * Shapes: x (batch, in), W (in, out) as in the course, b (out), y (batch, out).
 * Gradients (δ = ∂L/∂y, summed over the batch like the course):
 *   ∂L/∂W = xᵀ·δ      (in, out)
 *   ∂L/∂b = Σ_rows δ  (out)
 *   ∂L/∂x = δ·Wᵀ      (batch, in)
 */
import { Tensor, zeros } from '../tensor';
import { backend } from '../backend';
import { InitName, checkInit, initialize } from '../init';
import { Module, ModuleConfig, Parameter, checkOptions } from './base';
import { ModuleSchema, checkArguments, optionNames } from './schema';

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
  parameters: (v, o) => [
    ['weight', [v.inputSize, v.outputSize]],
    ...(o.bias === false ? [] : [['bias', [v.outputSize]] as [string, number[]]]),
  ],
};

/**
 * Fully connected layer.
 *
 * Shape: input (batch, inputSize) → output (batch, outputSize); weight (inputSize, outputSize).
 *
 * @example
 * const lin = new Linear(784, 10);              // He-normal weights and bias
 * const y = lin.forward(x);                     // x (32, 784) → y (32, 10)
 * const noBias = new Linear(10, 1, { bias: false, init: 'xavierUniform' });
 */
export class Linear extends Module {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly weight: Tensor;
  readonly weightGrad: Tensor;
  readonly bias: Tensor | null;
  readonly biasGrad: Tensor | null;
  private readonly init: InitName;
  /** Set by deferZeroGrad: the next backwardUpdateGradient writes the gradients instead of adding. */
  private gradDeferred = false;

  /**
   * Builds the layer with initialised weights.
   * @param inputSize Features per input sample (the input is (batch, inputSize)).
   * @param outputSize Features per output sample.
   * @param options bias (default true), init (default heNormal).
   */
  constructor(inputSize: number, outputSize: number, options?: LinearOptions) {
    super();
    const opts = checkOptions('Linear', options, optionNames(LINEAR_SCHEMA));
    const v = checkArguments('Linear', LINEAR_SCHEMA, [inputSize, outputSize], opts);
    this.inputSize = v.inputSize;
    this.outputSize = v.outputSize;
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') {
      throw new TypeError(`Linear: option bias must be a boolean, got ${String(opts.bias)}`);
    }
    this.init = checkInit('Linear', opts.init ?? 'heNormal');
    this.weight = initialize(zeros([inputSize, outputSize]), this.init, inputSize, outputSize);
    this.weightGrad = zeros([inputSize, outputSize]);
    if (opts.bias === false) {
      this.bias = null;
      this.biasGrad = null;
    } else {
      this.bias = initialize(zeros([outputSize]), this.init, inputSize, outputSize);
      this.biasGrad = zeros([outputSize]);
    }
  }

  config(): ModuleConfig {
    return { type: 'Linear', args: [this.inputSize, this.outputSize], options: { bias: this.bias !== null, init: this.init } };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2 || inputShape[1] !== this.inputSize) {
      throw this.shapeError(['batch', this.inputSize], inputShape);
    }
    return [inputShape[0], this.outputSize];
  }

  forward(input: Tensor): Tensor {
    const [batch, out] = this.checkInput(input);
    const y = this.buffer('output', [batch, out]);
    const k = backend();
    k.sgemm(false, false, batch, out, this.inputSize, 1, input.data, 0, this.inputSize, this.weight.data, 0, out, 0, y.data, 0, out);
    if (this.bias) k.addRowVector(y.data, this.bias.data, batch, out);
    return y;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    const [batch, out] = this.checkBackward(input, delta);
    // ∂L/∂W += xᵀ·δ: x is stored (batch, in), read transposed; beta = 1 accumulates, beta = 0
    // overwrites when deferZeroGrad postponed the clearing to here.
    const beta = this.gradDeferred ? 0 : 1;
    backend().sgemm(
      true,
      false,
      this.inputSize,
      out,
      batch,
      1,
      input.data,
      0,
      this.inputSize,
      delta.data,
      0,
      out,
      beta,
      this.weightGrad.data,
      0,
      out,
    );
    if (this.biasGrad) {
      if (this.gradDeferred) this.biasGrad.data.fill(0);
      backend().sumRows(delta.data, batch, out, this.biasGrad.data);
    }
    this.gradDeferred = false;
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
    const [batch, out] = this.checkBackward(input, delta);
    const dx = this.buffer('delta', [batch, this.inputSize]);
    // ∂L/∂x = δ·Wᵀ: W is stored (in, out), read transposed.
    backend().sgemm(
      false,
      true,
      batch,
      this.inputSize,
      out,
      1,
      delta.data,
      0,
      out,
      this.weight.data,
      0,
      out,
      0,
      dx.data,
      0,
      this.inputSize,
    );
    return dx;
  }

  parameters(): Parameter[] {
    const ps: Parameter[] = [{ name: 'weight', value: this.weight, grad: this.weightGrad, module: this }];
    if (this.bias && this.biasGrad) ps.push({ name: 'bias', value: this.bias, grad: this.biasGrad, module: this });
    return ps;
  }
}
