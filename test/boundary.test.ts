// Bad arguments at every kernel entry point: each throws a TypeError or
// RangeError naming the argument with the expected and received value, the
// same on both backends, and the process survives.
import { jsBackend } from '../lib/backend/js';
import { nativeBackend } from '../lib/backend/native';
import { ACTIVATION_MAX } from '../lib/backend/ops';
import { Backend } from '../lib/backend/types';
import { addon } from './backends';

const backends: [string, Backend][] = [['js', jsBackend]];
const native = addon();
if (native && process.env.NEURONE_BACKEND !== 'js') backends.push(['native', nativeBackend(native)]);

const f = (n: number): Float32Array => new Float32Array(n);

// Errors thrown by the addon come from Node's own realm, not jest's sandbox, so
// `instanceof TypeError` fails there: compare the constructor's name instead.
function expectThrow(call: () => void, type: string, message: RegExp): void {
  let caught: unknown;
  try {
    call();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) throw new Error(`expected a ${type} matching ${message}, but nothing was thrown`);
  const err = caught as Error;
  expect(`${err.name}: ${err.message}`).toMatch(new RegExp(`^${type}: ${message.source}`));
}

describe.each(backends)('%s backend', (_name, be) => {
  // A valid sgemm call: 2x3 · 3x4.
  const gemmArgs = (): unknown[] => [false, false, 2, 4, 3, 1, f(6), 0, 3, f(12), 0, 4, 0, f(8), 0, 4];
  const callGemm = (args: unknown[]): void => (be.sgemm as (...a: unknown[]) => void)(...args);
  const withArg = (i: number, v: unknown): unknown[] => {
    const a = gemmArgs();
    a[i] = v;
    return a;
  };

  test('a valid sgemm call passes', () => {
    expect(() => callGemm(gemmArgs())).not.toThrow();
  });

  test('scalars a float32 holds pass, infinities and the largest float32 included', () => {
    expect(() => callGemm(withArg(5, Infinity))).not.toThrow();
    expect(() => callGemm(withArg(5, 3.4028234663852886e38))).not.toThrow();
    expect(() => callGemm(withArg(12, -Infinity))).not.toThrow();
  });

  test.each([
    [0, 'yes', 'TypeError', /sgemm: transA must be a boolean, got string yes/],
    [2, '2', 'TypeError', /sgemm: m must be a number, got string 2/],
    [2, -1, 'RangeError', /sgemm: m must be an integer in \[0, 2\^31-1\], got -1/],
    [3, 2.5, 'RangeError', /sgemm: n must be an integer in \[0, 2\^31-1\], got 2.5/],
    [4, NaN, 'RangeError', /sgemm: k must be an integer .*got NaN/],
    [4, Infinity, 'RangeError', /sgemm: k must be an integer .*got Infinity/],
    [4, 2 ** 40, 'RangeError', /sgemm: k must be an integer in \[0, 2\^31-1\]/],
    // Scalars go to float32 kernels: a finite value no float32 holds is refused (infinities pass).
    [5, 1e308, 'RangeError', /sgemm: alpha must be within the float32 range \(magnitude at most 3\.4028235e\+38\), got 1e\+308/],
    [12, -3.5e38, 'RangeError', /sgemm: beta must be within the float32 range .*got -3\.5e\+38/],
    [6, new Float64Array(6), 'TypeError', /sgemm: a must be a Float32Array, got Float64Array\(6\)/],
    [6, [1, 2, 3, 4, 5, 6], 'TypeError', /sgemm: a must be a Float32Array, got Array\(6\)/],
    [9, null, 'TypeError', /sgemm: b must be a Float32Array, got null/],
    [6, f(5), 'RangeError', /sgemm: a is too short: expected at least 6 elements, got 5/],
    [7, 1, 'RangeError', /sgemm: a is too short: expected at least 7 elements, got 6/],
    [8, 2, 'RangeError', /sgemm: lda must be at least 3, got 2/],
    [11, 3, 'RangeError', /sgemm: ldb must be at least 4, got 3/],
    [15, 3, 'RangeError', /sgemm: ldc must be at least 4, got 3/],
    [13, f(7), 'RangeError', /sgemm: c is too short: expected at least 8 elements, got 7/],
    [14, 2 ** 31 - 1, 'RangeError', /sgemm: c is too short/],
    [12, undefined, 'TypeError', /sgemm: beta must be a number, got undefined/],
  ])('sgemm argument %i = %p throws %p', (i, v, type, message) => {
    expectThrow(() => callGemm(withArg(i as number, v)), type as string, message as RegExp);
  });

  test('sgemm: huge strides whose span overflows are rejected, not wrapped', () => {
    const args = [false, false, 2 ** 31 - 1, 2 ** 31 - 1, 1, 1, f(4), 0, 2 ** 31 - 1, f(4), 0, 2 ** 31 - 1, 0, f(4), 0, 2 ** 31 - 1];
    expectThrow(() => callGemm(args), 'RangeError', /sgemm: /);
  });

  test('sgemm: a detached buffer is rejected when data is needed', () => {
    const a = f(6);
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    expect(() => callGemm([false, false, 2, 4, 3, 1, a, 0, 3, f(12), 0, 4, 0, f(8), 0, 4])).toThrow(/sgemm: a is too short/);
  });

  // conv1d: batch 2, length 5, chanIn 3, chanOut 4, kSize 2, stride 2 -> outLength 2.
  // conv1dMaxPool*: pool 2 / stride 1 on those 2 positions -> pooledLength 1, 8 outputs; the
  // argmax of the backward call is valid (each window's first position).
  type ConvEntry =
    'conv1dForward' | 'conv1dMaxPoolForward' | 'conv1dMaxPoolBackwardWeight' | 'conv1dBackwardInput' | 'conv1dBackwardWeight';
  const firstPositions = (): Int32Array => Int32Array.from([0, 1, 2, 3, 8, 9, 10, 11]);
  const conv = (name: ConvEntry, patch: Record<number, unknown> = {}): void => {
    const base: Record<string, unknown[]> = {
      conv1dForward: [f(30), f(24), null, f(16), 2, 5, 3, 4, 2, 2],
      conv1dMaxPoolForward: [f(30), f(24), null, f(8), null, 2, 5, 3, 4, 2, 2, 2, 1],
      conv1dMaxPoolBackwardWeight: [f(30), f(8), firstPositions(), f(24), 2, 5, 3, 4, 2, 2, 2, 1],
      conv1dBackwardInput: [f(16), f(24), f(30), 2, 5, 3, 4, 2, 2],
      conv1dBackwardWeight: [f(30), f(16), f(24), 2, 5, 3, 4, 2, 2],
    };
    const args = base[name].slice();
    for (const [i, v] of Object.entries(patch)) args[Number(i)] = v;
    (be[name] as (...a: unknown[]) => void)(...args);
  };

  // Padding gives outputs to an image of no width or no height, which arrives as an empty
  // Float32Array (its data pointer null on the native side: copying zero floats from it was
  // undefined behaviour, which UBSan stopped the fuzzer on in test:asan).
  test.each([
    ['no width', 3, 0, 1],
    ['no height', 0, 2, 1],
  ])('conv2d over an image of %s, padded: the outputs are the bias, the gradients zero', (_what, height, width, chanIn) => {
    const [batch, chanOut, k, stride, pad] = [2, 2, 1, 1, 1];
    const shape = [batch, height, width, chanIn, chanOut, k, k, stride, stride, pad, pad] as const;
    const [outH, outW] = [height + 2 * pad, width + 2 * pad];
    const x = f(batch * height * width * chanIn);
    const w = f(k * k * chanIn * chanOut).fill(0.25);
    const y = f(batch * outH * outW * chanOut).fill(NaN);
    be.conv2dForward(x, w, Float32Array.of(0.5, -1), y, ...shape);
    expect(Array.from(y)).toEqual(Array.from({ length: y.length }, (_, i) => (i % 2 === 0 ? 0.5 : -1)));
    const dy = f(y.length).fill(1);
    const dx = f(x.length);
    be.conv2dBackwardInput(dy, w, dx, ...shape);
    const dw = f(w.length);
    be.conv2dBackwardWeight(x, dy, dw, ...shape);
    expect([x.length, Array.from(dw).every((v) => v === 0)]).toEqual([0, true]);
  });

  test('valid conv1d calls pass', () => {
    expect(() => conv('conv1dForward')).not.toThrow();
    expect(() => conv('conv1dForward', { 2: f(4) })).not.toThrow();
    expect(() => conv('conv1dMaxPoolForward')).not.toThrow();
    expect(() => conv('conv1dMaxPoolForward', { 2: f(4), 4: new Int32Array(8) })).not.toThrow();
    expect(() => conv('conv1dMaxPoolForward', { 2: f(4), 11: 3 })).not.toThrow(); // no window fits: nothing to write
    expect(() => conv('conv1dMaxPoolBackwardWeight')).not.toThrow();
    expect(() => conv('conv1dBackwardInput')).not.toThrow();
    expect(() => conv('conv1dBackwardWeight')).not.toThrow();
  });

  test.each([
    ['conv1dForward', { 0: f(29) }, 'RangeError', /conv1dForward: x is too short: expected at least 30 elements, got 29/],
    ['conv1dForward', { 1: f(23) }, 'RangeError', /conv1dForward: w is too short: expected at least 24 elements, got 23/],
    ['conv1dForward', { 2: f(3) }, 'RangeError', /conv1dForward: bias is too short: expected at least 4 elements, got 3/],
    ['conv1dForward', { 3: f(15) }, 'RangeError', /conv1dForward: y is too short: expected at least 16 elements, got 15/],
    ['conv1dForward', { 2: new Int32Array(4) }, 'TypeError', /conv1dForward: bias must be a Float32Array, got Int32Array\(4\)/],
    ['conv1dForward', { 8: 0 }, 'RangeError', /conv1dForward: kSize must be an integer in \[1, 2\^31-1\], got 0/],
    ['conv1dForward', { 9: 0 }, 'RangeError', /conv1dForward: stride must be an integer in \[1, 2\^31-1\], got 0/],
    ['conv1dForward', { 6: 'a' }, 'TypeError', /conv1dForward: chanIn must be a number, got string a/],
    ['conv1dMaxPoolForward', { 3: f(7) }, 'RangeError', /conv1dMaxPoolForward: y is too short: expected at least 8 elements, got 7/],
    ['conv1dMaxPoolForward', { 0: f(29) }, 'RangeError', /conv1dMaxPoolForward: x is too short: expected at least 30 elements, got 29/],
    [
      'conv1dMaxPoolForward',
      { 4: new Int32Array(7) },
      'RangeError',
      /conv1dMaxPoolForward: argmax is too short: expected at least 8 elements, got 7/,
    ],
    ['conv1dMaxPoolForward', { 4: f(8) }, 'TypeError', /conv1dMaxPoolForward: argmax must be an Int32Array, got Float32Array\(8\)/],
    ['conv1dMaxPoolForward', { 11: 0 }, 'RangeError', /conv1dMaxPoolForward: poolSize must be an integer in \[1, 2\^31-1\], got 0/],
    ['conv1dMaxPoolForward', { 12: 1.5 }, 'RangeError', /conv1dMaxPoolForward: poolStride must be an integer in \[1, 2\^31-1\], got 1.5/],
    ['conv1dMaxPoolForward', { 12: null }, 'TypeError', /conv1dMaxPoolForward: poolStride must be a number, got null/],
    [
      'conv1dMaxPoolForward',
      { 2: new Float64Array(4) },
      'TypeError',
      /conv1dMaxPoolForward: bias must be a Float32Array, got Float64Array\(4\)/,
    ],
    [
      'conv1dMaxPoolBackwardWeight',
      { 1: f(7) },
      'RangeError',
      /conv1dMaxPoolBackwardWeight: dy is too short: expected at least 8 elements, got 7/,
    ],
    [
      'conv1dMaxPoolBackwardWeight',
      { 3: f(23) },
      'RangeError',
      /conv1dMaxPoolBackwardWeight: dw is too short: expected at least 24 elements, got 23/,
    ],
    [
      'conv1dMaxPoolBackwardWeight',
      { 2: f(8) },
      'TypeError',
      /conv1dMaxPoolBackwardWeight: argmax must be an Int32Array, got Float32Array\(8\)/,
    ],
    // The backward needs the forward's argmax: null (inference's "none") is refused, even with nothing to do.
    ['conv1dMaxPoolBackwardWeight', { 2: null }, 'TypeError', /conv1dMaxPoolBackwardWeight: argmax must be an Int32Array, got null/],
    ['conv1dMaxPoolBackwardWeight', { 2: null, 4: 0 }, 'TypeError', /conv1dMaxPoolBackwardWeight: argmax must be an Int32Array, got null/],
    [
      'conv1dMaxPoolBackwardWeight',
      { 10: -1 },
      'RangeError',
      /conv1dMaxPoolBackwardWeight: poolSize must be an integer in \[1, 2\^31-1\], got -1/,
    ],
    // Output 0 of sample 1, channel 0 covers convolution positions 0..1 of that sample: 8 or 12, not 0.
    [
      'conv1dMaxPoolBackwardWeight',
      { 2: Int32Array.from([0, 1, 2, 3, 0, 9, 10, 11]) },
      'RangeError',
      /conv1dMaxPoolBackwardWeight: argmax\[4\] = 0 is outside its window: output 0 of 1, channel 0 of sample 1 takes one of 8\.\.12 in steps of 4/,
    ],
    ['conv1dForward', { 4: 2 ** 31 - 1, 5: 2 ** 31 - 1, 6: 2 ** 31 - 1 }, 'RangeError', /conv1dForward: /],
    ['conv1dBackwardInput', { 0: f(15) }, 'RangeError', /conv1dBackwardInput: dy is too short: expected at least 16 elements, got 15/],
    ['conv1dBackwardInput', { 2: f(29) }, 'RangeError', /conv1dBackwardInput: dx is too short/],
    ['conv1dBackwardWeight', { 2: f(1) }, 'RangeError', /conv1dBackwardWeight: dw is too short: expected at least 24 elements, got 1/],
    ['conv1dBackwardWeight', { 0: {} }, 'TypeError', /conv1dBackwardWeight: x must be a Float32Array, got object/],
  ])('%s with %p throws %p', (name, patch, type, message) => {
    const call = (): void => conv(name as ConvEntry, patch as Record<number, unknown>);
    expectThrow(call, type as string, message as RegExp);
  });

  test('conv1dMaxPoolBackwardWeight refusing an out-of-window argmax leaves dw as it was', () => {
    const dw = f(24).fill(3);
    expect(() =>
      be.conv1dMaxPoolBackwardWeight(f(30).fill(1), f(8).fill(1), Int32Array.from([0, 1, 2, 3, 0, 9, 10, 11]), dw, 2, 5, 3, 4, 2, 2, 2, 1),
    ).toThrow(/outside its window/);
    expect(Array.from(dw).every((v) => v === 3)).toBe(true);
  });

  test('maxPool1dBackward refusing an out-of-window argmax leaves dx cleared', () => {
    const argmax = new Int32Array(18);
    for (let o = 0; o < 18; o++) argmax[o] = (Math.floor(o / 9) * 6 + Math.floor((o % 9) / 3) * 2) * 3 + (o % 3);
    argmax[3] = 0;
    const dx = f(36).fill(7);
    expect(() => be.maxPool1dBackward(f(18).fill(1), argmax, dx, 2, 6, 3, 2, 2)).toThrow(/outside its window/);
    expect(Array.from(dx).every((v) => v === 0)).toBe(true);
  });

  // pooling: batch 2, length 6, chan 3, kSize 2, stride 2 -> outLength 3.
  const i32 = (n: number): Int32Array => new Int32Array(n);
  /** A valid argmax for that shape (each window's first position), with entry `at` set to `value`. */
  const windowArgmax = (at: number, value: number): Int32Array => {
    const a = i32(18);
    for (let o = 0; o < 18; o++) a[o] = (Math.floor(o / 9) * 6 + Math.floor((o % 9) / 3) * 2) * 3 + (o % 3);
    a[at] = value;
    return a;
  };
  test.each([
    [
      'maxPool1dForward',
      [f(35), f(18), i32(18), 2, 6, 3, 2, 2],
      'RangeError',
      /maxPool1dForward: x is too short: expected at least 36 elements, got 35/,
    ],
    [
      'maxPool1dForward',
      [f(36), f(18), f(18), 2, 6, 3, 2, 2],
      'TypeError',
      /maxPool1dForward: argmax must be an Int32Array, got Float32Array\(18\)/,
    ],
    ['maxPool1dForward', [f(36), f(18), i32(17), 2, 6, 3, 2, 2], 'RangeError', /maxPool1dForward: argmax is too short/],
    [
      'maxPool1dForward',
      [f(36), f(18), i32(18), 2, 6, 0, 2, 2],
      'RangeError',
      /maxPool1dForward: chan must be an integer in \[1, 2\^31-1\], got 0/,
    ],
    ['maxPool1dBackward', [f(18), i32(18).fill(99), f(36), 2, 6, 3, 2, 2], 'RangeError', /maxPool1dBackward: argmax\[0\] = 99 is outside/],
    ['maxPool1dBackward', [f(18), i32(18).fill(-1), f(36), 2, 6, 3, 2, 2], 'RangeError', /maxPool1dBackward: argmax\[0\] = -1 is outside/],
    ['maxPool1dBackward', [f(17), i32(18), f(36), 2, 6, 3, 2, 2], 'RangeError', /maxPool1dBackward: dy is too short/],
    // In its sample but not in its window: output 1 of sample 0, channel 0 takes 6 or 9, not 0.
    [
      'maxPool1dBackward',
      [f(18), windowArgmax(3, 0), f(36), 2, 6, 3, 2, 2],
      'RangeError',
      /maxPool1dBackward: argmax\[3\] = 0 is outside its window: output 1 of 3, channel 0 of sample 0 takes one of 6\.\.9 in steps of 3/,
    ],
    [
      'avgPool1dForward',
      [f(36), f(17), 2, 6, 3, 2, 2],
      'RangeError',
      /avgPool1dForward: y is too short: expected at least 18 elements, got 17/,
    ],
    [
      'avgPool1dForward',
      [f(36), f(18), 2, 6, 3, 2, -2],
      'RangeError',
      /avgPool1dForward: stride must be an integer in \[1, 2\^31-1\], got -2/,
    ],
    ['avgPool1dBackward', [f(18), f(35), 2, 6, 3, 2, 2], 'RangeError', /avgPool1dBackward: dx is too short/],
    ['avgPool1dBackward', [f(18), 'dx', 2, 6, 3, 2, 2], 'TypeError', /avgPool1dBackward: dx must be a Float32Array, got string dx/],
  ])('%s with bad arguments throws', (name, args, type, message) => {
    const call = (): void => (be[name as keyof Backend] as (...a: unknown[]) => void)(...(args as unknown[]));
    expectThrow(call, type as string, message as RegExp);
  });

  // The elementwise entry points: activation code, lengths, label range, nullable arrays.
  const i32b = (n: number): Int32Array => new Int32Array(n);
  test.each([
    [
      'activationForward',
      [ACTIVATION_MAX + 1, 0, f(4), f(4), 4],
      'RangeError',
      // The first code past the table's last, so a new activation needs no edit here.
      new RegExp(`activationForward: activation must be an activation code in \\[0, ${ACTIVATION_MAX}\\], got ${ACTIVATION_MAX + 1}`),
    ],
    ['activationForward', [3, 0, f(3), f(4), 4], 'RangeError', /activationForward: x is too short: expected at least 4 elements, got 3/],
    ['activationForward', [3, '0', f(4), f(4), 4], 'TypeError', /activationForward: alpha must be a number, got string 0/],
    ['activationBackward', [3, 0, f(4), f(4), f(4), f(2), 4], 'RangeError', /activationBackward: dx is too short/],
    ['addRowVector', [f(6), f(2), 2, 3], 'RangeError', /addRowVector: v is too short: expected at least 3 elements, got 2/],
    ['sumRows', [f(6), 2, 3, new Float64Array(3)], 'TypeError', /sumRows: out must be a Float32Array, got Float64Array\(3\)/],
    ['softmaxForward', [f(6), f(6), 2, 0, false], 'RangeError', /softmaxForward: cols must be an integer in \[1, 2\^31-1\], got 0/],
    ['softmaxBackward', [f(6), f(6), f(6), 2, 3, 1], 'TypeError', /softmaxBackward: log must be a boolean, got number 1/],
    [
      'crossEntropyLogits',
      [f(6), i32b(2).fill(3), f(2), null, 2, 3],
      'RangeError',
      /crossEntropyLogits: labels\[0\] must be a class index in \[0, 3\), got 3/,
    ],
    [
      'crossEntropyLogits',
      [f(6), f(2), f(2), null, 2, 3],
      'TypeError',
      /crossEntropyLogits: labels must be an Int32Array, got Float32Array\(2\)/,
    ],
    [
      'binaryCrossEntropy',
      [f(6), f(6), f(1), f(6), 2, 3],
      'RangeError',
      /binaryCrossEntropy: loss is too short: expected at least 2 elements, got 1/,
    ],
    [
      'sgdStep',
      [f(4), f(4), f(3), 4, 0.1, 0.9, 0, 0, false],
      'RangeError',
      /sgdStep: velocity is too short: expected at least 4 elements, got 3/,
    ],
    ['sgdStep', [f(4), f(4), f(4), 4, 1e308, 0.9, 0, 0, false], 'RangeError', /sgdStep: lr must be within the float32 range .*got 1e\+308/],
    ['activationForward', [3, 1e39, f(4), f(4), 4], 'RangeError', /activationForward: alpha must be within the float32 range .*got 1e\+39/],
    [
      'adamStep',
      [f(4), f(4), f(4), f(4), 4, 0.1, 0.9, 0.999, 1e-8, 0, 0],
      'RangeError',
      /adamStep: step must be an integer in \[1, 2\^31-1\], got 0/,
    ],
    ['nonFiniteIndex', [f(4), 5], 'RangeError', /nonFiniteIndex: x is too short: expected at least 5 elements, got 4/],
    ['sumOfSquares', [f(4), 5], 'RangeError', /sumOfSquares: x is too short: expected at least 5 elements, got 4/],
  ])('%s with bad arguments throws', (name, args, type, message) => {
    const call = (): void => (be[name as keyof Backend] as (...a: unknown[]) => void)(...(args as unknown[]));
    expectThrow(call, type as string, message as RegExp);
  });

  test('setThreads rejects non-positive and fractional counts', () => {
    expectThrow(() => be.setThreads(0), 'RangeError', /setThreads: /);
    expectThrow(() => be.setThreads(1.5), 'RangeError', /setThreads: /);
  });
});

