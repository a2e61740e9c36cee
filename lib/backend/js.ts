/**
 * The pure-TypeScript backend: the readable reference for every kernel, the
 * fallback when the native addon cannot load, and the baseline of the benchmarks.
 *
 * Loops are ordered so the innermost one walks memory contiguously, and the
 * GEMM (which also serves the convolutions) keeps 4×4 blocks of sums in local
 * variables: most of what plain JavaScript can do for speed.
 */
import { Activation, Backend, MAX_THREADS, windowCount } from './types';
import { msg } from './messages.generated';
import * as check from './ops.generated';
import { batchNormStatistics, batchNormForward, batchNormBackward } from './js-batchnorm';
import { Rng } from '../random';

function sgemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  offsetA: number,
  lda: number,
  b: Float32Array,
  offsetB: number,
  ldb: number,
  beta: number,
  c: Float32Array,
  offsetC: number,
  ldc: number,
): void {
  check.checkSgemm(transA, transB, m, n, k, alpha, a, offsetA, lda, b, offsetB, ldb, beta, c, offsetC, ldc);
  // Scale C first (beta = 0 overwrites, so NaN already in C does not survive).
  for (let i = 0; i < m; i++) {
    const row = offsetC + i * ldc;
    if (beta === 0 && n > 0) c.fill(0, row, row + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
  if (alpha === 0 || k === 0) return;
  // A(i, p) and B(p, j) as stored: A is (m, k) or, transposed, (k, m); B is (k, n) or (n, k).
  accumulateProduct(
    m,
    n,
    k,
    alpha,
    a,
    offsetA,
    transA ? 1 : lda,
    transA ? lda : 1,
    b,
    offsetB,
    transB ? 1 : ldb,
    transB ? ldb : 1,
    c,
    offsetC,
    ldc,
  );
}

/**
 * C += alpha · A·B for C (m, n), with A(i, p) = a[oa + i·ar + p·ac] and B(p, j) = b[ob + p·br + j·bc].
 *
 * Blocks of 4×4 outputs: the sixteen sums stay in local variables, which V8 keeps unboxed in
 * registers, so each step along p loads 4 values of A and 4 of B for 16 multiply-adds. A plain
 * triple loop loads and stores C for every multiply-add instead, about 3× slower.
 */
function accumulateProduct(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  oa: number,
  ar: number,
  ac: number,
  b: Float32Array,
  ob: number,
  br: number,
  bc: number,
  c: Float32Array,
  oc: number,
  ldc: number,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0,
        c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0,
        c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      let pa = oa + i * ar;
      let pb = ob + j * bc;
      for (let p = 0; p < k; p++, pa += ac, pb += br) {
        const b0 = b[pb],
          b1 = b[pb + bc],
          b2 = b[pb + 2 * bc],
          b3 = b[pb + 3 * bc];
        let x = a[pa];
        c00 += x * b0;
        c01 += x * b1;
        c02 += x * b2;
        c03 += x * b3;
        x = a[pa + ar];
        c10 += x * b0;
        c11 += x * b1;
        c12 += x * b2;
        c13 += x * b3;
        x = a[pa + 2 * ar];
        c20 += x * b0;
        c21 += x * b1;
        c22 += x * b2;
        c23 += x * b3;
        x = a[pa + 3 * ar];
        c30 += x * b0;
        c31 += x * b1;
        c32 += x * b2;
        c33 += x * b3;
      }
      let q = oc + i * ldc + j;
      c[q] += alpha * c00;
      c[q + 1] += alpha * c01;
      c[q + 2] += alpha * c02;
      c[q + 3] += alpha * c03;
      q += ldc;
      c[q] += alpha * c10;
      c[q + 1] += alpha * c11;
      c[q + 2] += alpha * c12;
      c[q + 3] += alpha * c13;
      q += ldc;
      c[q] += alpha * c20;
      c[q + 1] += alpha * c21;
      c[q + 2] += alpha * c22;
      c[q + 3] += alpha * c23;
      q += ldc;
      c[q] += alpha * c30;
      c[q + 1] += alpha * c31;
      c[q + 2] += alpha * c32;
      c[q + 3] += alpha * c33;
    }
    if (j < n) accumulateDots(i, i + 4, j, n);
  }
  if (i < m) accumulateDots(i, m, 0, n);

  // The ragged edges, one dot product per output.
  function accumulateDots(i0: number, i1: number, j0: number, j1: number): void {
    for (let ii = i0; ii < i1; ii++) {
      for (let jj = j0; jj < j1; jj++) {
        let sum = 0;
        let pa = oa + ii * ar;
        let pb = ob + jj * bc;
        for (let p = 0; p < k; p++, pa += ac, pb += br) sum += a[pa] * b[pb];
        c[oc + ii * ldc + jj] += alpha * sum;
      }
    }
  }
}

