// Numerical safety on both backends (test/losses.test.ts and test/nn/activations.test.ts hold the
// known values on the default backend): extreme logits and probabilities stay finite through
// forward and backward, in-place softmax is right, and a non-finite training step stops with the
// epoch, batch and module named, weights untouched, unless allowNonFinite.
import { addon, availableBackends } from './backends';
import { jsBackend } from '../lib/backend/js';
import { nativeBackend } from '../lib/backend/native';
import { Activation } from '../lib/backend/types';
import { backend, setBackend } from '../lib/backend';
import { fromArray, Tensor } from '../lib/tensor';
import { seed } from '../lib/random';
import { Sequential, Linear, Conv1D, Flatten, StableSigmoid, Sigmoid, LogSoftmax, Softmax, SoftPlus, TanH } from '../lib/nn';
import { BCELoss, CELogSoftmaxLoss, CrossEntropyLoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit, NonFiniteError } from '../lib/train';

const finite = (t: Tensor | Float32Array): boolean => Array.from('data' in t ? t.data : t).every(Number.isFinite);

describe.each(availableBackends())('%s backend', (name) => {
  beforeAll(() => setBackend(name));

  const extreme = fromArray([
    [1e4, -1e4, 0, 88, -88, 1e-30],
    [-1e4, -1e4, -1e4, -1e4, -1e4, -1e4],
  ]);
  const ones = fromArray([
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1],
  ]);

  test.each([
    ['StableSigmoid', () => new StableSigmoid()],
    ['Sigmoid', () => new Sigmoid()],
    ['LogSoftmax', () => new LogSoftmax()],
    ['Softmax', () => new Softmax()],
    ['SoftPlus', () => new SoftPlus()],
    ['TanH', () => new TanH()],
  ] as const)('%s: forward and backward finite at logits of ±1e4', (_n, make) => {
    const m = make();
    expect(finite(m.forward(extreme))).toBe(true);
    expect(finite(m.backwardDelta(extreme, ones))).toBe(true);
  });

  test('StableSigmoid saturates exactly: σ(1e4) = 1, σ(−1e4) = 0', () => {
    const y = new StableSigmoid().forward(fromArray([[1e4, -1e4]])).data;
    expect(Array.from(y)).toEqual([1, 0]);
  });

  test('LogSoftmax at ±1e4: exact log-probabilities, no log(0)', () => {
    expect(Array.from(new LogSoftmax().forward(fromArray([[1e4, -1e4, 1e4]])).data)).toEqual(
      [-Math.fround(Math.LN2), -2e4 - Math.fround(Math.LN2), -Math.fround(Math.LN2)].map(Math.fround),
    );
  });

  test('softmax and log-softmax computed in place (y = x) equal the out-of-place result', () => {
    for (const log of [false, true]) {
      const x = Float32Array.from([3, -1, 1e4, 0.5, -1e4, 2, 0, 7, -3, 1, 1, 1]);
      const out = new Float32Array(x.length);
      backend().softmaxForward(x, out, 3, 4, log);
      const inPlace = x.slice();
      backend().softmaxForward(inPlace, inPlace, 3, 4, log);
      expect(Array.from(inPlace)).toEqual(Array.from(out));
    }
  });

  test('cross-entropy from logits of ±1e4 (indices and one-hot): finite loss and gradient', () => {
    const logits = fromArray([
      [1e4, -1e4, 0],
      [-1e4, -1e4, -1e4],
      [-1e4, 1e4, 1e4],
    ]);
    const ce = new CELogSoftmaxLoss();
    for (const y of [
      fromArray([1, 2, 0]),
      fromArray([
        [0, 1, 0],
        [0, 0, 1],
        [1, 0, 0],
      ]),
    ]) {
      const l = ce.forward(y, logits);
      expect(finite(l)).toBe(true);
      expect(l.data[0]).toBeCloseTo(2e4, 0);
      expect(finite(ce.backward(y, logits))).toBe(true);
    }
    const logp = new LogSoftmax().forward(logits);
    expect(finite(new CrossEntropyLoss().forward(fromArray([1, 2, 0]), logp))).toBe(true);
  });

  test('BCE at probabilities 0 and 1 (both targets): finite, clipped at 100 per entry, gradient at most 1e12', () => {
    const bce = new BCELoss();
    const p = fromArray([[0, 1, 0, 1]]);
    const y = fromArray([[0, 1, 1, 0]]);
    expect(Array.from(bce.forward(y, p).data)).toEqual([200]);
    const g = bce.backward(y, p).data;
    expect(finite(g)).toBe(true);
    expect(Math.max(...Array.from(g, Math.abs))).toBeLessThanOrEqual(Math.fround(1e12));
  });

  test('Sigmoid → BCE at logits ±1e4: the whole training step is finite and fit does not stop', async () => {
    seed(1);
    const net = new Sequential(new Linear(2, 1, { init: 'zeros' }), new StableSigmoid());
    const x = fromArray([
      [1e4, 0],
      [-1e4, 0],
      [1e4, 1],
      [-1e4, 1],
    ]);
    const y = fromArray([[0], [1], [1], [0]]); // confidently wrong on half of them
    const h = await fit(net, new BCELoss(), new SGD({ lr: 1e-6 }), { x, y }, { epochs: 3, batchSize: 4, verbose: 0 });
    expect(h.epochs.every((e) => Number.isFinite(e.trainLoss))).toBe(true);
    expect(net.parameters().every((p) => finite(p.value.data))).toBe(true);
  });

  test('an overflowing Conv1D gradient stops fit with epoch, batch, parameter and module named, weights untouched', async () => {
    seed(2);
    const net = new Sequential(new Conv1D(2, 1, 2), new Flatten(), new Linear(6, 1));
    const x = fromArray(new Float32Array(2 * 4).fill(3e38), [2, 4, 1]);
    const before = net.parameters().map((p) => p.value.data.slice());
    let caught: unknown;
    try {
      await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), { x, y: fromArray([[1], [0]]) }, { epochs: 2, batchSize: 2, verbose: 0 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteError);
    const err = caught as NonFiniteError;
    expect([err.epoch, err.batch]).toEqual([1, 1]);
    expect(err.message).toMatch(/at epoch 1, batch 1\/1/);
    if (err.parameter !== undefined) expect(err.message).toMatch(/\((Conv1D|Linear)\(.*\) at position \d\)/);
    net.parameters().forEach((p, i) => expect(Array.from(p.value.data)).toEqual(Array.from(before[i])));
  });

  test('allowNonFinite: the same run continues and reports the non-finite loss', async () => {
    seed(2);
    const net = new Sequential(new Conv1D(2, 1, 2), new Flatten(), new Linear(6, 1));
    const x = fromArray(new Float32Array(2 * 4).fill(3e38), [2, 4, 1]);
    const h = await fit(
      net,
      new BCELoss(),
      new SGD({ lr: 0.1 }),
      { x, y: fromArray([[1], [0]]) },
      { epochs: 2, batchSize: 2, verbose: 0, allowNonFinite: true },
    );
    expect(h.epochs).toHaveLength(2);
  });
});

