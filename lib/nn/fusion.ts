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
 * - Conv1D, ReLU, then MaxPool1D (the usual head of a CNN): the same, the ReLU run on the pooled
 *   output as below.
 * - ReLU then MaxPool1D or MaxPool2D, anywhere: pooled first, the ReLU runs on the pooled output
 *   (a quarter of the activation under 2×2 windows), and neither pass writes or reads the
 *   rectified activation.
 * A max pooling with padding or ceilMode is never fused: the joint kernels read the input as it
 * is, without the −∞ border the pooling adds.
 */
import { Tensor, checkShape, zeros } from '../tensor';
import { backend } from '../backend';
import { Activation } from '../backend/types';
import { Module, SavedForBackward } from './base';
import { Conv1D, padLength } from './conv';
import { MaxPool2D } from './conv2d';
import { ReLU } from './activations';
import { MaxPool1D } from './pool';

/**
 * How to run neighbouring modules of a Sequential as one: the group modules[at], …,
 * modules[at + size − 1]. A group is passed as the Sequential's list and the group's first index,
 * so that a training step allocates nothing for it. @internal
 */
export interface Fusion {
  /** `Conv1D + MaxPool1D`, for messages and tests. */
  readonly name: string;
  /** How many modules the pattern runs as one. */
  readonly size: number;
  /**
   * Whether a training step fuses the group only at the head of a network, where no ∂L/∂input is
   * asked: the fused backward then makes ∂L/∂input the slow way. Inference fuses it anywhere.
   */
  readonly headOnly: boolean;
  /** Whether modules[at .. at + size) is this pattern (the caller checks that they exist). */
  matches(modules: readonly Module[], at: number): boolean;
  /** {@link Module.infer} through the group; the output lives in `saved` until the next pass there. */
  infer(modules: readonly Module[], at: number, input: Tensor, saved: SavedForBackward): Tensor;
  /**
   * The forward pass through the group, keeping in `saved` what {@link Fusion.backward} needs; the
   * output lives in `saved` until the next pass there. `saved.inputHeld` must be true: the saved
   * state derives from `input`.
   */
  forward(modules: readonly Module[], at: number, input: Tensor, saved: SavedForBackward): Tensor;
  /**
   * The backward pass through the group after {@link Fusion.forward} on the same `input` and
   * `saved`, given `delta` = ∂L/∂(output of its last module): adds the parameter gradients when
   * `parameterGradients`, returns ∂L/∂input when `inputGradient` (else null).
   */
  backward(
    modules: readonly Module[],
    at: number,
    input: Tensor,
    delta: Tensor,
    saved: SavedForBackward,
    parameterGradients: boolean,
    inputGradient: boolean,
  ): Tensor | null;
}

/**
 * What the joint kernels of `conv` then `pool` read of `input`: the input with the convolution's
 * zero padding, and the geometry arguments they share (batch, padded length, channels in and
 * out, kernel size and stride, pooling window and stride).
 */
function jointArguments(conv: Conv1D, pool: MaxPool1D, input: Tensor) {
  const [batch, length] = input.shape;
  const [p, q] = [conv.padding, conv.paddingEnd];
  const x = padLength(input.data, batch, length, conv.chanIn, p, q);
  const geometry = [batch, length + p + q, conv.chanIn, conv.chanOut, conv.kSize, conv.stride, pool.kSize, pool.stride] as const;
  return { x, geometry };
}

/** The output of `conv` then `pool` on `input`, in `saved`'s storage; the pooling's winners into `winners` unless null. */
function convPoolForward(conv: Conv1D, pool: MaxPool1D, input: Tensor, saved: SavedForBackward, keepWinners: boolean): Tensor {
  const out = pool.outputShape(conv.checkInput(input));
  const { x, geometry } = jointArguments(conv, pool, input);
  const y = saved.fusedOutput(out);
  const winners = keepWinners ? saved.winners(y.data.length) : null;
  backend().conv1dMaxPoolForward(x, conv.weight.data, conv.bias?.data ?? null, y.data, winners, ...geometry);
  saved.winnersSaved = keepWinners;
  return y;
}

/**
 * The backward pass of `conv` then `pool` after {@link convPoolForward}, given `delta` =
 * ∂L/∂(pooled output) and the convolution's output shape, checked by the caller; what
 * {@link Fusion.backward} returns.
 */