function conv1dForward(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  batch: number,
  length: number,
  chanIn: number,
  chanOut: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkConv1dForward(x, w, bias, y, batch, length, chanIn, chanOut, kSize, stride);
  if (outLength === 0) return; // no windows: nothing to compute, however large the batch
  // Channels-last: the window of output t is the contiguous run x[b, t*stride .. t*stride+kSize-1, :],
  // i.e. kSize*chanIn floats, which meet the weight viewed as a (kSize*chanIn, chanOut) matrix. So
  // y_b = X_b · W with X_b the input read with a row stride of stride*chanIn (rows overlap).
  const window = kSize * chanIn;
  for (let bt = 0; bt < batch; bt++) {
    const y0 = bt * outLength * chanOut;
    for (let t = 0; t < outLength; t++) {
      for (let o = 0; o < chanOut; o++) y[y0 + t * chanOut + o] = bias ? bias[o] : 0;
    }
    accumulateProduct(outLength, chanOut, window, 1, x, bt * length * chanIn, stride * chanIn, 1, w, 0, chanOut, 1, y, y0, chanOut);
  }
}

/** The convolution (and its gradient) the conv1dMaxPool* functions go through, kept between calls. */
let pooledConvScratch = new Float32Array(0);
let pooledArgmaxScratch = new Int32Array(0);

function convScratch(size: number): Float32Array {
  if (pooledConvScratch.length < size) pooledConvScratch = new Float32Array(size);
  return pooledConvScratch.subarray(0, size);
}

function conv1dMaxPoolForward(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  argmax: Int32Array | null,
  batch: number,
  length: number,
  chanIn: number,
  chanOut: number,
  kSize: number,
  stride: number,
  poolSize: number,
  poolStride: number,
): void {
  const { pooled: outputs, outLength: convLength } = check.checkConv1dMaxPoolForward(
    x,
    w,
    bias,
    y,
    argmax,
    batch,
    length,
    chanIn,
    chanOut,
    kSize,
    stride,
    poolSize,
    poolStride,
  );
  if (outputs === 0) return;
  // The reference path: the two kernels one after the other, through kept scratch buffers.
  const conv = convScratch(batch * convLength * chanOut);
  if (!argmax && pooledArgmaxScratch.length < outputs) pooledArgmaxScratch = new Int32Array(outputs);
  conv1dForward(x, w, bias, conv, batch, length, chanIn, chanOut, kSize, stride);
  maxPool1dForward(conv, y, argmax ?? pooledArgmaxScratch, batch, convLength, chanOut, poolSize, poolStride);
}

function conv1dMaxPoolBackwardWeight(
  x: Float32Array,
  dy: Float32Array,
  argmax: Int32Array,
  dw: Float32Array,
  batch: number,
  length: number,
  chanIn: number,
  chanOut: number,
  kSize: number,
  stride: number,
  poolSize: number,
  poolStride: number,
): void {
  // argmaxCopy: checked and used, never argmax itself, which may sit in a SharedArrayBuffer a Worker writes meanwhile.
  const {
    pooled,
    outLength: convLength,
    argmaxCopy: arg,
  } = check.checkConv1dMaxPoolBackwardWeight(x, dy, argmax, dw, batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride);
  if (pooled === 0) return;
  // Refused before dw is touched, as the native kernel leaves it.
  const error = argmaxOutsideWindow('conv1dMaxPoolBackwardWeight', arg, batch, convLength, chanOut, poolSize, poolStride);
  if (error) throw error;
  const dconv = convScratch(batch * convLength * chanOut);
  maxPool1dBackward(dy, arg, dconv, batch, convLength, chanOut, poolSize, poolStride);
  conv1dBackwardWeight(x, dconv, dw, batch, length, chanIn, chanOut, kSize, stride);
}

function conv1dBackwardInput(
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  batch: number,
  length: number,
  chanIn: number,
  chanOut: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkConv1dBackwardInput(dy, w, dx, batch, length, chanIn, chanOut, kSize, stride);
  const window = kSize * chanIn;
  // Nothing to clear may mean a detached (length 0) array, on which even an empty fill throws.
  if (batch * length * chanIn > 0) dx.fill(0, 0, batch * length * chanIn);
  if (outLength === 0) return;
  // dX_b += dy_b · Wᵀ written through X_b's overlapping rows (row stride stride*chanIn): every
  // output element is a separate read-add-write, so overlapping windows add up.
  for (let bt = 0; bt < batch; bt++) {
    accumulateProduct(
      outLength,
      window,
      chanOut,
      1,
      dy,
      bt * outLength * chanOut,
      chanOut,
      1,
      w,
      0,
      1,
      chanOut,
      dx,
      bt * length * chanIn,
      stride * chanIn,
    );
  }
}

function conv1dBackwardWeight(
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  batch: number,
  length: number,
  chanIn: number,
  chanOut: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkConv1dBackwardWeight(x, dy, dw, batch, length, chanIn, chanOut, kSize, stride);
  if (outLength === 0) return; // no windows: nothing to compute, however large the batch
  const window = kSize * chanIn;
  // dW += X_bᵀ · dy_b for each sample, X_b as in conv1dForward.
  for (let bt = 0; bt < batch; bt++) {
    accumulateProduct(
      window,
      chanOut,
      outLength,
      1,
      x,
      bt * length * chanIn,
      1,
      stride * chanIn,
      dy,
      bt * outLength * chanOut,
      chanOut,
      1,
      dw,
      0,
      chanOut,
    );
  }
}

