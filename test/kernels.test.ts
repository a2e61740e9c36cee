// Every kernel of both backends against naive loops written here, on random
// shapes (1x1, odd sizes, sizes off the SIMD width, transposes, offsets,
// strides 1-4, kSize 1-8, channels 1-70), and native against js.
import { jsBackend } from '../lib/backend/js';
import { nativeBackend } from '../lib/backend/native';
import { Activation, Backend, windowCount } from '../lib/backend/types';
import { Rng } from '../lib/random';
import { addon } from './backends';

const rng = new Rng(42);
const randInt = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);
function randomArray(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

// Float32 sums of `terms` products of values in [-1, 1]: rounding error grows
// at worst linearly with the number of terms; 2e-7 per term leaves margin.
function expectClose(got: Float32Array, want: ArrayLike<number>, terms: number, what: string): void {
  const tol = 2e-7 * (terms + 8);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (tolerance ${tol})`);
    }
  }
}

interface GemmCase {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  offA: number;
  offB: number;
  offC: number;
  lda: number;
  ldb: number;
  ldc: number;
}

function randomGemmCase(): GemmCase {
  const sizes = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 65, 100];
  const pick = (): number => sizes[rng.int(sizes.length)];
  const transA = rng.uniform() < 0.5;
  const transB = rng.uniform() < 0.5;
  const m = pick(),
    n = pick(),
    k = pick();
  const aCols = transA ? m : k;
  const bCols = transB ? k : n;
  return {
    transA,
    transB,
    m,
    n,
    k,
    alpha: [1, 0.5, -2][rng.int(3)],
    beta: [0, 1, 0.25][rng.int(3)],
    offA: rng.int(4),
    offB: rng.int(4),
    offC: rng.int(4),
    lda: aCols + rng.int(3),
    ldb: bCols + rng.int(3),
    ldc: n + rng.int(3),
  };
}

function naiveGemm(c: GemmCase, a: Float32Array, b: Float32Array, cIn: Float32Array): Float64Array {
  const out = Float64Array.from(cIn);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let sum = 0;
      for (let p = 0; p < c.k; p++) {
        const av = c.transA ? a[c.offA + p * c.lda + i] : a[c.offA + i * c.lda + p];
        const bv = c.transB ? b[c.offB + j * c.ldb + p] : b[c.offB + p * c.ldb + j];
        sum += av * bv;
      }
      const idx = c.offC + i * c.ldc + j;
      out[idx] = c.alpha * sum + (c.beta === 0 ? 0 : c.beta * cIn[idx]);
    }
  }
  return out;
}

function runGemm(be: Backend, c: GemmCase, a: Float32Array, b: Float32Array, cArr: Float32Array): void {
  be.sgemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, c.offA, c.lda, b, c.offB, c.ldb, c.beta, cArr, c.offC, c.ldc);
}

function gemmArrays(c: GemmCase): { a: Float32Array; b: Float32Array; cArr: Float32Array } {
  const aRows = c.transA ? c.k : c.m;
  const bRows = c.transB ? c.n : c.k;
  return {
    a: randomArray(c.offA + aRows * c.lda),
    b: randomArray(c.offB + bRows * c.ldb),
    cArr: randomArray(c.offC + c.m * c.ldc),
  };
}

/**
 * The native sumRows of many narrow rows, in float32: whole blocks of `period` floats (a multiple
 * of cols and 16, at least 32) summed position by position in block order, folded per column,
 * then the rows past the last block, then added onto out.
 */
function blockedSumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  let period = cols;
  while (period % 16 !== 0 || period < 32) period += cols;
  const blocks = Math.floor((rows * cols) / period);
  const partial = new Float32Array(period);
  for (let b = 0; b < blocks; b++) for (let i = 0; i < period; i++) partial[i] += x[b * period + i];
  const column = new Float32Array(cols);
  for (let i = 0; i < period; i++) column[i % cols] += partial[i];
  for (let r = (blocks * period) / cols; r < rows; r++) for (let c = 0; c < cols; c++) column[c] += x[r * cols + c];
  return Float32Array.from(out, (v, c) => v + column[c]);
}

// Every SIMD path of the native addon this CPU supports, plus the js backend.
function kernelVariants(): { label: string; backend: Backend; setup: () => void }[] {
  const variants = [{ label: 'js', backend: jsBackend, setup: () => undefined }];
  const native = addon();
  if (native && process.env.NEURONE_BACKEND !== 'js') {
    for (const path of native.supportedKernelPaths()) {
      for (const threads of [1, 2]) {
        variants.push({
          label: `native ${path} ${threads}T`,
          backend: nativeBackend(native),
          setup: () => {
            native.setKernelPath(path);
            native.setThreads(threads);
          },
        });
      }
    }
  }
  return variants;
}

// The path this process started on (NEURONE_KERNEL, else the best): every test that switches
// paths puts it back, since later suites in the same jest worker share the addon's state.
const initialPath = addon()?.kernelPath();
const variants = kernelVariants();
afterAll(() => {
  const native = addon();
  if (native) {
    native.setKernelPath(initialPath as string);
  }
});

describe.each(variants)('$label', ({ backend, setup }) => {
  beforeEach(setup);

  test('sgemm matches the naive loop on random shapes, transposes, offsets and strides', () => {
    for (let trial = 0; trial < 60; trial++) {
      const c = randomGemmCase();
      const { a, b, cArr } = gemmArrays(c);
      const want = naiveGemm(c, a, b, cArr);
      runGemm(backend, c, a, b, cArr);
      expectClose(cArr, want, c.k + 2, `sgemm ${JSON.stringify(c)}`);
    }
  });

  test("dropoutForward draws the Rng's own mask, bit for bit, and advances its state as the Rng would", () => {
    for (const [n, p] of [
      [1, 0.5],
      [1000, 0.3],
      [4099, 0.25],
      [64, 0],
      [64, 0.999999],
      [300, NaN],
    ] as const) {
      const keep = 1 / (1 - p);
      const x = new Float32Array(n).map(() => rng.normal());
      x[0] = Infinity;
      if (n > 2) [x[1], x[2]] = [NaN, -0];
      const source = new Rng(n);
      const state = new Int32Array(4);
      source.writeWords(state);
      const factors = new Float32Array(n).fill(7);
      const y = new Float32Array(n);
      backend.dropoutForward(x, factors, y, state, n, p, keep);
      const twin = new Rng(n);
      for (let i = 0; i < n; i++) {
        const factor = twin.uniform() < p ? 0 : Math.fround(keep);
        if (!Object.is(factors[i], factor) || !Object.is(y[i], Math.fround(x[i] * factor))) {
          throw new Error(`n ${n}, p ${p}, [${i}]: factor ${factors[i]}, y ${y[i]}; the Rng gives ${factor}, ${x[i] * factor}`);
        }
      }
      const after = new Int32Array(4);
      twin.writeWords(after);
      expect(Array.from(state)).toEqual(Array.from(after));
      // In place (y is x), from the same state: the same values.
      const inPlace = x.slice();
      source.writeWords(state);
      backend.dropoutForward(inPlace, new Float32Array(n), inPlace, state, n, p, keep);
      expect(inPlace.every((v, i) => Object.is(v, y[i]))).toBe(true);
    }
    // An infinite keep stays in the kept places; the dropped ones are +0.
    const state = new Int32Array([1, 2, 3, 4]);
    const factors = new Float32Array(200);
    backend.dropoutForward(new Float32Array(200).fill(1), factors, new Float32Array(200), state, 200, 0.5, Infinity);
    expect(factors.every((f) => Object.is(f, 0) || f === Infinity)).toBe(true);
    expect(factors.some((f) => f === 0) && factors.some((f) => f === Infinity)).toBe(true);
  });

  test('sgemm 1x1x1, k = 0 and large blocked shapes', () => {
    const cases: GemmCase[] = [
      { transA: false, transB: false, m: 1, n: 1, k: 1, alpha: 1, beta: 0, offA: 0, offB: 0, offC: 0, lda: 1, ldb: 1, ldc: 1 },
      { transA: false, transB: true, m: 3, n: 4, k: 0, alpha: 1, beta: 0.5, offA: 0, offB: 0, offC: 0, lda: 1, ldb: 1, ldc: 4 },
      { transA: true, transB: false, m: 130, n: 150, k: 301, alpha: 1, beta: 1, offA: 1, offB: 2, offC: 3, lda: 131, ldb: 150, ldc: 151 },
      { transA: false, transB: true, m: 70, n: 290, k: 520, alpha: -1, beta: 0, offA: 0, offB: 0, offC: 0, lda: 520, ldb: 520, ldc: 290 },
    ];
    for (const c of cases) {
      const { a, b, cArr } = gemmArrays(c);
      const want = naiveGemm(c, a, b, cArr);
      runGemm(backend, c, a, b, cArr);
      expectClose(cArr, want, c.k + 2, `sgemm ${JSON.stringify(c)}`);
    }
  });

  test('sgemm with beta = 0 overwrites NaN in C', () => {
    const c: GemmCase = {
      transA: false,
      transB: false,
      m: 9,
      n: 17,
      k: 5,
      alpha: 1,
      beta: 0,
      offA: 0,
      offB: 0,
      offC: 0,
      lda: 5,
      ldb: 17,
      ldc: 17,
    };
    const { a, b } = gemmArrays(c);
    const cArr = new Float32Array(9 * 17).fill(NaN);
    runGemm(backend, c, a, b, cArr);
    expect(cArr.every(Number.isFinite)).toBe(true);
  });

  test('conv1d forward and backward match naive loops', () => {
    const shapes: number[][] = [
      [32, 256, 1, 32, 3, 1],
      [4, 127, 32, 32, 3, 1],
    ];
    for (let i = 0; i < 25; i++) {
      shapes.push([randInt(1, 4), randInt(1, 30), randInt(1, 70), randInt(1, 70), randInt(1, 8), randInt(1, 4)]);
    }
    for (const [batch, length, chanIn, chanOut, kSize, stride] of shapes) {
      const outLength = windowCount(length, kSize, stride);
      const x = randomArray(batch * length * chanIn);
      const w = randomArray(kSize * chanIn * chanOut);
      const bias = randomArray(chanOut);
      const dy = randomArray(batch * outLength * chanOut);
      const yWant = new Float64Array(batch * outLength * chanOut);
      const dxWant = new Float64Array(x.length);
      const dwStart = randomArray(w.length);
      const dwWant = Float64Array.from(dwStart);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < outLength; t++) {
          for (let o = 0; o < chanOut; o++) {
            let s = bias[o];
            for (let k = 0; k < kSize; k++) {
              for (let c = 0; c < chanIn; c++) {
                const xi = (b * length + t * stride + k) * chanIn + c;
                const wi = (k * chanIn + c) * chanOut + o;
                const g = dy[(b * outLength + t) * chanOut + o];
                s += x[xi] * w[wi];
                dxWant[xi] += g * w[wi];
                dwWant[wi] += g * x[xi];
              }
            }
            yWant[(b * outLength + t) * chanOut + o] = s;
          }
        }
      }
      const label = `conv1d [${batch}, ${length}, ${chanIn}, ${chanOut}, k${kSize}, s${stride}]`;
      const y = new Float32Array(yWant.length).fill(NaN);
      backend.conv1dForward(x, w, bias, y, batch, length, chanIn, chanOut, kSize, stride);
      expectClose(y, yWant, kSize * chanIn + 1, `${label} forward`);
      const dx = new Float32Array(x.length).fill(NaN);
      backend.conv1dBackwardInput(dy, w, dx, batch, length, chanIn, chanOut, kSize, stride);
      expectClose(dx, dxWant, kSize * chanOut, `${label} grad input`);
      const dw = dwStart.slice();
      backend.conv1dBackwardWeight(x, dy, dw, batch, length, chanIn, chanOut, kSize, stride);
      expectClose(dw, dwWant, batch * outLength + 1, `${label} grad weight`);
    }
  });

  test('max and average pooling, forward and backward, match naive loops', () => {
    const shapes: number[][] = [
      [32, 254, 32, 2, 2],
      [2, 9, 3, 4, 1],
    ];
    for (let i = 0; i < 25; i++) shapes.push([randInt(1, 4), randInt(1, 30), randInt(1, 70), randInt(1, 8), randInt(1, 4)]);
    for (const [batch, length, chan, kSize, stride] of shapes) {
      const outLength = windowCount(length, kSize, stride);
      const x = randomArray(batch * length * chan);
      const dy = randomArray(batch * outLength * chan);
      const maxWant = new Float32Array(dy.length);
      const argWant = new Int32Array(dy.length);
      const avgWant = new Float64Array(dy.length);
      const dxMaxWant = new Float64Array(x.length);
      const dxAvgWant = new Float64Array(x.length);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < outLength; t++) {
          for (let c = 0; c < chan; c++) {
            const o = (b * outLength + t) * chan + c;
            let best = -1;
            let sum = 0;
            for (let k = 0; k < kSize; k++) {
              const idx = (b * length + t * stride + k) * chan + c;
              if (best < 0 || x[idx] > x[best]) best = idx;
              sum += x[idx];
              dxAvgWant[idx] += dy[o] / kSize;
            }
            maxWant[o] = x[best];
            argWant[o] = best;
            avgWant[o] = sum / kSize;
            dxMaxWant[best] += dy[o];
          }
        }
      }
      const label = `pool [${batch}, ${length}, ${chan}, k${kSize}, s${stride}]`;
      const y = new Float32Array(dy.length);
      const arg = new Int32Array(dy.length);
      backend.maxPool1dForward(x, y, arg, batch, length, chan, kSize, stride);
      expect(Array.from(y)).toEqual(Array.from(maxWant));
      expect(Array.from(arg)).toEqual(Array.from(argWant));
      const dx = new Float32Array(x.length).fill(NaN);
      backend.maxPool1dBackward(dy, arg, dx, batch, length, chan, kSize, stride);
      expectClose(dx, dxMaxWant, kSize, `${label} max backward`);
      backend.avgPool1dForward(x, y, batch, length, chan, kSize, stride);
      expectClose(y, avgWant, kSize, `${label} avg forward`);
      dx.fill(NaN);
      backend.avgPool1dBackward(dy, dx, batch, length, chan, kSize, stride);
      expectClose(dx, dxAvgWant, kSize, `${label} avg backward`);
    }
  });

  test('sumRows adds each column onto out, narrow and wide, with rows past the last whole block', () => {
    // [rows, cols]: many narrow rows take the blocked path (the bias gradient of a few-channel
    // convolution), the others the row by row one.
    const shapes = [
      [18432, 6],
      [131, 7],
      [200, 1],
      [129, 31],
      [130, 32],
      [3, 5],
      [300, 70],
      [131, 256],
      [33, 784],
    ];
    for (const [rows, cols] of shapes) {
      const x = randomArray(rows * cols);
      const out = randomArray(cols);
      const want = Array.from(out, (v, c) => {
        let sum = v;
        for (let r = 0; r < rows; r++) sum += x[r * cols + c];
        return sum;
      });
      // Off the blocked path each column adds its rows one at a time in float32, in order.
      const rowByRow = Float32Array.from(out, (v, c) => {
        let sum = v;
        for (let r = 0; r < rows; r++) sum = Math.fround(sum + x[r * cols + c]);
        return sum;
      });
      const blocked = blockedSumRows(x, rows, cols, out);
      backend.sumRows(x, rows, cols, out);
      expectClose(out, want, rows, `sumRows ${rows}x${cols}`);
      if (cols >= 32 || rows < 128) expect({ rows, cols, out: Array.from(out) }).toEqual({ rows, cols, out: Array.from(rowByRow) });
      // The native blocked path adds in one order on every SIMD path, whatever its vector width.
      else if (backend.name !== 'js') expect({ rows, cols, out: Array.from(out) }).toEqual({ rows, cols, out: Array.from(blocked) });
    }
  });

  test('conv2d forward and backward match naive loops (padding, strides, rectangular kernels, tiled images)', () => {
    // [batch, height, width, chanIn, chanOut, kH, kW, strideH, strideW, padH, padW]
    const shapes: number[][] = [
      [8, 28, 28, 1, 6, 5, 5, 1, 1, 0, 0], // LeNet's first layer (batch 32 in native/test/conv2d_test.cc)
      [2, 12, 12, 6, 16, 5, 5, 1, 1, 2, 2],
      [3, 9, 7, 4, 5, 1, 1, 1, 1, 0, 0], // 1×1: the image is its own im2col matrix
      [1, 40, 33, 3, 8, 3, 3, 2, 1, 1, 1], // several tiles of one image
      [2, 5, 6, 2, 3, 4, 2, 3, 2, 3, 1], // kernel not dividing the size, padding up to k − 1
      [2, 3, 3, 1, 2, 3, 3, 1, 1, 0, 0], // one output pixel
      [1, 2, 2, 1, 1, 3, 3, 1, 1, 0, 0], // kernel larger than the image: no output
      [2, 10, 10, 16, 8, 3, 3, 1, 1, 1, 1], // stride 1, many channels: GEMMs on the padded image
      [2, 9, 9, 12, 5, 2, 2, 1, 1, 0, 0], // the same on the image itself
      [2, 11, 9, 1, 13, 3, 4, 1, 1, 2, 1], // one padded channel, 13 outputs: the direct kernels' ragged blocks
      [3, 7, 30, 1, 40, 2, 5, 1, 1, 0, 0], // one channel, more outputs than a block of vectors
      [1, 64, 64, 1, 2, 33, 33, 1, 1, 16, 16], // an im2col matrix over the js backend's block: two blocks, the last ragged
    ];
    for (let i = 0; i < 12; i++) {
      const kH = randInt(1, 4);
      const kW = randInt(1, 4);
      shapes.push([
        randInt(1, 3),
        randInt(1, 12),
        randInt(1, 12),
        randInt(1, 9),
        randInt(1, 20),
        kH,
        kW,
        randInt(1, 3),
        randInt(1, 3),
        randInt(0, kH - 1),
        randInt(0, kW - 1),
      ]);
    }
    for (const [batch, height, width, chanIn, chanOut, kH, kW, sH, sW, pH, pW] of shapes) {
      const outH = windowCount(height + 2 * pH, kH, sH);
      const outW = windowCount(width + 2 * pW, kW, sW);
      const x = randomArray(batch * height * width * chanIn);
      const w = randomArray(kH * kW * chanIn * chanOut);
      const bias = randomArray(chanOut);
      const dy = randomArray(batch * outH * outW * chanOut);
      const yWant = new Float64Array(dy.length);
      const dxWant = new Float64Array(x.length);
      const dwStart = randomArray(w.length);
      const dwWant = Float64Array.from(dwStart);
      for (let b = 0; b < batch; b++) {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            for (let o = 0; o < chanOut; o++) {
              const yi = ((b * outH + oy) * outW + ox) * chanOut + o;
              let s = bias[o];
              for (let ky = 0; ky < kH; ky++) {
                for (let kx = 0; kx < kW; kx++) {
                  const iy = oy * sH - pH + ky;
                  const ix = ox * sW - pW + kx;
                  if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                  for (let c = 0; c < chanIn; c++) {
                    const xi = ((b * height + iy) * width + ix) * chanIn + c;
                    const wi = ((ky * kW + kx) * chanIn + c) * chanOut + o;
                    s += x[xi] * w[wi];
                    dxWant[xi] += dy[yi] * w[wi];
                    dwWant[wi] += dy[yi] * x[xi];
                  }
                }
              }
              yWant[yi] = s;
            }
          }
        }
      }
      const shape = [batch, height, width, chanIn, chanOut, kH, kW, sH, sW, pH, pW] as const;
      const label = `conv2d [${shape.join(', ')}]`;
      const y = new Float32Array(yWant.length).fill(NaN);
      backend.conv2dForward(x, w, bias, y, ...shape);
      expectClose(y, yWant, kH * kW * chanIn + 1, `${label} forward`);
      backend.conv2dForward(x, w, null, y, ...shape);
      expectClose(
        y,
        yWant.map((v, i) => v - bias[i % chanOut]),
        kH * kW * chanIn + 1,
        `${label} forward without bias`,
      );
      const dx = new Float32Array(x.length).fill(NaN);
      backend.conv2dBackwardInput(dy, w, dx, ...shape);
      expectClose(dx, dxWant, kH * kW * chanOut, `${label} grad input`);
      const dw = dwStart.slice();
      backend.conv2dBackwardWeight(x, dy, dw, ...shape);
      expectClose(dw, dwWant, batch * outH * outW + 1, `${label} grad weight`);
    }
  });

  test('conv2d: a large kernel over a large image needs no im2col matrix of the whole image', () => {
    // 4096 output pixels × a window of 4096: the whole matrix would be 64 MiB of float32 (a
    // kernel 4 times as tall, 1 GiB); the js backend makes it 16 MiB at a time, in a scratch it
    // keeps (so arrayBuffers shows it), the native one in cache-sized tiles on its own heap (so
    // only the values are checked there).
    const taps = 4096;
    const shape = [1, 1, 1, 1, 1, taps, 1, 1, 1, taps - 1, 0] as const;
    const x = new Float32Array([2]);
    const w = randomArray(taps);
    const y = new Float32Array(taps);
    const before = process.memoryUsage().arrayBuffers;
    backend.conv2dForward(x, w, null, y, ...shape);
    const dx = new Float32Array(1);
    backend.conv2dBackwardInput(y, w, dx, ...shape);
    const dw = new Float32Array(taps);
    backend.conv2dBackwardWeight(x, y, dw, ...shape);
    if (backend.name === 'js') expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 2 ** 20);
    // Output pixel p sees the one pixel through tap taps − 1 − p.
    for (const p of [0, 1000, taps - 1]) expect(y[p]).toBe(2 * w[taps - 1 - p]);
    const want = 2 * w.reduce((a, v) => a + v * v, 0);
    expect(Math.abs(dx[0] - want)).toBeLessThan(1e-5 * want);
    for (const k of [0, 3000, taps - 1]) expect(dw[k]).toBe(2 * y[taps - 1 - k]);
  });

  test('2-D max pooling keeps the first maximum and the first NaN of each window, as the js backend', () => {
    // Values from a handful, so most windows hold ties, zeros of both signs and NaNs: the order
    // in which a path compares a window's pixels then shows in the argmax. Chosen so that the
    // SIMD paths' 2×2 forms, their ragged last vectors (6, 20, 40 channels) and the general
    // loop (3×3) all run.
    const rng = new Rng(7);
    const values = [-1, -0, 0, 1, 2, NaN];
    // [batch, height, width, chan, kH, kW, strideH, strideW]
    const shapes = [
      [4, 12, 10, 6, 2, 2, 2, 2],
      [3, 8, 9, 16, 2, 2, 2, 2],
      [2, 7, 8, 20, 2, 2, 2, 2],
      [2, 6, 6, 40, 2, 2, 2, 2],
      [2, 9, 9, 5, 2, 2, 1, 1],
      [2, 9, 11, 20, 3, 3, 2, 2],
    ];
    for (const shape of shapes) {
      const [batch, height, width, chan, kH, kW, sH, sW] = shape;
      const outputs = batch * windowCount(height, kH, sH) * windowCount(width, kW, sW) * chan;
      const x = new Float32Array(batch * height * width * chan).map(() => values[Math.floor(rng.uniform() * values.length)]);
      const dy = new Float32Array(outputs).map(() => 1 + rng.uniform());
      const run = (be: Backend): [Float32Array, Int32Array, Float32Array] => {
        const y = new Float32Array(outputs);
        const arg = new Int32Array(outputs);
        const dx = new Float32Array(x.length).fill(NaN);
        be.maxPool2dForward(x, y, arg, batch, height, width, chan, kH, kW, sH, sW);
        be.maxPool2dBackward(dy, arg, dx, batch, height, width, chan, kH, kW, sH, sW);
        return [y, arg, dx];
      };
      const [y, arg, dx] = run(backend);
      const [yWant, argWant, dxWant] = run(jsBackend);
      const label = `pool2d [${shape.join(', ')}]`;
      expect({ label, y: Array.from(y) }).toEqual({ label, y: Array.from(yWant) });
      expect({ label, arg: Array.from(arg) }).toEqual({ label, arg: Array.from(argWant) });
      expect({ label, dx: Array.from(dx) }).toEqual({ label, dx: Array.from(dxWant) });
    }
  });

  test('2-D max and average pooling, forward and backward, match naive loops', () => {
    // [batch, height, width, chan, kH, kW, strideH, strideW]
    const shapes: number[][] = [
      [8, 24, 24, 6, 2, 2, 2, 2],
      [2, 7, 9, 3, 3, 2, 1, 2], // overlapping windows, rectangular
      [2, 40, 40, 24, 2, 2, 2, 2], // large enough for threads (batch · height · width · chan ≥ 2^16)
      [1, 2, 2, 1, 3, 3, 1, 1], // window larger than the image: no output
    ];
    for (let i = 0; i < 12; i++)
      shapes.push([
        randInt(1, 3),
        randInt(1, 10),
        randInt(1, 10),
        randInt(1, 20),
        randInt(1, 4),
        randInt(1, 4),
        randInt(1, 3),
        randInt(1, 3),
      ]);
    for (const [batch, height, width, chan, kH, kW, sH, sW] of shapes) {
      const outH = windowCount(height, kH, sH);
      const outW = windowCount(width, kW, sW);
      const x = randomArray(batch * height * width * chan);
      const dy = randomArray(batch * outH * outW * chan);
      const maxWant = new Float32Array(dy.length);
      const argWant = new Int32Array(dy.length);
      const avgWant = new Float64Array(dy.length);
      const dxMaxWant = new Float64Array(x.length);
      const dxAvgWant = new Float64Array(x.length);
      for (let b = 0; b < batch; b++) {
        for (let oy = 0; oy < outH; oy++) {
          for (let ox = 0; ox < outW; ox++) {
            for (let c = 0; c < chan; c++) {
              const o = ((b * outH + oy) * outW + ox) * chan + c;
              let best = -1;
              let sum = 0;
              for (let ky = 0; ky < kH; ky++) {
                for (let kx = 0; kx < kW; kx++) {
                  const idx = ((b * height + oy * sH + ky) * width + ox * sW + kx) * chan + c;
                  if (best < 0 || x[idx] > x[best]) best = idx;
                  sum += x[idx];
                  dxAvgWant[idx] += dy[o] / (kH * kW);
                }
              }
              maxWant[o] = x[best];
              argWant[o] = best;
              avgWant[o] = sum / (kH * kW);
              dxMaxWant[best] += dy[o];
            }
          }
        }
      }
      const shape = [batch, height, width, chan, kH, kW, sH, sW] as const;
      const label = `pool2d [${shape.join(', ')}]`;
      const y = new Float32Array(dy.length);
      const arg = new Int32Array(dy.length);
      backend.maxPool2dForward(x, y, arg, ...shape);
      expect(Array.from(y)).toEqual(Array.from(maxWant));
      expect(Array.from(arg)).toEqual(Array.from(argWant));
      const dx = new Float32Array(x.length).fill(NaN);
      backend.maxPool2dBackward(dy, arg, dx, ...shape);
      expectClose(dx, dxMaxWant, kH * kW, `${label} max backward`);
      backend.avgPool2dForward(x, y, ...shape);
      expectClose(y, avgWant, kH * kW, `${label} avg forward`);
      dx.fill(NaN);
      backend.avgPool2dBackward(dy, dx, ...shape);
      expectClose(dx, dxAvgWant, kH * kW, `${label} avg backward`);
      if (dy.length > 0) {
        // An argmax entry outside its window (here: one past the input's last value, inside no
        // window) is refused, naming the entry, and dx is left cleared.
        const bad = arg.slice();
        bad[dy.length - 1] = x.length;
        dx.fill(NaN);
        expect(() => backend.maxPool2dBackward(dy, bad, dx, ...shape)).toThrow(
          /maxPool2dBackward: argmax\[\d+\] = \d+ is outside its window/,
        );
        expect(dx.every((v) => v === 0)).toBe(true);
      }
    }
  });

  test("max pooling's backward refuses an argmax just outside its window: a column, a row or a channel away", () => {
    // Windows side by side (stride = window: the native kernel's dense path), overlapping ones (its
    // listed-offsets check) and ones of more than 64 pixels (its check by division). Flat input
    // index ((b·H + y)·W + x)·C + c; output o = ((b·oh + oy)·ow + ox)·C + c.
    type Shape = [number, number, number, number, number, number, number, number];
    const shapes: Shape[] = [
      [1, 5, 6, 2, 2, 3, 2, 3],
      [1, 5, 7, 2, 2, 3, 2, 2],
      [1, 12, 13, 2, 9, 8, 2, 3],
    ];
    for (const shape of shapes) {
      const [, height, width, chan, kH, kW, sH, sW] = shape;
      const [oh, ow] = [windowCount(height, kH, sH), windowCount(width, kW, sW)];
      const x = randomArray(height * width * chan);
      const dy = randomArray(oh * ow * chan);
      const arg = new Int32Array(dy.length);
      backend.maxPool2dForward(x, new Float32Array(dy.length), arg, ...shape);
      const at = (y: number, col: number, c: number): number => (y * width + col) * chan + c;
      const out = (oy: number, ox: number, c: number): number => (oy * ow + ox) * chan + c;
      // Output (0, 1, c): its window starts at row 0, column sW, so each neighbour below is inside the image.
      const cases: [string, number, number][] = [
        ['the column after the window (x0 + kW)', out(0, 1, 0), at(0, sW + kW, 0)],
        ['the row below the window (y0 + kH)', out(0, 1, 0), at(kH, sW, 0)],
        ['the column before the window (x0 − 1)', out(0, 1, 0), at(0, sW - 1, 0)],
        ['the same pixel in the other channel', out(0, 1, 1), at(0, sW, 0)],
        ["the window's last pixel in the other channel", out(0, 1, 1), at(kH - 1, sW + kW - 1, 0)],
      ];
      for (const [where, o, index] of cases) {
        const bad = arg.slice();
        bad[o] = index;
        const dx = new Float32Array(x.length).fill(NaN);
        let error = 'none';
        try {
          backend.maxPool2dBackward(dy, bad, dx, ...shape);
        } catch (e) {
          error = (e as Error).message;
        }
        const want = new RegExp(`^maxPool2dBackward: argmax\\[${o}\\] = ${index} is outside its window`);
        expect({ shape, where, error }).toEqual({ shape, where, error: expect.stringMatching(want) });
        expect(dx.every((v) => v === 0)).toBe(true);
      }
    }
  });

  test('upsample2d repeats each pixel and sums its copies in row order, bit for bit', () => {
    const shapes: [number, number, number, number, number, number][] = [
      [2, 7, 7, 16, 2, 2], // the conv autoencoder's decoder
      [3, 5, 4, 3, 3, 1],
      [1, 4, 6, 1, 1, 3],
      [1, 1, 1, 5, 1, 1],
      [0, 4, 4, 2, 2, 2], // no samples
      [2, 24, 20, 24, 2, 2], // threaded on the native backend
    ];
    for (let i = 0; i < 8; i++) shapes.push([randInt(1, 3), randInt(1, 8), randInt(1, 8), randInt(1, 20), randInt(1, 3), randInt(1, 3)]);
    for (const shape of shapes) {
      const [batch, height, width, chan, sH, sW] = shape;
      const x = randomArray(batch * height * width * chan);
      const dy = randomArray(x.length * sH * sW);
      const yWant = new Float32Array(dy.length);
      const dxWant = new Float32Array(x.length);
      const outW = width * sW;
      for (let b = 0; b < batch; b++)
        for (let oy = 0; oy < height * sH; oy++)
          for (let ox = 0; ox < outW; ox++)
            for (let c = 0; c < chan; c++) {
              const from = ((b * height + Math.floor(oy / sH)) * width + Math.floor(ox / sW)) * chan + c;
              yWant[((b * height * sH + oy) * outW + ox) * chan + c] = x[from];
            }
      for (let b = 0; b < batch; b++)
        for (let iy = 0; iy < height; iy++)
          for (let ix = 0; ix < width; ix++)
            for (let c = 0; c < chan; c++) {
              let sum = 0;
              for (let sy = 0; sy < sH; sy++)
                for (let sx = 0; sx < sW; sx++)
                  sum = Math.fround(sum + dy[((b * height * sH + iy * sH + sy) * outW + ix * sW + sx) * chan + c]);
              dxWant[((b * height + iy) * width + ix) * chan + c] = sum;
            }
      const y = new Float32Array(dy.length + 1).fill(NaN);
      backend.upsample2dForward(x, y.subarray(0, dy.length), ...shape);
      expect(Array.from(y.subarray(0, dy.length))).toEqual(Array.from(yWant));
      expect(y[dy.length]).toBeNaN();
      const dx = new Float32Array(x.length).fill(NaN);
      backend.upsample2dBackward(dy, dx, ...shape);
      expect(Array.from(dx)).toEqual(Array.from(dxWant));
    }
    expect(() => backend.upsample2dForward(new Float32Array(4), new Float32Array(15), 1, 2, 2, 1, 2, 2)).toThrow(/upsample2dForward: y/);
  });
});

describe('native and js agree', () => {
  const native = addon();
  const run = native && process.env.NEURONE_BACKEND !== 'js' ? test : test.skip;
  const relClose = (a: Float32Array, b: Float32Array, what: string): void => {
    let scale = 0;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < a.length; i++) {
      if (!(Math.abs(a[i] - b[i]) <= 1e-5 * Math.max(scale, 1e-30))) {
        throw new Error(`${what}: ${a[i]} vs ${b[i]} at ${i}`);
      }
    }
  };
  // Element by element (jest's toEqual on arrays of a million entries takes seconds).
  const sameInts = (a: Int32Array, b: Int32Array, what: string): void => {
    if (a.length !== b.length) throw new Error(`${what}: lengths ${a.length} and ${b.length}`);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${what}: ${a[i]} vs ${b[i]} at ${i}`);
  };
  run('within 1e-5 relative on the same inputs (sgemm, conv1d, pooling)', () => {
    const nb = nativeBackend(native!);
    for (let trial = 0; trial < 20; trial++) {
      const c = randomGemmCase();
      const { a, b, cArr } = gemmArrays(c);
      const c2 = cArr.slice();
      runGemm(nb, c, a, b, cArr);
      runGemm(jsBackend, c, a, b, c2);
      relClose(cArr, c2, `sgemm ${JSON.stringify(c)}`);
    }
    const [batch, length, chanIn, chanOut, kSize, stride] = [8, 64, 16, 24, 5, 2];
    const outLength = windowCount(length, kSize, stride);
    const x = randomArray(batch * length * chanIn);
    const w = randomArray(kSize * chanIn * chanOut);
    const dy = randomArray(batch * outLength * chanOut);
    const pairs: [Float32Array, Float32Array][] = [];
    for (const be of [nb, jsBackend]) {
      const y = new Float32Array(dy.length);
      const dx = new Float32Array(x.length);
      const dw = new Float32Array(w.length);
      be.conv1dForward(x, w, null, y, batch, length, chanIn, chanOut, kSize, stride);
      be.conv1dBackwardInput(dy, w, dx, batch, length, chanIn, chanOut, kSize, stride);
      be.conv1dBackwardWeight(x, dy, dw, batch, length, chanIn, chanOut, kSize, stride);
      pairs.push([y, dx], [dw, dw]);
    }
    relClose(pairs[0][0], pairs[2][0], 'conv1dForward');
    relClose(pairs[0][1], pairs[2][1], 'conv1dBackwardInput');
    relClose(pairs[1][0], pairs[3][0], 'conv1dBackwardWeight');
  });

  run('sgemm gives the bits of one thread on 2 and 3 threads, the depth split included (blocks not a multiple of the threads)', () => {
    // Small outputs over long depths take the depth split: 784 inputs are 3 blocks of AVX-512's
    // 384 (and 4 of AVX2's 256), shared out in column pieces so the threads get even work.
    const nb = nativeBackend(native!);
    const shapes: [boolean, boolean, number, number, number][] = [
      [false, false, 32, 256, 784],
      [false, true, 32, 256, 784],
      [false, false, 32, 100, 4064],
      [false, false, 32, 40, 1900],
      [true, false, 16, 112, 2000],
      [false, false, 8, 20, 3000],
    ];
    for (const path of native!.supportedKernelPaths()) {
      native!.setKernelPath(path);
      for (const [transA, transB, m, n, k] of shapes) {
        const c: GemmCase = {
          transA,
          transB,
          m,
          n,
          k,
          alpha: 0.75,
          beta: 0.5,
          offA: 3,
          offB: 1,
          offC: 2,
          lda: (transA ? m : k) + 1,
          ldb: (transB ? k : n) + 2,
          ldc: n + 3,
        };
        const { a, b, cArr } = gemmArrays(c);
        const results = [1, 2, 3].map((threads) => {
          native!.setThreads(threads);
          const out = cArr.slice();
          runGemm(nb, c, a, b, out);
          return out;
        });
        for (const [i, threads] of [
          [1, 2],
          [2, 3],
        ]) {
          const diff = results[i].findIndex((v, j) => !Object.is(v, results[0][j]));
          if (diff >= 0)
            throw new Error(
              `${path} ${JSON.stringify(c)}: ${threads} threads differ from one at ${diff}: ${results[i][diff]} vs ${results[0][diff]}`,
            );
        }
      }
    }
    native!.setThreads(1);
    native!.setKernelPath(initialPath as string);
  });

  run('conv1dMaxPoolForward and conv1dMaxPoolBackwardWeight: native against js, and against the two kernels they fuse', () => {
    const nb = nativeBackend(native!);
    // The seed network at inference batch; overlapping pools with stride and bias; a sample long
    // enough for the native kernel to take it in several chunks; windows that leave a ragged end.
    const cases = [
      [256, 256, 1, 32, 3, 1, 2, 2],
      [5, 300, 4, 24, 5, 2, 8, 3],
      [2, 3000, 1, 32, 3, 1, 2, 2],
      [3, 41, 7, 9, 4, 3, 3, 2],
    ];
    // Inputs and the js twin's results once per case: they do not depend on the native path
    // or thread count, and the js convolutions were most of this test's time.
    const prepared = cases.map(([batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride], i) => {
      const convLength = windowCount(length, kSize, stride);
      const pooledLength = windowCount(convLength, poolSize, poolStride);
      const pooled = batch * pooledLength * chanOut;
      const x = randomArray(batch * length * chanIn);
      const w = randomArray(kSize * chanIn * chanOut);
      const bias = i % 2 ? randomArray(chanOut) : null;
      const dy = randomArray(pooled);
      const dw0 = randomArray(w.length);
      const jsY = new Float32Array(pooled);
      jsBackend.conv1dMaxPoolForward(x, w, bias, jsY, null, batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride);
      const jsArgmax = new Int32Array(pooled);
      jsBackend.conv1dMaxPoolForward(
        x,
        w,
        bias,
        new Float32Array(pooled),
        jsArgmax,
        batch,
        length,
        chanIn,
        chanOut,
        kSize,
        stride,
        poolSize,
        poolStride,
      );
      const jsDw = dw0.slice();
      jsBackend.conv1dMaxPoolBackwardWeight(x, dy, jsArgmax, jsDw, batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride);
      return {
        dims: [batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride],
        convLength,
        pooled,
        x,
        w,
        bias,
        dy,
        dw0,
        jsY,
        jsArgmax,
        jsDw,
      };
    });
    for (const path of native!.supportedKernelPaths()) {
      native!.setKernelPath(path);
      for (const threads of [1, 2]) {
        native!.setThreads(threads);
        prepared.forEach(({ dims, convLength, pooled, x, w, bias, dy, dw0, jsY, jsArgmax, jsDw }, i) => {
          const [batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride] = dims;
          const y = new Float32Array(pooled + 1).fill(7);
          nb.conv1dMaxPoolForward(
            x,
            w,
            bias,
            y.subarray(0, pooled),
            null,
            batch,
            length,
            chanIn,
            chanOut,
            kSize,
            stride,
            poolSize,
            poolStride,
          );
          expect(y[pooled]).toBe(7);
          const fused = y.subarray(0, pooled);
          const conv = new Float32Array(batch * convLength * chanOut);
          const twoStep = new Float32Array(pooled);
          const argmax = new Int32Array(pooled);
          nb.conv1dForward(x, w, bias, conv, batch, length, chanIn, chanOut, kSize, stride);
          nb.maxPool1dForward(conv, twoStep, argmax, batch, convLength, chanOut, poolSize, poolStride);
          relClose(fused, twoStep, `conv1dMaxPoolForward ${path} ${threads}T case ${i} against two steps`);
          relClose(fused, jsY, `conv1dMaxPoolForward ${path} ${threads}T case ${i} native against js`);
          // Training: the argmax the pooling records on the convolution, then the weight gradient
          // through it (accumulated onto dw), against maxPool1dBackward then conv1dBackwardWeight.
          const twoStepDw = dw0.slice();
          const dconv = new Float32Array(conv.length);
          nb.maxPool1dBackward(dy, argmax, dconv, batch, convLength, chanOut, poolSize, poolStride);
          nb.conv1dBackwardWeight(x, dconv, twoStepDw, batch, length, chanIn, chanOut, kSize, stride);
          const am = new Int32Array(pooled);
          nb.conv1dMaxPoolForward(
            x,
            w,
            bias,
            new Float32Array(pooled),
            am,
            batch,
            length,
            chanIn,
            chanOut,
            kSize,
            stride,
            poolSize,
            poolStride,
          );
          sameInts(am, argmax, `conv1dMaxPoolForward argmax ${path} ${threads}T case ${i}, fused against two steps`);
          sameInts(jsArgmax, argmax, `conv1dMaxPoolForward argmax ${path} ${threads}T case ${i}, js against native`);
          const dw = dw0.slice();
          nb.conv1dMaxPoolBackwardWeight(x, dy, am, dw, batch, length, chanIn, chanOut, kSize, stride, poolSize, poolStride);
          relClose(dw, twoStepDw, `conv1dMaxPoolBackwardWeight native ${path} ${threads}T case ${i}`);
          relClose(jsDw, twoStepDw, `conv1dMaxPoolBackwardWeight js against native ${path} ${threads}T case ${i}`);
        });
      }
    }
    native!.setKernelPath(initialPath as string);
  });
});

