/**
 * The 2-D layers on channels-last images (batch, height, width, chan): Conv2D,
 * ConvTranspose2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D and Upsample2D.
 *
 * The convolutions run in the backend's conv2d kernels (forward, backward to the input, backward
 * to the weight; zero padding inside the kernels), the poolings in its pool2d kernels; this file
 * checks shapes and picks which kernel plays which role. Upsample2D only copies.
 */
import { Tensor, zeros } from '../tensor';
import { backend } from '../backend';
import { windowCount } from '../backend/types';
import { InitName, checkInit, initialize } from '../init';
import { Module, ModuleConfig, Parameter, checkOptions } from './base';
import { ARGUMENT_LIMITS, ArgumentValues, ModuleSchema, PaddingMode, checkArguments, flagOption, optionNames } from './schema';
import { Border, Images, NO_BORDER, PoolAxis, addBorder, removeBorder } from './borders';
import { WindowPool, checkFlag } from './pool';

/** An integer for both axes, or one per axis: `[height, width]`. */
export type Size2D = number | readonly [height: number, width: number];

/** A pair argument as it is saved: one number when both axes agree, else [height, width]. */
function pairConfig(height: number, width: number): Size2D {
  return height === width ? height : [height, width];
}

/** Options of {@link Conv2D}. */
export interface Conv2DOptions {
  /**
   * Zeros added on each side: one number for both axes or `[height, width]` (default 0); or, as
   * PyTorch's, `'valid'` (0) or `'same'` (stride 1: the output keeps the input's height and
   * width; kSize − 1 zeros on an axis, half before and half after, the odd one of an even kernel
   * after). The model saves the numbers, or `'same'` where the two sides differ.
   */
  padding?: Size2D | PaddingMode;
  /** Add a per-output-channel bias (default true, as PyTorch's Conv2d). */
  bias?: boolean;
  /** Initialisation of weight and bias (default `'xavierNormal'`, fans kH·kW·chanIn and kH·kW·chanOut). */
  init?: InitName;
}

/** The arguments of {@link Conv2D}. @internal */
export const CONV2D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize', pair: true }, { name: 'chanIn' }, { name: 'chanOut' }, { name: 'stride', pair: true, default: 1 }],
  // Padding kSize − 1 on an axis is the "full" convolution; more only adds outputs that see
  // nothing but zeros.
  options: [
    { name: 'padding', pair: true, min: 0, max: (v, axis) => v[`kSize${axis}`] - 1, default: 0, paddingModes: true },
    'bias',
    'init',
  ],
  flags: { bias: true },
  parameters: (v, o) => [
    ['weight', [v.kSizeHeight, v.kSizeWidth, v.chanIn, v.chanOut]],
    ...(flagOption(CONV2D_SCHEMA, o, 'bias') ? [['bias', [v.chanOut]] as [string, number[]]] : []),
  ],
};