function maxPool1dForward(
  x: Float32Array,
  y: Float32Array,
  argmax: Int32Array,
  batch: number,
  length: number,
  chan: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkMaxPool1dForward(x, y, argmax, batch, length, chan, kSize, stride);
  if (outLength === 0) return; // no windows: nothing to compute, however large the batch
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
  dy: Float32Array,
  argmax: Int32Array,
  dx: Float32Array,
  batch: number,
  length: number,
  chan: number,
  kSize: number,
  stride: number,
): void {
  // argmaxCopy, checked and then used as addresses: argmax itself may sit in a SharedArrayBuffer
  // that a Worker writes meanwhile, and a value changed after the check would route the gradient
  // to another sample's position (the native binding copies too).
  const { output: outCount, argmaxCopy: arg } = check.checkMaxPool1dBackward(dy, argmax, dx, batch, length, chan, kSize, stride);
  const error = argmaxOutsideWindow('maxPool1dBackward', arg, batch, length, chan, kSize, stride);
  // Cleared also when refused, as the native kernel leaves it, so both backends fail the same way.
  if (batch * length * chan > 0) dx.fill(0, 0, batch * length * chan);
  if (error) throw error;
  for (let o = 0; o < outCount; o++) dx[arg[o]] += dy[o];
}

/**
 * The error for the first argmax entry outside its own window, or null. argmax may come from
 * anywhere; forward only records entries inside their window, and the native kernel routes
 * nothing else (another sample's positions included).
 */
function argmaxOutsideWindow(
  fn: string,
  argmax: Int32Array,
  batch: number,
  length: number,
  chan: number,
  kSize: number,
  stride: number,
): RangeError | null {
  const outLength = windowCount(length, kSize, stride);
  const perSampleOut = outLength * chan;
  for (let o = 0; o < batch * perSampleOut; o++) {
    const b = Math.floor(o / perSampleOut);
    const t = Math.floor((o % perSampleOut) / chan);
    const c = o % chan;
    const start = (b * length + t * stride) * chan + c;
    const rel = argmax[o] - start;
    if (rel < 0 || rel >= kSize * chan || rel % chan !== 0) {
      return new RangeError(msg.outsideWindow(fn, o, argmax[o], t, outLength, c, b, start, start + (kSize - 1) * chan, chan));
    }
  }
  return null;
}

function avgPool1dForward(
  x: Float32Array,
  y: Float32Array,
  batch: number,
  length: number,
  chan: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkAvgPool1dForward(x, y, batch, length, chan, kSize, stride);
  if (outLength === 0) return; // no windows: nothing to compute, however large the batch
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
  dy: Float32Array,
  dx: Float32Array,
  batch: number,
  length: number,
  chan: number,
  kSize: number,
  stride: number,
): void {
  const { outLength } = check.checkAvgPool1dBackward(dy, dx, batch, length, chan, kSize, stride);
  const scale = 1 / kSize;
  if (batch * length * chan > 0) dx.fill(0, 0, batch * length * chan);
  if (outLength === 0) return;
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

/** The shape arguments of the conv2d kernels, in the Backend's order. */
type Conv2dArgs = [
  batch: number,
  height: number,
  width: number,
  chanIn: number,
  chanOut: number,
  kHeight: number,
  kWidth: number,
  strideHeight: number,
  strideWidth: number,
  padHeight: number,
  padWidth: number,
];
/** The shape arguments of the pool2d kernels, in the Backend's order. */
type Pool2dArgs = [
  batch: number,
  height: number,
  width: number,
  chan: number,
  kHeight: number,
  kWidth: number,
  strideHeight: number,
  strideWidth: number,
];

/** The geometry of a 2-D convolution, as the conv2d kernels take it, with its derived sizes. */
interface Conv2dGeometry {
  batch: number;
  height: number;
  width: number;
  chanIn: number;
  chanOut: number;
  kHeight: number;
  kWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
  outHeight: number;
  outWidth: number;
  /** Output pixels of one image. */
  pixels: number;
  /** Numbers in one window (a row of the im2col matrix): kHeight · kWidth · chanIn. */
  window: number;
}

/** The shape arguments as named fields, with the output size the kernel's check derived. */
function conv2dGeometry(args: Conv2dArgs, outHeight: number, outWidth: number): Conv2dGeometry {
  const [batch, height, width, chanIn, chanOut, kHeight, kWidth, strideHeight, strideWidth, padHeight, padWidth] = args;
  const pixels = outHeight * outWidth;
  const window = kHeight * kWidth * chanIn;
  return {
    batch,
    height,
    width,
    chanIn,
    chanOut,
    kHeight,
    kWidth,
    strideHeight,
    strideWidth,
    padHeight,
    padWidth,
    outHeight,
    outWidth,
    pixels,
    window,
  };
}

/**
 * Rows [first, end) of the im2col matrix of one image at x[offset …]: row p = (oy, ox) holds the
 * window of output pixel p in the weight's (ky, kx, c) order, zeros where the window leaves the
 * image.
 */
function imageWindows(g: Conv2dGeometry, x: Float32Array, offset: number, cols: Float32Array, first: number, end: number): void {
  let at = 0;
  for (let p = first; p < end; p++) {
    const oy = Math.floor(p / g.outWidth),
      ox = p - oy * g.outWidth;
    for (let ky = 0; ky < g.kHeight; ky++) {
      const iy = oy * g.strideHeight - g.padHeight + ky;
      for (let kx = 0; kx < g.kWidth; kx++) {
        const ix = ox * g.strideWidth - g.padWidth + kx;
        const inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width;
        const from = offset + (iy * g.width + ix) * g.chanIn;
        for (let c = 0; c < g.chanIn; c++) cols[at++] = inside ? x[from + c] : 0;
      }
    }
  }
}

/** The inverse of imageWindows: adds rows [first, end) held in dcols back to the pixels of dx[offset …] they came from. */
function addWindows(g: Conv2dGeometry, dcols: Float32Array, dx: Float32Array, offset: number, first: number, end: number): void {
  let at = 0;
  for (let p = first; p < end; p++) {
    const oy = Math.floor(p / g.outWidth),
      ox = p - oy * g.outWidth;
    for (let ky = 0; ky < g.kHeight; ky++) {
      const iy = oy * g.strideHeight - g.padHeight + ky;
      for (let kx = 0; kx < g.kWidth; kx++, at += g.chanIn) {
        const ix = ox * g.strideWidth - g.padWidth + kx;
        if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) continue;
        const to = offset + (iy * g.width + ix) * g.chanIn;
        for (let c = 0; c < g.chanIn; c++) dx[to + c] += dcols[at + c];
      }
    }
  }
}

