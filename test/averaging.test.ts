/** Weight averaging (SWA mean and EMA): exact values, apply/restore, use with fit, argument errors. */
import { fromArray, randn, tensor } from '../lib/tensor';
import { Rng, seed } from '../lib/random';
import { BatchNorm1D, BatchNorm2D, Linear, Sequential, TanH, Parameter } from '../lib/nn';
import { MSELoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit, evaluate } from '../lib/train';
import { WeightAverage, updateBatchNorm } from '../lib/averaging';
import { WeightAverage as Exported } from '../lib';

function param(values: number[]): Parameter {
  return { name: 'p', value: fromArray(values), grad: fromArray(values.map(() => 0)), module: new Linear(1, 1) };
}

test('uniform mean (SWA) of the snapshots, apply and restore', () => {
  expect(Exported).toBe(WeightAverage);
  const p = param([1, -2]);
  const avg = new WeightAverage([p]);
  avg.update();
  p.value.data.set([3, 2]);
  avg.update();
  p.value.data.set([5, 3]);
  avg.update();
  expect(avg.count).toBe(3);
  expect(Array.from(avg.weights()[0])).toEqual([3, 1]);
  avg.apply();
  expect(Array.from(p.value.data)).toEqual([3, 1]);
  expect(() => avg.update()).toThrow(/restore\(\) first/);
  avg.apply(); // idempotent: keeps the live weights of the first apply
  avg.restore();
  expect(Array.from(p.value.data)).toEqual([5, 3]);
  avg.restore(); // no-op
  expect(Array.from(p.value.data)).toEqual([5, 3]);
  avg.reset();
  expect(avg.count).toBe(0);
  expect(() => avg.apply()).toThrow(/no snapshot yet/);
  avg.update();
  expect(Array.from(avg.weights()[0])).toEqual([5, 3]);
});

test('exponential moving average: first update copies, then decay·avg + (1 − decay)·w', () => {
  const p = param([1]);
  const ema = new WeightAverage([p], { decay: 0.9 });
  ema.update(); // 1
  p.value.data[0] = 11;
  ema.update(); // 0.9·1 + 0.1·11 = 2
  p.value.data[0] = 2;
  ema.update(); // 2
  expect(ema.weights()[0][0]).toBeCloseTo(2, 6);
  p.value.data[0] = 22;
  ema.update(); // 0.9·2 + 0.1·22 = 4
  expect(ema.weights()[0][0]).toBeCloseTo(4, 6);
  expect(ema.evaluateWith(() => p.value.data[0])).toBeCloseTo(4, 6);
  expect(p.value.data[0]).toBe(22);
});

test('with fit: averaging the last epochs, evaluated without disturbing training', async () => {
  seed(0);
  const x = fromArray([
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ]);
  const y = fromArray([[0], [1], [1], [0]]);
  const net = new Sequential(new Linear(2, 8), new TanH(), new Linear(8, 1));
  const loss = new MSELoss();
  const avg = new WeightAverage(net.parameters());
  const seen: number[] = [];
  await fit(
    net,
    loss,
    new SGD({ lr: 0.05, momentum: 0.9 }),
    { x, y },
    {
      epochs: 60,
      batchSize: 4,
      verbose: 0,
      onEpochEnd: (r) => {
        if (r.epoch > 50) avg.update();
        if (r.epoch > 50) seen.push(avg.evaluateWith(() => evaluate(net, loss, x, y).loss));
      },
    },
  );
  expect(avg.count).toBe(10);
  expect(seen.every(Number.isFinite)).toBe(true);
  const live = net.parameters().map((p) => p.value.data.slice());
  const mean = avg.weights();
  avg.apply();
  net.parameters().forEach((p, i) => expect(Array.from(p.value.data)).toEqual(Array.from(mean[i])));
  avg.restore();
  net.parameters().forEach((p, i) => expect(Array.from(p.value.data)).toEqual(Array.from(live[i])));
});