/** What the 2-D convolutions hold: the checked geometry and the parameters. */
abstract class Convolution2D extends Module {
  readonly kHeight: number;
  readonly kWidth: number;
  readonly chanIn: number;
  readonly chanOut: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Zeros above the image (and below it, but for Conv2D's `'same'` on an even kernel height: one more there). */
  readonly padHeight: number;
  /** Zeros left of the image (and right of it, but for Conv2D's `'same'` on an even kernel width: one more there). */
  readonly padWidth: number;
  /** Zeros below the image: padHeight, or one more for `'same'` on an even kernel height. @internal */
  readonly padHeightEnd: number;
  /** Zeros right of the image: padWidth, or one more for `'same'` on an even kernel width. @internal */
  readonly padWidthEnd: number;
  /** Conv2D: (kH, kW, chanIn, chanOut); ConvTranspose2D: (kH, kW, chanOut, chanIn). PyTorch's are (chanOut, chanIn, kH, kW) and (chanIn, chanOut, kH, kW). */
  readonly weight: Tensor;
  /** ∂L/∂weight summed over the batches since the last zeroGrad, the shape of weight. */
  readonly weightGrad: Tensor;
  /** (chanOut), or null with `{ bias: false }`. */
  readonly bias: Tensor | null;
  /** ∂L/∂bias, the shape of bias (null without one). */
  readonly biasGrad: Tensor | null;
  protected readonly init: InitName;

  protected constructor(who: string, schema: ModuleSchema, v: ArgumentValues, opts: Record<string, unknown>, weightShape: number[]) {
    super();
    this.kHeight = v.kSizeHeight;
    this.kWidth = v.kSizeWidth;
    this.chanIn = v.chanIn;
    this.chanOut = v.chanOut;
    this.strideHeight = v.strideHeight;
    this.strideWidth = v.strideWidth;
    this.padHeight = v.paddingHeight;
    this.padWidth = v.paddingWidth;
    this.padHeightEnd = v.paddingHeightEnd ?? v.paddingHeight;
    this.padWidthEnd = v.paddingWidthEnd ?? v.paddingWidth;
    if (opts.bias !== undefined && typeof opts.bias !== 'boolean') {
      throw new TypeError(`${who}: option bias must be a boolean, got ${String(opts.bias)}`);
    }
    this.init = checkInit(who, opts.init ?? 'xavierNormal');
    const area = this.kHeight * this.kWidth;
    this.weight = initialize(zeros(weightShape), this.init, area * this.chanIn, area * this.chanOut);
    this.weightGrad = zeros(weightShape);
    const withBias = flagOption(schema, opts, 'bias');
    this.bias = withBias ? initialize(zeros([this.chanOut]), this.init, area * this.chanIn, area * this.chanOut) : null;
    this.biasGrad = withBias ? zeros([this.chanOut]) : null;
  }

  /** @internal */
  protected get kSizeConfig(): Size2D {
    return pairConfig(this.kHeight, this.kWidth);
  }

  /** @internal */
  protected get strideConfig(): Size2D {
    return pairConfig(this.strideHeight, this.strideWidth);
  }

  /** The padding as the model saves it: `'same'` stands for the one whose two sides differ. @internal */
  protected get paddingConfig(): Size2D | PaddingMode {
    if (this.padHeightEnd !== this.padHeight || this.padWidthEnd !== this.padWidth) return 'same';
    return pairConfig(this.padHeight, this.padWidth);
  }

  /** An input error that says what a PyTorch or TensorFlow user needs to read it. @internal */
  protected imageError(inputShape: readonly number[]): RangeError {
    const hints = [`images are channels-last (batch, height, width, chan), here chan ${this.chanIn}`];
    if (inputShape.length === 4 && inputShape[1] === this.chanIn && inputShape[3] !== this.chanIn) {
      hints.push(
        `the input looks channels-first (batch, chan, height, width): transpose it to (${inputShape[0]}, ${inputShape[2]}, ${inputShape[3]}, ${inputShape[1]})`,
      );
    } else if (inputShape.length === 4 && inputShape[3] === this.kHeight && this.kHeight === this.kWidth) {
      // PyTorch's order (in_channels, out_channels, kernel_size) written as neurone's (kSize, chanIn, chanOut).
      const kind = this.constructor.name;
      hints[0] =
        `${kind}'s arguments are (kSize, chanIn, chanOut), here kSize ${this.kHeight}, chanIn ${this.chanIn}, chanOut ${this.chanOut}, ` +
        'and its input is channels-last (batch, height, width, chan)';
      hints.push(
        `if you meant PyTorch's ${kind.replace('2D', '2d')}(in_channels ${this.kHeight}, out_channels ${this.chanIn}, kernel_size ${this.chanOut}), ` +
          `write new ${kind}(${this.chanOut}, ${this.kHeight}, ${this.chanIn})`,
      );
    } else if (inputShape.length === 3 && inputShape[2] !== this.chanIn) {
      // (h, w, chanIn) is one image without its batch axis, which the shape error itself says.
      hints.push(`a single-channel (batch, height, width) input needs a channel axis: reshape it to (${inputShape.join(', ')}, 1)`);
    } else if (inputShape.length === 2) {
      hints.push('a flat (batch, features) input needs Reshape([height, width, chan]) first');
    }
    return this.shapeError(['batch', 'height', 'width', this.chanIn], inputShape, 'input', hints);
  }

  /** The geometry arguments of the conv2d kernels for the convolution from (height, width, cin) to (·, ·, cout). @internal */
  protected geometry(
    batch: number,
    height: number,
    width: number,
    cin: number,
    cout: number,
  ): [number, number, number, number, number, number, number, number, number, number, number] {
    return [batch, height, width, cin, cout, this.kHeight, this.kWidth, this.strideHeight, this.strideWidth, this.padHeight, this.padWidth];
  }

  /** biasGrad += the sum of delta over its pixels. @internal */
  protected addBiasGradient(delta: Tensor): void {
    if (this.biasGrad) backend().sumRows(delta.data, delta.data.length / this.chanOut, this.chanOut, this.biasGrad.data);
  }

  parameters(): Parameter[] {
    const ps: Parameter[] = [{ name: 'weight', value: this.weight, grad: this.weightGrad, module: this }];
    if (this.bias && this.biasGrad) ps.push({ name: 'bias', value: this.bias, grad: this.biasGrad, module: this });
    return ps;
  }
}

/**
 * 2-D convolution (cross-correlation, as PyTorch's Conv2d), channels last. The arguments are
 * `(kSize, chanIn, chanOut)`, the kernel first: PyTorch's `Conv2d(1, 6, 5)` is `Conv2D(5, 1, 6)`.
 *
 * y[b, i, j, o] = Σ_{ky, kx, c} x[b, i·sH + ky − pH, j·sW + kx − pW, c] · w[ky, kx, c, o] (+ bias[o]),
 * with x taken as 0 outside the image.
 *
 * Shape: input (batch, height, width, chanIn) →
 * (batch, ⌊(height + 2·pH − kH) / sH⌋ + 1, ⌊(width + 2·pW − kW) / sW⌋ + 1, chanOut) (with `'same'` on
 * an even kernel, one zero more below and to the right: the size is kept);
 * weight (kH, kW, chanIn, chanOut): the 1-D layout with one more axis.
 *
 * @example
 * const conv = new Conv2D(5, 1, 6);                 // 5×5 kernel, 1 → 6 channels
 * conv.forward(x);                                  // (32, 28, 28, 1) → (32, 24, 24, 6)
 * new Conv2D(3, 16, 32, 1, { padding: 'same' });    // (n, h, w, 16) → (n, h, w, 32); the same as padding 1
 * new Conv2D(4, 16, 32, 1, { padding: 'same' });    // 1 zero above and left, 2 below and right: (n, h, w, 32)
 * new Conv2D([3, 1], 8, 8, [2, 1]);                 // a 3×1 kernel moved 2 rows at a time
 */
export class Conv2D extends Convolution2D {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = CONV2D_SCHEMA;