let conv2dWindowScratch = new Float32Array(0);

/**
 * The im2col rows are made this many numbers at a time at most (16 MiB), or one row where a single
 * window is larger: an image's whole matrix is pixels × window, which a large kernel over a large
 * image takes to gigabytes. Every layer the benchmarks and reports train fits in one block.
 */
const WINDOW_BLOCK = 2 ** 22;

/** Output pixels per block of im2col rows, and the scratch for one block. */
function windowBlock(g: Conv2dGeometry): { rows: number; cols: Float32Array } {
  const rows = Math.max(1, Math.min(g.pixels, Math.floor(WINDOW_BLOCK / g.window)));
  const size = rows * g.window;
  if (conv2dWindowScratch.length < size) conv2dWindowScratch = new Float32Array(size);
  return { rows, cols: conv2dWindowScratch.subarray(0, size) };
}

function conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, ...geometry: Conv2dArgs): void {
  const { outHeight, outWidth } = check.checkConv2dForward(x, w, bias, y, ...geometry);
  const g = conv2dGeometry(geometry, outHeight, outWidth);
  const { batch, height, width, chanIn, chanOut, pixels, window } = g;
  // No samples: nothing to do, and no scratch to size from sizes no array backs (padding).
  if (pixels === 0 || batch === 0) return;
  // One image's im2col matrix C (pixels, window) a block of rows at a time: y_b = C · W, W viewed as (window, chanOut).
  const { rows, cols } = windowBlock(g);
  for (let bt = 0; bt < batch; bt++) {
    const y0 = bt * pixels * chanOut;
    for (let p = 0; p < pixels; p++) for (let o = 0; o < chanOut; o++) y[y0 + p * chanOut + o] = bias ? bias[o] : 0;
    for (let p = 0; p < pixels; p += rows) {
      const end = Math.min(pixels, p + rows);
      imageWindows(g, x, bt * height * width * chanIn, cols, p, end);
      accumulateProduct(end - p, chanOut, window, 1, cols, 0, window, 1, w, 0, chanOut, 1, y, y0 + p * chanOut, chanOut);
    }
  }
}

function conv2dBackwardInput(dy: Float32Array, w: Float32Array, dx: Float32Array, ...geometry: Conv2dArgs): void {
  const { outHeight, outWidth, input } = check.checkConv2dBackwardInput(dy, w, dx, ...geometry);
  const g = conv2dGeometry(geometry, outHeight, outWidth);
  const { batch, height, width, chanIn, chanOut, pixels, window } = g;
  if (input > 0) dx.fill(0, 0, input);
  // No samples: nothing to do, and no scratch to size from sizes no array backs (padding).
  if (pixels === 0 || batch === 0) return;
  // dC = dy_b · Wᵀ (pixels, window) a block of rows at a time, each window added back where it came from.
  const { rows, cols: dcols } = windowBlock(g);
  for (let bt = 0; bt < batch; bt++) {
    for (let p = 0; p < pixels; p += rows) {
      const end = Math.min(pixels, p + rows);
      dcols.fill(0);
      accumulateProduct(end - p, window, chanOut, 1, dy, (bt * pixels + p) * chanOut, chanOut, 1, w, 0, 1, chanOut, dcols, 0, window);
      addWindows(g, dcols, dx, bt * height * width * chanIn, p, end);
    }
  }
}