test('argument errors', () => {
  expect(() => new WeightAverage(null as unknown as Parameter[])).toThrow(/params must be an array/);
  expect(() => new WeightAverage([param([1])], { decay: 1 })).toThrow(/decay must be a number in \[0, 1\)/);
  expect(() => new WeightAverage([param([1])], { decay: -0.1 })).toThrow(RangeError);
  expect(() => new WeightAverage([param([1])]).weights()).toThrow(/no snapshot yet/);
  expect(() => new WeightAverage([param([1])], { decy: 0.9 } as unknown as { decay: number })).toThrow(
    /^WeightAverage: unknown option 'decy' \(did you mean 'decay'\?\); valid options: decay, buffers$/,
  );
});

describe('updateBatchNorm: the running estimates measured again (PyTorch swa_utils.update_bn)', () => {
  /** Per column of `rows`: the mean and the unbiased variance. */
  const columnStats = (rows: number[][]): { mean: number[]; variance: number[] } => {
    const n = rows.length;
    const mean = rows[0].map((_, c) => rows.reduce((a, r) => a + r[c], 0) / n);
    const variance = rows[0].map((_, c) => rows.reduce((a, r) => a + (r[c] - mean[c]) ** 2, 0) / (n - 1));
    return { mean, variance };
  };

  test('each estimate is the plain mean over the batches of their statistics; modes and the count as expected', () => {
    seed(3);
    const lin = new Linear(3, 4);
    const bn = new BatchNorm1D(4, { momentum: 0.1 });
    const net = new Sequential(lin, bn);
    const x = randn([10, 3], new Rng(4));
    net.eval();
    bn.runningMean.data.fill(7); // stale estimates, as the last weights left them
    // The statistics of BatchNorm's input, the Linear's output, computed here in float64.
    const h = Array.from({ length: 10 }, (_, i) =>
      Array.from(
        { length: 4 },
        (_, j) => lin.bias!.data[j] + [0, 1, 2].reduce((a, k) => a + x.data[i * 3 + k] * lin.weight.data[k * 4 + j], 0),
      ),
    );
    updateBatchNorm(net, x, { batchSize: 5 });
    const [a, b] = [columnStats(h.slice(0, 5)), columnStats(h.slice(5))];
    for (let c = 0; c < 4; c++) {
      expect(bn.runningMean.data[c]).toBeCloseTo((a.mean[c] + b.mean[c]) / 2, 5);
      expect(bn.runningVar.data[c]).toBeCloseTo((a.variance[c] + b.variance[c]) / 2, 5);
    }
    expect(bn.numBatchesTracked).toBe(2);
    expect([net.training, bn.training]).toEqual([false, false]); // modes put back
    expect(bn.momentum).toBe(0.1);
    // One batch of all the samples: the estimates of the whole set. A last batch of one is left out.
    updateBatchNorm(net, x, { batchSize: 9 });
    const nine = columnStats(h.slice(0, 9));
    for (let c = 0; c < 4; c++) expect(bn.runningMean.data[c]).toBeCloseTo(nine.mean[c], 5);
    expect(bn.numBatchesTracked).toBe(1);
    // Training afterwards moves them by the momentum again.
    net.train();
    const before = bn.runningMean.data.slice();
    net.forward(x);
    const all = columnStats(h);
    for (let c = 0; c < 4; c++) expect(bn.runningMean.data[c]).toBeCloseTo(0.9 * before[c] + 0.1 * all.mean[c], 5);
  });

  test("BatchNorm2D: a last batch of one image is measured (its positions spread), as PyTorch's update_bn does", () => {
    // 9 images of 2×2 pixels, 2 channels, in batches of 4, 4 and 1. Before, the last one was left
    // out as for a BatchNorm1D after a Flatten: channel 0's mean 0.0559 where PyTorch gives 0.1530.
    const x = tensor(
      Array.from({ length: 72 }, (_, i) => Math.cos(i * 0.9) * 3 + (i % 2)),
      [9, 2, 2, 2],
    );
    const bn = new BatchNorm2D(2);
    updateBatchNorm(new Sequential(bn), x, { batchSize: 4 });
    expect(bn.numBatchesTracked).toBe(3);
    for (let c = 0; c < 2; c++) {
      const batch = (from: number, to: number): number[] => {
        const v: number[] = [];
        for (let i = from * 4; i < to * 4; i++) v.push(x.data[i * 2 + c]);
        return v;
      };
      const stats = [batch(0, 4), batch(4, 8), batch(8, 9)].map((v) => {
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        return { mean, variance: v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1) };
      });
      expect(bn.runningMean.data[c]).toBeCloseTo(stats.reduce((a, s) => a + s.mean, 0) / 3, 5);
      expect(bn.runningVar.data[c]).toBeCloseTo(stats.reduce((a, s) => a + s.variance, 0) / 3, 4);
    }
    // PyTorch's figures for these images (update_bn over a DataLoader of batch 4).
    expect(bn.runningMean.data[0]).toBeCloseTo(0.153, 3);
    expect(bn.runningVar.data[0]).toBeCloseTo(5.345, 2);
  });

  test('a pass that fails leaves the estimates as they were; bad arguments named; no batch norm: nothing done', () => {
    const bn = new BatchNorm1D(2);
    const net = new Sequential(new Linear(3, 2), bn);
    bn.runningMean.data.set([1, 2]);
    expect(() => updateBatchNorm(net, randn([6, 4], new Rng(1)))).toThrow(/Linear\(3, 2\)/);
    expect(Array.from(bn.runningMean.data)).toEqual([1, 2]);
    expect(bn.cumulative).toBe(false);
    expect(() => updateBatchNorm(net, randn([6, 3], new Rng(1)), { batchSize: 1 })).toThrow(
      'updateBatchNorm: batchSize must be an integer >= 2 (a batch norm measures a spread), got number 1',
    );
    expect(() => updateBatchNorm(net, randn([1, 3], new Rng(1)))).toThrow(/x must hold at least two samples/);
    expect(() => updateBatchNorm(net, randn([6, 3], new Rng(1)), { batchsize: 3 } as never)).toThrow(/unknown option 'batchsize'/);
    const plain = new Sequential(new Linear(3, 2));
    const w = plain.parameters()[0].value.data.slice();
    updateBatchNorm(plain, randn([6, 3], new Rng(1)));
    expect(plain.parameters()[0].value.data).toEqual(w);
  });
});