  /**
   * Builds the convolution; weights (kH, kW, chanIn, chanOut).
   * @param kSize Kernel size: one number for a square kernel, or `[height, width]`.
   * @param chanIn Input channels (the last axis of the input).
   * @param chanOut Output channels.
   * @param stride Pixels between two windows, one number or `[height, width]` (default 1).
   * @param options padding, bias (default true), init.
   */
  constructor(kSize: Size2D, chanIn: number, chanOut: number, stride: Size2D = 1, options?: Conv2DOptions) {
    const opts = checkOptions('Conv2D', options, optionNames(CONV2D_SCHEMA));
    const v = checkArguments('Conv2D', CONV2D_SCHEMA, [kSize, chanIn, chanOut, stride], opts);
    super('Conv2D', CONV2D_SCHEMA, v, opts, [v.kSizeHeight, v.kSizeWidth, v.chanIn, v.chanOut]);
  }

  config(): ModuleConfig {
    return {
      type: 'Conv2D',
      args: [this.kSizeConfig, this.chanIn, this.chanOut, this.strideConfig],
      options: { padding: this.paddingConfig, bias: this.bias !== null, init: this.init },
    };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 4 || inputShape[3] !== this.chanIn) throw this.imageError(inputShape);
    const [batch, height, width] = inputShape;
    const paddedHeight = height + this.padHeight + this.padHeightEnd;
    const paddedWidth = width + this.padWidth + this.padWidthEnd;
    if (paddedHeight < this.kHeight || paddedWidth < this.kWidth) {
      const minHeight = Math.max(1, this.kHeight - this.padHeight - this.padHeightEnd);
      const minWidth = Math.max(1, this.kWidth - this.padWidth - this.padWidthEnd);
      throw this.shapeError(['batch', `height >= ${minHeight}`, `width >= ${minWidth}`, this.chanIn], inputShape);
    }
    return [
      batch,
      windowCount(paddedHeight, this.kHeight, this.strideHeight),
      windowCount(paddedWidth, this.kWidth, this.strideWidth),
      this.chanOut,
    ];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const x = this.withEndZeros(input);
    const y = this.buffer('output', out);
    backend().conv2dForward(
      x.data,
      this.weight.data,
      this.bias?.data ?? null,
      y.data,
      ...this.geometry(input.shape[0], x.height, x.width, this.chanIn, this.chanOut),
    );
    return y;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    this.checkBackward(input, delta);
    const x = this.withEndZeros(input);
    backend().conv2dBackwardWeight(
      x.data,
      delta.data,
      this.weightGrad.data,
      ...this.geometry(input.shape[0], x.height, x.width, this.chanIn, this.chanOut),
    );
    this.addBiasGradient(delta);
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, height, width, chan] = input.shape;
    const dx = this.buffer('delta', input.shape);
    const border = this.endBorder;
    const grows = border.bottom > 0 || border.right > 0;
    const extended = { height: height + border.bottom, width: width + border.right };
    const full = grows ? this.buffer('borderedDelta', [batch, extended.height, extended.width, chan]).data : dx.data;
    backend().conv2dBackwardInput(
      delta.data,
      this.weight.data,
      full,
      ...this.geometry(batch, extended.height, extended.width, this.chanIn, this.chanOut),
    );
    if (grows) removeBorder({ data: full, ...extended }, dx.data, batch, height, width, chan, border);
    return dx;
  }

  /**
   * The zeros the padding puts after the image beyond those before it (`'same'` on an even
   * kernel: one row below, one column to the right), which the module adds itself: the kernels
   * pad both sides alike, padHeight and padWidth.
   */
  private get endBorder(): Border {
    return { ...NO_BORDER, bottom: this.padHeightEnd - this.padHeight, right: this.padWidthEnd - this.padWidth };
  }

  /** The input with {@link endBorder} added (the input itself where it is empty), in a buffer reused inside a Sequential. */
  private withEndZeros(input: Tensor): Images {
    const [batch, height, width, chan] = input.shape;
    const b = this.endBorder;
    if (b.bottom + b.right === 0) return { data: input.data, height, width };
    const into = this.buffer('bordered', [batch, height + b.bottom, width + b.right, chan]);
    return addBorder(input.data, batch, height, width, chan, b, 0, into.data);
  }
}