function conv2dBackwardWeight(x: Float32Array, dy: Float32Array, dw: Float32Array, ...geometry: Conv2dArgs): void {
  const { outHeight, outWidth } = check.checkConv2dBackwardWeight(x, dy, dw, ...geometry);
  const g = conv2dGeometry(geometry, outHeight, outWidth);
  const { batch, height, width, chanIn, chanOut, pixels, window } = g;
  // No samples: nothing to do, and no scratch to size from sizes no array backs (padding).
  if (pixels === 0 || batch === 0) return;
  // dW += Cᵀ · dy_b for each image, C its im2col matrix, a block of rows at a time (one block,
  // and so one float32 rounding of each sum an image, unless the matrix is over WINDOW_BLOCK).
  const { rows, cols } = windowBlock(g);
  for (let bt = 0; bt < batch; bt++) {
    for (let p = 0; p < pixels; p += rows) {
      const end = Math.min(pixels, p + rows);
      imageWindows(g, x, bt * height * width * chanIn, cols, p, end);
      accumulateProduct(window, chanOut, end - p, 1, cols, 0, 1, window, dy, (bt * pixels + p) * chanOut, chanOut, 1, dw, 0, chanOut);
    }
  }
}

function maxPool2dForward(x: Float32Array, y: Float32Array, argmax: Int32Array, ...geometry: Pool2dArgs): void {
  const [batch, height, width, chan, kHeight, kWidth, strideHeight, strideWidth] = geometry;
  const { outHeight, outWidth } = check.checkMaxPool2dForward(x, y, argmax, ...geometry);
  if (outHeight * outWidth === 0) return; // no windows: nothing to compute, however large the batch
  for (let bt = 0; bt < batch; bt++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const out = ((bt * outHeight + oy) * outWidth + ox) * chan;
        const first = ((bt * height + oy * strideHeight) * width + ox * strideWidth) * chan;
        for (let c = 0; c < chan; c++) {
          // Row-major over the window: strictly greater keeps the first maximum; a NaN replaces anything but a NaN.
          let best = first + c;
          for (let ky = 0; ky < kHeight; ky++) {
            for (let kx = 0; kx < kWidth; kx++) {
              const at = first + (ky * width + kx) * chan + c;
              const v = x[at];
              if (v > x[best] || (v !== v && x[best] === x[best])) best = at;
            }
          }
          y[out + c] = x[best];
          argmax[out + c] = best;
        }
      }
    }
  }
}

function maxPool2dBackward(dy: Float32Array, argmax: Int32Array, dx: Float32Array, ...geometry: Pool2dArgs): void {
  const [, height, width, chan, kHeight, kWidth, strideHeight, strideWidth] = geometry;
  // argmaxCopy: checked and used, never argmax itself, which may sit in a SharedArrayBuffer a Worker writes meanwhile.
  const { outHeight, outWidth, input, output, argmaxCopy: arg } = check.checkMaxPool2dBackward(dy, argmax, dx, ...geometry);
  if (input > 0) dx.fill(0, 0, input);
  const sample = height * width * chan;
  for (let i = 0; i < output; i++) {
    const c = i % chan;
    const col = Math.floor(i / chan) % outWidth;
    const row = Math.floor(i / chan / outWidth) % outHeight;
    const b = Math.floor(i / chan / outWidth / outHeight);
    const rel = arg[i] - b * sample;
    const pixel = Math.floor(rel / chan);
    const [iy, ix] = [Math.floor(pixel / width), pixel % width];
    const y0 = row * strideHeight;
    const x0 = col * strideWidth;
    if (rel < 0 || rel >= sample || rel % chan !== c || iy < y0 || iy >= y0 + kHeight || ix < x0 || ix >= x0 + kWidth) {
      // Cleared when refused, as the native kernel leaves it, so both backends fail the same way.
      dx.fill(0, 0, input);
      throw new RangeError(
        msg.outsideWindow2d('maxPool2dBackward', i, arg[i], row, col, c, b, y0, y0 + kHeight - 1, x0, x0 + kWidth - 1, height, width, chan),
      );
    }
    dx[arg[i]] += dy[i];
  }
}

type Upsample2dArgs = [batch: number, height: number, width: number, chan: number, scaleHeight: number, scaleWidth: number];

function upsample2dForward(x: Float32Array, y: Float32Array, ...geometry: Upsample2dArgs): void {
  const [batch, height, width, chan, scaleHeight, scaleWidth] = geometry;
  const { outWidth, output } = check.checkUpsample2dForward(x, y, ...geometry);
  if (output === 0) return;
  const outRow = outWidth * chan;
  for (let r = 0; r < batch * height; r++) {
    const first = r * scaleHeight * outRow;
    for (let ix = 0; ix < width; ix++) {
      for (let sx = 0; sx < scaleWidth; sx++) {
        const to = first + (ix * scaleWidth + sx) * chan;
        for (let c = 0; c < chan; c++) y[to + c] = x[(r * width + ix) * chan + c];
      }
    }
    for (let sy = 1; sy < scaleHeight; sy++) y.copyWithin(first + sy * outRow, first, first + outRow);
  }
}

function upsample2dBackward(dy: Float32Array, dx: Float32Array, ...geometry: Upsample2dArgs): void {
  const [batch, height, width, chan, scaleHeight, scaleWidth] = geometry;
  const { outWidth, input } = check.checkUpsample2dBackward(dy, dx, ...geometry);
  if (input === 0) return;
  const outRow = outWidth * chan;
  for (let r = 0; r < batch * height; r++) {
    for (let ix = 0; ix < width; ix++) {
      const first = r * scaleHeight * outRow + ix * scaleWidth * chan;
      for (let c = 0; c < chan; c++) {
        // Summed in float32 from zero, copies row by row, as the native loop does.
        let sum = 0;
        for (let sy = 0; sy < scaleHeight; sy++) {
          for (let sx = 0; sx < scaleWidth; sx++) sum = Math.fround(sum + dy[first + sy * outRow + sx * chan + c]);
        }
        dx[(r * width + ix) * chan + c] = sum;
      }
    }
  }
}

