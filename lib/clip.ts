/**
 * Gradient clipping, as PyTorch's `clip_grad_norm_` and `clip_grad_value_`: applied to the
 * gradients between the backward pass and the optimiser's step (`fit` does it with its
 * `clipGradNorm` and `clipGradValue` options).
 */
import type { Parameter } from './nn/base';
import { describe } from './tensor';

function checkParameters(who: string, params: unknown): readonly Parameter[] {
  if (!Array.isArray(params) || params.some((p) => p === null || typeof p !== 'object' || !(p.grad?.data instanceof Float32Array))) {
    throw new TypeError(`${who}: params must be an array of parameters (net.parameters()), got ${describe(params)}`);
  }
  return params;
}

function checkLimit(who: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`${who}: ${name} must be a positive finite number, got ${describe(v)}`);
  }
  return v;
}

/**
 * Scales all gradients together so that their global L2 norm (over every parameter, as one
 * vector) is at most `maxNorm`; leaves them unchanged when it already is.
 *
 * Three details differ from PyTorch's `clip_grad_norm_`: the scale is `maxNorm / norm` exactly,
 * where PyTorch divides by `norm + 1e-6` (its clipped norm falls short of `maxNorm` by the
 * fraction 1e-6 / (norm + 1e-6): negligible unless the norms are near 1e-6); the squares are
 * summed in double, so the norm of float32 gradients near 1e18 is finite here where PyTorch's
 * float32 sum overflows; and a NaN or infinite gradient leaves every gradient as it is, where
 * PyTorch's scale turns them all to NaN (or, for an infinite one, the finite ones to 0).
 *
 * Under a loss's `reduction: 'sum'` the gradients are sums over the batch, so a PyTorch
 * `max_norm` (tuned with its default mean) converts as `max_norm × batch`; the same holds for
 * {@link clipGradValue}'s threshold.
 *
 * @param params The parameters whose gradients are clipped (`net.parameters()`).
 * @param maxNorm The largest norm allowed, > 0.
 * @returns The global norm before clipping (NaN or Infinity when a gradient holds one; the
 *   gradients are then left as they are, for the non-finite check to report).
 * @example
 * net.zeroGrad();                          // gradients add up until cleared
 * net.backward(loss.backward(y, net.forward(x)));
 * clipGradNorm(net.parameters(), 1);
 * opt.step(net.parameters());
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  checkParameters('clipGradNorm', params);
  checkLimit('clipGradNorm', 'maxNorm', maxNorm);
  let squares = 0;
  for (const p of params) {
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
  }
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm) || norm <= maxNorm) return norm;
  const scale = maxNorm / norm;
  for (const p of params) {
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}

/**
 * Clamps every gradient value into [−clipValue, clipValue].
 *
 * @param params The parameters whose gradients are clipped (`net.parameters()`).
 * @param clipValue The largest magnitude allowed, > 0.
 * @example
 * clipGradValue(net.parameters(), 0.5);
 */
export function clipGradValue(params: readonly Parameter[], clipValue: number): void {
  checkParameters('clipGradValue', params);
  checkLimit('clipGradValue', 'clipValue', clipValue);
  for (const p of params) {
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) {
      if (g[i] > clipValue) g[i] = clipValue;
      else if (g[i] < -clipValue) g[i] = -clipValue;
    }
  }
}