/** Options of {@link ConvTranspose2D}. */
export interface ConvTranspose2DOptions {
  /** Pixels cropped from each side of the output, one number or `[height, width]` (default 0), as PyTorch's `padding`. */
  padding?: Size2D;
  /** Extra rows/columns added at the bottom/right of the output, < stride on each axis (default 0). */
  outputPadding?: Size2D;
  /** Add a per-output-channel bias (default true, as PyTorch's ConvTranspose2d). */
  bias?: boolean;
  /** Initialisation (default `'xavierNormal'`, fans kH·kW·chanIn and kH·kW·chanOut). */
  init?: InitName;
}

/** The arguments of {@link ConvTranspose2D}. @internal */
export const CONV_TRANSPOSE2D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize', pair: true }, { name: 'chanIn' }, { name: 'chanOut' }, { name: 'stride', pair: true, default: 1 }],
  // padding crops the output (outputShape refuses a crop that leaves nothing); outputPadding
  // below the stride picks one of the sizes a strided Conv2D maps to the same size.
  options: [
    { name: 'padding', pair: true, min: 0, default: 0 },
    { name: 'outputPadding', pair: true, min: 0, max: (v, axis) => v[`stride${axis}`] - 1, default: 0 },
    'bias',
    'init',
  ],
  flags: { bias: true },
  parameters: (v, o) => [
    ['weight', [v.kSizeHeight, v.kSizeWidth, v.chanOut, v.chanIn]],
    ...(flagOption(CONV_TRANSPOSE2D_SCHEMA, o, 'bias') ? [['bias', [v.chanOut]] as [string, number[]]] : []),
  ],
};

/**
 * Transposed 2-D convolution (the adjoint of a Conv2D), channels last, the arguments
 * `(kSize, chanIn, chanOut, stride)` in neurone's order (PyTorch's `ConvTranspose2d(16, 1, 4, 2)` is
 * `ConvTranspose2D(4, 16, 1, 2)`): each input pixel scatters a
 * kH×kW window, overlapping windows adding up. It undoes the size reduction of
 * `Conv2D(kSize, chanOut, chanIn, stride, { padding })`.
 *
 * Shape: input (batch, height, width, chanIn) →
 * (batch, (height − 1)·sH − 2·pH + kH + opH, (width − 1)·sW − 2·pW + kW + opW, chanOut);
 * weight (kH, kW, chanOut, chanIn): the layout of the Conv2D it transposes.
 *
 * How it maps onto the conv2d kernels: let C be the Conv2D from the output's size, with chanOut
 * input channels, chanIn output channels, this weight, stride and padding. Because opH < sH, C
 * maps the output's height back to exactly `height` (likewise the width). Then
 *   forward:       y = Cᵀ x            → conv2dBackwardInput(dy := x, w, dx := y)
 *   backwardDelta: ∂L/∂x = C δ         → conv2dForward(x := δ, w, y := ∂L/∂x)
 *   weight grad:   ∂L/∂w = the weight gradient of C with δ as its input and x as its output's
 *                  gradient            → conv2dBackwardWeight(x := δ, dy := x, dw)
 *
 * @example
 * const up = new ConvTranspose2D(4, 16, 8, 2, { padding: 1 });  // doubles height and width
 * up.forward(x);                                                // (8, 7, 7, 16) → (8, 14, 14, 8)
 */