function avgPool2dForward(x: Float32Array, y: Float32Array, ...geometry: Pool2dArgs): void {
  const [batch, height, width, chan, kHeight, kWidth, strideHeight, strideWidth] = geometry;
  const { outHeight, outWidth } = check.checkAvgPool2dForward(x, y, ...geometry);
  if (outHeight * outWidth === 0) return; // no windows: nothing to compute, however large the batch
  const scale = Math.fround(1 / (kHeight * kWidth));
  for (let bt = 0; bt < batch; bt++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const out = ((bt * outHeight + oy) * outWidth + ox) * chan;
        const first = ((bt * height + oy * strideHeight) * width + ox * strideWidth) * chan;
        for (let c = 0; c < chan; c++) {
          // Summed in float32 in the window's row-major order, as the native loop does.
          let sum = 0;
          for (let ky = 0; ky < kHeight; ky++) {
            for (let kx = 0; kx < kWidth; kx++) sum = Math.fround(sum + x[first + (ky * width + kx) * chan + c]);
          }
          y[out + c] = sum * scale;
        }
      }
    }
  }
}

function avgPool2dBackward(dy: Float32Array, dx: Float32Array, ...geometry: Pool2dArgs): void {
  const [batch, height, width, chan, kHeight, kWidth, strideHeight, strideWidth] = geometry;
  const { outHeight, outWidth, input } = check.checkAvgPool2dBackward(dy, dx, ...geometry);
  const scale = Math.fround(1 / (kHeight * kWidth));
  if (input > 0) dx.fill(0, 0, input);
  if (outHeight * outWidth === 0) return;
  for (let bt = 0; bt < batch; bt++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const out = ((bt * outHeight + oy) * outWidth + ox) * chan;
        const first = ((bt * height + oy * strideHeight) * width + ox * strideWidth) * chan;
        for (let ky = 0; ky < kHeight; ky++) {
          for (let kx = 0; kx < kWidth; kx++) {
            const at = first + (ky * width + kx) * chan;
            for (let c = 0; c < chan; c++) dx[at + c] += Math.fround(dy[out + c] * scale);
          }
        }
      }
    }
  }
}

function activationForward(activation: Activation, alpha: number, x: Float32Array, y: Float32Array, n: number): void {
  check.checkActivationForward(activation, alpha, x, y, n);
  switch (activation) {
    case Activation.Identity:
      if (x !== y && n > 0) y.set(x.subarray(0, n));
      break;
    // NaN propagates (as in PyTorch and the native kernel): `x <= 0` is false for NaN, which
    // then takes the x branch; `x > 0 ? x : 0` would turn it into 0. -0 still gives +0.
    case Activation.ReLU:
      for (let i = 0; i < n; i++) y[i] = x[i] <= 0 ? 0 : x[i];
      break;
    case Activation.LeakyReLU:
      for (let i = 0; i < n; i++) y[i] = x[i] <= 0 ? alpha * x[i] : x[i];
      break;
    case Activation.TanH:
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
      break;
    case Activation.Sigmoid:
      for (let i = 0; i < n; i++) y[i] = sigmoid(x[i]);
      break;
    case Activation.SoftPlus:
      // log(1 + e^x) without forming e^x for large x.
      for (let i = 0; i < n; i++) y[i] = Math.max(x[i], 0) + Math.log1p(Math.exp(-Math.abs(x[i])));
      break;
    case Activation.SiLU:
      for (let i = 0; i < n; i++) y[i] = x[i] * sigmoid(x[i]);
      break;
    case Activation.ELU:
      // NaN fails x > 0 and stays NaN through expm1.
      for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * Math.expm1(x[i]);
      break;
    case Activation.GELU:
      for (let i = 0; i < n; i++) y[i] = x[i] * normalCdf(x[i]);
      break;
  }
}

/**
 * Φ(x), the standard normal distribution function, as erfc(−x/√2) / 2: the form
 * (1 + erf(x/√2)) / 2 cancels for negative x (at x = −5, float32's erf leaves a tenth of Φ).
 */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2);
}

/**
 * erfc(z), which JavaScript lacks, within 3e-13 of Python's math.erfc relative to its value
 * (measured over [−6, 26]): below 2 as 1 − erf(z) by erf's Maclaurin series
 * 2/√π · Σ (−1)ⁿ z^(2n+1) / (n!(2n+1)) (erfc is above 0.004 there, so the subtraction keeps its
 * digits); from 2 by its continued fraction e^(−z²)/√π · 1/(z + (1/2)/(z + (2/2)/(z + …))),
 * sixty levels deep; negative z as 2 − erfc(−z).
 * @internal
 */
