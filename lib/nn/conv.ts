/**
 * Convolutions over the length axis of channels-last tensors (batch, length, chan):
 * Conv1D (with zero padding), ConvTranspose1D and Upsample1D.
 *
 * Conv1D and ConvTranspose1D run their arithmetic in the backend's conv1d kernels (forward,
 * backward to the input, backward to the weight); this file pads, crops and picks which kernel
 * plays which role. Upsample1D only copies. Conv1D followed by MaxPool1D may run as one fused
 * kernel: that is lib/nn/fusion.ts's business, not this file's.
 */
import { Tensor, describe, zeros } from '../tensor';
import { backend } from '../backend';
import { windowCount } from '../backend/types';
import { InitName, checkInit, initialize } from '../init';
import { Module, ModuleConfig, Parameter, checkOptions } from './base';
import { Border, NO_BORDER, addBorder, removeBorder } from './borders';
import { ARGUMENT_LIMITS, ModuleSchema, PaddingMode, checkArguments, flagOption, optionNames } from './schema';

/** The sequences x (batch, length, chan) between `before` and `after` zero positions (x itself without any). @internal */
export function padLength(x: Float32Array, batch: number, length: number, chan: number, before: number, after: number): Float32Array {
  return addBorder(x, batch, 1, length, chan, { ...NO_BORDER, left: before, right: after }).data;
}

/** Options of {@link Conv1D}. */
export interface Conv1DOptions {
  /** Add a per-output-channel bias (default false, as in the original). */
  bias?: boolean;
  /** Initialisation of weight and bias (default `'xavierNormal'`, fans chanIn and chanOut). */
  init?: InitName;
  /**
   * Zeros added at both ends of the length axis (default 0); or, as PyTorch's, `'valid'` (0) or
   * `'same'` (stride 1: the output keeps the input's length; kSize − 1 zeros, half before and
   * half after, the odd one of an even kernel after). The model saves the number, or `'same'`
   * where the two ends differ.
   */
  padding?: number | PaddingMode;
}

/**
 * The hints a convolution's input-shape error adds for a PyTorch or TensorFlow user to read it:
 * the argument order (kSize, chanIn, chanOut), the channels-last layout, and the likely fix when
 * the input looks channels-first, has no channel axis, is images (batch, h, w, chan), or the
 * arguments look PyTorch-ordered.
 */
function channelHints(kind: string, conv: { kSize: number; chanIn: number; chanOut: number }, inputShape: readonly number[]): string[] {
  const { kSize, chanIn, chanOut } = conv;
  const hints = [
    `${kind}'s arguments are (kSize, chanIn, chanOut), here kSize ${kSize}, chanIn ${chanIn}, chanOut ${chanOut}, and its input is channels-last (batch, length, chan)`,
  ];
  if (inputShape.length === 2) {
    hints.push(
      `a (batch, length) input needs a channel axis: reshape it to (${inputShape[0]}, ${inputShape[1]}, 1) (toSequence in neurone/data)`,
    );
  } else if (inputShape.length === 4) {
    // Images, as neurone/data's readers return them (USPS: (n, 16, 16, 1)).
    const [n, h, w, c] = inputShape;
    hints.push(
      `a 4-D input looks like images (batch, h, w, chan): those go to ${kind.replace('1D', '2D')}, ` +
        `or flatten them to sequences (batch, h·w, chan) with toSequence from neurone/data, here (${n}, ${h * w}, ${c})`,
    );
  } else if (inputShape.length === 3) {
    const chan = inputShape[2];
    if (inputShape[1] === chanIn && chan !== chanIn) {
      hints.push(`the input looks channels-first (batch, chan, length): transpose it to (${inputShape[0]}, ${chan}, ${inputShape[1]})`);
    }
    if (chan === kSize && chan !== chanIn) {
      hints.push(
        `if you meant PyTorch's ${kind.replace('1D', '1d')}(in_channels ${kSize}, out_channels ${chanIn}, kernel_size ${chanOut}), write new ${kind}(${chanOut}, ${kSize}, ${chanIn})`,
      );
    }
  }
  return hints;
}

