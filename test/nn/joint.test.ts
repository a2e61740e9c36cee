/**
 * The joint training pass of a Sequential that opens with Conv1D then MaxPool1D: with
 * forwardView(x, false) then accumulateGradients, as fit and Optim.step call them, the pair runs
 * as the fusion of lib/nn/fusion.ts, one kernel forward and one backward (the pooling's gradient
 * gathered straight into the convolution's weight gradient). Gradients and outputs must be those
 * of the separate modules; ∂L/∂x, if asked after all, too. ReLU then a max pooling runs fused
 * anywhere in a Sequential, pooled then rectified: the same bits as the separate modules.
 */
import { backend, setBackend } from '../../lib/backend';
import { availableBackends } from '../backends';
import { AvgPool2D, Conv1D, Conv2D, Flatten, LeakyReLU, Linear, MaxPool1D, MaxPool2D, Module, ReLU, Sequential, TanH } from '../../lib/nn';
import { Tensor } from '../../lib/tensor';
import { FUSIONS, findFusion } from '../../lib/nn/fusion';
import { accumulateGradients } from '../../lib/nn/module';
import { Rng, seed } from '../../lib/random';
import { randomTensor } from '../gradcheck';

const backends = availableBackends();

// The data come from a seeded stream, so a tolerance that holds holds on every run (with
// Math.random, one draw in many put a float32 sum 1e-6 past a bound).
const dataRng = new Rng(20261202);

/** Relative closeness, or exact equality with tol 0. */
function expectClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(scale, 1e-30))) throw new Error(`${what} at ${i}: ${got[i]} vs ${want[i]}`);
  }
}

// [name, build, input shape, exact]: the pair without bias and with windows that do not overlap
// gives the same bits as the separate modules (same gathers, GEMMs and order of sums).
const nets: [string, () => Sequential, number[], boolean][] = [
  [
    'the seed CNN',
    () => new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(4064, 100), new ReLU(), new Linear(100, 10)),
    [8, 256, 1],
    true,
  ],
  [
    'bias, padding, stride, overlapping pool',
    () => new Sequential(new Conv1D(4, 3, 5, 2, { bias: true, padding: 1 }), new MaxPool1D(3, 1), new Flatten(), new Linear(5 * 13, 4)),
    [6, 31, 3],
    false,
  ],
  ['just the pair', () => new Sequential(new Conv1D(3, 2, 6), new MaxPool1D(4, 4)), [3, 40, 2], true],
  [
    "Conv1D, ReLU, then an overlapping MaxPool1D (the deep CNN's head)",
    () => new Sequential(new Conv1D(3, 1, 16), new ReLU(), new MaxPool1D(8, 2), new Flatten(), new Linear(16 * 28, 5)),
    [4, 64, 1],
    true,
  ],
  [
    'Conv1D with bias and padding, ReLU, MaxPool1D 3 at stride 1',
    () =>
      new Sequential(
        new Conv1D(4, 2, 6, 1, { bias: true, padding: 1 }),
        new ReLU(),
        new MaxPool1D(3, 1),
        new Flatten(),
        new Linear(6 * 27, 3),
      ),
    [5, 30, 2],
    false,
  ],
  [
    'the pair then another',
    () => new Sequential(new Conv1D(3, 1, 8), new MaxPool1D(2, 2), new Conv1D(3, 8, 8), new MaxPool1D(2, 2), new TanH()),
    [4, 64, 1],
    true,
  ],
];

describe.each(backends)('joint Conv1D + MaxPool1D training pass (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test.each(nets)('%s: outputs and gradients of the separate modules', (_, build, shape, exact) => {
    seed(4);
    const net = build();
    const x = randomTensor(shape, dataRng);
    const want = net.forward(x);
    const delta = randomTensor(want.shape, dataRng);
    net.zeroGrad();
    net.backwardUpdateGradient(x, delta);
    const wantGrads = net.parameters().map((p) => p.grad.data.slice());

    const k = backend();
    const fusedForward = jest.spyOn(k, 'conv1dMaxPoolForward');
    const fusedBackward = jest.spyOn(k, 'conv1dMaxPoolBackwardWeight');
    try {
      const got = net.forwardView(x, false);
      expectClose(got.data, want.data, exact ? 0 : 1e-6, 'output');
      net.zeroGrad();
      accumulateGradients(net, x, delta);
      // The fused kernels ran, once each: the gradients compared below are theirs.
      expect([fusedForward.mock.calls.length, fusedBackward.mock.calls.length]).toEqual([1, 1]);
    } finally {
      fusedForward.mockRestore();
      fusedBackward.mockRestore();
    }
    net.parameters().forEach((p, i) => expectClose(p.grad.data, wantGrads[i], exact ? 0 : 1e-5, p.name));
  });

  test.each(nets)('%s: ∂L/∂x asked after a joint pass is right', (_, build, shape) => {
    seed(5);
    const net = build();
    const x = randomTensor(shape, dataRng);
    const y = net.forward(x);
    const delta = randomTensor(y.shape, dataRng);
    const want = net.backward(delta);

    net.forwardView(x, false);
    const got = net.backward(delta); // through the fused pair's backward, which scatters to the winners it saved
    expectClose(got.data, want.data, 1e-5, 'backward');
    net.forwardView(x, false);
    expectClose(net.backwardDelta(x, delta).data, want.data, 1e-5, 'backwardDelta, which runs its own forward');
  });

  test('a network that does not open with the pair runs as before', () => {
    seed(6);
    const net: Module = new Sequential(new Linear(4, 6), new ReLU(), new Linear(6, 2));
    const x = randomTensor([5, 4], dataRng);
    const a = (net as Sequential).forwardView(x, false).data.slice();
    expect(Array.from(a)).toEqual(Array.from(net.forward(x).data));
  });
});