export function erfc(z: number): number {
  if (Number.isNaN(z)) return z;
  if (z < 0) return 2 - erfc(-z);
  if (z < 2) {
    const z2 = z * z;
    let power = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      power *= -z2 / n;
      const term = power / (2 * n + 1);
      sum += term;
      if (Math.abs(term) < 1e-17 * sum) break;
    }
    return 1 - (sum * 2) / Math.sqrt(Math.PI);
  }
  let tail = z;
  for (let k = 60; k >= 1; k--) tail = z + k / 2 / tail;
  return Math.exp(-z * z) / (Math.sqrt(Math.PI) * tail);
}

/** The logistic function; exp is only taken of −|x|, so it never overflows. @internal */
export function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

function activationBackward(
  activation: Activation,
  alpha: number,
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  n: number,
): void {
  check.checkActivationBackward(activation, alpha, x, y, dy, dx, n);
  switch (activation) {
    case Activation.Identity:
      if (dx !== dy && n > 0) dx.set(dy.subarray(0, n));
      break;
    // Where x is NaN the slope is undefined and dx is that NaN, so the bad input shows in the
    // gradient rather than dy passing through or becoming 0 (native/elementwise.cc does the same).
    case Activation.ReLU:
      for (let i = 0; i < n; i++) {
        const v = x[i];
        dx[i] = v > 0 ? dy[i] : v <= 0 ? 0 : v;
      }
      break;
    case Activation.LeakyReLU:
      for (let i = 0; i < n; i++) {
        const v = x[i];
        dx[i] = v > 0 ? dy[i] : v <= 0 ? alpha * dy[i] : v;
      }
      break;
    case Activation.TanH:
      for (let i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
      break;
    case Activation.Sigmoid:
      for (let i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
      break;
    case Activation.SoftPlus:
      for (let i = 0; i < n; i++) dx[i] = dy[i] * sigmoid(x[i]);
      break;
    case Activation.SiLU:
      for (let i = 0; i < n; i++) {
        const s = sigmoid(x[i]);
        dx[i] = dy[i] * s * (1 + x[i] * (1 - s));
      }
      break;
    case Activation.ELU:
      for (let i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * alpha * Math.exp(x[i]);
      break;
    case Activation.GELU:
      // Φ(x) + x·φ(x), φ the standard normal density.
      for (let i = 0; i < n; i++) dx[i] = dy[i] * (normalCdf(x[i]) + (x[i] * Math.exp(-0.5 * x[i] * x[i])) / Math.sqrt(2 * Math.PI));
      break;
  }
}

function addRowVector(y: Float32Array, v: Float32Array, rows: number, cols: number): void {
  check.checkAddRowVector(y, v, rows, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) y[o + c] += v[c];
  }
}

function sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  check.checkSumRows(x, rows, cols, out);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c] += x[o + c];
  }
}

function softmaxForward(x: Float32Array, y: Float32Array, rows: number, cols: number, log: boolean): void {
  check.checkSoftmaxForward(x, y, rows, cols, log);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    // Shift by the row maximum so the largest exponential is exp(0) = 1.
    let max = x[o];
    for (let c = 1; c < cols; c++) if (x[o + c] > max) max = x[o + c];
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[o + c] - max);
    if (log) {
      const logSum = Math.log(sum);
      for (let c = 0; c < cols; c++) y[o + c] = x[o + c] - max - logSum;
    } else {
      for (let c = 0; c < cols; c++) y[o + c] = Math.exp(x[o + c] - max) / sum;
    }
  }
}

// Softmax Jacobian: diag(s) − s·sᵀ, so dx = s ⊙ (dy − ⟨dy, s⟩).
// Log-softmax: ∂y_i/∂x_j = δ_ij − s_j, so dx = dy − s·Σdy with s = exp(y).
function softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number, log: boolean): void {
  check.checkSoftmaxBackward(y, dy, dx, rows, cols, log);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (log) {
      let total = 0;
      for (let c = 0; c < cols; c++) total += dy[o + c];
      for (let c = 0; c < cols; c++) dx[o + c] = dy[o + c] - Math.exp(y[o + c]) * total;
    } else {
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dy[o + c] * y[o + c];
      for (let c = 0; c < cols; c++) dx[o + c] = y[o + c] * (dy[o + c] - dot);
    }
  }
}

function crossEntropyLogits(
  logits: Float32Array,
  labels: Int32Array,
  loss: Float32Array,
  grad: Float32Array | null,
  rows: number,
  cols: number,
): void {
  // labelsCopy, checked and then used as indices: labels itself may sit in a SharedArrayBuffer
  // that a Worker writes meanwhile, and a label changed after the check would subtract 1 from
  // another row's gradient (the native binding copies too).
  const { labelsCopy: label } = check.checkCrossEntropyLogits(logits, labels, loss, grad, rows, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = logits[o];
    for (let c = 1; c < cols; c++) if (logits[o + c] > max) max = logits[o + c];
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[o + c] - max);
    loss[r] = Math.log(sum) + (max - logits[o + label[r]]);
    if (grad) {
      for (let c = 0; c < cols; c++) grad[o + c] = Math.exp(logits[o + c] - max) / sum;
      grad[o + label[r]] -= 1;
    }
  }
}