test("buffers: batch norm's running estimates averaged, applied and restored with the weights (AveragedModel's use_buffers)", () => {
  const bn = new BatchNorm1D(2);
  const net = new Sequential(new Linear(2, 2), bn);
  const ema = new WeightAverage(net.parameters(), { decay: 0.5, buffers: net.buffers() });
  bn.runningMean.data.set([2, 4]);
  ema.update(); // copies
  bn.runningMean.data.set([4, 8]);
  ema.update(); // 0.5·[2, 4] + 0.5·[4, 8]
  bn.runningMean.data.set([10, 10]);
  expect(ema.weights()).toHaveLength(net.parameters().length); // the parameters only
  ema.apply();
  expect(Array.from(bn.runningMean.data)).toEqual([3, 6]);
  ema.restore();
  expect(Array.from(bn.runningMean.data)).toEqual([10, 10]);
  // Without the option the live estimates stay under the average.
  const plain = new WeightAverage(net.parameters(), { decay: 0.5 });
  plain.update();
  plain.apply();
  expect(Array.from(bn.runningMean.data)).toEqual([10, 10]);
  plain.restore();
  expect(() => new WeightAverage(net.parameters(), { buffers: [{}] as never })).toThrow(
    'WeightAverage: buffers must be an array of buffers (net.buffers()), got Array(1)',
  );
});