describe('the fusion table', () => {
  test('matches the exact classes only: a subclass, which may override a pass, is not fused', () => {
    class MyConv extends Conv1D {}
    class MyPool extends MaxPool1D {}
    expect(findFusion(new Conv1D(3, 1, 2), new MaxPool1D(2))?.name).toBe('Conv1D + MaxPool1D');
    expect(findFusion(new MyConv(3, 1, 2), new MaxPool1D(2))).toBeNull();
    expect(findFusion(new Conv1D(3, 1, 2), new MyPool(2))).toBeNull();
    expect(findFusion(new MaxPool1D(2), new Conv1D(3, 1, 2))).toBeNull();
    expect(findFusion(new ReLU(), new MaxPool1D(2))?.name).toBe('ReLU + MaxPool');
    expect(findFusion(new ReLU(), new MaxPool2D(2))?.name).toBe('ReLU + MaxPool');
    expect(findFusion(new PlainReLU(), new MaxPool2D(2))).toBeNull();
    expect(findFusion(new LeakyReLU(), new MaxPool2D(2))).toBeNull();
    expect(findFusion(new ReLU(), new AvgPool2D(2))).toBeNull();
    expect(findFusion(new MaxPool2D(2), new ReLU())).toBeNull();
    expect(findFusion(new Conv1D(3, 1, 2), new ReLU(), new MaxPool1D(8, 2))?.name).toBe('Conv1D + ReLU + MaxPool1D');
    expect(findFusion(new Conv1D(3, 1, 2), new PlainReLU(), new MaxPool1D(2))).toBeNull();
    expect(findFusion(new Conv1D(3, 1, 2), new LeakyReLU(), new MaxPool1D(2))).toBeNull();
    expect(findFusion(new Conv1D(3, 1, 2), new ReLU(), new MaxPool2D(2))).toBeNull();
    expect(findFusion(new MyConv(3, 1, 2), new ReLU(), new MaxPool1D(2))).toBeNull();
    expect(FUSIONS.length).toBe(3);
  });

  test('one Conv1D and one MaxPool1D at two places, fused at the head: the gradients of separate modules', () => {
    seed(7);
    const conv = new Conv1D(3, 2, 2, 1, { bias: true });
    const pool = new MaxPool1D(2, 2);
    const shared = new Sequential(conv, pool, conv, pool, new Flatten(), new Linear(2 * 2, 3));
    const separate = new Sequential(
      new Conv1D(3, 2, 2, 1, { bias: true }),
      new MaxPool1D(2, 2),
      new Conv1D(3, 2, 2, 1, { bias: true }),
      new MaxPool1D(2, 2),
      new Flatten(),
      new Linear(2 * 2, 3),
    );
    const [s, t] = [shared.parameters(), separate.parameters()];
    for (const [to, from] of [
      [0, 0],
      [1, 1],
      [2, 0],
      [3, 1],
      [4, 2],
      [5, 3],
    ])
      t[to].value.data.set(s[from].value.data);
    const x = randomTensor([3, 14, 2], dataRng);
    const delta = randomTensor([3, 3], dataRng);
    const want = separate.forward(x);
    separate.zeroGrad();
    const wantDx = separate.backward(delta);
    const fusedForward = jest.spyOn(backend(), 'conv1dMaxPoolForward');
    try {
      expectClose(shared.forwardView(x, false).data, want.data, 0, 'output');
      expect(fusedForward).toHaveBeenCalledTimes(1);
    } finally {
      fusedForward.mockRestore();
    }
    shared.zeroGrad();
    expectClose(shared.backward(delta).data, wantDx.data, 1e-6, 'dx');
    expectClose(
      s[0].grad.data,
      Float32Array.from(t[0].grad.data, (v, i) => v + t[2].grad.data[i]),
      1e-6,
      'conv weight',
    );
    expectClose(
      s[1].grad.data,
      Float32Array.from(t[1].grad.data, (v, i) => v + t[3].grad.data[i]),
      1e-6,
      'conv bias',
    );
    expectClose(s[2].grad.data, t[4].grad.data, 1e-6, 'linear weight');
  });
});

