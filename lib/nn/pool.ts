/**
 * Pooling over the length axis of channels-last tensors, and the reshapes Flatten and Reshape.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length + 2·padding − kSize) / stride⌋ + 1, chan), the
 * ceiling ⌈…⌉ with ceilMode (less a last window that would start in the padding after the input).
 */
import { Tensor, describe } from '../tensor';
import { backend } from '../backend';
import { Module, ModuleConfig, checkOptions } from './base';
import { Border, PoolAxis, addBorder, meanFactors, poolWindows, removeBorder, scaleWindows } from './borders';
import { ArgumentValues, ModuleSchema, checkArguments, optionNames } from './schema';

/** Options of {@link MaxPool1D} and {@link AvgPool1D}. */
export interface Pool1DOptions {
  /**
   * Positions added at both ends of the length axis (default 0), at most kSize / 2, as PyTorch's
   * `padding`: −∞ for MaxPool1D (they never win a window), zeros for AvgPool1D (counted in the
   * mean, as PyTorch's default `count_include_pad`).
   */
  padding?: number;
  /**
   * Count the windows with the ceiling, as PyTorch's `ceil_mode` (default false): a last window
   * that runs past the end (and its padding) is kept when it starts inside them, its maximum or
   * mean taken over the positions it covers there.
   */
  ceilMode?: boolean;
}

/** Options of {@link AvgPool1D}: the poolings' and countIncludePad. */
export interface AvgPool1DOptions extends Pool1DOptions {
  /**
   * Count the padding's zeros in the mean (default true, as PyTorch's `count_include_pad`); false
   * divides each window's sum by the input positions it covers, as Keras's `'same'` pooling does.
   */
  countIncludePad?: boolean;
}

/** The arguments of {@link MaxPool1D}: the stride defaults to the window. @internal */
export const POOL1D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize' }, { name: 'stride', default: (v) => v.kSize }],
  // At most half a window, as PyTorch: every window then holds a position of the input.
  options: [{ name: 'padding', min: 0, max: (v) => Math.floor(v.kSize / 2), default: 0 }, 'ceilMode'],
  flags: { ceilMode: false },
};

/** The arguments of {@link AvgPool1D}: MaxPool1D's and countIncludePad. @internal */
export const AVG_POOL1D_SCHEMA: ModuleSchema = {
  ...POOL1D_SCHEMA,
  options: [...(POOL1D_SCHEMA.options ?? []), 'countIncludePad'],
  flags: { ...POOL1D_SCHEMA.flags, countIncludePad: true },
};

/**
 * Refuses what a PyTorch habit would pass a pooling layer beyond (kSize, stride, options), which
 * plain JavaScript would otherwise ignore: padding as the third argument (PyTorch's order), and
 * dilation or return_indices after it.
 * @param who The layer, for messages.
 * @param options The third argument.
 * @param extra How many arguments came after it.
 * @internal
 */
export function checkPoolArguments(who: string, options: unknown, extra: number): void {
  if (typeof options === 'number') {
    throw new TypeError(
      `${who}: padding goes in the options, as a convolution's: new ${who}(kSize, stride, { padding: ${options} }), got ${options} as the third argument`,
    );
  }
  if (extra > 0) {
    throw new TypeError(
      `${who} takes (kSize, stride, { padding, ceilMode }); dilation and returnIndices are not supported, got ${extra} more argument(s)`,
    );
  }
}

