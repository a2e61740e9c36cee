// Hostile and habitual use of modules and losses (the hardening issue's findings 1, 3 and 6):
// one instance at several places, tied weights, tensors whose data does not fill their shape,
// Float64Array data, out-of-range constructor arguments, and data rewritten in place between
// forward and backward. Each runs on every backend.
import { setBackend } from '../lib/backend';
import { availableBackends } from './backends';
import { Sequential, Linear, ReLU, TanH, Sigmoid, LeakyReLU, MaxPool1D, Flatten, Conv1D, GlobalAvgPool2D } from '../lib/nn';
import { Module } from '../lib/nn/module';
import { CrossEntropyLoss, MSELoss, HingeLoss, BCELoss, CELogSoftmaxLoss, Loss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit } from '../lib/train';
import { Tensor, tensor } from '../lib/tensor';
import { seed, Rng } from '../lib/random';
import { gradcheckModule, describeFailures, randomTensor } from './gradcheck';

/** The gradients of every parameter after one backward pass of Σ r·net(x). */
function gradients(net: Module, x: Tensor, r: Tensor): { input: Float32Array; params: Float32Array[] } {
  net.forward(x);
  net.zeroGrad();
  const input = net.backwardDelta(x, r).data.slice();
  net.zeroGrad();
  net.backwardUpdateGradient(x, r);
  return { input, params: net.parameters().map((p) => p.grad.data.slice()) };
}

function copyWeights(from: Module, to: Module): void {
  const a = from.parameters(),
    b = to.parameters();
  a.forEach((p, i) => b[i].value.data.set(p.value.data));
}

describe.each(availableBackends())('%s backend', (name) => {
  beforeAll(() => setBackend(name));

  test('one activation instance at two places gives the gradients of two instances', () => {
    seed(3);
    const rng = new Rng(5);
    const [l1, l2, l3] = [new Linear(6, 8), new Linear(8, 8), new Linear(8, 3)];
    const act = new ReLU();
    const shared = new Sequential(l1, act, l2, act, l3);
    const separate = new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 8), new ReLU(), new Linear(8, 3));
    copyWeights(shared, separate);
    const x = randomTensor([5, 6], rng);
    const r = randomTensor([5, 3], rng);
    const want = gradients(separate, x, r);
    const got = gradients(shared, x, r);
    expect(Array.from(got.input)).toEqual(Array.from(want.input));
    got.params.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(want.params[i])));
    // forward and infer (which fuses where the table has a pattern) agree as well.
    expect(Array.from(shared.forward(x).data)).toEqual(Array.from(separate.forward(x).data));
    expect(Array.from(shared.infer(x).data)).toEqual(Array.from(separate.infer(x).data));
  });

  test('a module in two Sequentials: forward of the other in between does not corrupt the first backward', () => {
    seed(4);
    const rng = new Rng(6);
    const enc = new Linear(4, 6);
    const act = new TanH();
    const a = new Sequential(enc, act, new Linear(6, 2));
    const b = new Sequential(enc, act, new Linear(6, 3));
    const alone = new Sequential(new Linear(4, 6), new TanH(), new Linear(6, 2));
    copyWeights(a, alone);
    const x = randomTensor([3, 4], rng),
      xb = randomTensor([3, 4], rng);
    const r = randomTensor([3, 2], rng);
    alone.forward(x);
    alone.zeroGrad();
    const want = alone.backward(r).data.slice();
    const wantGrads = alone.parameters().map((p) => p.grad.data.slice());
    a.forward(x);
    b.forward(xb); // overwrites enc's and act's buffers
    a.zeroGrad();
    const got = a.backward(r).data.slice();
    expect(Array.from(got)).toEqual(Array.from(want));
    a.parameters().forEach((p, i) => expect(Array.from(p.grad.data)).toEqual(Array.from(wantGrads[i])));
  });

  test('tied weights: one Linear at two places is one parameter, stepped once, with the summed gradient', () => {
    seed(5);
    const rng = new Rng(7);
    const tied = new Linear(4, 4);
    const net = new Sequential(tied, new Sigmoid(), tied, new TanH(), new Linear(4, 2));
    const names = net.parameters().map((p) => p.name);
    expect(names).toEqual(['0.weight', '0.bias', '4.weight', '4.bias']);
    // The gradient of the tied weight is the sum over both uses: checked against finite differences.
    const failures = gradcheckModule(net, randomTensor([3, 4], rng), { seed: 2, samples: 16 });
    expect(describeFailures(failures)).toBe('');
    // One SGD step (lr 0.1, no momentum) moves the tied weight by lr · grad, once.
    const x = randomTensor([3, 4], rng);
    net.forward(x);
    net.zeroGrad();
    net.backward(randomTensor([3, 2], rng));
    const before = tied.weight.data.slice();
    const grad = tied.weightGrad.data.slice();
    new SGD({ lr: 0.1 }).step(net.parameters());
    tied.weight.data.forEach((v, i) => expect(v).toBeCloseTo(before[i] - 0.1 * grad[i], 6));
  });

  test('fit trains a network that uses one ReLU instance twice as well as one with two', async () => {
    const rng = new Rng(9);
    const x = randomTensor([64, 4], rng);
    const y = { shape: [64], data: Float32Array.from({ length: 64 }, (_, i) => (x.data[4 * i] * x.data[4 * i + 1] > 0 ? 1 : 0)) };
    const run = async (shared: boolean): Promise<number> => {
      seed(11);
      const act = new ReLU();
      const net = shared
        ? new Sequential(new Linear(4, 16), act, new Linear(16, 16), act, new Linear(16, 2))
        : new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 16), new ReLU(), new Linear(16, 2));
      const h = await fit(
        net,
        new CELogSoftmaxLoss(),
        new SGD({ lr: 0.05, momentum: 0.9 }),
        { x, y },
        { epochs: 5, batchSize: 16, verbose: 0, shuffle: false },
      );
      return h.epochs[h.epochs.length - 1].trainLoss;
    };
    expect(await run(true)).toBe(await run(false));
  });

  // The first module's input is the caller's: rewritten in place after forward, backward must
  // give the gradient at the values it sees (what a fresh forward and backward on them gives),
  // never one from what forward saved about the old values. Only ∂L/∂x is compared: the later
  // modules' inputs come from the old values, and their backward to the input does not read them.
  test.each([
    ['MaxPool1D', (): Module => new Sequential(new MaxPool1D(2, 2), new Flatten(), new Linear(2 * 3, 2)), [1, 4, 3]],
    ['TanH', (): Module => new Sequential(new TanH(), new Linear(3, 2)), [4, 3]],
    ['Sigmoid, nested', (): Module => new Sequential(new Sequential(new Sigmoid(), new Linear(3, 3)), new Linear(3, 2)), [4, 3]],
  ] as [string, () => Module, number[]][])(
    'a Sequential opening with %s: an input rewritten in place before backward gets its own gradient',
    (_, build, shape) => {
      seed(8);
      const rng = new Rng(10);
      const net = build() as Sequential;
      const fresh = build() as Sequential;
      copyWeights(net, fresh);
      const x = randomTensor(shape, rng);
      const rewritten = randomTensor(shape, rng);
      const delta = randomTensor(net.forward(x).shape, rng);
      fresh.forward(rewritten);
      const want = Array.from(fresh.backward(delta).data);
      net.forward(x);
      x.data.set(rewritten.data);
      expect(Array.from(net.backward(delta).data)).toEqual(want);
      // The Module contract (backwardDelta with the input) runs its own forward: the same answer.
      net.forward(randomTensor(shape, rng));
      expect(Array.from(net.backwardDelta(x, delta).data)).toEqual(want);
    },
  );

  test('MaxPool1D: an input rewritten in place between forward and backward routes the gradient by the new winners', () => {
    const pool = new MaxPool1D(2, 2);
    const x = { shape: [1, 4, 1], data: Float32Array.from([1, 0, 0, 1]) };
    pool.forward(x);
    x.data.set([0, 1, 1, 0]); // the winners move
    const dx = pool.backwardDelta(x, { shape: [1, 2, 1], data: Float32Array.from([10, 20]) });
    expect(Array.from(dx.data)).toEqual([0, 10, 20, 0]);
  });
});

