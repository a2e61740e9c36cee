/**
 * The pure-TypeScript backend: the readable reference for every kernel, the
 * fallback when the native addon cannot load, and the baseline of the benchmarks.
 *
 * Loops are ordered so the innermost one walks memory contiguously (i-k-j for
 * row-major GEMM), which is most of what plain JavaScript can do for speed.
 */
import { Backend, windowCount } from './types';
import { checkConvArgs, checkGemmArgs, checkPoolArgs } from './validate';

function sgemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, offsetA: number, lda: number,
  b: Float32Array, offsetB: number, ldb: number,
  beta: number, c: Float32Array, offsetC: number, ldc: number,
): void {
  checkGemmArgs(transA, transB, m, n, k, alpha, a, offsetA, lda, b, offsetB, ldb, beta, c, offsetC, ldc);
  // Scale C first (beta = 0 overwrites, so NaN already in C does not survive).
  for (let i = 0; i < m; i++) {
    const row = offsetC + i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
  if (alpha === 0 || k === 0) return;
  // A(i, p) and B(p, j) as stored: A is (m, k) or, transposed, (k, m); B is (k, n) or (n, k).
  const aRow = transA ? 1 : lda;
  const aCol = transA ? lda : 1;
  if (!transB) {
    // i-p-j: the inner loop runs along a row of B and a row of C.
    for (let i = 0; i < m; i++) {
      const cRow = offsetC + i * ldc;
      for (let p = 0; p < k; p++) {
        const s = alpha * a[offsetA + i * aRow + p * aCol];
        if (s === 0) continue;
        const bRow = offsetB + p * ldb;
        for (let j = 0; j < n; j++) c[cRow + j] += s * b[bRow + j];
      }
    }
  } else {
    // B is (n, k): C(i, j) is a dot product of A's row i with B's row j.
    for (let i = 0; i < m; i++) {
      const cRow = offsetC + i * ldc;
      for (let j = 0; j < n; j++) {
        const bRow = offsetB + j * ldb;
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[offsetA + i * aRow + p * aCol] * b[bRow + p];
        c[cRow + j] += alpha * sum;
      }
    }
  }
}

function conv1dForward(
  x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array,
  batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
): void {
  checkConvArgs('conv1dForward', { x, w, y, bias }, batch, length, chanIn, chanOut, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  // Channels-last: the window of output t is the contiguous run x[b, t*stride .. t*stride+kSize-1, :],
  // i.e. kSize*chanIn floats, which meet the weight viewed as a (kSize*chanIn, chanOut) matrix.
  const window = kSize * chanIn;
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      const yRow = (bt * outLength + t) * chanOut;
      const xStart = (bt * length + t * stride) * chanIn;
      for (let o = 0; o < chanOut; o++) y[yRow + o] = bias ? bias[o] : 0;
      for (let r = 0; r < window; r++) {
        const xv = x[xStart + r];
        const wRow = r * chanOut;
        for (let o = 0; o < chanOut; o++) y[yRow + o] += xv * w[wRow + o];
      }
    }
  }
}

function conv1dBackwardInput(
  dy: Float32Array, w: Float32Array, dx: Float32Array,
  batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
): void {
  checkConvArgs('conv1dBackwardInput', { dy, w, dx }, batch, length, chanIn, chanOut, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  const window = kSize * chanIn;
  dx.fill(0, 0, batch * length * chanIn);
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      const dyRow = (bt * outLength + t) * chanOut;
      const xStart = (bt * length + t * stride) * chanIn;
      // Windows overlap when stride < kSize, so contributions add up.
      for (let r = 0; r < window; r++) {
        const wRow = r * chanOut;
        let sum = 0;
        for (let o = 0; o < chanOut; o++) sum += dy[dyRow + o] * w[wRow + o];
        dx[xStart + r] += sum;
      }
    }
  }
}