export class ConvTranspose2D extends Convolution2D {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = CONV_TRANSPOSE2D_SCHEMA;

  readonly outputPadHeight: number;
  readonly outputPadWidth: number;

  /**
   * Builds the transposed convolution; weights (kH, kW, chanOut, chanIn).
   * @param kSize Kernel size: one number for a square kernel, or `[height, width]`.
   * @param chanIn Input channels (the last axis of the input).
   * @param chanOut Output channels.
   * @param stride Upsampling step, one number or `[height, width]` (default 1).
   * @param options padding, outputPadding, bias (default true), init.
   */
  constructor(kSize: Size2D, chanIn: number, chanOut: number, stride: Size2D = 1, options?: ConvTranspose2DOptions) {
    const opts = checkOptions('ConvTranspose2D', options, optionNames(CONV_TRANSPOSE2D_SCHEMA));
    const v = checkArguments('ConvTranspose2D', CONV_TRANSPOSE2D_SCHEMA, [kSize, chanIn, chanOut, stride], opts);
    super('ConvTranspose2D', CONV_TRANSPOSE2D_SCHEMA, v, opts, [v.kSizeHeight, v.kSizeWidth, v.chanOut, v.chanIn]);
    this.outputPadHeight = v.outputPaddingHeight;
    this.outputPadWidth = v.outputPaddingWidth;
  }

  config(): ModuleConfig {
    return {
      type: 'ConvTranspose2D',
      args: [this.kSizeConfig, this.chanIn, this.chanOut, this.strideConfig],
      options: {
        padding: this.paddingConfig,
        outputPadding: pairConfig(this.outputPadHeight, this.outputPadWidth),
        bias: this.bias !== null,
        init: this.init,
      },
    };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 4 || inputShape[3] !== this.chanIn || inputShape[1] < 1 || inputShape[2] < 1) {
      throw this.imageError(inputShape);
    }
    const [batch, height, width] = inputShape;
    const outHeight = (height - 1) * this.strideHeight - 2 * this.padHeight + this.kHeight + this.outputPadHeight;
    const outWidth = (width - 1) * this.strideWidth - 2 * this.padWidth + this.kWidth + this.outputPadWidth;
    if (outHeight < 1 || outWidth < 1) {
      throw this.shapeError(['batch', `height > ${height}`, `width > ${width}`, this.chanIn], inputShape);
    }
    return [batch, outHeight, outWidth, this.chanOut];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    // The Conv2D this transposes runs from the output's size (chanOut channels) to the input's.
    backend().conv2dBackwardInput(
      input.data,
      this.weight.data,
      y.data,
      ...this.geometry(out[0], out[1], out[2], this.chanOut, this.chanIn),
    );
    if (this.bias) backend().addRowVector(y.data, this.bias.data, y.data.length / this.chanOut, this.chanOut);
    return y;
  }

  backwardUpdateGradient(input: Tensor, delta: Tensor): void {
    const out = this.checkBackward(input, delta);
    backend().conv2dBackwardWeight(
      delta.data,
      input.data,
      this.weightGrad.data,
      ...this.geometry(out[0], out[1], out[2], this.chanOut, this.chanIn),
    );
    this.addBiasGradient(delta);
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    const out = this.checkBackward(input, delta);
    const dx = this.buffer('delta', input.shape);
    backend().conv2dForward(
      delta.data,
      this.weight.data,
      null,
      dx.data,
      ...this.geometry(out[0], out[1], out[2], this.chanOut, this.chanIn),
    );
    return dx;
  }
}

