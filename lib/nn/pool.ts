/**
 * Pooling over the length axis of channels-last tensors, and Flatten.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length − kSize) / stride⌋ + 1, chan).
 */
import { Tensor } from '../tensor';
import { backend } from '../backend';
import { windowCount } from '../backend/types';
import { Module, ModuleConfig } from './module';
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
    if (inputShape.length !== 3 || inputShape[1] < this.kSize) {
      throw this.shapeError(['batch', `length >= ${this.kSize}`, 'chan'], inputShape);
    }
    return [inputShape[0], windowCount(inputShape[1], this.kSize, this.stride), inputShape[2]];
  }
}

/**
 * Maximum over windows of `kSize` positions moved by `stride` (default kSize), per channel.
 *
 * Backward routes each output's gradient to the position that won its window (the first
 * one on ties): ∂yₒ/∂xᵢ = 1 if i = argmax of window o, else 0, so
 * ∂L/∂xᵢ = Σ_{o : argmax(o) = i} δₒ — a sum, since overlapping windows (stride < kSize) can
 * share a winner. Inside a Sequential, forward's winners are kept for the backward pass of the
 * same input tensor (the Sequential owns the tensors in between and hands them back unchanged);
 * a standalone module recomputes them in backward, so an input rewritten in place between the
 * two calls routes the gradient by the values backward is given.
 *
 * Shape: (batch, length, chan) → (batch, ⌊(length − kSize) / stride⌋ + 1, chan).
 * @example
 * new MaxPool1D(2, 2).forward(x)  // (32, 254, 32) → (32, 127, 32)
 */
export class MaxPool1D extends Pool1D {
  constructor(kSize: number, stride?: number) {
    super('MaxPool1D', kSize, stride);
  }

  /** The argmax of the last forward pass and the input it was taken from. */
  private argmax = new Int32Array(0);
  private argmaxOf: Tensor | null = null;

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const [batch, length, chan] = input.shape;
    if (this.argmax.length !== y.data.length) this.argmax = new Int32Array(y.data.length);
    backend().maxPool1dForward(input.data, y.data, this.argmax, batch, length, chan, this.kSize, this.stride);
    // Kept only inside a Sequential: a standalone caller may rewrite its tensor before backward.
    this.argmaxOf = this.reusesBuffers() ? input : null;
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, length, chan] = input.shape;
    const k = backend();
    // The routing recorded by forward is reused when backward is asked about the same input
    // tensor (the training step); otherwise it is recomputed, never guessed.
    if (this.argmaxOf !== input || this.argmax.length !== delta.data.length) {
      if (this.argmax.length !== delta.data.length) this.argmax = new Int32Array(delta.data.length);
      k.maxPool1dForward(input.data, this.buffer('scratch', delta.shape).data, this.argmax, batch, length, chan, this.kSize, this.stride);
      this.argmaxOf = this.reusesBuffers() ? input : null;
    }
    const dx = this.buffer('delta', input.shape);
    k.maxPool1dBackward(delta.data, this.argmax, dx.data, batch, length, chan, this.kSize, this.stride);
    return dx;
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
  constructor(kSize: number, stride?: number) {
    super('AvgPool1D', kSize, stride);
  }

  forward(input: Tensor): Tensor {
    const out = this.checkInput(input);
    const y = this.buffer('output', out);
    const [batch, length, chan] = input.shape;
    backend().avgPool1dForward(input.data, y.data, batch, length, chan, this.kSize, this.stride);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const [batch, length, chan] = input.shape;
    const dx = this.buffer('delta', input.shape);
    backend().avgPool1dBackward(delta.data, dx.data, batch, length, chan, this.kSize, this.stride);
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