/** The arguments of {@link Conv1D}. @internal */
export const CONV1D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize' }, { name: 'chanIn' }, { name: 'chanOut' }, { name: 'stride', default: 1 }],
  // Padding kSize − 1 is the "full" convolution; more only adds outputs that see nothing but
  // zeros (and memory in predict).
  options: ['bias', 'init', { name: 'padding', min: 0, max: (v) => v.kSize - 1, default: 0, paddingModes: true }],
  flags: { bias: false },
  parameters: (v, o) => [
    ['weight', [v.kSize, v.chanIn, v.chanOut]],
    ...(flagOption(CONV1D_SCHEMA, o, 'bias') ? [['bias', [v.chanOut]] as [string, number[]]] : []),
  ],
};

/**
 * 1-D convolution (cross-correlation, as in the course and PyTorch), channels last. The arguments
 * are `(kSize, chanIn, chanOut)`, the kernel first: PyTorch's `Conv1d(1, 32, 3)` is `Conv1D(3, 1, 32)`.
 *
 * y[b, t, o] = Σ_{j < kSize, c < chanIn} x[b, t·stride + j − padding, c] · w[j, c, o] (+ bias[o]),
 * with x taken as 0 outside [0, length).
 *
 * Shape: input (batch, length, chanIn) → (batch, ⌊(length + 2·padding − kSize) / stride⌋ + 1, chanOut)
 * (with `'same'` on an even kernel, one zero more after the sequence: the output keeps `length`);
 * weight (kSize, chanIn, chanOut).
 *
 * @example
 * const conv = new Conv1D(3, 1, 32);          // kSize 3, 1 → 32 channels, stride 1
 * conv.forward(x);                            // (32, 256, 1) → (32, 254, 32)
 * new Conv1D(3, 1, 8, 1, { padding: 1 });     // "same" length: (32, 256, 1) → (32, 256, 8)
 * new Conv1D(4, 1, 8, 1, { padding: 'same' }); // 1 zero before, 2 after: (32, 256, 1) → (32, 256, 8)
 */
export class Conv1D extends Module {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = CONV1D_SCHEMA;

  readonly kSize: number;
  readonly chanIn: number;
  readonly chanOut: number;
  readonly stride: number;
  /** Zeros before the sequence (and after it, but for `'same'` on an even kernel: one more there). */
  readonly padding: number;
  /** Zeros after the sequence: padding, or one more for `'same'` on an even kernel. @internal */
  readonly paddingEnd: number;
  /** (kSize, chanIn, chanOut); PyTorch's Conv1d weight is (chanOut, chanIn, kSize). */
  readonly weight: Tensor;
  /** ∂L/∂weight summed over the batches since the last zeroGrad, the shape of weight. */
  readonly weightGrad: Tensor;
  /** (chanOut), or null without a bias. */
  readonly bias: Tensor | null;
  /** ∂L/∂bias, the shape of bias (null without one). */
  readonly biasGrad: Tensor | null;
  private readonly init: InitName;

