/** Losses: hand-computed values, extreme inputs, gradient checks, one-hot helpers. */
import * as fs from 'fs';
import * as path from 'path';
import { fromArray, toArray, Tensor } from '../lib/tensor';
import { Rng } from '../lib/random';
import { LogSoftmax } from '../lib/nn';
import { Loss, MSELoss, BCELoss, CrossEntropyLoss, CELogSoftmaxLoss, HingeLoss, fromOneHot } from '../lib/losses';
import { oneHot } from '../lib';
import { gradcheckLoss, randomTensor, describeFailures } from './gradcheck';
import { getBackend, nativeAvailable, setBackend } from '../lib/backend';

function values(t: Tensor): number[] {
  return Array.from(t.data);
}

function expectClose(got: number[], want: number[], digits = 5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i], digits));
}

describe('known values', () => {
  test('MSELoss: per-sample squared norm, gradient −2(y − ŷ)', () => {
    const y = fromArray([
      [1, 2],
      [0, 0],
    ]);
    const yhat = fromArray([
      [0, 0],
      [3, -1],
    ]);
    expect(values(new MSELoss().forward(y, yhat))).toEqual([5, 10]);
    expect(values(new MSELoss({ reduction: 'sum' }).backward(y, yhat))).toEqual([-2, -4, 6, -2]);
  });

  test('BCELoss: hand values; ŷ ∈ {0, 1} stays finite with the log clipped at −100', () => {
    const bce = new BCELoss({ reduction: 'sum' });
    expectClose(values(bce.forward(fromArray([[1], [0], [1]]), fromArray([[0.5], [0.2], [0.9]]))), [
      Math.LN2,
      -Math.log(0.8),
      -Math.log(0.9),
    ]);
    const y = fromArray([[1, 0, 1, 0]]);
    const extreme = fromArray([[0, 1, 1, 0]]);
    // wrong and certain: two entries at the clip (100 each); right and certain: 0
    expect(values(bce.forward(y, extreme))).toEqual([200]);
    const g = values(bce.backward(y, extreme));
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g).toEqual([-1e12, 1e12, -1, 1].map(Math.fround));
    expectClose(values(bce.backward(fromArray([[1, 0]]), fromArray([[0.25, 0.25]]))), [-4, 1 / 0.75]);
  });

  test("class weights: each sample times its class weight, the mean over the batch's total weight; bad weights refused", () => {
    const logits = fromArray([
      [0.5, -1, 2],
      [1, 1, 0],
      [-0.5, 0.25, 0],
    ]);
    const labels = fromArray([2, 0, 0]);
    const weight = [2, 1, 0.5];
    const plain = new CELogSoftmaxLoss({ reduction: 'sum' });
    const weighted = new CELogSoftmaxLoss({ reduction: 'sum', weight });
    const each = values(plain.forward(labels, logits));
    expectClose(values(weighted.forward(labels, logits)), [each[0] * 0.5, each[1] * 2, each[2] * 2]);
    // The mean divides by 0.5 + 2 + 2 = 4.5, not by 3; the fused kernel's gradient is backward's.
    const mean = new CELogSoftmaxLoss({ weight });
    expect(mean.value(labels, logits)).toBeCloseTo((each[0] * 0.5 + each[1] * 2 + each[2] * 2) / 4.5, 6);
    expectClose(values(mean.lossAndGradient(labels, logits).gradient), values(mean.backward(labels, logits)));
    // A batch of total weight 0 gives 0, not 0 / 0.
    const none = new CELogSoftmaxLoss({ weight: [1, 1, 0] });
    expect(
      none.value(
        fromArray([2, 2]),
        fromArray([
          [0, 0, 2],
          [1, 0, 0.5],
        ]),
      ),
    ).toBe(0);
    expect(String(mean)).toBe('CELogSoftmaxLoss({ weight: [2, 1, 0.5] })');
    expect(String(new CrossEntropyLoss({ reduction: 'sum', weight: new Float32Array(8).fill(1) }))).toBe(
      "CrossEntropyLoss({ reduction: 'sum', weight: [1, 1, 1, 1, 1, 1, …] })",
    );
    expect(mean.toJSON()).toEqual({ type: 'CELogSoftmaxLoss', args: [{ reduction: 'mean', weight: [2, 1, 0.5] }] });
    // float32 weights are shown as given, not as 0.30000001192092896.
    const tenths = new CrossEntropyLoss({ weight: [0.3, 0.1, 1.7] });
    expect([String(tenths), tenths.toJSON().args]).toEqual([
      'CrossEntropyLoss({ weight: [0.3, 0.1, 1.7] })',
      [{ reduction: 'mean', weight: [0.3, 0.1, 1.7] }],
    ]);
    expect(() => new CELogSoftmaxLoss({ weight: [1, 2] }).forward(labels, logits)).toThrow(
      'CELogSoftmaxLoss({ weight: [1, 2] }): weight holds 2 values, one per class, and yhat has 3 classes',
    );
    expect(() => new CrossEntropyLoss({ weight: [1, -1, 2] })).toThrow(
      'CrossEntropyLoss: weight[1] must be a finite float32 number >= 0, got number -1',
    );
    expect(() => new CrossEntropyLoss({ weight: 3 as never })).toThrow(
      'CrossEntropyLoss: weight must be an array of one number per class, got number 3',
    );
    expect(() => new CELogSoftmaxLoss({ weight: [] })).toThrow('CELogSoftmaxLoss: weight is empty; give one number per class');
    expect(() => new CELogSoftmaxLoss({ weights: [1] } as never)).toThrow(
      "CELogSoftmaxLoss: unknown option 'weights' (did you mean 'weight'?)",
    );
    expect(() => new MSELoss({ weight: [1] } as never)).toThrow("MSELoss: unknown option 'weight'; valid options: reduction");
  });

  test('an output with positions beside targets without them says where the axes come from', () => {
    const positions = /keeps axes between the batch and its last: .*put a Flatten\(\) before the last Linear\)$/;
    expect(() => new CELogSoftmaxLoss().forward(fromArray([0, 1]), randomTensor([2, 1, 3], new Rng(1)))).toThrow(positions);
    expect(() => new MSELoss().forward(randomTensor([2, 3], new Rng(1)), randomTensor([2, 1, 3], new Rng(2)))).toThrow(positions);
    // Not for a plain mismatch of the same rank.
    expect(() => new MSELoss().forward(randomTensor([2, 4], new Rng(1)), randomTensor([2, 3], new Rng(2)))).not.toThrow(positions);
  });

  test('CrossEntropyLoss is −log p[label] of log-probabilities, with indices or one-hot', () => {
    const logp = new LogSoftmax().forward(
      fromArray([
        [0, Math.log(3)],
        [2, 2],
      ]),
    );
    const ce = new CrossEntropyLoss({ reduction: 'sum' });
    expectClose(values(ce.forward(fromArray([1, 0]), logp)), [-Math.log(0.75), Math.LN2]);
    expectClose(values(ce.forward(oneHot([1, 0], 2), logp)), [-Math.log(0.75), Math.LN2]);
    expect(values(ce.backward(fromArray([1, 0]), logp))).toEqual([0, -1, -1, 0]);
  });

  test('CELogSoftmaxLoss: lse(x) − x[label], gradient softmax − onehot, finite for logits of ±1e4', () => {
    const ce = new CELogSoftmaxLoss({ reduction: 'sum' });
    expectClose(values(ce.forward(fromArray([0]), fromArray([[0, 0]]))), [Math.LN2]);
    expectClose(values(ce.backward(fromArray([1]), fromArray([[0, Math.log(3)]]))), [0.25, -0.25]);
    const big = fromArray([
      [1e4, -1e4, 0],
      [-1e4, -1e4, -1e4],
    ]);
    const l = values(ce.forward(fromArray([1, 2]), big));
    expect(l[0]).toBeCloseTo(2e4, 0);
    expect(l[1]).toBeCloseTo(Math.log(3), 5);
    const g = values(ce.backward(fromArray([1, 2]), big));
    expect(g.every(Number.isFinite)).toBe(true);
    expectClose(g, [1, -1, 0, 1 / 3, 1 / 3, -2 / 3]);
  });

  // Soft targets (label smoothing, distillation) need not sum to 1 in a row: the gradient of
  // −Σ_c y_c·log softmax(x)_c is (Σ_c y_c)·softmax(x) − y, which a one-hot row cannot tell from softmax − y.
  test('CELogSoftmaxLoss with target rows that do not sum to 1: (Σ y)·softmax − y, by formula and by finite differences', () => {
    const ce = new CELogSoftmaxLoss({ reduction: 'sum' });
    const x = fromArray([
      [0.3, -1.2, 0.8],
      [1.5, 0.1, -0.4],
    ]);
    const y = fromArray([
      [0.5, 0, 1.5],
      [0, 0, 0],
    ]);
    const g = values(ce.backward(y, x));
    const softmax = (row: number[]): number[] => {
      const e = row.map(Math.exp);
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    };
    const p0 = softmax([0.3, -1.2, 0.8]);
    expectClose(g.slice(0, 3), [2 * p0[0] - 0.5, 2 * p0[1], 2 * p0[2] - 1.5]);
    expect(g.slice(3)).toEqual([0, 0, 0]); // a zero target row asks nothing of its logits
    const h = 1e-3;
    const total = (t: Tensor): number => values(ce.forward(y, t)).reduce((a, b) => a + b, 0);
    x.data.forEach((v, i) => {
      const plus = fromArray(toArray(x) as number[][]);
      const minus = fromArray(toArray(x) as number[][]);
      plus.data[i] = v + h;
      minus.data[i] = v - h;
      expect(g[i]).toBeCloseTo((total(plus) - total(minus)) / (2 * h), 2);
    });
  });

  test('HingeLoss: Σ max(0, 1 − yŷ)', () => {
    const y = fromArray([[1, -1, 1]]);
    const yhat = fromArray([[0.2, -3, 2]]);
    expectClose(values(new HingeLoss().forward(y, yhat)), [0.8]);
    expect(values(new HingeLoss({ reduction: 'sum' }).backward(y, yhat))).toEqual([-1, 0, 0]);
  });

  test("reduction: 'mean' (the default) divides the gradient by the batch size; 'sum' does not", () => {
    const rng = new Rng(4);
    const labels = fromArray([0, 3, 2, 1, 3]);
    const logits = randomTensor([5, 4], rng, -3, 3);
    const probs = randomTensor([5, 4], rng, 0.05, 0.95);
    const targets = randomTensor([5, 4], rng, 0, 1);
    const signs = fromArray(
      Array.from({ length: 20 }, (_, i) => (i % 3 ? 1 : -1)),
      [5, 4],
    );
    const cases: [new (o?: { reduction?: 'mean' | 'sum' }) => Loss, Tensor, Tensor][] = [
      [MSELoss, targets, probs],
      [BCELoss, targets, probs],
      [CELogSoftmaxLoss, labels, logits],
      [CELogSoftmaxLoss, oneHot(labels, 4), logits],
      [CrossEntropyLoss, labels, new LogSoftmax().forward(logits)],
      [HingeLoss, signs, logits],
    ];
    for (const [Kind, y, yhat] of cases) {
      const mean = new Kind();
      const sum = new Kind({ reduction: 'sum' });
      expect(mean.reduction).toBe('mean');
      expect(sum.reduction).toBe('sum');
      const gSum = values(sum.backward(y, yhat));
      expect(gSum.some((v) => v !== 0)).toBe(true);
      expectClose(
        values(mean.backward(y, yhat)),
        gSum.map((v) => v / 5),
        6,
      );
      expectClose(
        values(mean.lossAndGradient(y, yhat).gradient),
        gSum.map((v) => v / 5),
        6,
      );
      expectClose(values(sum.lossAndGradient(y, yhat).gradient), gSum, 6);
      // The reported sum does not depend on the reduction; value() is the reduced figure.
      expect(mean.sum(y, yhat)).toBeCloseTo(sum.sum(y, yhat), 5);
      expect(mean.value(y, yhat)).toBeCloseTo(sum.value(y, yhat) / 5, 5);
    }
    expect(String(new MSELoss({ reduction: 'sum' }))).toBe("MSELoss({ reduction: 'sum' })");
    expect(() => new MSELoss({ reduction: 'avg' as 'mean' })).toThrow("MSELoss: reduction must be 'mean' or 'sum', got string avg");
    expect(() => new BCELoss({ Reduction: 'sum' } as object)).toThrow(
      "BCELoss: unknown option 'Reduction' (did you mean 'reduction'?); valid options: reduction",
    );
  });

  test("docs/COURSE.md's gradient-scale example is what backward gives, for both reductions", () => {
    // The course's summed gradient is { reduction: 'sum' }; the default averages over the batch.
    const course = fs.readFileSync(path.join(__dirname, '..', 'docs', 'COURSE.md'), 'utf8').replace(/\s+/g, ' ');
    const example =
      /For `y = (\[.*?\])` and `ŷ = (\[.*?\])`, `new MSELoss\(\)\.backward\(y, ŷ\)` is `(\[.*?\])` and `new MSELoss\(\{ reduction: 'sum' \}\)\.backward\(y, ŷ\)` is `(\[.*?\])`/.exec(
        course,
      );
    expect(example).not.toBeNull();
    const [y, yhat, mean, sum] = example!.slice(1).map((t) => JSON.parse(t) as number[][]);
    expect(toArray(new MSELoss().backward(fromArray(y), fromArray(yhat)))).toEqual(mean);
    expect(toArray(new MSELoss({ reduction: 'sum' }).backward(fromArray(y), fromArray(yhat)))).toEqual(sum);
    expect(mean).not.toEqual(sum);
    expect(course).not.toMatch(/backward\(y, yhat\)` is the gradient of the \*sum\*/);
  });

  test('CrossEntropyLoss fed logits says it is NLLLoss and names CELogSoftmaxLoss', () => {
    const logits = fromArray([
      [2.5, -1, 0.3],
      [0.1, 0.2, 0.3],
    ]);
    const ce = new CrossEntropyLoss();
    for (const call of [() => ce.forward(fromArray([0, 2]), logits), () => ce.lossAndGradient(fromArray([0, 2]), logits)]) {
      expect(call).toThrow(/CELogSoftmaxLoss/);
      expect(call).toThrow(/NLLLoss/);
      expect(call).toThrow(/row 0 is not log-probabilities/);
    }
    // Negative scores that are not normalised either: caught by their sum.
    expect(() => ce.forward(fromArray([0]), fromArray([[-0.1, -0.2, -0.3]]))).toThrow(/row 0 is not log-probabilities.*CELogSoftmaxLoss/);
    // Log-probabilities of many classes pass.
    const many = new LogSoftmax().forward(randomTensor([3, 1000], new Rng(2), -5, 5));
    expect(() => ce.forward(fromArray([1, 999, 0]), many)).not.toThrow();
  });

  test("sum is the total of forward, also into a kept buffer; lossAndGradient gives that sum and backward's gradient", () => {
    const rng = new Rng(9);
    const labels = fromArray([0, 3, 2, 1, 3]);
    const logits = randomTensor([5, 4], rng, -3, 3);
    const probs = randomTensor([5, 4], rng, 0.05, 0.95);
    const targets = randomTensor([5, 4], rng, 0, 1);
    const cases: [MSELoss | BCELoss | CELogSoftmaxLoss | HingeLoss | CrossEntropyLoss, Tensor, Tensor][] = [
      [new MSELoss(), targets, probs],
      [new BCELoss(), targets, probs],
      [new CELogSoftmaxLoss(), labels, logits],
      [new CELogSoftmaxLoss(), oneHot(labels, 4), logits],
      [new CrossEntropyLoss(), labels, new LogSoftmax().forward(logits)],
    ];
    for (const [loss, y, yhat] of cases) {
      const total = values(loss.forward(y, yhat)).reduce((a, b) => a + b, 0);
      expect(loss.sum(y, yhat)).toBeCloseTo(total, 5);
      expect(loss.sum(y, yhat)).toBeCloseTo(total, 5); // the kept buffer, a second time
      // The fused path gives the sum and the gradient backward computes on its own.
      const both = loss.lossAndGradient(y, yhat);
      expect(both.sum).toBeCloseTo(total, 5);
      expectClose(values(both.gradient), values(loss.backward(y, yhat)), 5);
    }
    expect(() => new BCELoss().sum(null as unknown as Tensor, probs)).toThrow(TypeError);
    expect(() => new CELogSoftmaxLoss().sum(fromArray([7]), fromArray([[0, 0]]))).toThrow(/class index y\[0\] = 7/);
  });

  test('nothing is kept between calls: yhat rewritten in place past its 8th value gets a fresh gradient', () => {
    // Once, a fused loss kept forward's gradient for a backward on the same tensors, recognised
    // by a fingerprint of yhat's first 8 values: a rewrite beyond them brought back the stale one.
    const rng = new Rng(21);
    const labels = fromArray([0, 3, 2, 1, 3]);
    const cases: [Loss, Tensor, Tensor][] = [
      [new BCELoss(), randomTensor([5, 4], rng, 0, 1), randomTensor([5, 4], rng, 0.05, 0.95)],
      [new CELogSoftmaxLoss(), labels, randomTensor([5, 4], rng, -3, 3)],
    ];
    for (const [loss, y, yhat] of cases) {
      const first = values(loss.lossAndGradient(y, yhat).gradient);
      loss.sum(y, yhat);
      // Rewrite entries 8.. in place (the same tensor object, its first 8 values unchanged).
      for (let i = 8; i < yhat.data.length; i++) yhat.data[i] = yhat.data[i] * 0.5 + 0.02;
      const fresh = new (loss.constructor as new () => Loss)();
      const expected = values(fresh.backward(y, { shape: yhat.shape, data: yhat.data.slice() }));
      expect(values(loss.backward(y, yhat))).not.toEqual(first);
      expectClose(values(loss.backward(y, yhat)), expected, 6);
      expectClose(values(loss.lossAndGradient(y, yhat).gradient), expected, 6);
    }
  });

  test('a subclass that redefines forward gets its own forward summed', () => {
    class Doubled extends BCELoss {
      forward(y: Tensor, yhat: Tensor): Tensor {
        const t = super.forward(y, yhat);
        return { shape: t.shape, data: t.data.map((v) => 2 * v) };
      }
    }
    const y = fromArray([
      [1, 0],
      [0, 1],
    ]);
    const yhat = fromArray([
      [0.8, 0.3],
      [0.4, 0.6],
    ]);
    expect(new Doubled().sum(y, yhat)).toBeCloseTo(2 * new BCELoss().sum(y, yhat), 5);
  });

  test('errors name the loss and the shapes', () => {
    expect(() => new MSELoss().forward(fromArray([[1, 2]]), fromArray([[1], [2]]))).toThrow(
      'MSELoss(): expected y (2, 1) (the shape of yhat), got (1, 2)',
    );
    expect(() => new CELogSoftmaxLoss().forward(fromArray([3]), fromArray([[0, 0]]))).toThrow(/class index y\[0\] = 3/);
    expect(() => new CrossEntropyLoss().forward(fromArray([[1, 0, 0]]), fromArray([[0, 0]]))).toThrow(RangeError);
  });

  describe("arguments in PyTorch's order (output, target) are named as swapped", () => {
    const ORDER = "losses take (y, yhat): the targets first, then the network's output (PyTorch's order is the reverse)";
    const logits = fromArray([
      [1, 2, 3],
      [0, 1, -1],
    ]);
    const oneHotRows = fromArray([
      [1, 0, 0],
      [0, 0, 1],
    ]);

    test.each([
      ['CELogSoftmaxLoss', () => new CELogSoftmaxLoss()],
      ['CrossEntropyLoss', () => new CrossEntropyLoss()],
    ] as const)('%s: labels (Int32Array or a 1-D tensor) as the second argument', (name, make) => {
      for (const method of ['forward', 'backward', 'sum', 'lossAndGradient'] as const) {
        expect(() => make()[method](logits, Int32Array.from([0, 2]) as unknown as Tensor)).toThrow(
          new TypeError(`${name}(): expected yhat to be a Tensor, got Int32Array(2); ${ORDER}`),
        );
        expect(() => make()[method](logits, fromArray([0, 2]))).toThrow(
          new RangeError(`${name}(): expected yhat (batch, classes), got (2); ${ORDER}`),
        );
      }
      // In the right place but not in a tensor: how to pass them.
      expect(() => make().forward(Int32Array.from([0, 2]) as unknown as Tensor, logits)).toThrow(
        `${name}(): expected y to be a Tensor, got Int32Array(2) (class labels go in a tensor: fromArray(labels))`,
      );
      // A 1-D yhat that is not beside a (batch, classes) y is not called swapped.
      expect(() => make().forward(fromArray([0, 2]), fromArray([0.5, 0.5]))).toThrow(
        new RangeError(`${name}(): expected yhat (batch, classes), got (2)`),
      );
    });

    test('CELogSoftmaxLoss: logits as y beside one-hot rows as yhat; a negative weight beside logits is computed as before', () => {
      for (const method of ['forward', 'backward', 'sum', 'lossAndGradient'] as const) {
        expect(() => new CELogSoftmaxLoss()[method](logits, oneHotRows)).toThrow(
          new RangeError(
            `CELogSoftmaxLoss(): y holds -1 at row 1, which no target weight is, and yhat's rows are one-hot or probabilities; ${ORDER}`,
          ),
        );
      }
      // A negative weight beside logits (not probability rows) is computed as before: −Σ_c y_c·logp_c.
      const weights = fromArray([
        [1, 0, 0],
        [0, -1, 2],
      ]);
      const logp = values(new LogSoftmax().forward(logits));
      expectClose(values(new CELogSoftmaxLoss().forward(weights, logits)), [-logp[0], logp[4] - 2 * logp[5]]);
      // Logits whose rows happen to sum to 1 are not probability rows either.
      const summingToOne = fromArray([
        [2, -1, 0],
        [1.5, -0.5, 0],
      ]);
      expect(values(new CELogSoftmaxLoss().forward(weights, summingToOne)).every(Number.isFinite)).toBe(true);
      // One-hot targets first, logits second: accepted.
      expect(values(new CELogSoftmaxLoss().forward(oneHotRows, logits)).every(Number.isFinite)).toBe(true);
    });

    test('CrossEntropyLoss: log-probabilities as y beside one-hot rows as yhat', () => {
      const logp = new LogSoftmax().forward(logits);
      expect(() => new CrossEntropyLoss().forward(logp, oneHotRows)).toThrow(
        new RegExp(`^CrossEntropyLoss\\(\\): y holds -\\S+ at row 0, .*; ${ORDER.replace(/[()]/g, '\\$&')}$`),
      );
      expect(values(new CrossEntropyLoss().forward(oneHotRows, logp)).every(Number.isFinite)).toBe(true);
    });

    test('BCELoss: a yhat outside [0, 1] names the Sigmoid and the order; a y outside it too; NaN is left to fit', () => {
      const targets = fromArray([[1], [0]]);
      const logitsOut = fromArray([[2.5], [-1]]);
      for (const method of ['forward', 'backward', 'sum', 'lossAndGradient'] as const) {
        expect(() => new BCELoss()[method](targets, logitsOut)).toThrow(
          new RangeError(
            `BCELoss(): yhat holds 2.5 at flat index 0, outside [0, 1]; BCELoss takes probabilities as yhat: end the network with Sigmoid (or StableSigmoid), or, if yhat holds the targets, ${ORDER}`,
          ),
        );
        expect(() => new BCELoss()[method](logitsOut, targets)).toThrow(
          new RangeError(
            `BCELoss(): y holds 2.5 at flat index 0, outside [0, 1]; BCELoss's targets are probabilities (0 or 1 for hard labels), and if y is the network's output, ${ORDER}`,
          ),
        );
      }
      // Both outside: no order to suggest.
      expect(() => new BCELoss().forward(fromArray([[3]]), fromArray([[-0.3]]))).toThrow(
        /^BCELoss\(\): yhat holds -0\.3 at flat index 0, outside \[0, 1\]; BCELoss takes probabilities as yhat: end the network with Sigmoid \(or StableSigmoid\)$/,
      );
      // Rounding past 1 or 0 is not a logit; NaN and ±Infinity stay for fit's non-finite checks.
      expect(values(new BCELoss().forward(fromArray([[1], [0]]), fromArray([[1 + 2 ** -23], [-(2 ** -40)]]))).every(Number.isFinite)).toBe(
        true,
      );
      expect(Number.isNaN(new BCELoss().forward(fromArray([[1]]), fromArray([[NaN]])).data[0])).toBe(true);
      expect(() => new BCELoss().forward(fromArray([[1]]), fromArray([[Infinity]]))).not.toThrow();
    });

    test('BCELoss in a training loop: its first calls are range-checked, later ones when the loss is not finite; forward always', () => {
      const targets = fromArray([[1], [0]]);
      const probabilities = fromArray([[0.7], [0.2]]);
      const logitsOut = fromArray([[2.5], [-1]]);
      const outOfRange = /^BCELoss\(\): yhat holds 2\.5 at flat index 0, outside \[0, 1\]/;
      const before = getBackend();
      try {
        for (const method of ['sum', 'lossAndGradient'] as const) {
          const loss = new BCELoss();
          for (let i = 0; i < 4; i++) loss[method](targets, probabilities);
          // A fifth call is not read in JavaScript: every backend's kernel clamps the log of a value
          // past 0 or 1 at −100, the same finite value; a NaN loss is explained if out of range.
          const fifth: number[] = [];
          for (const name of nativeAvailable() ? (['js', 'native'] as const) : (['js'] as const)) {
            setBackend(name);
            const got = loss[method](targets, logitsOut);
            fifth.push(typeof got === 'number' ? got : got.sum);
            expect(() => loss[method](targets, fromArray([[NaN], [3]]))).toThrow(
              /^BCELoss\(\): yhat holds 3 at flat index 1, outside \[0, 1\]/,
            );
          }
          expect(fifth.every((v) => v === fifth[0] && Number.isFinite(v))).toBe(true);
          expect(() => loss.forward(targets, logitsOut)).toThrow(outOfRange);
          expect(() => loss.backward(targets, logitsOut)).toThrow(outOfRange);
        }
      } finally {
        setBackend(before);
      }
    });

    test('HingeLoss: scores as y beside ±1 as yhat; other targets are computed as before', () => {
      const scores = fromArray([[0.3], [-2]]);
      const pm1 = fromArray([[1], [-1]]);
      for (const method of ['forward', 'backward', 'sum', 'lossAndGradient'] as const) {
        expect(() => new HingeLoss()[method](scores, pm1)).toThrow(
          new RangeError(`HingeLoss(): y holds 0.3 at flat index 0, not a target in {-1, +1}, and yhat holds only -1 and +1; ${ORDER}`),
        );
      }
      expect(values(new HingeLoss().forward(pm1, scores))).toEqual([Math.fround(0.7), 0]);
      expect(values(new HingeLoss().forward(pm1, pm1))).toEqual([0, 0]);
      expect(values(new HingeLoss().forward(fromArray([[0], [1]]), scores))).toEqual([1, 3]);
    });
  });
});