function convPoolBackward(
  conv: Conv1D,
  pool: MaxPool1D,
  input: Tensor,
  convShape: number[],
  delta: Float32Array,
  saved: SavedForBackward,
  parameterGradients: boolean,
  inputGradient: boolean,
): Tensor | null {
  const winners = saved.winners(delta.length);
  const k = backend();
  if (parameterGradients) {
    // The pooling's gradient is gathered through the winners straight into the weight gradient.
    const { x, geometry } = jointArguments(conv, pool, input);
    k.conv1dMaxPoolBackwardWeight(x, delta, winners, conv.weightGrad.data, ...geometry);
    // The bias gradient is the sum of the convolution's gradient, which is delta routed to the
    // winners: every pooled gradient lands somewhere, so it is the sum of delta.
    if (conv.biasGrad) k.sumRows(delta, delta.length / conv.chanOut, conv.chanOut, conv.biasGrad.data);
  }
  if (!inputGradient) return null;
  // ∂L/∂input, which a training step does not ask for: the pooling's backward into a fresh
  // tensor of the convolution's output shape, then the convolution's.
  const convDelta = zeros(convShape);
  k.maxPool1dBackward(delta, winners, convDelta.data, input.shape[0], convShape[1], conv.chanOut, pool.kSize, pool.stride);
  return conv.backwardDelta(input, convDelta);
}

/**
 * Conv1D then MaxPool1D, with a ReLU between them when `rectified` (the usual head of a CNN). The
 * ReLU commutes with the pooling (see the ReLU + MaxPool fusion below), so that group is the pair,
 * then the ReLU on the pooled output; backward, the ReLU's gradient on the pooled delta, then the
 * pair's. The (rectified) convolution is never written, nor its gradient: for the deep CNN's first
 * layer (1 -> 64, k3, pool 8/2, batch 32), the joint passes took 115 + 151 us on AVX2 against
 * 139 + 222 us for the convolution then the fused ReLU + MaxPool.
 */
function convPoolFusion(rectified: boolean): Fusion {
  const size = rectified ? 3 : 2;
  const convAt = (modules: readonly Module[], at: number) => modules[at] as Conv1D;
  const poolAt = (modules: readonly Module[], at: number) => modules[at + size - 1] as MaxPool1D;
  const run = (modules: readonly Module[], at: number, input: Tensor, saved: SavedForBackward, keepWinners: boolean) => {
    const y = convPoolForward(convAt(modules, at), poolAt(modules, at), input, saved, keepWinners);
    if (rectified) backend().activationForward(Activation.ReLU, 0, y.data, y.data, y.data.length);
    return y;
  };
  return {
    name: rectified ? 'Conv1D + ReLU + MaxPool1D' : 'Conv1D + MaxPool1D',
    size,
    headOnly: true,

    matches: (modules, at) =>
      modules[at].constructor === Conv1D &&
      (!rectified || modules[at + 1].constructor === ReLU) &&
      isMaxPool(modules[at + size - 1]) &&
      modules[at + size - 1].constructor === MaxPool1D,

    infer: (modules, at, input, saved) => run(modules, at, input, saved, false),

    forward(modules, at, input, saved) {
      if (!saved.inputHeld) throw new Error(`${modules[at].label()}: the fused forward pass needs an input held until backward`);
      return run(modules, at, input, saved, true);
    },

    backward(modules, at, input, delta, saved, parameterGradients, inputGradient) {
      const conv = convAt(modules, at);
      const pool = poolAt(modules, at);
      const convShape = conv.checkInput(input);
      const out = pool.outputShape(convShape);
      checkShape(delta, out, () => pool.label(), 'delta');
      if (!saved.winnersSaved) throw new Error(`${conv.label()}: the fused backward pass needs the fused forward pass first`);
      const pooledDelta = rectified ? rectifiedDelta(saved.fusedOutput(out).data, delta, saved) : delta.data;
      return convPoolBackward(conv, pool, input, convShape, pooledDelta, saved, parameterGradients, inputGradient);
    },
  };
}

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
  if (pool instanceof MaxPool2D) k.maxPool2dForward(input.data, y, winners, ...pool.geometry(input.shape));
  else k.maxPool1dForward(input.data, y, winners, ...pool.geometry(input.shape));
}

