/**
 * Finite-difference gradient checks of every module (input and parameter gradients), on every
 * available backend. The tolerance is derived in test/gradcheck.ts.
 */
import { Tensor, zeros } from '../../lib/tensor';
import { Rng, seed } from '../../lib/random';
import { setBackend } from '../../lib/backend';
import { availableBackends } from '../backends';
import {
  Module,
  Sequential,
  Linear,
  Conv1D,
  ConvTranspose1D,
  Upsample1D,
  MaxPool1D,
  AvgPool1D,
  Flatten,
  TanH,
  Sigmoid,
  Softmax,
  LogSoftmax,
  SoftPlus,
} from '../../lib/nn';
import { ModuleType, moduleTypes } from '../../lib/nn/registry';
import { gradcheckModule, randomTensor, describeFailures } from '../gradcheck';

const backends = availableBackends();

/** Random inputs whose entries are at least `gap` apart and away from 0 (no ties, no kinks within h). */
function spreadTensor(shape: number[], rng: Rng, gap = 0.1): Tensor {
  const t = zeros(shape);
  const n = t.data.length;
  // Odd multiples of gap / 2: never 0, whatever n.
  const values = Float32Array.from({ length: n }, (_, i) => (i - Math.floor(n / 2) + 0.5) * gap);
  rng.shuffle(values);
  t.data.set(values);
  return t;
}

function expectGradientsOk(m: Module, x: Tensor, opts = {}): void {
  const failures = gradcheckModule(m, x, opts);
  if (failures.length) throw new Error(`${m.toString()}: ${failures.length} gradient mismatches\n${describeFailures(failures)}`);
}

