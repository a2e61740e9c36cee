/**
 * Module.infer, the pass predict and evaluate take: the values of forward, with Conv1D and a
 * MaxPool1D after it (a ReLU between them or not) fused into one kernel, and nothing kept for a
 * backward pass.
 */
import { setBackend } from '../../lib/backend';
import { availableBackends } from '../backends';
import { AvgPool1D, Conv1D, Flatten, Linear, MaxPool1D, Module, ReLU, Sequential, TanH } from '../../lib/nn';
import { Rng, seed } from '../../lib/random';
import { Tensor } from '../../lib/tensor';
import { randomTensor } from '../gradcheck';
import { predict } from '../../lib/train';

const backends = availableBackends();

// Seeded data, as in joint.test.ts: a tolerance checked on one draw holds on every run.
const dataRng = new Rng(20261203);

function expectClose(got: Tensor, want: Tensor): void {
  expect(got.shape).toEqual(want.shape);
  let scale = 0;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.data.length; i++) {
    if (!(Math.abs(got.data[i] - want.data[i]) <= 1e-6 * Math.max(scale, 1))) {
      throw new Error(`at ${i}: infer ${got.data[i]} vs forward ${want.data[i]}`);
    }
  }
}

const nets: [string, () => Module, number[]][] = [
  [
    'the seed CNN (fused pair)',
    () => new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(4064, 100), new ReLU(), new Linear(100, 10)),
    [9, 256, 1],
  ],
  [
    'padding, bias, stride, overlapping pool',
    () => new Sequential(new Conv1D(4, 3, 5, 2, { padding: 2, bias: true }), new MaxPool1D(3, 1), new Flatten()),
    [4, 31, 3],
  ],
  ['pool of the whole convolution', () => new Sequential(new Conv1D(3, 2, 6), new MaxPool1D(8)), [3, 10, 2]],
  [
    'two fused pairs and a nested Sequential',
    () =>
      new Sequential(
        new Conv1D(3, 1, 8),
        new MaxPool1D(2, 2),
        new Sequential(new Conv1D(3, 8, 8, 1, { bias: true }), new MaxPool1D(4, 2)),
        new TanH(),
      ),
    [5, 64, 1],
  ],
  [
    'a ReLU between (fused), then AvgPool and a trailing Conv1D (not)',
    () => new Sequential(new Conv1D(3, 1, 4), new ReLU(), new MaxPool1D(2), new Conv1D(2, 4, 4), new AvgPool1D(2), new Conv1D(2, 4, 3)),
    [2, 40, 1],
  ],
  [
    "the deep CNN's blocks: Conv1D, ReLU, overlapping MaxPool1D, twice (fused at the head and inside)",
    () =>
      new Sequential(
        new Conv1D(3, 1, 16, 1, { bias: true }),
        new ReLU(),
        new MaxPool1D(8, 2),
        new Conv1D(3, 16, 16, 1, { bias: true }),
        new ReLU(),
        new MaxPool1D(8, 2),
        new Flatten(),
        new Linear(16 * 10, 4),
      ),
    [5, 64, 1],
  ],
  ['a Conv1D on its own', () => new Conv1D(3, 2, 4), [2, 9, 2]],
];

describe.each(backends)('infer (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test.each(nets)('%s: the values of forward', (_, build, shape) => {
    seed(1);
    const net = build();
    const x = randomTensor(shape, dataRng);
    const want = net.forward(x);
    const got = net.infer(x);
    expectClose(got, want);
    // infer hands back its own tensor: the next pass does not overwrite it.
    const again = net.infer(randomTensor(shape, dataRng));
    expect(again.data).not.toBe(got.data);
    expectClose(net.infer(x), want);
  });

  test('predict over batches matches forward, the last batch partial', () => {
    seed(2);
    const net = nets[0][1]();
    const x = randomTensor([70, 256, 1], dataRng);
    expectClose(predict(net, x, { batchSize: 32 }), net.forward(x));
  });

  test('a backward pass after infer is refused with a clear message; forward then works as before', () => {
    seed(3);
    const net = nets[1][1]() as Sequential;
    const x = randomTensor([4, 31, 3], dataRng);
    const y = net.forward(x);
    const delta = randomTensor(y.shape, dataRng);
    net.backward(delta);
    const grads = net.parameters().map((p) => p.grad.data.slice());
    net.infer(x);
    expect(() => net.backward(delta)).toThrow(
      /backward called after infer \(predict\/evaluate\), which keeps nothing for it; call forward first/,
    );
    net.zeroGrad();
    net.forward(x);
    net.backward(delta);
    net.parameters().forEach((p, i) => expect(Array.from(p.grad.data)).toEqual(Array.from(grads[i])));
  });

  test('shape errors name the module that refuses', () => {
    const net = new Sequential(new Conv1D(3, 2, 4), new MaxPool1D(9));
    expect(() => net.infer(randomTensor([2, 10, 2], dataRng))).toThrow(
      /MaxPool1D\(9, 9\) at position 1: expected input \(batch, length >= 9, chan >= 1\), got \(2, 8, 4\)/,
    );
    expect(() => net.infer(randomTensor([2, 10, 3], dataRng))).toThrow(
      /Conv1D\(3, 2, 4, 1\) at position 0: expected input \(batch, length, 2\), got \(2, 10, 3\)/,
    );
    expect(() => net.infer({ shape: [2, 10, 2], data: new Float32Array(3) })).toThrow(
      /Conv1D\(3, 2, 4, 1\) at position 0: input of shape \(2, 10, 2\) needs 40 values/,
    );
  });
});