  /**
   * Builds the convolution; weights (kSize, chanIn, chanOut).
   * @param kSize Kernel width in positions.
   * @param chanIn Input channels (the last axis of the input).
   * @param chanOut Output channels.
   * @param stride Positions between two windows (default 1).
   * @param options bias (default false), init, padding.
   */
  constructor(kSize: number, chanIn: number, chanOut: number, stride = 1, options?: Conv1DOptions) {
    super();
    const opts = checkOptions('Conv1D', options, optionNames(CONV1D_SCHEMA));
    const v = checkArguments('Conv1D', CONV1D_SCHEMA, [kSize, chanIn, chanOut, stride], opts);
    this.kSize = v.kSize;
    this.chanIn = v.chanIn;
    this.chanOut = v.chanOut;
    this.stride = v.stride;
    this.padding = v.padding;
    this.paddingEnd = v.paddingEnd;
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') {
      throw new TypeError(`Conv1D: option bias must be a boolean, got ${describe(opts.bias)}`);
    }
    this.init = checkInit('Conv1D', opts.init ?? 'xavierNormal');
    this.weight = initialize(zeros([kSize, chanIn, chanOut]), this.init, chanIn, chanOut);
    this.weightGrad = zeros([kSize, chanIn, chanOut]);
    const withBias = flagOption(CONV1D_SCHEMA, opts, 'bias');
    this.bias = withBias ? initialize(zeros([chanOut]), this.init, chanIn, chanOut) : null;
    this.biasGrad = withBias ? zeros([chanOut]) : null;
  }

  config(): ModuleConfig {
    return {
      type: 'Conv1D',
      args: [this.kSize, this.chanIn, this.chanOut, this.stride],
      options: { bias: this.bias !== null, init: this.init, padding: this.padding === this.paddingEnd ? this.padding : 'same' },
    };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3 || inputShape[2] !== this.chanIn) {
      throw this.shapeError(['batch', 'length', this.chanIn], inputShape, 'input', channelHints('Conv1D', this, inputShape));
    }
    const padded = inputShape[1] + this.padding + this.paddingEnd;
    if (padded < this.kSize) {
      throw this.shapeError(['batch', `length >= ${this.kSize - this.padding - this.paddingEnd}`, this.chanIn], inputShape);
    }
    return [inputShape[0], windowCount(padded, this.kSize, this.stride), this.chanOut];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const [batch, length] = input.shape;
    const [p, q] = [this.padding, this.paddingEnd];
    const x = this.padded(input);
    const y = this.buffer('output', out);
    backend().conv1dForward(
      x,
      this.weight.data,
      this.bias?.data ?? null,
      y.data,
      batch,
      length + p + q,
      this.chanIn,
      this.chanOut,
      this.kSize,
      this.stride,
    );
    return y;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    const [, outLength] = this.checkBackward(input, delta);
    const [batch, length] = input.shape;
    const [p, q] = [this.padding, this.paddingEnd];
    const x = this.padded(input);
    backend().conv1dBackwardWeight(
      x,
      delta.data,
      this.weightGrad.data,
      batch,
      length + p + q,
      this.chanIn,
      this.chanOut,
      this.kSize,
      this.stride,
    );
    if (this.biasGrad) backend().sumRows(delta.data, batch * outLength, this.chanOut, this.biasGrad.data);
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, length] = input.shape;
    const [p, q] = [this.padding, this.paddingEnd];
    if (p === 0 && q === 0) {
      const dx = this.buffer('delta', input.shape);
      backend().conv1dBackwardInput(
        delta.data,
        this.weight.data,
        dx.data,
        batch,
        length,
        this.chanIn,
        this.chanOut,
        this.kSize,
        this.stride,
      );
      return dx;
    }
    const dxPadded = this.buffer('borderedDelta', [batch, length + p + q, this.chanIn]).data;
    backend().conv1dBackwardInput(
      delta.data,
      this.weight.data,
      dxPadded,
      batch,
      length + p + q,
      this.chanIn,
      this.chanOut,
      this.kSize,
      this.stride,
    );
    // The padded positions are constants, not inputs: their gradient is dropped.
    const dx = this.buffer('delta', input.shape);
    const padded = { data: dxPadded, height: 1, width: length + p + q };
    removeBorder(padded, dx.data, batch, 1, length, this.chanIn, { ...NO_BORDER, left: p, right: q });
    return dx;
  }

  /** The input between its zeros (the input's data itself without any), in a buffer reused inside a Sequential. */
  private padded(input: Tensor): Float32Array {
    const [batch, length, chan] = input.shape;
    const border = { ...NO_BORDER, left: this.padding, right: this.paddingEnd };
    if (border.left + border.right === 0) return input.data;
    const into = this.buffer('bordered', [batch, length + border.left + border.right, chan]);
    return addBorder(input.data, batch, 1, length, chan, border, 0, into.data).data;
  }

  parameters(): Parameter[] {
    const ps: Parameter[] = [{ name: 'weight', value: this.weight, grad: this.weightGrad, module: this }];
    if (this.bias && this.biasGrad) ps.push({ name: 'bias', value: this.bias, grad: this.biasGrad, module: this });
    return ps;
  }
}