describe('native entry points check the argument count', () => {
  const run = native && process.env.NEURONE_BACKEND !== 'js' ? test : test.skip;
  run('too few or too many arguments is a TypeError', () => {
    const a = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => a.sgemm(false, false, 1)).toThrow(/sgemm: expected 16 arguments, got 3/);
    expect(() => a.conv1dForward()).toThrow(/conv1dForward: expected 10 arguments, got 0/);
    expect(() => a.maxPool1dBackward(1, 2, 3, 4, 5, 6, 7, 8, 9)).toThrow(/maxPool1dBackward: expected 8 arguments, got 9/);
    expect(() => a.setKernelPath('sse9')).toThrow(/setKernelPath: path must be 'scalar', 'avx2', 'avx512' or 'neon', got 'sse9'/);
    // A known path this CPU or binary lacks (NEON on x86-64, the x86 paths on aarch64) is refused by name.
    const supported = a.supportedKernelPaths() as string[];
    const missing = ['avx2', 'avx512', 'neon'].find((p) => !supported.includes(p));
    if (missing) expect(() => a.setKernelPath(missing)).toThrow(new RegExp(`setKernelPath: '${missing}' is not supported here`));
  });

  run('fmaProbe counts the FLOPs of its chains on every path and validates steps', () => {
    const a = native as unknown as {
      fmaProbe(steps: unknown): number;
      kernelPath(): string;
      setKernelPath(p: string): void;
      supportedKernelPaths(): string[];
    };
    const chains: Record<string, number> = { scalar: 8, avx2: 12 * 8, avx512: 16 * 16 };
    const original = a.kernelPath();
    try {
      for (const path of a.supportedKernelPaths()) {
        a.setKernelPath(path);
        expect(a.fmaProbe(1000)).toBe(2 * chains[path] * 1000);
        expect(a.fmaProbe(1)).toBe(2 * chains[path]);
      }
    } finally {
      a.setKernelPath(original);
    }
    expectThrow(() => a.fmaProbe(0), 'RangeError', /fmaProbe: steps must be an integer in \[1, 2\^31-1\], got 0/);
    expectThrow(() => a.fmaProbe(2.5), 'RangeError', /fmaProbe: steps must be an integer/);
    expectThrow(() => a.fmaProbe('10'), 'TypeError', /fmaProbe: steps must be a number, got string/);
    expect(() => (a.fmaProbe as unknown as () => number)()).toThrow(/fmaProbe: expected 1 arguments, got 0/);
  });
});