describe('modules that take no arguments refuse them, rather than drop them', () => {
  test('Flatten(1), ReLU(true) and the like: a TypeError naming the module and what it was given', () => {
    // PyTorch's Flatten(start_dim) and ReLU(inplace) take these; here they would silently mean nothing.
    const cases: [() => unknown, RegExp][] = [
      [() => new (Flatten as unknown as new (a: number) => Flatten)(1), /^Flatten takes no arguments, got 1: number 1$/],
      [() => new (ReLU as unknown as new (a: boolean) => ReLU)(true), /^ReLU takes no arguments, got 1: boolean true$/],
      [
        () => new (GlobalAvgPool2D as unknown as new (a: number) => GlobalAvgPool2D)(3),
        /^GlobalAvgPool2D takes no arguments, got 1: number 3$/,
      ],
      [() => new (TanH as unknown as new (a: number, b: string) => TanH)(2, 'x'), /^TanH takes no arguments, got 2: number 2, string/],
    ];
    for (const [make, message] of cases) expect(make).toThrow(message);
    // Without arguments, and modules whose constructors take some, are unchanged.
    expect(new Flatten().toString()).toBe('Flatten()');
    expect(new LeakyReLU(0.2).toString()).toBe('LeakyReLU(0.2)');
  });
});

describe('a Sequential cannot contain itself', () => {
  test('adding it to itself, directly or through another, is refused and changes nothing', () => {
    const inner = new Sequential(new Linear(2, 2));
    expect(() => inner.add(inner)).toThrow(
      /^Sequential: the module at position 1 is this Sequential itself; a network cannot contain itself$/,
    );
    const outer = new Sequential(new ReLU(), new Sequential(inner));
    expect(() => inner.add(outer)).toThrow(/^Sequential: the module at position 1 holds this Sequential itself/);
    expect(inner.modules.length).toBe(1);
    // Still a working network: a cycle would overflow the stack here.
    expect(outer.forward(tensor([[1, -1]])).shape).toEqual([1, 2]);
    // The same module at two places is not a cycle.
    const relu = new ReLU();
    expect(new Sequential(relu, new Sequential(relu), relu).modules.length).toBe(3);
  });
});