function sgdStep(
  w: Float32Array,
  g: Float32Array,
  velocity: Float32Array | null,
  n: number,
  lr: number,
  momentum: number,
  weightDecay: number,
  dampening: number,
  nesterov: boolean,
): void {
  check.checkSgdStep(w, g, velocity, n, lr, momentum, weightDecay, dampening, nesterov);
  const keep = 1 - dampening;
  for (let i = 0; i < n; i++) {
    const gi = g[i] + weightDecay * w[i];
    if (velocity) {
      velocity[i] = momentum * velocity[i] + keep * gi;
      w[i] -= lr * (nesterov ? gi + momentum * velocity[i] : velocity[i]);
    } else {
      w[i] -= lr * gi;
    }
  }
}

function adamStep(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  step: number,
): void {
  check.checkAdamStep(w, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
  const c1 = 1 - Math.pow(beta1, step);
  const c2 = 1 - Math.pow(beta2, step);
  // Bias corrections folded into the step size and epsilon (the same algebra as native/elementwise.cc).
  const stepSize = (lr * Math.sqrt(c2)) / c1;
  const epsHat = eps * Math.sqrt(c2);
  for (let i = 0; i < n; i++) {
    const gi = g[i] + weightDecay * w[i];
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    w[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) + epsHat);
  }
}

function binaryCrossEntropy(
  p: Float32Array,
  y: Float32Array,
  loss: Float32Array,
  grad: Float32Array | null,
  rows: number,
  cols: number,
): void {
  check.checkBinaryCrossEntropy(p, y, loss, grad, rows, cols);
  // Logs clamped at −100 as PyTorch does, so p = 0 or 1 stays finite; a NaN p stays NaN (the
  // comparison is false for NaN, as Math.max's result is NaN). A negative argument (p past 0 or 1) is
  // taken as 0, as the native kernels clamp it (native/simd_math.h, bceTerm): its term is the
  // clamp's, not NaN, on every backend.
  const clampedLog = (v: number): number => {
    const l = Math.log(v < 0 ? 0 : v);
    return l < -100 ? -100 : l;
  };
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      sum += y[i] * clampedLog(p[i]) + (1 - y[i]) * clampedLog(1 - p[i]);
      if (grad) grad[i] = -y[i] / Math.max(p[i], 1e-12) + (1 - y[i]) / Math.max(1 - p[i], 1e-12);
    }
    loss[r] = -sum;
  }
}

function nonFiniteIndex(x: Float32Array, n: number): number {
  check.checkNonFiniteIndex(x, n);
  // x − x is 0 for finite x and NaN for NaN and ±Infinity.
  for (let i = 0; i < n; i++) if (x[i] - x[i] !== 0) return i;
  return -1;
}

function sumOfSquares(x: Float32Array, n: number): number {
  check.checkSumOfSquares(x, n);
  // The native order (elementwise.cc, elementwise_loops.h): squares of floats are exact in double.
  const block = 32768;
  let total = 0;
  for (let begin = 0; begin < n || begin === 0; begin += block) {
    const s = new Float64Array(32);
    for (let i = begin; i < Math.min(n, begin + block); i++) s[(i - begin) % 32] += x[i] * x[i];
    for (let width = 16; width >= 1; width /= 2) for (let j = 0; j < width; j++) s[j] = s[2 * j] + s[2 * j + 1];
    total = begin === 0 ? s[0] : total + s[0];
  }
  return total;
}

function dropoutForward(
  x: Float32Array,
  factors: Float32Array,
  y: Float32Array,
  state: Int32Array,
  n: number,
  p: number,
  keep: number,
): void {
  check.checkDropoutForward(x, factors, y, state, n, p, keep);
  // The Rng's own draws, from the words the addon would advance.
  const rng = new Rng();
  rng.readWords(state);
  const kept = Math.fround(keep);
  for (let i = 0; i < n; i++) {
    const factor = rng.uniform() < p ? 0 : kept;
    factors[i] = factor;
    y[i] = x[i] * factor;
  }
  rng.writeWords(state);
}

/** The pure-TypeScript backend. */
export const jsBackend: Backend = {
  name: 'js',
  sgemm,
  conv1dForward,
  conv1dMaxPoolForward,
  conv1dMaxPoolBackwardWeight,
  conv1dBackwardInput,
  conv1dBackwardWeight,
  maxPool1dForward,
  maxPool1dBackward,
  avgPool1dForward,
  avgPool1dBackward,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2dForward,
  maxPool2dBackward,
  avgPool2dForward,
  avgPool2dBackward,
  upsample2dForward,
  upsample2dBackward,
  activationForward,
  activationBackward,
  addRowVector,
  sumRows,
  softmaxForward,
  softmaxBackward,
  crossEntropyLogits,
  sgdStep,
  adamStep,
  nonFiniteIndex,
  sumOfSquares,
  dropoutForward,
  binaryCrossEntropy,
  batchNormStatistics,
  batchNormForward,
  batchNormBackward,
  getThreads: () => 1,
  // Checked as the addon checks it, so that a count set on js is one native takes later.
  setThreads: (n: number) => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be an integer in [1, 2^31-1], got ${n}`);
    if (n > MAX_THREADS) throw new RangeError(msg.tooManyThreads('setThreads', MAX_THREADS, n));
  },
};
