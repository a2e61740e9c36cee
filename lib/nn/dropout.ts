/**
 * Dropout: in training mode, each input value is zeroed with probability `p` and the others are
 * scaled by 1 / (1 − p) (inverted dropout, so evaluation needs no rescaling); in evaluation mode
 * the identity. The mask is drawn from neurone's seeded random stream (lib/random.ts), so a
 * seeded training drops the same values on every run.
 */
import { Tensor } from '../tensor';
import { globalRng } from '../random';
import { backend } from '../backend';
import { Module, ModuleConfig, replayingForward } from './base';
import { ModuleSchema, checkArguments } from './schema';

/** The arguments of {@link Dropout}. @internal */
export const DROPOUT_SCHEMA: ModuleSchema = {
  args: [{ name: 'p', kind: 'float32', default: 0.5 }],
  options: null,
};

/** The random state words handed to the backend's dropout kernel and back (one call at a time). */
const rngWords = new Int32Array(4);

/** What a forward pass in training mode drew, for the backward pass of the same place. */
class DropoutMask {
  /** Per input value: 0 (dropped) or 1 / (1 − p) (kept); empty after a forward that dropped nothing. */
  factors = new Float32Array(0);
  /** Whether the last forward pass dropped (training mode, p > 0); false: it was the identity. */
  dropped = false;
}

/**
 * Inverted dropout, as PyTorch's `nn.Dropout(p)`: in training mode each value is zeroed with
 * probability `p` and the kept ones are multiplied by 1 / (1 − p), so the expected output is the
 * input; in evaluation mode (`net.eval()`, and always inside `predict` and `evaluate`) the
 * identity. The backward pass multiplies δ by the same mask. Works on any input shape.
 *
 * The mask comes from the random stream `seed(n)` sets, one draw per value, so a seeded training
 * is reproducible. Inside a Sequential each place keeps its own mask; called directly, the
 * module's backward uses the mask of its last forward.
 *
 * Shape: any (batch, ...) → the same.
 * @example
 * const net = new Sequential(new Flatten(), new Linear(784, 256), new ReLU(), new Dropout(0.2), new Linear(256, 10));
 * await fit(net, loss, opt, loadMNIST());   // images (n, 28, 28, 1); drops 20 % of the hidden values in each step
 * predict(net, xTest);                // no dropping
 */
export class Dropout extends Module {
  /** The probability of zeroing each value, in [0, 1). */
  readonly p: number;
  /** The mask of the last forward pass when called directly (inside a Sequential, each place keeps its own). */
  private readonly directMask = new DropoutMask();

  /**
   * Builds the layer.
   * @param p The probability of zeroing each value in training mode, in [0, 1) (default 0.5).
   */
  constructor(p?: number) {
    super();
    const v = checkArguments('Dropout', DROPOUT_SCHEMA, [p]);
    // p = 1 would zero everything and scale by 1/0: PyTorch allows it, but it trains nothing.
    if (!(v.p >= 0 && v.p < 1)) throw new RangeError(`Dropout: p must be a number in [0, 1), got ${v.p}`);
    this.p = v.p;
  }

  config(): ModuleConfig {
    return { type: 'Dropout', args: [this.p] };
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) throw this.shapeError(['batch', '...'], inputShape);
    return [...inputShape];
  }

  /** The mask record of the current place, or the module's own when called directly. */
  private mask(): DropoutMask {
    const saved = this.savedForBackward();
    if (!saved) return this.directMask;
    if (saved.moduleState instanceof DropoutMask) return saved.moduleState;
    const record = new DropoutMask();
    saved.moduleState = record;
    return record;
  }

  forward(input: Tensor): Tensor {
    const shape = this.checkInput(input);
    const record = this.mask();
    const n = input.data.length;
    const drawn = record.dropped && record.factors.length === n;
    record.dropped = this.training && this.p > 0;
    // The identity shares the input's data, as Flatten does: inputs are read-only.
    if (!record.dropped) return { shape: input.shape, data: input.data };
    if (record.factors.length !== n) record.factors = new Float32Array(n);
    const factors = record.factors;
    const y = this.buffer('output', shape);
    if (drawn && replayingForward()) {
      // The forward the caller saw, again: its mask, and the random stream where it was.
      for (let i = 0; i < n; i++) y.data[i] = input.data[i] * factors[i];
      return y;
    }
    // The mask is drawn by the backend from the global stream's state, as uniform() < p would
    // draw it value by value (a third of the time natively).
    const rng = globalRng();
    rng.writeWords(rngWords);
    backend().dropoutForward(input.data, factors, y.data, rngWords, n, this.p, 1 / (1 - this.p));
    rng.readWords(rngWords);
    return y;
  }

  backwardDelta(input: Tensor, delta: Tensor): Tensor {
    this.checkBackward(input, delta);
    const record = this.mask();
    if (!record.dropped) return { shape: input.shape, data: delta.data };
    const n = delta.data.length;
    if (record.factors.length !== n) {
      throw new Error(
        `${this.label()}: backward called before forward on an input of this shape (training mode draws its mask in forward)`,
      );
    }
    const dx = this.buffer('delta', input.shape);
    for (let i = 0; i < n; i++) dx.data[i] = delta.data[i] * record.factors[i];
    return dx;
  }
}