describe('losses refuse tensors whose data does not fill their shape', () => {
  const losses: [string, () => Loss][] = [
    ['MSELoss', () => new MSELoss()],
    ['BCELoss', () => new BCELoss()],
    ['HingeLoss', () => new HingeLoss()],
    ['CrossEntropyLoss', () => new CrossEntropyLoss()],
    ['CELogSoftmaxLoss', () => new CELogSoftmaxLoss()],
  ];
  test.each(losses)('%s: a claimed shape of 1e9 x 1e9 over 4 values is refused at once', (_n, make) => {
    const huge = { shape: [1e9, 1e9], data: new Float32Array(4) };
    for (const method of ['forward', 'backward'] as const) {
      expect(() => make()[method](huge, huge)).toThrow(RangeError);
      expect(() => make()[method](huge, huge)).toThrow(/more than 2\^32 elements/);
    }
  });
  test.each(losses)('%s: shape (2, 3) over 2 values names the mismatch instead of returning NaN', (n, make) => {
    const short = { shape: [2, 3], data: Float32Array.from([1, 2]) };
    const ok = { shape: [2, 3], data: new Float32Array(6) };
    for (const method of ['forward', 'backward'] as const) {
      expect(() => make()[method](ok, short)).toThrow(new RangeError(`${n}(): yhat of shape (2, 3) needs 6 values, its data holds 2`));
      expect(() => make()[method](short, ok)).toThrow(new RangeError(`${n}(): y of shape (2, 3) needs 6 values, its data holds 2`));
    }
  });
});

test('a tensor whose buffer was sent to another thread says so, wherever it is refused', async () => {
  const x = tensor([[1, 2]]);
  const buffer = x.data.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] }); // as postMessage(buffer, [buffer]) leaves it
  const hint = 'its data holds 0 (its ArrayBuffer is empty: transferred to another thread, or detached?)';
  expect(() => new Linear(2, 1).forward(x)).toThrow(`Linear(2, 1): input of shape (1, 2) needs 2 values, ${hint}`);
  expect(() => new MSELoss().forward(x, tensor([[1, 2]]))).toThrow(`MSELoss(): y of shape (1, 2) needs 2 values, ${hint}`);
  await expect(fit(new Linear(2, 2), new MSELoss(), new SGD({ lr: 0.1 }), { x, y: x }, { verbose: 0 })).rejects.toThrow(
    `fit: data.x of shape (1, 2) needs 2 values, ${hint}`,
  );
});

test('Float64Array data is named as the problem, not shown as a tensor', () => {
  const x = { shape: [1, 2], data: Float64Array.from([1, 2]) } as unknown as Tensor;
  expect(() => new Linear(2, 1).forward(x)).toThrow(
    new TypeError(
      'Linear(2, 1): expected input to be a Tensor, got an object of shape (1, 2) whose data is Float64Array(2), not a Float32Array',
    ),
  );
  expect(() => new MSELoss().forward(x, x)).toThrow(
    /expected yhat to be a Tensor, got an object of shape \(1, 2\) whose data is Float64Array\(2\)/,
  );
});

test('LeakyReLU refuses a slope that is not a finite float32 at construction', () => {
  expect(() => new LeakyReLU(1e308)).toThrow(RangeError);
  expect(() => new LeakyReLU(1e308)).toThrow(/LeakyReLU: slope must be a finite number within the float32 range/);
  expect(() => new LeakyReLU(NaN)).toThrow(/LeakyReLU: slope/);
  expect(() => new LeakyReLU(Infinity)).toThrow(/LeakyReLU: slope/);
  expect(new LeakyReLU(0.2).slope).toBe(0.2);
});

test('Conv1D then MaxPool1D shared across places still matches separate instances (the fused pair is skipped)', () => {
  seed(8);
  const rng = new Rng(8);
  const conv = new Conv1D(3, 1, 2);
  const pool = new MaxPool1D(2, 2);
  const shared = new Sequential(conv, pool, new Flatten(), new Linear(6, 2));
  const other = new Sequential(conv, pool); // pool and conv now sit at two places
  void other;
  const separate = new Sequential(new Conv1D(3, 1, 2), new MaxPool1D(2, 2), new Flatten(), new Linear(6, 2));
  copyWeights(shared, separate);
  const x = randomTensor([2, 8, 1], rng);
  const r = randomTensor([2, 2], rng);
  const a = gradients(shared, x, r),
    b = gradients(separate, x, r);
  a.params.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(b.params[i])));
});