test('the error of a NaN produced inside the network names where (finite weights whose sum overflows)', async () => {
  // Non-finite weights are refused before training (test/train.test.ts); finite ones near the
  // float32 limit overflow in the forward pass, and the loss of an infinite output is NaN.
  const net = new Sequential(new Linear(2, 3), new TanH(), new Linear(3, 1));
  (net.modules[0] as Linear).weight.data.fill(1);
  (net.modules[0] as Linear).bias!.data.fill(0);
  (net.modules[2] as Linear).weight.data.fill(3e38);
  const x = fromArray([
    [1, 1],
    [2, 2],
  ]);
  await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), { x, y: fromArray([[1], [0]]) }, { epochs: 1, verbose: 0 })).rejects.toThrow(
    /at epoch 1, batch 1\/1/,
  );
});

// The special-value contract every native SIMD path shares with the js backend: saturation
// (σ(−1e4) = 0, tanh(±1e4) = ±1, exp underflowing through the subnormals to 0), NaN in → NaN
// out, ±Infinity handled as the limits. Values equal within 2e-6 relative, or one subnormal
// step (1.4e-45) near zero; NaN, ±Infinity and exact zeros must match exactly. This runs on
// every path the CPU supports whatever NEURONE_KERNEL says, so a machine with AVX-512 still
// checks the AVX2 path here (the per-path jest runs in scripts/test-paths.js cover the rest).
describe('special values: every native kernel path agrees with the js backend', () => {
  const native = addon();
  const paths = native && process.env.NEURONE_BACKEND !== 'js' ? native.supportedKernelPaths() : [];
  const specials = Float32Array.from([
    -1e4,
    -104,
    -103.9,
    -100,
    -88,
    -87.5,
    -50,
    -1e-30,
    0,
    -0,
    1e-30,
    0.3,
    50,
    87.5,
    88,
    88.8,
    100,
    1e4,
    NaN,
    -Infinity,
    Infinity,
    3.4e38,
    -3.4e38,
    1.4e-45,
  ]);
  const n = specials.length;
  const same = (got: Float32Array, want: Float32Array, what: string): void => {
    for (let i = 0; i < want.length; i++) {
      const a = got[i],
        b = want[i];
      const ok = Number.isNaN(b)
        ? Number.isNaN(a)
        : !Number.isFinite(b) || b === 0
          ? a === b
          : Math.abs(a - b) <= 2e-6 * Math.abs(b) + 1.5e-45;
      if (!ok) throw new Error(`${what}: at input ${specials[i % n]} (element ${i}) got ${a}, js gives ${b}`);
    }
  };
  // Put back the path this process runs on (a per-path run's NEURONE_KERNEL): later suites in
  // the same jest worker share the addon's state.
  const initialPath = native?.kernelPath();
  afterAll(() => {
    if (native) native.setKernelPath(initialPath as string);
  });
  const run = paths.length > 0 ? test.each(paths) : test.skip.each(['none']);
  run('%s path', (path) => {
    native!.setKernelPath(path);
    const be = nativeBackend(native!);
    const delta = Float32Array.from(specials, (_v, i) => (i % 3) - 1);
    for (const [label, code] of Object.entries(Activation)) {
      const yNative = new Float32Array(n),
        yJs = new Float32Array(n);
      be.activationForward(code, 0.1, specials, yNative, n);
      jsBackend.activationForward(code, 0.1, specials, yJs, n);
      same(yNative, yJs, `${path} ${label} forward`);
      const dNative = new Float32Array(n),
        dJs = new Float32Array(n);
      be.activationBackward(code, 0.1, specials, yJs, delta, dNative, n);
      jsBackend.activationBackward(code, 0.1, specials, yJs, delta, dJs, n);
      same(dNative, dJs, `${path} ${label} backward`);
    }
    // Rows of 4 and 24 (a SIMD tail and a full vector plus tail), plain and log.
    for (const cols of [4, 24]) {
      const rows = n / cols;
      for (const log of [false, true]) {
        const finiteRows = Float32Array.from(specials, (v) => (Number.isFinite(v) ? v : 0));
        const yNative = new Float32Array(n),
          yJs = new Float32Array(n);
        be.softmaxForward(finiteRows, yNative, rows, cols, log);
        jsBackend.softmaxForward(finiteRows, yJs, rows, cols, log);
        same(yNative, yJs, `${path} ${log ? 'log-' : ''}softmax, rows of ${cols}`);
      }
    }
  });
});
