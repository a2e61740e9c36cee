/**
 * Neighbouring modules that one kernel runs faster than two, as a table `Sequential` consults.
 * The modules know nothing of it: a pattern names the exact classes it fuses (a subclass, which
 * may override forward or backward, is never fused) and runs their passes from their public
 * fields, keeping what its backward needs in the record of its place, not in the modules.
 *
 * Only fusions that measurably pay are listed:
 * - Conv1D then MaxPool1D: the convolution's output, the largest activation of a CNN, is pooled
 *   while still in cache and never written; training the seed CNN (batch 32, native, one thread)
 *   is 9-13 % faster per step with it. Its backward pays only where no ∂L/∂input is asked, so a
 *   training step fuses it at the head of a network only.
 * - ReLU then MaxPool1D or MaxPool2D, anywhere: pooled first, the ReLU runs on the pooled output
 *   (a quarter of the activation under 2×2 windows), and neither pass writes or reads the
 *   rectified activation.
 */
import { Tensor, checkShape, zeros } from '../tensor';
import { backend } from '../backend';
import { Activation } from '../backend/types';
import { Module, SavedForBackward } from './base';
import { Conv1D, padLength } from './conv';
import { MaxPool2D } from './conv2d';
import { ReLU } from './activations';
import { MaxPool1D } from './pool';

/** How to run two neighbouring modules of a Sequential as one. @internal */
export interface Fusion {
  /** `Conv1D + MaxPool1D`, for messages and tests. */
  readonly name: string;
  /**
   * Whether a training step fuses the pair only at the head of a network, where no ∂L/∂input is
   * asked: the fused backward then makes ∂L/∂input the slow way. Inference fuses it anywhere.
   */
  readonly headOnly: boolean;
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
  headOnly: true,

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

/*
 * ReLU then max pooling, computed as max pooling then ReLU, with the same bits forward and
 * backward. ReLU is monotone and keeps positive values, so relu(max w) = max(relu w) for every
 * window w. Gradient: the separate passes send δ to the winner p of the rectified window, times
 * relu'(x_p). Where max w > 0 the rectified window's first maximum is the raw window's (entries
 * ≤ 0 became 0 < max), x_p > 0 and δ arrives whole. Where max w ≤ 0 every entry of the rectified
 * window is 0, so δ lands on a pixel with x_p ≤ 0 and is zeroed; the fused pass zeroes it first,
 * as relu'(y) with y = relu(max w) = 0. A NaN stays where it is in both (ReLU keeps NaN), so the
 * pooling sees it at the same place. Overlapping windows add the same terms in the same order.
 */

/** The max pooling's forward kernel on `input`, winners into `winners`. */
function maxPoolForward(pool: MaxPool1D | MaxPool2D, input: Tensor, y: Float32Array, winners: Int32Array): void {
  const k = backend();
  if (pool instanceof MaxPool2D) k.maxPool2dForward(input.data, y, winners, ...pool.geometry(input));
  else k.maxPool1dForward(input.data, y, winners, ...pool.geometry(input));
}

/** The max pooling's backward kernel: `dx` of `input`'s shape from `dy` through `winners`. */
function maxPoolBackward(pool: MaxPool1D | MaxPool2D, input: Tensor, dy: Float32Array, winners: Int32Array, dx: Float32Array): void {
  const k = backend();
  if (pool instanceof MaxPool2D) k.maxPool2dBackward(dy, winners, dx, ...pool.geometry(input));
  else k.maxPool1dBackward(dy, winners, dx, ...pool.geometry(input));
}

/** The pooled and rectified output of `input` in `saved`'s storage, the winners in its record. */
function reluPoolForward(relu: ReLU, pool: MaxPool1D | MaxPool2D, input: Tensor, saved: SavedForBackward): Tensor {
  const y = saved.fusedOutput(pool.outputShape(relu.checkInput(input)));
  maxPoolForward(pool, input, y.data, saved.winners(y.data.length));
  backend().activationForward(Activation.ReLU, 0, y.data, y.data, y.data.length);
  saved.winnersSaved = true;
  return y;
}

const isMaxPool = (m: Module): m is MaxPool1D | MaxPool2D => m.constructor === MaxPool1D || m.constructor === MaxPool2D;

const reluMaxPool: Fusion = {
  name: 'ReLU + MaxPool',
  headOnly: false,

  matches: (first, second) => first.constructor === ReLU && isMaxPool(second),

  infer: (first, second, input, saved) => reluPoolForward(first as ReLU, second as MaxPool1D | MaxPool2D, input, saved),

  forward(first, second, input, saved) {
    if (!saved.inputHeld) throw new Error(`${first.label()}: the fused forward pass needs an input held until backward`);
    return reluPoolForward(first as ReLU, second as MaxPool1D | MaxPool2D, input, saved);
  },

  backward(first, second, input, delta, saved, parameterGradients, inputGradient) {
    const pool = second as MaxPool1D | MaxPool2D;
    const out = pool.outputShape(first.checkInput(input));
    checkShape(delta, out, () => pool.label(), 'delta');
    if (!saved.winnersSaved) throw new Error(`${first.label()}: the fused backward pass needs the fused forward pass first`);
    void parameterGradients; // neither module has parameters
    if (!inputGradient) return null;
    const n = delta.data.length;
    const y = saved.fusedOutput(out).data;
    const masked = saved.fusedScratch(n);
    backend().activationBackward(Activation.ReLU, 0, y, y, delta.data, masked, n);
    const dx = saved.fusedDelta(input.shape);
    maxPoolBackward(pool, input, masked, saved.winners(n), dx.data);
    return dx;
  },
};

/** Every fusion Sequential may use, tried in order. @internal */
export const FUSIONS: readonly Fusion[] = [conv1dMaxPool, reluMaxPool];

/** The fusion for `first` followed by `second`, or null. @internal */
export function findFusion(first: Module, second: Module): Fusion | null {
  for (const f of FUSIONS) if (f.matches(first, second)) return f;
  return null;
}
