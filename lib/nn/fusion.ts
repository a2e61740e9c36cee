/**
 * Neighbouring modules that one kernel runs faster than two, as a table `Sequential` consults.
 * The modules know nothing of it: a pattern names the exact classes it fuses (a subclass, which
 * may override forward or backward, is never fused) and runs their passes from their public
 * fields, keeping what its backward needs in the record of its place, not in the modules.
 *
 * Only fusions that measurably pay are listed. Conv1D then MaxPool1D: the convolution's output,
 * the largest activation of a CNN, is pooled while still in cache and never written; training
 * the seed CNN (batch 32, native, one thread) is 9-13 % faster per step with it.
 */
import { Tensor, checkShape, zeros } from '../tensor';
import { backend } from '../backend';
import { Module, SavedForBackward } from './base';
import { Conv1D, padLength } from './conv';
import { MaxPool1D } from './pool';

/** How to run two neighbouring modules of a Sequential as one. @internal */
export interface Fusion {
  /** `Conv1D + MaxPool1D`, for messages and tests. */
  readonly name: string;
  /** Whether `first` followed by `second` is this pattern. */
  matches(first: Module, second: Module): boolean;
  /** {@link Module.infer} through both; the output lives in `saved` until the next pass there. */
  infer(first: Module, second: Module, input: Tensor, saved: SavedForBackward): Tensor;
  /**
   * The forward pass through both, keeping in `saved` what {@link Fusion.backward} needs; the
   * output lives in `saved` until the next pass there. `saved.inputHeld` must be true: the saved
   * state derives from `input`.
   */
  forward(first: Module, second: Module, input: Tensor, saved: SavedForBackward): Tensor;
  /**
   * The backward pass through both after {@link Fusion.forward} on the same `input` and `saved`,
   * given `delta` = ∂L/∂(output of `second`): adds the parameter gradients when
   * `parameterGradients`, returns ∂L/∂input when `inputGradient` (else null).
   */
  backward(
    first: Module,
    second: Module,
    input: Tensor,
    delta: Tensor,
    saved: SavedForBackward,
    parameterGradients: boolean,
    inputGradient: boolean,
  ): Tensor | null;
}

/** The output of `conv` then `pool` on `input`, in `saved`'s storage; the pooling's winners into `winners` unless null. */
function convPoolForward(conv: Conv1D, pool: MaxPool1D, input: Tensor, saved: SavedForBackward, keepWinners: boolean): Tensor {
  const out = pool.outputShape(conv.checkInput(input));
  const [batch, length] = input.shape;
  const p = conv.padding;
  const x = padLength(input.data, batch, length, conv.chanIn, p, p);
  const y = saved.fusedOutput(out);
  const winners = keepWinners ? saved.winners(y.data.length) : null;
  backend().conv1dMaxPoolForward(
    x,
    conv.weight.data,
    conv.bias?.data ?? null,
    y.data,
    winners,
    batch,
    length + 2 * p,
    conv.chanIn,
    conv.chanOut,
    conv.kSize,
    conv.stride,
    pool.kSize,
    pool.stride,
  );
  saved.winnersSaved = keepWinners;
  return y;
}

const conv1dMaxPool: Fusion = {
  name: 'Conv1D + MaxPool1D',

  matches: (first, second) => first.constructor === Conv1D && second.constructor === MaxPool1D,

  infer: (first, second, input, saved) => convPoolForward(first as Conv1D, second as MaxPool1D, input, saved, false),

  forward(first, second, input, saved) {
    if (!saved.inputHeld) throw new Error(`${first.label()}: the fused forward pass needs an input held until backward`);
    return convPoolForward(first as Conv1D, second as MaxPool1D, input, saved, true);
  },

  backward(first, second, input, delta, saved, parameterGradients, inputGradient) {
    const conv = first as Conv1D;
    const pool = second as MaxPool1D;
    const convShape = conv.checkInput(input);
    checkShape(delta, pool.outputShape(convShape), () => pool.label(), 'delta');
    if (!saved.winnersSaved) throw new Error(`${conv.label()}: the fused backward pass needs the fused forward pass first`);
    const winners = saved.winners(delta.data.length);
    const [batch, length] = input.shape;
    const p = conv.padding;
    const k = backend();
    if (parameterGradients) {
      // The pooling's gradient is gathered through the winners straight into the weight gradient.
      const x = padLength(input.data, batch, length, conv.chanIn, p, p);
      k.conv1dMaxPoolBackwardWeight(
        x,
        delta.data,
        winners,
        conv.weightGrad.data,
        batch,
        length + 2 * p,
        conv.chanIn,
        conv.chanOut,
        conv.kSize,
        conv.stride,
        pool.kSize,
        pool.stride,
      );
      // The bias gradient is the sum of the convolution's gradient, which is delta routed to the
      // winners: every pooled gradient lands somewhere, so it is the sum of delta.
      if (conv.biasGrad) k.sumRows(delta.data, delta.data.length / conv.chanOut, conv.chanOut, conv.biasGrad.data);
    }
    if (!inputGradient) return null;
    // ∂L/∂input, which a training step does not ask for: the pooling's backward into a fresh
    // tensor of the convolution's output shape, then the convolution's.
    const convDelta = zeros(convShape);
    k.maxPool1dBackward(delta.data, winners, convDelta.data, batch, convShape[1], conv.chanOut, pool.kSize, pool.stride);
    return conv.backwardDelta(input, convDelta);
  },
};

/** Every fusion Sequential may use, tried in order. @internal */
export const FUSIONS: readonly Fusion[] = [conv1dMaxPool];

/** The fusion for `first` followed by `second`, or null. @internal */
export function findFusion(first: Module, second: Module): Fusion | null {
  for (const f of FUSIONS) if (f.matches(first, second)) return f;
  return null;
}