describe('elementwise kernels: native (every SIMD path, threaded sizes) against js', () => {
  const native = addon();
  const run = native && process.env.NEURONE_BACKEND !== 'js' ? test : test.skip;
  run('activations forward and backward, softmax, cross-entropy, BCE, optimiser steps', () => {
    const nb = nativeBackend(native!);
    const rel = (a: Float32Array, b: Float32Array, tol: number, what: string): void => {
      for (let i = 0; i < b.length; i++) {
        if (!(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])))) throw new Error(`${what}: ${a[i]} vs ${b[i]} at ${i}`);
      }
    };
    // The js results, computed once: every path and thread count is compared with the same ones
    // (recomputing them per path and thread count took most of this test's time).
    const cases = [1, 17, 70001, 200003].map((n) => {
      const x = randomArray(n).map((v) => v * 12);
      const dy = randomArray(n);
      const activations = Object.values(Activation).map((act) => {
        const [y, dx] = [new Float32Array(n), new Float32Array(n)];
        jsBackend.activationForward(act, 0.1, x, y, n);
        jsBackend.activationBackward(act, 0.1, x, y, dy, dx, n);
        return { act, y, dx };
      });
      // Optimiser steps (split across threads for large n): SGD, with dampening, with Nesterov's
      // look-ahead, then Adam from its result.
      const g = randomArray(n);
      const [w, v, m] = [x.slice(), dy.slice(), dy.map(Math.abs)];
      jsBackend.sgdStep(w, g, v, n, 0.1, 0.9, 0.01, 0, false);
      const afterSgd = w.slice();
      jsBackend.sgdStep(w, g, v, n, 0.1, 0.9, 0.01, 0.3, false);
      const afterDamped = w.slice();
      jsBackend.sgdStep(w, g, v, n, 0.1, 0.9, 0.01, 0, true);
      const afterNesterov = w.slice();
      jsBackend.adamStep(w, g, v, m, n, 0.01, 0.9, 0.999, 1e-8, 0, 3);
      return { n, x, dy, g, activations, afterSgd, afterDamped, afterNesterov, afterAdam: w };
    });
    for (const path of native!.supportedKernelPaths()) {
      native!.setKernelPath(path);
      for (const threads of [1, 2]) {
        native!.setThreads(threads);
        for (const { n, x, dy, g, activations, afterSgd, afterDamped, afterNesterov, afterAdam } of cases) {
          for (const { act, y, dx } of activations) {
            const [yn, dn] = [new Float32Array(n), new Float32Array(n)];
            nb.activationForward(act, 0.1, x, yn, n);
            rel(yn, y, 2e-6, `${path} ${threads}T activation ${act} forward n=${n}`);
            nb.activationBackward(act, 0.1, x, y, dy, dn, n);
            rel(dn, dx, 2e-6, `${path} ${threads}T activation ${act} backward n=${n}`);
          }
          const [wn, vn, mn] = [x.slice(), dy.slice(), dy.map(Math.abs)];
          nb.sgdStep(wn, g, vn, n, 0.1, 0.9, 0.01, 0, false);
          rel(wn, afterSgd, 1e-6, `${path} ${threads}T sgd n=${n}`);
          nb.sgdStep(wn, g, vn, n, 0.1, 0.9, 0.01, 0.3, false);
          rel(wn, afterDamped, 1e-6, `${path} ${threads}T sgd with dampening n=${n}`);
          nb.sgdStep(wn, g, vn, n, 0.1, 0.9, 0.01, 0, true);
          rel(wn, afterNesterov, 1e-6, `${path} ${threads}T sgd nesterov n=${n}`);
          nb.adamStep(wn, g, vn, mn, n, 0.01, 0.9, 0.999, 1e-8, 0, 3);
          rel(wn, afterAdam, 1e-5, `${path} ${threads}T adam n=${n}`);
        }
      }
      const rows = 33,
        cols = 10;
      const logits = randomArray(rows * cols).map((v) => v * 20);
      const labels = Int32Array.from({ length: rows }, (_, i) => i % cols);
      const [ln, lj, gn, gj] = [
        new Float32Array(rows),
        new Float32Array(rows),
        new Float32Array(rows * cols),
        new Float32Array(rows * cols),
      ];
      nb.crossEntropyLogits(logits, labels, ln, gn, rows, cols);
      jsBackend.crossEntropyLogits(logits, labels, lj, gj, rows, cols);
      rel(ln, lj, 1e-5, `${path} cross-entropy loss`);
      rel(gn, gj, 1e-5, `${path} cross-entropy grad`);
      for (const log of [false, true]) {
        const [sn, sj, bn, bj] = [
          new Float32Array(rows * cols),
          new Float32Array(rows * cols),
          new Float32Array(rows * cols),
          new Float32Array(rows * cols),
        ];
        nb.softmaxForward(logits, sn, rows, cols, log);
        jsBackend.softmaxForward(logits, sj, rows, cols, log);
        rel(sn, sj, 1e-5, `${path} softmax log=${log}`);
        nb.softmaxBackward(sj, gj, bn, rows, cols, log);
        jsBackend.softmaxBackward(sj, gj, bj, rows, cols, log);
        rel(bn, bj, 1e-5, `${path} softmax backward log=${log}`);
      }
      // One row of 100,003: the row's sums must not lose digits (a float running sum lost four; the
      // SIMD lane sums over the whole row, before they went into a double block by block, 9e-6 of
      // the largest value on AVX2, 2.7e-6 on AVX-512, 2.3e-5 on NEON; now 4e-8 here).
      const long = Float32Array.from({ length: 100003 }, () => rng.normal() * 3);
      const wide = long.length;
      const [sLong, sRef, bLong, bRef] = [new Float32Array(wide), new Float32Array(wide), new Float32Array(wide), new Float32Array(wide)];
      const dLong = randomArray(wide);
      // Relative to the row's largest value: its values are ~1e-5 each, under rel's absolute floor.
      const rowRel = (a: Float32Array, b: Float32Array, what: string): void => {
        let worst = 0;
        let largest = 0;
        for (let i = 0; i < b.length; i++) {
          worst = Math.max(worst, Math.abs(a[i] - b[i]));
          largest = Math.max(largest, Math.abs(b[i]));
        }
        if (!(worst <= 1e-6 * largest)) throw new Error(`${what}: off by ${worst / largest} of the largest value`);
      };
      nb.softmaxForward(long, sLong, 1, wide, false);
      jsBackend.softmaxForward(long, sRef, 1, wide, false);
      rowRel(sLong, sRef, `${path} softmax of a row of ${wide}`);
      nb.softmaxBackward(sRef, dLong, bLong, 1, wide, false);
      jsBackend.softmaxBackward(sRef, dLong, bRef, 1, wide, false);
      rowRel(bLong, bRef, `${path} softmax backward of a row of ${wide}`);
      const p = randomArray(rows * cols).map((v) => Math.abs(v));
      p[0] = 0;
      p[1] = 1;
      const t = randomArray(rows * cols).map((v) => Math.abs(v));
      nb.binaryCrossEntropy(p, t, ln, gn, rows, cols);
      jsBackend.binaryCrossEntropy(p, t, lj, gj, rows, cols);
      rel(ln, lj, 1e-5, `${path} BCE loss`);
      rel(gn, gj, 1e-5, `${path} BCE grad`);
      // TanH's backward near |y| = 1, relative to its own size: 1 − y² from y·y rounded first was
      // 8.6e-5 off the js twin's double at y = 0.99983; (1 − y)(1 + y) is within 1.2e-7.
      const ramp = Float32Array.from({ length: 100000 }, (_, i) => -9 + (18 * i) / 100000);
      const tanhY = new Float32Array(ramp.length);
      jsBackend.activationForward(Activation.TanH, 0, ramp, tanhY, ramp.length);
      const ones = new Float32Array(ramp.length).fill(1);
      const slopeN = new Float32Array(ramp.length);
      const slopeJ = new Float32Array(ramp.length);
      nb.activationBackward(Activation.TanH, 0, ramp, tanhY, ones, slopeN, ramp.length);
      jsBackend.activationBackward(Activation.TanH, 0, ramp, tanhY, ones, slopeJ, ramp.length);
      let slopeWorst = 0;
      for (let i = 0; i < ramp.length; i++)
        if (slopeJ[i] > 0) slopeWorst = Math.max(slopeWorst, Math.abs(slopeN[i] - slopeJ[i]) / slopeJ[i]);
      expect([path, 'tanh backward', slopeWorst <= 5e-7 ? 'within 5e-7' : slopeWorst]).toEqual([path, 'tanh backward', 'within 5e-7']);
      // A row of a million: the loss within 2e-7 of the js twin's double sum (the scalar path's
      // float running sum was 2e-4 off, AVX-512's lane sums over the whole row 1.1e-6), and a NaN
      // probability gives NaN in the gradient whatever the target (the scalar path's fmax made it
      // ±1e12, or 0).
      const million = 1000003;
      const pLong = Float32Array.from({ length: million }, () => 0.05 + 0.9 * rng.uniform());
      const tLong = Float32Array.from({ length: million }, () => (rng.uniform() < 0.5 ? 1 : 0));
      const lossN = new Float32Array(1);
      const lossJ = new Float32Array(1);
      const gLong = new Float32Array(million);
      nb.binaryCrossEntropy(pLong, tLong, lossN, gLong, 1, million);
      jsBackend.binaryCrossEntropy(pLong, tLong, lossJ, gLong, 1, million);
      if (!(Math.abs(lossN[0] - lossJ[0]) <= 2e-7 * Math.abs(lossJ[0])))
        throw new Error(`${path} BCE of a row of ${million}: ${lossN[0]} against ${lossJ[0]}`);
      const pNaN = Float32Array.of(NaN, NaN, NaN, 0.25);
      const gNaN = new Float32Array(4);
      nb.binaryCrossEntropy(pNaN, Float32Array.of(1, 0, 0.5, 1), lossN, gNaN, 1, 4);
      expect([path, Array.from(gNaN.subarray(0, 3)), gNaN[3], lossN[0]]).toEqual([path, [NaN, NaN, NaN], -4, NaN]);
    }
    native!.setThreads(2);
    native!.setKernelPath(initialPath as string);
  });

  run('sumOfSquares: the same bits on every path and in js, NaN and Infinity carried, a sum in double', () => {
    const nb = nativeBackend(native!);
    const cases = [0, 1, 7, 9, 32768, 70001, 3000017].map((n) => randomArray(n).map((v) => v * 1e3));
    // Squares past float32's range: the sum is kept in double, not overflowed.
    cases.push(Float32Array.from({ length: 20 }, (_, i) => 3e38 * (i % 2 ? -1 : 1)));
    const special = Float32Array.of(1, 2, Infinity, 3);
    const nan = Float32Array.of(1, NaN, -Infinity, 3);
    for (const path of native!.supportedKernelPaths()) {
      native!.setKernelPath(path);
      for (const x of cases) {
        const js = jsBackend.sumOfSquares(x, x.length);
        for (const threads of [1, 2, 3]) {
          native!.setThreads(threads);
          expect([path, threads, x.length, nb.sumOfSquares(x, x.length)]).toEqual([path, threads, x.length, js]);
        }
        let plain = 0;
        for (const v of x) plain += v * v;
        expect(Math.abs(js - plain)).toBeLessThanOrEqual(1e-12 * plain);
      }
      expect(nb.sumOfSquares(special, 4)).toBe(Infinity);
      expect(nb.sumOfSquares(nan, 4)).toBeNaN();
      expect(nb.sumOfSquares(special, 2)).toBe(5); // only the first n values
    }
    expect(jsBackend.sumOfSquares(cases[cases.length - 1], 20)).toBeGreaterThan(1.7e78);
    native!.setThreads(2);
    native!.setKernelPath(initialPath as string);
  });
});