/** Options of {@link ConvTranspose1D}. */
export interface ConvTranspose1DOptions {
  /** Positions cropped from both ends of the output (default 0), as PyTorch's `padding`. */
  padding?: number;
  /** Extra positions added at the end of the output, < stride (default 0), to pick among the lengths a strided Conv1D maps to the same size. */
  outputPadding?: number;
  /** Add a per-output-channel bias (default false, like Conv1D). */
  bias?: boolean;
  /** Initialisation (default `'xavierNormal'`, fans chanIn and chanOut). */
  init?: InitName;
}

/** The arguments of {@link ConvTranspose1D}. @internal */
export const CONV_TRANSPOSE1D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize' }, { name: 'chanIn' }, { name: 'chanOut' }, { name: 'stride', default: 1 }],
  // padding crops the output (outputShape refuses a crop that leaves nothing); outputPadding
  // below stride picks one of the lengths a strided Conv1D maps to the same size.
  options: [
    { name: 'padding', min: 0, default: 0 },
    { name: 'outputPadding', min: 0, max: (v) => v.stride - 1, default: 0 },
    'bias',
    'init',
  ],
  flags: { bias: false },
  parameters: (v, o) => [
    ['weight', [v.kSize, v.chanOut, v.chanIn]],
    ...(flagOption(CONV_TRANSPOSE1D_SCHEMA, o, 'bias') ? [['bias', [v.chanOut]] as [string, number[]]] : []),
  ],
};

/**
 * Transposed 1-D convolution (the adjoint of a Conv1D; "deconvolution"), channels last: each
 * input position scatters a kSize-long window, positions `stride` apart, overlapping windows adding up.
 * It undoes the length reduction of `Conv1D(kSize, chanOut, chanIn, stride, { padding })`.
 *
 * Shape: input (batch, length, chanIn) →
 * (batch, (length − 1)·stride − 2·padding + kSize + outputPadding, chanOut);
 * weight (kSize, chanOut, chanIn): the layout of the Conv1D it transposes (chanOut → chanIn).
 *
 * How it maps onto the conv1d kernels. Let C be the convolution from (Lfull, chanOut) to
 * (length, chanIn) with weight w and stride s, where Lfull = (length − 1)·s + kSize + outputPadding
 * (C's output length is exactly `length` because outputPadding < s). Then
 *   forward:       y = crop_p(Cᵀ x)          → conv1dBackwardInput(dy := x, w, dx := y_full)
 *   backwardDelta: ∂L/∂x = C pad_p(δ)        → conv1dForward(x := pad_p(δ), w, y := ∂L/∂x)
 *   weight grad:   y_full[b, t·s + j, o] = Σ_c x[b, t, c] · w[j, o, c], so
 *                  ∂L/∂w[j, o, c] = Σ_{b,t} pad_p(δ)[b, t·s + j, o] · x[b, t, c],
 *                  which is conv1dBackwardWeight with the roles swapped: its "input" is
 *                  pad_p(δ) (Lfull, chanOut) and its "output gradient" is our input x (length, chanIn).
 *
 * @example
 * const up = new ConvTranspose1D(4, 8, 1, 2, { padding: 1 });  // doubles the length
 * up.forward(x);                                              // (32, 64, 8) → (32, 128, 1)
 */
export class ConvTranspose1D extends Module {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = CONV_TRANSPOSE1D_SCHEMA;