describe.each(backends)('gradients (%s backend)', (name) => {
  beforeAll(() => setBackend(name));
  let rng: Rng;
  beforeEach(() => {
    seed(7);
    rng = new Rng(11);
  });

  test.each([
    [3, 1, 1],
    [5, 4, 3],
    [2, 7, 16],
  ])('Linear(%i, %i) with bias, batch %i', (inp, out, batch) => {
    expectGradientsOk(new Linear(inp, out), randomTensor([batch, inp], rng));
  });

  test('Linear without bias', () => {
    expectGradientsOk(new Linear(6, 2, { bias: false }), randomTensor([4, 6], rng));
  });

  // (kSize, chanIn, chanOut, stride, padding, length, bias): strides 1..3, kSize not dividing the length, padding.
  test.each([
    [3, 1, 5, 1, 0, 10, false],
    [3, 2, 3, 2, 0, 10, true],
    [4, 3, 2, 3, 0, 13, false],
    [5, 2, 4, 2, 2, 11, true],
    [3, 1, 2, 1, 1, 7, false],
    [2, 3, 3, 3, 1, 8, true],
    // 'same' on even kernels: one zero more after the sequence than before it.
    [4, 2, 3, 1, 'same', 9, true],
    [2, 1, 2, 1, 'same', 5, false],
  ] as const)('Conv1D(k=%i, in=%i, out=%i, stride=%i, padding=%s) on length %i, bias %s', (k, ci, co, s, p, len, bias) => {
    const conv = new Conv1D(k, ci, co, s, { padding: p, bias, init: 'xavierUniform' });
    expectGradientsOk(conv, randomTensor([3, len, ci], rng));
  });

  // (kSize, chanIn, chanOut, stride, padding, outputPadding, length)
  test.each([
    [3, 2, 3, 1, 0, 0, 5],
    [3, 1, 2, 2, 0, 1, 4],
    [4, 3, 2, 2, 1, 0, 6],
    [5, 2, 2, 3, 2, 2, 4],
    [2, 2, 4, 2, 0, 0, 1],
  ])('ConvTranspose1D(k=%i, in=%i, out=%i, stride=%i, padding=%i, outputPadding=%i) on length %i', (k, ci, co, s, p, op, len) => {
    const convT = new ConvTranspose1D(k, ci, co, s, { padding: p, outputPadding: op, bias: true, init: 'xavierUniform' });
    const x = randomTensor([2, len, ci], rng);
    expect(convT.forward(x).shape).toEqual([2, (len - 1) * s - 2 * p + k + op, co]);
    expectGradientsOk(convT, x);
  });

  test('ConvTranspose1D restores the length a strided Conv1D reduced', () => {
    const conv = new Conv1D(4, 1, 3, 2, { padding: 1 });
    const convT = new ConvTranspose1D(4, 3, 1, 2, { padding: 1 });
    const x = randomTensor([2, 16, 1], rng);
    expect(convT.forward(conv.forward(x)).shape).toEqual([2, 16, 1]);
  });

  test('ConvTranspose1D is the adjoint of Conv1D with the same weight', () => {
    // <conv(x), z> = <x, convT(z)> when convT carries conv's weight (layout (k, chanIn_conv, chanOut_conv)).
    const conv = new Conv1D(3, 2, 4, 2);
    const convT = new ConvTranspose1D(3, 4, 2, 2, { outputPadding: 1 });
    convT.weight.data.set(conv.weight.data);
    const x = randomTensor([2, 10, 2], rng);
    const y = conv.forward(x);
    const z = randomTensor(y.shape as number[], rng);
    const back = convT.forward(z);
    expect(back.shape).toEqual(x.shape);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < y.data.length; i++) lhs += y.data[i] * z.data[i];
    for (let i = 0; i < x.data.length; i++) rhs += x.data[i] * back.data[i];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
  });

  test.each([
    [2, 3],
    [3, 1],
  ])('Upsample1D(%i) on %i channels', (scale, chan) => {
    expectGradientsOk(new Upsample1D(scale), randomTensor([2, 5, chan], rng));
  });

  // (kSize, stride, length): non-overlapping, overlapping (stride < kSize), gaps (stride > kSize), kSize not dividing the length.
  test.each([
    [2, 2, 10],
    [3, 1, 9],
    [4, 2, 11],
    [2, 3, 10],
    [5, 5, 5],
  ])('MaxPool1D(%i, %i) on length %i', (k, s, len) => {
    // Entries 0.1 apart and h = 0.02: the winner of every window stays the same under perturbation.
    expectGradientsOk(new MaxPool1D(k, s), spreadTensor([2, len, 3], rng), { h: 0.02 });
  });

  test.each([
    [2, 2, 10],
    [3, 1, 9],
    [4, 2, 11],
    [2, 3, 10],
  ])('AvgPool1D(%i, %i) on length %i', (k, s, len) => {
    expectGradientsOk(new AvgPool1D(k, s), randomTensor([2, len, 3], rng));
  });

  test('Flatten', () => {
    expectGradientsOk(new Flatten(), randomTensor([3, 4, 5], rng));
  });

  test('Linear over positions: (batch, …, in) → (batch, …, out), the rows of one matrix product', () => {
    const lin = new Linear(5, 3, { init: 'xavierUniform' });
    const x = randomTensor([2, 3, 4, 5], rng, -3, 3);
    expectGradientsOk(lin, x);
    // The same numbers as the rows (24, 5) through the layer, forward and backward.
    const rows = { shape: [24, 5], data: x.data };
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 3, 4, 3]);
    expect(Array.from(y.data)).toEqual(Array.from(lin.forward(rows).data));
    const delta = randomTensor([2, 3, 4, 3], rng);
    expect(Array.from(lin.backwardDelta(x, delta).data)).toEqual(
      Array.from(lin.backwardDelta(rows, { shape: [24, 3], data: delta.data }).data),
    );
    // A lazily sized Linear takes its size from the last axis, as PyTorch's LazyLinear.
    const lazy = new Linear(null, 2);
    expect(lazy.forward(x).shape).toEqual([2, 3, 4, 2]);
    expect(lazy.inputSize).toBe(5);
    // The last axis must match; the Flatten hint where the values of a sample would.
    expect(() => lin.forward(randomTensor([2, 5, 4], rng))).toThrow('Linear(5, 3): expected input (batch, …, 5), got (2, 5, 4)');
    expect(() => new Linear(20, 3).forward(randomTensor([2, 5, 4], rng))).toThrow(
      'Linear(20, 3): expected input (batch, 20), got (2, 5, 4) (add a Flatten() before it: 5 × 4 = 20 values per sample)',
    );
  });

  // Every registered type, from its registry examples: a new module type is checked here without editing this file.
  describe.each(
    moduleTypes()
      .filter((t) => t.example)
      .map((t) => [t.type, t] as const),
  )('registered type %s', (_, type) => {
    test('random examples: input and parameter gradients', () => {
      const pick = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);
      for (let i = 0; i < 6; i++) {
        const e = (type.example as NonNullable<ModuleType['example']>)(pick);
        // Xavier-uniform: He-normal weights can be large enough to take tanh-free Linears far from float32's comfort.
        const options = type.schema?.options?.includes('init') ? { ...e.options, init: 'xavierUniform' } : e.options;
        const m = type.create({ type: type.type, args: e.args, options }, () => new Sequential());
        // Kinks (ReLU, max pooling): entries 0.1 apart and h = 0.02 keep every input on one side of them.
        if (e.kinks) expectGradientsOk(m, spreadTensor(e.input, rng), { h: 0.02 });
        else expectGradientsOk(m, randomTensor(e.input, rng, -3, 3));
      }
    });
  });

  test.each([
    ['TanH', () => new TanH()],
    ['Softmax', () => new Softmax()],
    ['LogSoftmax', () => new LogSoftmax()],
  ] as const)('%s on a 3-D input (along the last axis)', (_, make) => {
    expectGradientsOk(make(), randomTensor([2, 3, 5], rng, -3, 3));
  });

  test('Sequential: the seed CNN shape family, end to end', () => {
    const net = new Sequential(
      new Conv1D(3, 2, 4, 2, { bias: true }),
      new TanH(),
      new AvgPool1D(2, 1),
      new Flatten(),
      new Linear(24, 5),
      new SoftPlus(),
      new Linear(5, 3),
      new LogSoftmax(),
    );
    expectGradientsOk(net, randomTensor([3, 15, 2], rng), { samples: 25 });
  });

  test('Sequential with a ConvTranspose1D autoencoder', () => {
    const net = new Sequential(
      new Conv1D(4, 1, 3, 2, { padding: 1, bias: true }),
      new Sigmoid(),
      new ConvTranspose1D(4, 3, 1, 2, { padding: 1, bias: true }),
      new Upsample1D(2),
    );
    expectGradientsOk(net, randomTensor([2, 8, 1], rng), { samples: 25 });
  });

  test('backwardUpdateGradient accumulates across calls', () => {
    const lin = new Linear(3, 2);
    const x = randomTensor([4, 3], rng);
    const d = randomTensor([4, 2], rng);
    lin.zeroGrad();
    lin.backwardUpdateGradient(x, d);
    const once = lin.weightGrad.data.slice();
    lin.backwardUpdateGradient(x, d);
    for (let i = 0; i < once.length; i++) expect(lin.weightGrad.data[i]).toBeCloseTo(2 * once[i], 5);
    lin.zeroGrad();
    expect(Array.from(lin.weightGrad.data).every((v) => v === 0)).toBe(true);
  });
});