/** A pooling's on/off option (ceilMode, countIncludePad), checked: a boolean, or left out for `fallback`. @internal */
export function checkFlag(who: string, options: Readonly<Record<string, unknown>>, name: string, fallback: boolean): boolean {
  const v = options[name];
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${who}: option ${name} must be a boolean, got ${describe(v)}`);
  return v === undefined ? fallback : v;
}

/** A sequence's row axis, as the window arithmetic reads a sequence: one row, windows of one row. */
const ONE_ROW: PoolAxis = Object.freeze({ kSize: 1, stride: 1, padding: 0 });

/**
 * What the 1-D and 2-D poolings share: their checked arguments and options, and how their
 * options reach the kernels, which know none of them. The kernels run on the input inside a border
 * (the padding, −∞ or zeros, and after it what a ceiling's last window overhangs), the gradient
 * with respect to the border is dropped, and a mean's windows that count fewer cells than the
 * window are rescaled to PyTorch's divisor. A sequence (batch, length, chan) is an image one row
 * high ({@link ONE_ROW}). Not part of the API: exported for the 2-D poolings and the ONNX
 * exporter only, and not marked internal, since the public poolings' declarations extend it.
 */
export abstract class WindowPool extends Module {
  /** Whether the windows are counted with the ceiling (PyTorch's `ceil_mode`). */
  readonly ceilMode: boolean;
  /** What surrounds the input: −∞ or 0. @internal */
  protected abstract readonly fill: number;
  /** The options as given, checked: what a subclass reads of its own. @internal */
  protected readonly options: Readonly<Record<string, unknown>>;
  /** The arguments and numeric options, checked by the schema. @internal */
  protected readonly values: ArgumentValues;

  constructor(who: string, schema: ModuleSchema, args: readonly unknown[], options: unknown, extra: number) {
    super();
    checkPoolArguments(who, options, extra);
    this.options = checkOptions(who, options, optionNames(schema));
    this.values = checkArguments(who, schema, args, this.options);
    this.ceilMode = checkFlag(who, this.options, 'ceilMode', false);
  }

  /** The row and column axes as the window arithmetic reads them (a sequence's row axis: {@link ONE_ROW}). @internal */
  abstract get axes(): [PoolAxis, PoolAxis];

  /** An input's shape as images: (batch, height, width, chan). @internal */
  protected abstract asImage(shape: readonly number[]): [number, number, number, number];

  /** The tensor shape of images of this size, the inverse of {@link asImage}. @internal */
  protected abstract fromImage(batch: number, height: number, width: number, chan: number): number[];

  /** A subclass's own options off their defaults, for its config. @internal */
  protected ownOptions(): Record<string, unknown> {
    return {};
  }

  /** Whether the kernels read the input as it is, whatever its size: no padding, no ceiling. @internal */
  get unbordered(): boolean {
    return !this.ceilMode && this.axes.every((a) => a.padding === 0);
  }

  /** The windows down and across an image of this size, and what the last ones overhang. @internal */
  protected windows(height: number, width: number): [{ windows: number; overhang: number }, { windows: number; overhang: number }] {
    const [h, w] = this.axes;
    return [poolWindows(height, h, this.ceilMode), poolWindows(width, w, this.ceilMode)];
  }

  /** What the kernels read around an image of this size: the padding, and after it what a ceiling's last windows overhang. */
  private border(height: number, width: number): Border {
    const [h, w] = this.axes;
    const [rows, cols] = this.windows(height, width);
    return { top: h.padding, bottom: h.padding + rows.overhang, left: w.padding, right: w.padding + cols.overhang };
  }

  /** The input inside its border, as the kernels read it (the input itself without one). @internal */
  protected padded(input: Tensor): Tensor {
    const [batch, height, width, chan] = this.asImage(input.shape);
    const b = this.border(height, width);
    if (b.top + b.bottom + b.left + b.right === 0) return input;
    // Reused inside a Sequential (no allocation a step): addBorder writes all of it.
    const into = this.buffer('bordered', this.fromImage(batch, height + b.top + b.bottom, width + b.left + b.right, chan));
    addBorder(input.data, batch, height, width, chan, b, this.fill, into.data);
    return into;
  }

  /** Where the kernels write ∂L/∂(input inside its border), which they zero first: the module's delta buffer without a border. @internal */
  protected paddedGradient(input: Tensor): Tensor {
    const [batch, height, width, chan] = this.asImage(input.shape);
    const b = this.border(height, width);
    const none = b.top + b.bottom + b.left + b.right === 0;
    return this.buffer(none ? 'delta' : 'borderedDelta', this.fromImage(batch, height + b.top + b.bottom, width + b.left + b.right, chan));
  }

  /** ∂L/∂input from {@link paddedGradient}'s: the border's part dropped (a constant, not an input). @internal */
  protected unpadded(input: Tensor, paddedGradient: Tensor): Tensor {
    const [batch, height, width, chan] = this.asImage(input.shape);
    const [, paddedHeight, paddedWidth] = this.asImage(paddedGradient.shape);
    if (paddedHeight === height && paddedWidth === width) return paddedGradient;
    const dx = this.buffer('delta', input.shape);
    const from = { data: paddedGradient.data, height: paddedHeight, width: paddedWidth };
    removeBorder(from, dx.data, batch, height, width, chan, this.border(height, width));
    return dx;
  }

  /**
   * The kernels divide each window's sum by the window's size; PyTorch divides by the cells it
   * counts (the padding's only with `countPadding`, never a ceiling's overhang). Returns `v`
   * (outputs, or the gradient flowing back through them) with those windows rescaled: in place,
   * or in a copy with `copy`; `v` itself where every window counts all its cells.
   * @internal
   */
  protected clipMeans(input: Tensor, v: Float32Array, copy: boolean, countPadding: boolean): Float32Array {
    const [batch, height, width, chan] = this.asImage(input.shape);
    const [rows, cols] = this.windows(height, width);
    const [h, w] = this.axes;
    const rowFactors = meanFactors(height, h, rows.windows, countPadding);
    const colFactors = meanFactors(width, w, cols.windows, countPadding);
    if (!rowFactors && !colFactors) return v;
    const out = copy ? v.slice() : v;
    scaleWindows(out, batch, rows.windows, cols.windows, chan, rowFactors, colFactors);
    return out;
  }
}

abstract class Pool1D extends WindowPool {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = POOL1D_SCHEMA;

  readonly kSize: number;
  readonly stride: number;
  /** Positions added at each end: −∞ (MaxPool1D) or zeros (AvgPool1D). */
  readonly padding: number;

  constructor(who: string, schema: ModuleSchema, kSize: number, stride: number | undefined, options: unknown, extra: number) {
    super(who, schema, [kSize, stride], options, extra);
    this.kSize = this.values.kSize;
    this.stride = this.values.stride;
    this.padding = this.values.padding;
  }

  config(): ModuleConfig {
    const options = {
      ...(this.padding ? { padding: this.padding } : {}),
      ...(this.ceilMode ? { ceilMode: true } : {}),
      ...this.ownOptions(),
    };
    return { type: this.constructor.name, args: [this.kSize, this.stride], ...(Object.keys(options).length ? { options } : {}) };
  }

  /** The length axis as the window arithmetic reads it. @internal */
  get axis(): PoolAxis {
    return { kSize: this.kSize, stride: this.stride, padding: this.padding };
  }

  /** @internal */
  get axes(): [PoolAxis, PoolAxis] {
    return [ONE_ROW, this.axis];
  }

  /** @internal */
  protected asImage(shape: readonly number[]): [number, number, number, number] {
    return [shape[0], 1, shape[1], shape[2]];
  }

  /** @internal */
  protected fromImage(batch: number, _height: number, width: number, chan: number): number[] {
    return [batch, width, chan];
  }

  outputShape(inputShape: readonly number[]): number[] {
    const least = this.kSize - 2 * this.padding;
    if (inputShape.length !== 3 || inputShape[1] < Math.max(1, least) || inputShape[2] < 1) {
      throw this.shapeError(['batch', `length >= ${Math.max(1, least)}`, 'chan >= 1'], inputShape);
    }
    return [inputShape[0], poolWindows(inputShape[1], this.axis, this.ceilMode).windows, inputShape[2]];
  }

  /** The shape arguments of the pool1d kernels for an input of this shape (the input inside its border: {@link padded}). @internal */
  geometry(shape: readonly number[]): [number, number, number, number, number] {
    const [batch, length, chan] = shape;
    return [batch, length, chan, this.kSize, this.stride];
  }
}

/**
 * Maximum over windows of `kSize` positions moved by `stride` (default kSize), per channel.
 *
 * Backward routes each output's gradient to the position that won its window (the first
 * one on ties): ∂yₒ/∂xᵢ = 1 if i = argmax of window o, else 0, so
 * ∂L/∂xᵢ = Σ_{o : argmax(o) = i} δₒ — a sum, since overlapping windows (stride < kSize) can
 * share a winner. Inside a Sequential, forward keeps the winners in the record of its place and
 * the backward pass of that place reuses them while the input is the Sequential's own; the
 * first module of a Sequential, whose input the caller may rewrite in place, and a module
 * called directly recompute them in backward from the input then given.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length + 2·padding − kSize) / stride⌋ + 1, chan), ⌈…⌉ with ceilMode.
 * @example
 * new MaxPool1D(2, 2).forward(x)                   // (32, 254, 32) → (32, 127, 32)
 * new MaxPool1D(3, 2, { padding: 1 }).forward(x)   // (32, 254, 32) → (32, 127, 32)
 */
export class MaxPool1D extends Pool1D {
  /** @internal */
  protected readonly fill = -Infinity;

  /**
   * Builds the pooling layer.
   * @param kSize Positions per window.
   * @param stride Positions between two windows (default kSize: windows side by side).
   * @param options padding, ceilMode.
   */
  constructor(kSize: number, stride?: number, options?: Pool1DOptions) {
    super('MaxPool1D', POOL1D_SCHEMA, kSize, stride, options, arguments.length - 3);
  }

  /** Winners computed where no record keeps them (called directly, or an input that may have changed). */
  private scratchWinners = new Int32Array(0);

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const saved = this.savedForBackward();
    const winners = saved ? saved.winners(y.data.length) : this.scratch(y.data.length);
    const x = this.padded(input);
    backend().maxPool1dForward(x.data, y.data, winners, ...this.geometry(x.shape));
    if (saved) saved.winnersSaved = true;
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const k = backend();
    const saved = this.savedForBackward();
    let winners: Int32Array;
    if (saved && saved.inputHeld && saved.winnersSaved) {
      winners = saved.winners(delta.data.length);
    } else {
      winners = this.scratch(delta.data.length);
      const x = this.padded(input);
      k.maxPool1dForward(x.data, this.buffer('scratch', delta.shape).data, winners, ...this.geometry(x.shape));
    }
    const dx = this.paddedGradient(input);
    k.maxPool1dBackward(delta.data, winners, dx.data, ...this.geometry(dx.shape));
    return this.unpadded(input, dx);
  }

  private scratch(n: number): Int32Array {
    if (this.scratchWinners.length !== n) this.scratchWinners = new Int32Array(n);
    return this.scratchWinners;
  }
}

/**
 * Mean over windows of `kSize` positions moved by `stride` (default kSize), per channel; a
 * padding's zeros count in the mean (PyTorch's default) unless countIncludePad is false. Backward
 * spreads δ / (the positions counted) over each window, adding up where windows overlap.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length + 2·padding − kSize) / stride⌋ + 1, chan), ⌈…⌉ with ceilMode.
 * @example
 * new AvgPool1D(2).forward(fromArray([1, 3], [1, 2, 1]))  // [[[2]]]
 */
export class AvgPool1D extends Pool1D {
  /** Its arguments and options, whose defaults its label leaves out. @internal */
  static readonly schema: ModuleSchema = AVG_POOL1D_SCHEMA;
  /** @internal */
  protected readonly fill = 0;
  /** Whether the padding's zeros count in the mean (PyTorch's `count_include_pad`). */
  readonly countIncludePad: boolean;

  /**
   * Builds the pooling layer.
   * @param kSize Positions per window.
   * @param stride Positions between two windows (default kSize: windows side by side).
   * @param options padding, ceilMode, countIncludePad.
   */
  constructor(kSize: number, stride?: number, options?: AvgPool1DOptions) {
    super('AvgPool1D', AVG_POOL1D_SCHEMA, kSize, stride, options, arguments.length - 3);
    this.countIncludePad = checkFlag('AvgPool1D', this.options, 'countIncludePad', true);
  }

  /** @internal */
  protected ownOptions(): Record<string, unknown> {
    return this.countIncludePad ? {} : { countIncludePad: false };
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const x = this.padded(input);
    backend().avgPool1dForward(x.data, y.data, ...this.geometry(x.shape));
    this.clipMeans(input, y.data, false, this.countIncludePad);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const dx = this.paddedGradient(input);
    backend().avgPool1dBackward(this.clipMeans(input, delta.data, true, this.countIncludePad), dx.data, ...this.geometry(dx.shape));
    return this.unpadded(input, dx);
  }
}

/**
 * Flattens every dimension after the first (a reshape: no copy, shares the buffer).
 *
 * Shape: (batch, d1, d2, ...) → (batch, d1·d2·...).
 * @example
 * new Flatten().forward(x)  // (32, 127, 32) → (32, 4064)
 */
export class Flatten extends Module {
  config(): ModuleConfig {
    return { type: 'Flatten', args: [] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 2) throw this.shapeError(['batch', '...'], inputShape);
    return [inputShape[0], inputShape.slice(1).reduce((a, b) => a * b, 1)];
  }

  forward(input: Tensor): Tensor {
    return { shape: Object.freeze(this.checkInput(input)), data: input.data };
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    return { shape: input.shape, data: delta.data };
  }
}

/** The arguments of {@link Reshape}: the shape is a list, checked by the constructor. @internal */
export const RESHAPE_SCHEMA: ModuleSchema = { args: [{ name: 'shape', kind: 'shape' }], options: null };

/**
 * Gives every sample a new shape with the same number of values (a reshape: no copy, shares the
 * buffer), as PyTorch's `Unflatten`/`view` and TensorFlow.js's `reshape` layer: the way from a
 * dense code back to an image in an autoencoder. One entry may be −1: it is inferred.
 *
 * Shape: (batch, d1, d2, ...) → (batch, ...shape), with d1·d2·... = the product of shape.
 * @example
 * new Reshape([7, 7, 32]).forward(x)  // (8, 1568) → (8, 7, 7, 32)
 * new Reshape([-1, 1]).forward(x)     // (8, 784) → (8, 784, 1)
 */
export class Reshape extends Module {
  /** The shape of one sample, as given (−1 kept). */
  readonly shape: readonly number[];

  /**
   * Builds the layer.
   * @param shape The shape of one sample (without the batch axis); one entry may be −1.
   */
  constructor(shape: readonly number[]) {
    super();
    checkArguments('Reshape', RESHAPE_SCHEMA, [shape]);
    this.shape = Object.freeze([...shape]);
  }

  config(): ModuleConfig {
    return { type: 'Reshape', args: [[...this.shape]] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    const values = inputShape.slice(1).reduce((a, b) => a * b, 1);
    const known = this.shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const free = this.shape.indexOf(-1);
    const target = this.shape.map((d) => (d === -1 ? values / known : d));
    if (inputShape.length < 2 || (free < 0 ? known !== values : values % known !== 0)) {
      const expected = free < 0 ? `${known}` : `a multiple of ${known}`;
      throw new RangeError(
        `${this.label()}: expected input with ${expected} values per sample to fill [${this.shape.join(', ')}], got (${inputShape.join(', ')}): ${values} per sample`,
      );
    }
    return [inputShape[0], ...target];
  }

  forward(input: Tensor): Tensor {
    return { shape: Object.freeze(this.checkInput(input)), data: input.data };
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    return { shape: input.shape, data: delta.data };
  }
}
