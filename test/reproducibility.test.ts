// Reproducibility: seed(n) with one thread gives bitwise identical training runs; more threads
// match one thread (bit for bit where the kernels promise it, within a stated tolerance where
// they do not); and the two backends agree within 1e-5 relative on one training step.
import { trainOnce } from './workers-train';
import { availableBackends } from './backends';
import { setBackend, setThreads } from '../lib/backend';
import { seed, Rng } from '../lib/random';
import { Sequential, Linear, TanH, Conv1D, ReLU, MaxPool1D, AvgPool1D, Flatten, Sigmoid } from '../lib/nn';
import { CELogSoftmaxLoss, MSELoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { Module } from '../lib/nn/module';
import { Tensor } from '../lib/tensor';

const backends = availableBackends();
const hasNative = backends.includes('native');

function bitwiseEqual(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)))
  );
}

/** Largest |a − b| over all parameters, relative to the largest |b| of the same parameter. */
function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    let scale = 0;
    for (const v of b[i]) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j] - b[i][j]) / (scale || 1));
  });
  return worst;
}

describe.each(backends)('%s backend', (name) => {
  afterAll(() => setThreads(1));

  test.each(['mlp', 'cnn'] as const)(
    'seed(n) and one thread: two %s training runs (3 epochs via fit) give bitwise identical weights',
    async (model) => {
      const a = await trainOnce({ seed: 7, threads: 1, backend: name, model });
      const b = await trainOnce({ seed: 7, threads: 1, backend: name, model });
      expect(bitwiseEqual(a, b)).toBe(true);
      const c = await trainOnce({ seed: 8, threads: 1, backend: name, model });
      expect(bitwiseEqual(a, c)).toBe(false); // the seed matters, so the check above is not vacuous
    },
  );
});

(hasNative ? describe : describe.skip)('native: several threads against one', () => {
  afterAll(() => setThreads(1));

  test('MLP (GEMM + elementwise kernels): 2 and 3 threads are bitwise identical to 1, by design of the GEMM partition', async () => {
    const one = await trainOnce({ seed: 9, threads: 1, backend: 'native', model: 'mlp' });
    for (const threads of [2, 3]) {
      expect(bitwiseEqual(await trainOnce({ seed: 9, threads, backend: 'native', model: 'mlp' }), one)).toBe(true);
    }
  });

  // Conv1D's weight gradient sums the batch in per-thread chunks, so the rounding can
  // differ with the thread count; 3 epochs of Adam stay within 1e-4 of the weights' scale.
  const CNN_THREAD_TOLERANCE = 1e-4;
  test(`CNN (conv, max-pool, Adam): 2 and 3 threads match 1 thread within ${CNN_THREAD_TOLERANCE} relative`, async () => {
    const one = await trainOnce({ seed: 10, threads: 1, backend: 'native', model: 'cnn' });
    for (const threads of [2, 3]) {
      const many = await trainOnce({ seed: 10, threads, backend: 'native', model: 'cnn' });
      expect(maxRelDiff(many, one)).toBeLessThanOrEqual(CNN_THREAD_TOLERANCE);
    }
  });
});

/** Runs one training step of `net` on the given backend from `start` weights; returns the weights after it and the gradients. */
function oneStep(
  net: Module,
  start: Float32Array[],
  backendName: 'js' | 'native',
  x: Tensor,
  y: Tensor,
  loss: CELogSoftmaxLoss | MSELoss,
): { w: Float32Array[]; g: Float32Array[] } {
  setBackend(backendName);
  const params = net.parameters();
  params.forEach((p, i) => p.value.data.set(start[i]));
  net.zeroGrad();
  const yhat = net.forward(x);
  loss.forward(y, yhat);
  net.backwardUpdateGradient(x, loss.backward(y, yhat));
  const g = params.map((p) => p.grad.data.slice());
  new SGD({ lr: 0.05, momentum: 0 }).step(params);
  return { w: params.map((p) => p.value.data.slice()), g };
}