/** The same maths as ReLU, never fused (a subclass): the separate passes the fusion must equal. */
class PlainReLU extends ReLU {}

/** Values on a grid of halves in [−1, 1], so windows hold ties, zeros and all-negative runs. */
function coarseTensor(shape: readonly number[]): Tensor {
  const t = randomTensor(shape, dataRng);
  t.data.forEach((v, i) => (t.data[i] = Math.round(v * 2) / 2));
  return t;
}

// [name, build with a given ReLU class, input shape, the number of activation values each fused
// ReLU runs on (the pooled outputs)]. The pair anywhere but at the head, whose input a user's
// forward does not hold (the last one has it at the head and is run by a training step too).
const reluPoolNets: [string, (R: typeof ReLU) => Sequential, number[], number[]][] = [
  [
    'a LeNet-like 2-D net, side-by-side and overlapping windows',
    (R) =>
      new Sequential(
        new Conv2D(3, 2, 4),
        new R(),
        new MaxPool2D(2),
        new Conv2D(3, 4, 5, 1, { padding: 1 }),
        new R(),
        new MaxPool2D(3, 2),
        new Flatten(),
        new Linear(2 * 1 * 5, 3),
      ),
    [3, 12, 11, 2],
    [3 * 5 * 4 * 4, 3 * 2 * 1 * 5],
  ],
  [
    'a 1-D net with overlapping windows',
    (R) => new Sequential(new Conv1D(3, 1, 8), new R(), new MaxPool1D(8, 2), new Flatten(), new Linear(8 * 9, 2)),
    [4, 27, 1],
    [4 * 9 * 8],
  ],
  ['the pair alone, rectangular windows', (R) => new Sequential(new R(), new MaxPool2D([2, 3], [1, 2])), [2, 5, 9, 3], [2 * 4 * 4 * 3]],
];

describe.each(backends)('ReLU + max pooling fused (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test.each(reluPoolNets)('%s: the bits of the separate modules, forward and backward', (_, build, shape, fusedSizes) => {
    seed(8);
    const net = build(ReLU);
    const plain = build(PlainReLU);
    plain.parameters().forEach((p, i) => p.value.data.set(net.parameters()[i].value.data));
    const x = coarseTensor(shape);
    const want = plain.forward(x);
    const delta = coarseTensor(want.shape);
    plain.zeroGrad();
    const wantDx = plain.backward(delta);

    const relu = jest.spyOn(backend(), 'activationForward');
    try {
      // A training step: the input held, every pair fused (the head's too).
      expectClose(net.forwardView(x, false).data, want.data, 0, 'output');
      expect(relu.mock.calls.map((c) => c[4])).toEqual(fusedSizes);
    } finally {
      relu.mockRestore();
    }
    net.zeroGrad();
    expectClose(net.backward(delta).data, wantDx.data, 0, 'dx');
    net.parameters().forEach((p, i) => expectClose(p.grad.data, plain.parameters()[i].grad.data, 0, p.name));
    // A user's forward and backward: the same numbers, fused or not.
    expectClose(net.forward(x).data, want.data, 0, 'forward');
    expectClose(net.backward(delta).data, wantDx.data, 0, 'backward');
  });

  test('NaN and infinities stay where the separate modules put them', () => {
    const build = (R: typeof ReLU) => new Sequential(new R(), new MaxPool2D(2));
    const x = coarseTensor([2, 4, 4, 3]);
    x.data[5] = NaN;
    x.data[30] = -Infinity;
    x.data[31] = Infinity;
    const fused = build(ReLU);
    const plain = build(PlainReLU);
    const delta = coarseTensor([2, 2, 2, 3]);
    const take = (net: Sequential) => {
      const y = Array.from(net.forwardView(x, false).data);
      const dx = Array.from(net.backward(delta).data);
      return { y, dx };
    };
    const want = take(plain);
    const got = take(fused);
    expect(got.y.some((v) => Number.isNaN(v))).toBe(true);
    expect(got).toEqual(want);
  });
});