/** Options of {@link MaxPool2D} and {@link AvgPool2D}. */
export interface Pool2DOptions {
  /**
   * Pixels added on each side, one number or `[height, width]` (default 0), at most half the
   * window on its axis, as PyTorch's `padding`: −∞ for MaxPool2D (they never win a window),
   * zeros for AvgPool2D (counted in the mean, as PyTorch's default `count_include_pad`).
   */
  padding?: Size2D;
  /**
   * Count the windows with the ceiling, as PyTorch's `ceil_mode` (default false): a last row or
   * column of windows that runs past the image (and its padding) is kept when it starts inside
   * them, its maximum or mean taken over the pixels it covers there.
   */
  ceilMode?: boolean;
}

/** Options of {@link AvgPool2D}: the poolings' and countIncludePad. */
export interface AvgPool2DOptions extends Pool2DOptions {
  /**
   * Count the padding's zeros in the mean (default true, as PyTorch's `count_include_pad`); false
   * divides each window's sum by the input pixels it covers, as Keras's `'same'` pooling does.
   */
  countIncludePad?: boolean;
}

/** The arguments of {@link MaxPool2D}: the stride defaults to the window. @internal */
export const POOL2D_SCHEMA: ModuleSchema = {
  args: [
    { name: 'kSize', pair: true },
    { name: 'stride', pair: true, default: (v, axis) => v[`kSize${axis}`] },
  ],
  // At most half a window, as PyTorch: every window then holds a pixel of the input.
  options: [{ name: 'padding', pair: true, min: 0, max: (v, axis) => Math.floor(v[`kSize${axis}`] / 2), default: 0 }, 'ceilMode'],
  flags: { ceilMode: false },
};

/** The arguments of {@link AvgPool2D}: MaxPool2D's and countIncludePad. @internal */
export const AVG_POOL2D_SCHEMA: ModuleSchema = {
  ...POOL2D_SCHEMA,
  options: [...(POOL2D_SCHEMA.options ?? []), 'countIncludePad'],
  flags: { ...POOL2D_SCHEMA.flags, countIncludePad: true },
};

abstract class Pool2D extends WindowPool {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = POOL2D_SCHEMA;

  readonly kHeight: number;
  readonly kWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** Rows added above and below the image: −∞ (MaxPool2D) or zeros (AvgPool2D). */
  readonly padHeight: number;
  /** Columns added left and right of the image. */
  readonly padWidth: number;

  constructor(who: string, schema: ModuleSchema, kSize: Size2D, stride: Size2D | undefined, options: unknown, extra: number) {
    super(who, schema, [kSize, stride], options, extra);
    const v = this.values;
    this.kHeight = v.kSizeHeight;
    this.kWidth = v.kSizeWidth;
    this.strideHeight = v.strideHeight;
    this.strideWidth = v.strideWidth;
    this.padHeight = v.paddingHeight;
    this.padWidth = v.paddingWidth;
  }

  config(): ModuleConfig {
    const padded = this.padHeight !== 0 || this.padWidth !== 0;
    const options = {
      ...(padded ? { padding: pairConfig(this.padHeight, this.padWidth) } : {}),
      ...(this.ceilMode ? { ceilMode: true } : {}),
      ...this.ownOptions(),
    };
    return {
      type: this.constructor.name,
      args: [pairConfig(this.kHeight, this.kWidth), pairConfig(this.strideHeight, this.strideWidth)],
      ...(Object.keys(options).length ? { options } : {}),
    };
  }

  /** The height and width axes as the window arithmetic reads them. @internal */
  get axes(): [PoolAxis, PoolAxis] {
    return [
      { kSize: this.kHeight, stride: this.strideHeight, padding: this.padHeight },
      { kSize: this.kWidth, stride: this.strideWidth, padding: this.padWidth },
    ];
  }

  /** @internal */
  protected asImage(shape: readonly number[]): [number, number, number, number] {
    return [shape[0], shape[1], shape[2], shape[3]];
  }

  /** @internal */
  protected fromImage(batch: number, height: number, width: number, chan: number): number[] {
    return [batch, height, width, chan];
  }

  outputShape(inputShape: readonly number[]): number[] {
    const least = [Math.max(1, this.kHeight - 2 * this.padHeight), Math.max(1, this.kWidth - 2 * this.padWidth)];
    if (inputShape.length !== 4 || inputShape[1] < least[0] || inputShape[2] < least[1] || inputShape[3] < 1) {
      throw this.shapeError(['batch', `height >= ${least[0]}`, `width >= ${least[1]}`, 'chan >= 1'], inputShape);
    }
    const [batch, height, width, chan] = inputShape;
    const [rows, cols] = this.windows(height, width);
    return [batch, rows.windows, cols.windows, chan];
  }

