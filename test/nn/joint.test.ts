/**
 * The joint training pass of a Sequential that opens with Conv1D then MaxPool1D: with
 * forwardView(x, false), as fit and Optim.step call it, the pair runs as one kernel forward and
 * one backward (the pooling's gradient gathered straight into the convolution's weight gradient).
 * Gradients and outputs must be those of the separate modules; ∂L/∂x, if asked after all, too.
 */
import { setBackend } from '../../lib/backend';
import { availableBackends } from '../backends';
import { Conv1D, Flatten, Linear, MaxPool1D, Module, ReLU, Sequential, TanH } from '../../lib/nn';
import { seed } from '../../lib/random';
import { Tensor, zeros } from '../../lib/tensor';

const backends = availableBackends();

function randomTensor(shape: readonly number[]): Tensor {
  const t = zeros([...shape]);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.random() * 2 - 1;
  return t;
}

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
  ['the seed CNN', () => new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(4064, 100), new ReLU(), new Linear(100, 10)), [8, 256, 1], true],
  ['bias, padding, stride, overlapping pool', () => new Sequential(new Conv1D(4, 3, 5, 2, { bias: true, padding: 1 }), new MaxPool1D(3, 1), new Flatten(), new Linear(5 * 13, 4)), [6, 31, 3], false],
  ['just the pair', () => new Sequential(new Conv1D(3, 2, 6), new MaxPool1D(4, 4)), [3, 40, 2], true],
  ['the pair then another', () => new Sequential(new Conv1D(3, 1, 8), new MaxPool1D(2, 2), new Conv1D(3, 8, 8), new MaxPool1D(2, 2), new TanH()), [4, 64, 1], true],
];

describe.each(backends)('joint Conv1D + MaxPool1D training pass (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test.each(nets)('%s: outputs and gradients of the separate modules', (_, build, shape, exact) => {
    seed(4);
    const net = build();
    const x = randomTensor(shape);
    const want = net.forward(x);
    const delta = randomTensor(want.shape);
    net.zeroGrad();
    net.backwardUpdateGradient(x, delta);
    const wantGrads = net.parameters().map((p) => p.grad.data.slice());

    const got = net.forwardView(x, false);
    expectClose(got.data, want.data, exact ? 0 : 1e-6, 'output');
    net.zeroGrad();
    net.backwardUpdateGradient(x, delta);
    net.parameters().forEach((p, i) => expectClose(p.grad.data, wantGrads[i], exact ? 0 : 1e-5, p.name));
  });

  test.each(nets)('%s: ∂L/∂x asked after a joint pass is recomputed, and right', (_, build, shape) => {
    seed(5);
    const net = build();
    const x = randomTensor(shape);
    const y = net.forward(x);
    const delta = randomTensor(y.shape);
    const want = net.backward(delta);

    net.forwardView(x, false);
    const got = net.backward(delta); // accumulate jointly, then ∂L/∂x through the stored path
    expectClose(got.data, want.data, 1e-5, 'backward');
    net.forwardView(x, false);
    expectClose(net.backwardDelta(x, delta).data, want.data, 1e-5, 'backwardDelta without a pending pass');
  });

  test('a network that does not open with the pair runs as before', () => {
    seed(6);
    const net: Module = new Sequential(new Linear(4, 6), new ReLU(), new Linear(6, 2));
    const x = randomTensor([5, 4]);
    const a = (net as Sequential).forwardView(x, false).data.slice();
    expect(Array.from(a)).toEqual(Array.from(net.forward(x).data));
  });
});