  readonly kSize: number;
  readonly chanIn: number;
  readonly chanOut: number;
  readonly stride: number;
  readonly padding: number;
  readonly outputPadding: number;
  /** (kSize, chanOut, chanIn), as ConvTranspose2D's with one axis less; PyTorch's ConvTranspose1d weight is (chanIn, chanOut, kSize). */
  readonly weight: Tensor;
  /** ∂L/∂weight summed over the batches since the last zeroGrad, the shape of weight. */
  readonly weightGrad: Tensor;
  /** (chanOut), or null with `{ bias: false }`. */
  readonly bias: Tensor | null;
  /** ∂L/∂bias, the shape of bias (null without one). */
  readonly biasGrad: Tensor | null;
  private readonly init: InitName;

  /**
   * Builds the transposed convolution; weights (kSize, chanOut, chanIn).
   * @param kSize Kernel width in positions.
   * @param chanIn Input channels (the last axis of the input).
   * @param chanOut Output channels.
   * @param stride Upsampling step (default 1).
   * @param options bias, init, padding, outputPadding.
   */
  constructor(kSize: number, chanIn: number, chanOut: number, stride = 1, options?: ConvTranspose1DOptions) {
    super();
    const who = 'ConvTranspose1D';
    const opts = checkOptions(who, options, optionNames(CONV_TRANSPOSE1D_SCHEMA));
    const v = checkArguments(who, CONV_TRANSPOSE1D_SCHEMA, [kSize, chanIn, chanOut, stride], opts);
    this.kSize = v.kSize;
    this.chanIn = v.chanIn;
    this.chanOut = v.chanOut;
    this.stride = v.stride;
    this.padding = v.padding;
    this.outputPadding = v.outputPadding;
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') {
      throw new TypeError(`${who}: option bias must be a boolean, got ${describe(opts.bias)}`);
    }
    this.init = checkInit(who, opts.init ?? 'xavierNormal');
    this.weight = initialize(zeros([kSize, chanOut, chanIn]), this.init, chanIn, chanOut);
    this.weightGrad = zeros([kSize, chanOut, chanIn]);
    const withBias = flagOption(CONV_TRANSPOSE1D_SCHEMA, opts, 'bias');
    this.bias = withBias ? initialize(zeros([chanOut]), this.init, chanIn, chanOut) : null;
    this.biasGrad = withBias ? zeros([chanOut]) : null;
  }

  config(): ModuleConfig {
    return {
      type: 'ConvTranspose1D',
      args: [this.kSize, this.chanIn, this.chanOut, this.stride],
      options: { padding: this.padding, outputPadding: this.outputPadding, bias: this.bias !== null, init: this.init },
    };
  }

  /** Length before cropping: (length − 1)·stride + kSize + outputPadding. */
  private fullLength(length: number): number {
    return (length - 1) * this.stride + this.kSize + this.outputPadding;
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3 || inputShape[2] !== this.chanIn || inputShape[1] < 1) {
      throw this.shapeError(['batch', 'length', this.chanIn], inputShape, 'input', channelHints('ConvTranspose1D', this, inputShape));
    }
    const out = this.fullLength(inputShape[1]) - 2 * this.padding;
    if (out < 1) throw this.shapeError(['batch', `length > ${inputShape[1]}`, this.chanIn], inputShape);
    return [inputShape[0], out, this.chanOut];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const [batch, length] = input.shape;
    const full = this.fullLength(length);
    const y = this.buffer('output', out);
    const border = this.cropped(full, out[1]);
    // The kernel writes the whole of y_full (it overwrites), into y itself where nothing is cropped.
    const yFull = border.left + border.right === 0 ? y.data : this.buffer('full', [batch, full, this.chanOut]).data;
    backend().conv1dBackwardInput(input.data, this.weight.data, yFull, batch, full, this.chanOut, this.chanIn, this.kSize, this.stride);
    if (yFull !== y.data) removeBorder({ data: yFull, height: 1, width: full }, y.data, batch, 1, out[1], this.chanOut, border);
    if (this.bias) backend().addRowVector(y.data, this.bias.data, batch * out[1], this.chanOut);
    return y;
  }

  /** What forward crops off y_full (full positions) to leave `outLength`: padding before, the rest after. */
  private cropped(full: number, outLength: number): Border {
    return { ...NO_BORDER, left: this.padding, right: full - outLength - this.padding };
  }

  /** pad_p(δ): the cropped positions are outside the output, so their gradient is zero (in a buffer reused inside a Sequential). */
  private padDelta(delta: Tensor, length: number): Float32Array {
    const [batch, outLength] = delta.shape;
    const full = this.fullLength(length);
    const border = this.cropped(full, outLength);
    if (border.left + border.right === 0) return delta.data;
    const into = this.buffer('bordered', [batch, full, this.chanOut]);
    return addBorder(delta.data, batch, 1, outLength, this.chanOut, border, 0, into.data).data;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    const [, outLength] = this.checkBackward(input, delta);
    const [batch, length] = input.shape;
    backend().conv1dBackwardWeight(
      this.padDelta(delta, length),
      input.data,
      this.weightGrad.data,
      batch,
      this.fullLength(length),
      this.chanOut,
      this.chanIn,
      this.kSize,
      this.stride,
    );
    if (this.biasGrad) backend().sumRows(delta.data, batch * outLength, this.chanOut, this.biasGrad.data);
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, length] = input.shape;
    const dx = this.buffer('delta', [batch, length, this.chanIn]);
    backend().conv1dForward(
      this.padDelta(delta, length),
      this.weight.data,
      null,
      dx.data,
      batch,
      this.fullLength(length),
      this.chanOut,
      this.chanIn,
      this.kSize,
      this.stride,
    );
    return dx;
  }

  parameters(): Parameter[] {
    const ps: Parameter[] = [{ name: 'weight', value: this.weight, grad: this.weightGrad, module: this }];
    if (this.bias && this.biasGrad) ps.push({ name: 'bias', value: this.bias, grad: this.biasGrad, module: this });
    return ps;
  }
}