  /** The shape arguments of the pool2d kernels for an input of this shape (the input inside its border: {@link padded}). @internal */
  geometry(shape: readonly number[]): [number, number, number, number, number, number, number, number] {
    const [batch, height, width, chan] = shape;
    return [batch, height, width, chan, this.kHeight, this.kWidth, this.strideHeight, this.strideWidth];
  }
}

/**
 * Maximum over windows of kH×kW pixels moved by `stride` (default the window), per channel.
 * Backward routes each output's gradient to the pixel that won its window (the first in
 * row-major order on ties), adding up where overlapping windows share a winner. Inside a
 * Sequential the winners of forward are kept in the record of its place, as MaxPool1D's are.
 *
 * Shape: (batch, height, width, chan) → (batch, ⌊(height + 2·pH − kH) / sH⌋ + 1, ⌊(width + 2·pW − kW) / sW⌋ + 1, chan),
 * ⌈…⌉ with ceilMode.
 * @example
 * new MaxPool2D(2).forward(x)                    // (32, 24, 24, 6) → (32, 12, 12, 6)
 * new MaxPool2D(3, 2, { padding: 1 }).forward(x) // (8, 32, 32, 16) → (8, 16, 16, 16), as a ResNet's stem
 */
export class MaxPool2D extends Pool2D {
  /** @internal */
  protected readonly fill = -Infinity;
  /** Winners computed where no record keeps them (called directly, or an input that may have changed). */
  private scratchWinners = new Int32Array(0);

  /**
   * Builds the pooling layer.
   * @param kSize Window size: one number for a square window, or `[height, width]`.
   * @param stride Pixels between two windows, one number or `[height, width]` (default kSize).
   * @param options padding, ceilMode.
   */
  constructor(kSize: Size2D, stride?: Size2D, options?: Pool2DOptions) {
    super('MaxPool2D', POOL2D_SCHEMA, kSize, stride, options, arguments.length - 3);
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    // Inside a Sequential the winners go to this place's record, for its backward pass.
    const saved = this.savedForBackward();
    const winners = saved ? saved.winners(y.data.length) : this.scratch(y.data.length);
    const x = this.padded(input);
    backend().maxPool2dForward(x.data, y.data, winners, ...this.geometry(x.shape));
    if (saved) saved.winnersSaved = true;
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const saved = this.savedForBackward();
    let winners: Int32Array;
    if (saved && saved.inputHeld && saved.winnersSaved) {
      winners = saved.winners(delta.data.length);
    } else {
      // Called directly, or on an input the caller may have rewritten since forward: recomputed
      // from the input given, so a stale winner cannot route the gradient to the wrong pixel.
      winners = this.scratch(delta.data.length);
      const x = this.padded(input);
      backend().maxPool2dForward(x.data, this.buffer('scratch', delta.shape).data, winners, ...this.geometry(x.shape));
    }
    const dx = this.paddedGradient(input);
    backend().maxPool2dBackward(delta.data, winners, dx.data, ...this.geometry(dx.shape));
    return this.unpadded(input, dx);
  }

  private scratch(n: number): Int32Array {
    if (this.scratchWinners.length !== n) this.scratchWinners = new Int32Array(n);
    return this.scratchWinners;
  }
}

/**
 * Mean over windows of kH×kW pixels moved by `stride` (default the window), per channel; a
 * padding's zeros count in the mean (PyTorch's default) unless countIncludePad is false. Backward
 * spreads δ / (the pixels counted) over each window, adding up where windows overlap.
 *
 * Shape: (batch, height, width, chan) → (batch, ⌊(height + 2·pH − kH) / sH⌋ + 1, ⌊(width + 2·pW − kW) / sW⌋ + 1, chan),
 * ⌈…⌉ with ceilMode.
 * @example
 * new AvgPool2D(2).forward(x)  // (8, 32, 32, 3) → (8, 16, 16, 3)
 */
export class AvgPool2D extends Pool2D {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = AVG_POOL2D_SCHEMA;
  /** @internal */
  protected readonly fill = 0;
  /** Whether the padding's zeros count in the mean (PyTorch's `count_include_pad`). */
  readonly countIncludePad: boolean;