function conv1dBackwardWeight(
  x: Float32Array, dy: Float32Array, dw: Float32Array,
  batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
): void {
  checkConvArgs('conv1dBackwardWeight', { x, dy, dw }, batch, length, chanIn, chanOut, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  const window = kSize * chanIn;
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      const dyRow = (bt * outLength + t) * chanOut;
      const xStart = (bt * length + t * stride) * chanIn;
      for (let r = 0; r < window; r++) {
        const xv = x[xStart + r];
        const wRow = r * chanOut;
        for (let o = 0; o < chanOut; o++) dw[wRow + o] += xv * dy[dyRow + o];
      }
    }
  }
}

function maxPool1dForward(
  x: Float32Array, y: Float32Array, argmax: Int32Array,
  batch: number, length: number, chan: number, kSize: number, stride: number,
): void {
  checkPoolArgs('maxPool1dForward', { x, y, argmax }, batch, length, chan, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      for (let ch = 0; ch < chan; ch++) {
        const start = (bt * length + t * stride) * chan + ch;
        let best = start;
        let bestValue = x[start];
        for (let s = 1; s < kSize; s++) {
          const idx = start + s * chan;
          const v = x[idx];
          // NaN wins, so a NaN anywhere in the window reaches the output instead of hiding.
          if (v > bestValue || (v !== v && bestValue === bestValue)) {
            bestValue = v;
            best = idx;
          }
        }
        const o = (bt * outLength + t) * chan + ch;
        y[o] = bestValue;
        argmax[o] = best;
      }
    }
  }
}

function maxPool1dBackward(
  dy: Float32Array, argmax: Int32Array, dx: Float32Array,
  batch: number, length: number, chan: number, kSize: number, stride: number,
): void {
  checkPoolArgs('maxPool1dBackward', { dy, argmax, dx }, batch, length, chan, kSize, stride);
  const perSampleOut = windowCount(length, kSize, stride) * chan;
  const perSampleIn = length * chan;
  const outCount = batch * perSampleOut;
  // argmax may come from anywhere: check every index lies in its own sample before writing.
  for (let o = 0; o < outCount; o++) {
    const lo = Math.floor(o / perSampleOut) * perSampleIn;
    const idx = argmax[o];
    if (idx < lo || idx >= lo + perSampleIn) {
      throw new RangeError(`maxPool1dBackward: argmax[${o}] = ${idx} is outside its sample's range [${lo}, ${lo + perSampleIn})`);
    }
  }
  dx.fill(0, 0, batch * perSampleIn);
  for (let o = 0; o < outCount; o++) dx[argmax[o]] += dy[o];
}

function avgPool1dForward(
  x: Float32Array, y: Float32Array,
  batch: number, length: number, chan: number, kSize: number, stride: number,
): void {
  checkPoolArgs('avgPool1dForward', { x, y }, batch, length, chan, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  const scale = 1 / kSize;
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      const o = (bt * outLength + t) * chan;
      const start = (bt * length + t * stride) * chan;
      for (let ch = 0; ch < chan; ch++) {
        let sum = 0;
        for (let s = 0; s < kSize; s++) sum += x[start + s * chan + ch];
        y[o + ch] = sum * scale;
      }
    }
  }
}

function avgPool1dBackward(
  dy: Float32Array, dx: Float32Array,
  batch: number, length: number, chan: number, kSize: number, stride: number,
): void {
  checkPoolArgs('avgPool1dBackward', { dy, dx }, batch, length, chan, kSize, stride);
  const outLength = windowCount(length, kSize, stride);
  const scale = 1 / kSize;
  dx.fill(0, 0, batch * length * chan);
  for (let bt = 0; bt < batch; bt++) {
    for (let t = 0; t < outLength; t++) {
      const o = (bt * outLength + t) * chan;
      const start = (bt * length + t * stride) * chan;
      for (let s = 0; s < kSize; s++) {
        for (let ch = 0; ch < chan; ch++) dx[start + s * chan + ch] += dy[o + ch] * scale;
      }
    }
  }
}

/** The pure-TypeScript backend. */
export const jsBackend: Backend = {
  name: 'js',
  sgemm,
  conv1dForward,
  conv1dBackwardInput,
  conv1dBackwardWeight,
  maxPool1dForward,
  maxPool1dBackward,
  avgPool1dForward,
  avgPool1dBackward,
  getThreads: () => 1,
  setThreads: (n: number) => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be an integer in [1, 2^31-1], got ${n}`);
  },
};