/** The arguments of {@link Upsample1D}: the output is `scale` times the input, hence its own limit. @internal */
export const UPSAMPLE1D_SCHEMA: ModuleSchema = {
  args: [{ name: 'scale', max: ARGUMENT_LIMITS.maxUpsample }],
  options: null,
};

/**
 * Nearest-neighbour upsampling along the length: each position repeated `scale` times.
 * Backward sums the gradient of the copies.
 *
 * Shape: (batch, length, chan) → (batch, length·scale, chan).
 * @example
 * new Upsample1D(2).forward(fromArray([1, 2], [1, 2, 1]))  // [1, 1, 2, 2], shape (1, 4, 1)
 */
export class Upsample1D extends Module {
  readonly scale: number;

  /**
   * Builds the layer.
   * @param scale How many times each position is repeated.
   */
  constructor(scale: number) {
    super();
    this.scale = checkArguments('Upsample1D', UPSAMPLE1D_SCHEMA, [scale]).scale;
  }

  config(): ModuleConfig {
    return { type: 'Upsample1D', args: [this.scale] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3 || inputShape[2] < 1) throw this.shapeError(['batch', 'length', 'chan >= 1'], inputShape);
    return [inputShape[0], inputShape[1] * this.scale, inputShape[2]];
  }

  // The 2-D upsampling's kernels, on images of one row.
  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const [batch, length, chan] = input.shape;
    const y = this.buffer('output', out);
    backend().upsample2dForward(input.data, y.data, batch, 1, length, chan, 1, this.scale);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, length, chan] = input.shape;
    const dx = this.buffer('delta', input.shape);
    backend().upsample2dBackward(delta.data, dx.data, batch, 1, length, chan, 1, this.scale);
    return dx;
  }
}