  /**
   * Builds the pooling layer.
   * @param kSize Window size: one number for a square window, or `[height, width]`.
   * @param stride Pixels between two windows, one number or `[height, width]` (default kSize).
   * @param options padding, ceilMode, countIncludePad.
   */
  constructor(kSize: Size2D, stride?: Size2D, options?: AvgPool2DOptions) {
    super('AvgPool2D', AVG_POOL2D_SCHEMA, kSize, stride, options, arguments.length - 3);
    this.countIncludePad = checkFlag('AvgPool2D', this.options, 'countIncludePad', true);
  }

  /** @internal */
  protected ownOptions(): Record<string, unknown> {
    return this.countIncludePad ? {} : { countIncludePad: false };
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const x = this.padded(input);
    backend().avgPool2dForward(x.data, y.data, ...this.geometry(x.shape));
    this.clipMeans(input, y.data, false, this.countIncludePad);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const dx = this.paddedGradient(input);
    backend().avgPool2dBackward(this.clipMeans(input, delta.data, true, this.countIncludePad), dx.data, ...this.geometry(dx.shape));
    return this.unpadded(input, dx);
  }
}

/**
 * The mean of each channel over the whole image, as the head of a modern CNN uses it in place of
 * flattening: (batch, height, width, chan) → (batch, chan).
 * @example
 * new GlobalAvgPool2D().forward(x)  // (8, 4, 4, 64) → (8, 64)
 */
export class GlobalAvgPool2D extends Module {
  config(): ModuleConfig {
    return { type: 'GlobalAvgPool2D', args: [] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 4 || inputShape[1] < 1 || inputShape[2] < 1 || inputShape[3] < 1) {
      throw this.shapeError(['batch', 'height >= 1', 'width >= 1', 'chan >= 1'], inputShape);
    }
    return [inputShape[0], inputShape[3]];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const [batch, height, width, chan] = input.shape;
    const y = this.buffer('output', out);
    // One window covering the image.
    backend().avgPool2dForward(input.data, y.data, batch, height, width, chan, height, width, 1, 1);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, height, width, chan] = input.shape;
    const dx = this.buffer('delta', input.shape);
    backend().avgPool2dBackward(delta.data, dx.data, batch, height, width, chan, height, width, 1, 1);
    return dx;
  }
}

/** The arguments of {@link Upsample2D}: the output is scale² times the input, hence its own limit. @internal */
export const UPSAMPLE2D_SCHEMA: ModuleSchema = {
  args: [{ name: 'scale', pair: true, max: ARGUMENT_LIMITS.maxUpsample }],
  options: null,
};

/**
 * Nearest-neighbour upsampling of images: each pixel repeated scaleH × scaleW times (PyTorch's
 * `Upsample(scale_factor, mode='nearest')`). Backward sums the gradient of the copies.
 *
 * Shape: (batch, height, width, chan) → (batch, height·sH, width·sW, chan).
 * @example
 * new Upsample2D(2).forward(x)  // (8, 7, 7, 16) → (8, 14, 14, 16)
 */
export class Upsample2D extends Module {
  readonly scaleHeight: number;
  readonly scaleWidth: number;

  /**
   * Builds the layer.
   * @param scale How many times each pixel is repeated: one number for both axes, or `[height, width]`.
   */
  constructor(scale: Size2D) {
    super();
    // From plain JavaScript, PyTorch's { mode: 'bilinear' } would otherwise be ignored.
    if (arguments.length > 1)
      throw new TypeError(`Upsample2D takes (scale) and upsamples by nearest neighbour only, got ${arguments.length} arguments`);
    const v = checkArguments('Upsample2D', UPSAMPLE2D_SCHEMA, [scale]);
    this.scaleHeight = v.scaleHeight;
    this.scaleWidth = v.scaleWidth;
  }

  config(): ModuleConfig {
    return { type: 'Upsample2D', args: [pairConfig(this.scaleHeight, this.scaleWidth)] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 4 || inputShape[3] < 1) throw this.shapeError(['batch', 'height', 'width', 'chan >= 1'], inputShape);
    const [batch, height, width, chan] = inputShape;
    return [batch, height * this.scaleHeight, width * this.scaleWidth, chan];
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    backend().upsample2dForward(input.data, y.data, ...this.geometry(input.shape));
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const dx = this.buffer('delta', input.shape);
    backend().upsample2dBackward(delta.data, dx.data, ...this.geometry(input.shape));
    return dx;
  }

  /** The kernels' shape arguments for an input of `shape`. */
  private geometry(shape: readonly number[]): [number, number, number, number, number, number] {
    const [batch, height, width, chan] = shape;
    return [batch, height, width, chan, this.scaleHeight, this.scaleWidth];
  }
}