(hasNative ? describe : describe.skip)('js and native agree on one SGD step from the same weights', () => {
  afterAll(() => setBackend('native'));
  const TOLERANCE = 1e-5;

  test.each([
    ['MLP', (): Module => new Sequential(new Linear(12, 16), new TanH(), new Linear(16, 4)), [32, 12], 'ce'],
    [
      'CNN',
      (): Module =>
        new Sequential(
          new Conv1D(3, 2, 6, 1, { padding: 1, bias: true }),
          new ReLU(),
          new MaxPool1D(2),
          new Conv1D(2, 6, 4, 2),
          new AvgPool1D(2),
          new Flatten(),
          new Linear(8, 4),
        ),
      [16, 16, 2],
      'ce',
    ],
    ['MLP-sigmoid-MSE', (): Module => new Sequential(new Linear(5, 7), new Sigmoid(), new Linear(7, 3)), [20, 5], 'mse'],
  ] as const)(`%s: gradients and updated weights within ${TOLERANCE} relative`, (_name, make, shape, lossName) => {
    seed(3);
    const net = make();
    const rng = new Rng(4);
    const n = shape.reduce((a, b) => a * b, 1);
    const x: Tensor = { shape: [...shape], data: Float32Array.from({ length: n }, () => rng.normal()) };
    const batch = shape[0];
    const loss = lossName === 'ce' ? new CELogSoftmaxLoss() : new MSELoss();
    const y: Tensor =
      lossName === 'ce'
        ? { shape: [batch], data: Float32Array.from({ length: batch }, (_, i) => i % 4) }
        : { shape: [batch, 3], data: Float32Array.from({ length: batch * 3 }, () => rng.uniform()) };
    const start = net.parameters().map((p) => p.value.data.slice());
    const js = oneStep(net, start, 'js', x, y, loss);
    const native = oneStep(net, start, 'native', x, y, loss);
    expect(maxRelDiff(native.g, js.g)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxRelDiff(native.w, js.w)).toBeLessThanOrEqual(TOLERANCE);
    // The step moved the weights (a comparison of two untouched copies would pass trivially).
    expect(maxRelDiff(js.w, start)).toBeGreaterThan(1e-4);
  });
});

(hasNative ? test : test.skip)(
  'native sgemm and conv1dBackwardWeight at sizes that do use the pool: GEMM bitwise across 1/2/3 threads, conv within 1e-5',
  () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { addon } = require('../lib/backend/native').loadNative();
    const rng = new Rng(5);
    const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
    const [m, n, k] = [192, 160, 288];
    const a = fill(m * k);
    const b = fill(k * n);
    const gemm = (threads: number): Float32Array => {
      addon.setThreads(threads);
      const c = new Float32Array(m * n);
      addon.sgemm(false, false, m, n, k, 1, a, 0, k, b, 0, n, 0, c, 0, n);
      return c;
    };
    const one = gemm(1);
    expect(bitwiseEqual([gemm(2)], [one])).toBe(true);
    expect(bitwiseEqual([gemm(3)], [one])).toBe(true);
    const [batch, length, ci, co, ks] = [16, 64, 8, 16, 3];
    const x = fill(batch * length * ci);
    const dy = fill(batch * (length - ks + 1) * co);
    const dw = (threads: number): Float32Array => {
      addon.setThreads(threads);
      const out = new Float32Array(ks * ci * co);
      addon.conv1dBackwardWeight(x, dy, out, batch, length, ci, co, ks, 1);
      return out;
    };
    const ref = dw(1);
    expect(maxRelDiff([dw(2)], [ref])).toBeLessThanOrEqual(1e-5);
    expect(maxRelDiff([dw(3)], [ref])).toBeLessThanOrEqual(1e-5);
    addon.setThreads(1);
  },
);