describe.each(['mean', 'sum'] as const)(
  'gradient checks, reduction %s (float64 finite differences, see test/gradcheck.ts)',
  (reduction) => {
    const rng = new Rng(5);
    function ok(f: ReturnType<typeof gradcheckLoss>): void {
      if (f.length) throw new Error(describeFailures(f));
    }

    test.each([[[4, 3]], [[2, 5, 2]]])('MSELoss on %j', (shape) => {
      ok(gradcheckLoss(new MSELoss({ reduction }), randomTensor(shape, rng), randomTensor(shape, rng)));
    });

    test('BCELoss with hard and soft targets', () => {
      const yhat = randomTensor([5, 3], rng, 0.1, 0.9);
      const hard = fromArray(
        Array.from({ length: 15 }, (_, i) => i % 2),
        [5, 3],
      );
      ok(gradcheckLoss(new BCELoss({ reduction }), hard, yhat, { h: 1e-3 }));
      ok(gradcheckLoss(new BCELoss({ reduction }), randomTensor([5, 3], rng, 0, 1), yhat, { h: 1e-3 }));
    });

    test('CrossEntropyLoss and CELogSoftmaxLoss, indices and one-hot targets', () => {
      const labels = fromArray([0, 3, 2, 1, 3]);
      const logits = randomTensor([5, 4], rng, -3, 3);
      ok(gradcheckLoss(new CELogSoftmaxLoss({ reduction }), labels, logits));
      ok(gradcheckLoss(new CELogSoftmaxLoss({ reduction }), oneHot(labels, 4), logits));
      ok(gradcheckLoss(new CrossEntropyLoss({ reduction }), labels, new LogSoftmax().forward(logits)));
      ok(gradcheckLoss(new CrossEntropyLoss({ reduction }), oneHot(labels, 4), new LogSoftmax().forward(logits)));
    });

    test('HingeLoss away from the margin', () => {
      const y = fromArray([[1, -1, 1, -1]]);
      ok(gradcheckLoss(new HingeLoss({ reduction }), y, fromArray([[0.3, 0.5, 1.7, -2]])));
    });
  },
);

test('oneHot and fromOneHot round-trip', () => {
  const t = oneHot([2, 0, 1], 3);
  expect([...t.shape]).toEqual([3, 3]);
  expect(values(t)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
  expect(Array.from(fromOneHot(t))).toEqual([2, 0, 1]);
  expect(() => oneHot([3], 3)).toThrow(RangeError);
});