/** The max pooling's backward kernel: `dx` of `input`'s shape from `dy` through `winners`. */
function maxPoolBackward(pool: MaxPool1D | MaxPool2D, input: Tensor, dy: Float32Array, winners: Int32Array, dx: Float32Array): void {
  const k = backend();
  if (pool instanceof MaxPool2D) k.maxPool2dBackward(dy, winners, dx, ...pool.geometry(input.shape));
  else k.maxPool1dBackward(dy, winners, dx, ...pool.geometry(input.shape));
}

/** The pooled and rectified output of `input` in `saved`'s storage, the winners in its record. */
function reluPoolForward(relu: ReLU, pool: MaxPool1D | MaxPool2D, input: Tensor, saved: SavedForBackward): Tensor {
  const y = saved.fusedOutput(pool.outputShape(relu.checkInput(input)));
  maxPoolForward(pool, input, y.data, saved.winners(y.data.length));
  backend().activationForward(Activation.ReLU, 0, y.data, y.data, y.data.length);
  saved.winnersSaved = true;
  return y;
}

/** A max pooling the joint kernels run: one without padding or ceiling (they read the input as it is). */
const isMaxPool = (m: Module): m is MaxPool1D | MaxPool2D =>
  (m.constructor === MaxPool1D || m.constructor === MaxPool2D) && (m as MaxPool1D | MaxPool2D).unbordered;

/** ∂L/∂(pooled input) of a ReLU run on the pooled output `y`, given `delta` = ∂L/∂y, in `saved`'s scratch. */
function rectifiedDelta(y: Float32Array, delta: Tensor, saved: SavedForBackward): Float32Array {
  const n = delta.data.length;
  const masked = saved.fusedScratch(n);
  backend().activationBackward(Activation.ReLU, 0, y, y, delta.data, masked, n);
  return masked;
}

const reluMaxPool: Fusion = {
  name: 'ReLU + MaxPool',
  size: 2,
  headOnly: false,

  matches: (modules, at) => modules[at].constructor === ReLU && isMaxPool(modules[at + 1]),

  infer: (modules, at, input, saved) => reluPoolForward(modules[at] as ReLU, modules[at + 1] as MaxPool1D | MaxPool2D, input, saved),

  forward(modules, at, input, saved) {
    if (!saved.inputHeld) throw new Error(`${modules[at].label()}: the fused forward pass needs an input held until backward`);
    return reluPoolForward(modules[at] as ReLU, modules[at + 1] as MaxPool1D | MaxPool2D, input, saved);
  },

  backward(modules, at, input, delta, saved, parameterGradients, inputGradient) {
    const relu = modules[at];
    const pool = modules[at + 1] as MaxPool1D | MaxPool2D;
    const out = pool.outputShape(relu.checkInput(input));
    checkShape(delta, out, () => pool.label(), 'delta');
    if (!saved.winnersSaved) throw new Error(`${relu.label()}: the fused backward pass needs the fused forward pass first`);
    void parameterGradients; // neither module has parameters
    if (!inputGradient) return null;
    const masked = rectifiedDelta(saved.fusedOutput(out).data, delta, saved);
    const dx = saved.fusedDelta(input.shape);
    maxPoolBackward(pool, input, masked, saved.winners(delta.data.length), dx.data);
    return dx;
  },
};

/** Every fusion Sequential may use, tried in order (a longer group before a pair it starts with). @internal */
export const FUSIONS: readonly Fusion[] = [convPoolFusion(true), convPoolFusion(false), reluMaxPool];

/** The fusion whose pattern is exactly `modules`, or null. @internal */
export function findFusion(...modules: Module[]): Fusion | null {
  for (const f of FUSIONS) if (f.size === modules.length && f.matches(modules, 0)) return f;
  return null;
}

/**
 * The fusion of the group starting at modules[at], or null: the first of the table that fits
 * there, leaving out the head-only ones unless `head`. @internal
 */
export function fusionAt(modules: readonly Module[], at: number, head: boolean): Fusion | null {
  for (const f of FUSIONS) if ((head || !f.headOnly) && at + f.size <= modules.length && f.matches(modules, at)) return f;
  return null;
}
