/**
 * The js backend's batch-normalisation kernels, the twins of native/batchnorm.cc: the same
 * formulas with the same double-precision sums (and eps rounded to float32, as the addon
 * receives it), so they agree with the addon's scalar path to float32 rounding, and with its
 * SIMD paths (float sums in blocks, see native/batchnorm_simd.h) to a few float roundings.
 * @internal
 */
import * as check from './ops.generated';

/** Per-channel mean and biased variance of a (rows, chan) x; see the op table. @internal */
export function batchNormStatistics(x: Float32Array, mean: Float32Array, variance: Float32Array, rows: number, chan: number): void {
  check.checkBatchNormStatistics(x, mean, variance, rows, chan);
  const sum = new Float64Array(chan);
  const squares = new Float64Array(chan);
  for (let r = 0; r < rows; r++) {
    const o = r * chan;
    for (let c = 0; c < chan; c++) sum[c] += x[o + c];
  }
  for (let c = 0; c < chan; c++) sum[c] = rows > 0 ? sum[c] / rows : 0;
  // Deviations about the mean (two passes): E[x²] − mean² cancels for a large offset.
  for (let r = 0; r < rows; r++) {
    const o = r * chan;
    for (let c = 0; c < chan; c++) {
      const d = x[o + c] - sum[c];
      squares[c] += d * d;
    }
  }
  for (let c = 0; c < chan; c++) {
    mean[c] = sum[c];
    variance[c] = rows > 0 ? squares[c] / rows : 0;
  }
}

/** 1 / sqrt(variance + eps) per channel, eps in float32 as the native kernel sees it. */
function inverseDeviations(variance: Float32Array, eps: number, chan: number): Float64Array {
  const inv = new Float64Array(chan);
  const eps32 = Math.fround(eps);
  for (let c = 0; c < chan; c++) inv[c] = 1 / Math.sqrt(variance[c] + eps32);
  return inv;
}

/** y = (x − mean) / sqrt(variance + eps) · scale + shift per channel; see the op table. @internal */
export function batchNormForward(
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array | null,
  shift: Float32Array | null,
  eps: number,
  y: Float32Array,
  rows: number,
  chan: number,
): void {
  check.checkBatchNormForward(x, mean, variance, scale, shift, eps, y, rows, chan);
  const gain = inverseDeviations(variance, eps, chan);
  if (scale) for (let c = 0; c < chan; c++) gain[c] *= scale[c];
  for (let r = 0; r < rows; r++) {
    const o = r * chan;
    for (let c = 0; c < chan; c++) y[o + c] = (x[o + c] - mean[c]) * gain[c] + (shift ? shift[c] : 0);
  }
}

/** The gradients of batchNormForward (through the batch statistics when `training`); see the op table. @internal */
export function batchNormBackward(
  x: Float32Array,
  dy: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array | null,
  eps: number,
  training: boolean,
  dx: Float32Array | null,
  dscale: Float32Array | null,
  dshift: Float32Array | null,
  rows: number,
  chan: number,
): void {
  check.checkBatchNormBackward(x, dy, mean, variance, scale, eps, training, dx, dscale, dshift, rows, chan);
  const inv = inverseDeviations(variance, eps, chan);
  const sumDy = new Float64Array(chan);
  const sumDyXhat = new Float64Array(chan);
  if (dscale || dshift || (dx && training)) {
    for (let r = 0; r < rows; r++) {
      const o = r * chan;
      for (let c = 0; c < chan; c++) {
        sumDy[c] += dy[o + c];
        sumDyXhat[c] += dy[o + c] * ((x[o + c] - mean[c]) * inv[c]);
      }
    }
  }
  if (dscale) for (let c = 0; c < chan; c++) dscale[c] += sumDyXhat[c];
  if (dshift) for (let c = 0; c < chan; c++) dshift[c] += sumDy[c];
  if (!dx || rows === 0) return;
  const gain = new Float64Array(chan);
  const meanDy = new Float64Array(chan);
  const meanDyXhat = new Float64Array(chan);
  for (let c = 0; c < chan; c++) {
    gain[c] = inv[c] * (scale ? scale[c] : 1);
    if (training) {
      meanDy[c] = sumDy[c] / rows;
      meanDyXhat[c] = sumDyXhat[c] / rows;
    }
  }
  for (let r = 0; r < rows; r++) {
    const o = r * chan;
    for (let c = 0; c < chan; c++) {
      const xhat = (x[o + c] - mean[c]) * inv[c];
      // dy read before dx is written, element by element: dx may be dy.
      dx[o + c] = gain[c] * (dy[o + c] - meanDy[c] - xhat * meanDyXhat[c]);
    }
  }
}
