/**
 * Pooling over the length axis of channels-last tensors, and the reshapes Flatten and Reshape.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length − kSize) / stride⌋ + 1, chan).
 */
import { Tensor } from '../tensor';
import { backend } from '../backend';
import { windowCount } from '../backend/types';
import { Module, ModuleConfig } from './base';
import { ModuleSchema, checkArguments } from './schema';

/** The arguments of {@link MaxPool1D} and {@link AvgPool1D}: the stride defaults to the window. @internal */
export const POOL1D_SCHEMA: ModuleSchema = {
  args: [{ name: 'kSize' }, { name: 'stride', default: (v) => v.kSize }],
  options: null,
};

abstract class Pool1D extends Module {
  readonly kSize: number;
  readonly stride: number;

  constructor(who: string, kSize: number, stride: number | undefined) {
    super();
    const v = checkArguments(who, POOL1D_SCHEMA, [kSize, stride]);
    this.kSize = v.kSize;
    this.stride = v.stride;
  }

  config(): ModuleConfig {
    return { type: this.constructor.name, args: [this.kSize, this.stride] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3 || inputShape[1] < this.kSize || inputShape[2] < 1) {
      throw this.shapeError(['batch', `length >= ${this.kSize}`, 'chan >= 1'], inputShape);
    }
    return [inputShape[0], windowCount(inputShape[1], this.kSize, this.stride), inputShape[2]];
  }

  /** The shape arguments of the pool1d kernels for this input. @internal */
  geometry(input: Tensor): [number, number, number, number, number] {
    const [batch, length, chan] = input.shape;
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
 * Shape: (batch, length, chan) → (batch, ⌊(length − kSize) / stride⌋ + 1, chan).
 * @example
 * new MaxPool1D(2, 2).forward(x)  // (32, 254, 32) → (32, 127, 32)
 */
export class MaxPool1D extends Pool1D {
  /**
   * Builds the pooling layer.
   * @param kSize Positions per window.
   * @param stride Positions between two windows (default kSize: windows side by side).
   */
  constructor(kSize: number, stride?: number) {
    super('MaxPool1D', kSize, stride);
  }

  /** Winners computed where no record keeps them (called directly, or an input that may have changed). */
  private scratchWinners = new Int32Array(0);

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const saved = this.savedForBackward();
    const winners = saved ? saved.winners(y.data.length) : this.scratch(y.data.length);
    backend().maxPool1dForward(input.data, y.data, winners, ...this.geometry(input));
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
      k.maxPool1dForward(input.data, this.buffer('scratch', delta.shape).data, winners, ...this.geometry(input));
    }
    const dx = this.buffer('delta', input.shape);
    k.maxPool1dBackward(delta.data, winners, dx.data, ...this.geometry(input));
    return dx;
  }

  private scratch(n: number): Int32Array {
    if (this.scratchWinners.length !== n) this.scratchWinners = new Int32Array(n);
    return this.scratchWinners;
  }
}

/**
 * Mean over windows of `kSize` positions moved by `stride` (default kSize), per channel.
 * Backward spreads δ / kSize over each window, adding up where windows overlap.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length − kSize) / stride⌋ + 1, chan).
 * @example
 * new AvgPool1D(2).forward(fromArray([1, 3], [1, 2, 1]))  // [[[2]]]
 */
export class AvgPool1D extends Pool1D {
  /**
   * Builds the pooling layer.
   * @param kSize Positions per window.
   * @param stride Positions between two windows (default kSize: windows side by side).
   */
  constructor(kSize: number, stride?: number) {
    super('AvgPool1D', kSize, stride);
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    backend().avgPool1dForward(input.data, y.data, ...this.geometry(input));
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const dx = this.buffer('delta', input.shape);
    backend().avgPool1dBackward(delta.data, dx.data, ...this.geometry(input));
    return dx;
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