describe('the gradient check can fail (negative control)', () => {
  beforeAll(() => setBackend('js'));

  /** A Linear whose input gradient is 3 % off: the check must notice. */
  class SlightlyWrong extends Linear {
    backwardDelta(input: Tensor, delta: Tensor): Tensor {
      const dx = super.backwardDelta(input, delta);
      for (let i = 0; i < dx.data.length; i++) dx.data[i] *= 1.03;
      return dx;
    }
  }

  test('a 3 % error in backwardDelta is reported', () => {
    const rng = new Rng(3);
    const failures = gradcheckModule(new SlightlyWrong(5, 4), randomTensor([3, 5], rng));
    expect(failures.filter((f) => f.what === 'input').length).toBeGreaterThan(5);
  });

  test('a gradient averaged over the batch instead of summed is reported', () => {
    class Averaged extends Linear {
      backwardUpdateGradient(input: Tensor, delta: Tensor): void {
        const before = this.weightGrad.data.slice();
        super.backwardUpdateGradient(input, delta);
        for (let i = 0; i < before.length; i++)
          this.weightGrad.data[i] = before[i] + (this.weightGrad.data[i] - before[i]) / input.shape[0];
      }
    }
    const rng = new Rng(4);
    const failures = gradcheckModule(new Averaged(3, 2, { bias: false }), randomTensor([4, 3], rng));
    expect(failures.some((f) => f.what === 'weight')).toBe(true);
  });
});
