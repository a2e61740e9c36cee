/** Weight averaging (SWA mean and EMA): exact values, apply/restore, use with fit, argument errors. */
import { fromArray } from '../lib/tensor';
import { seed } from '../lib/random';
import { Linear, Sequential, TanH, Parameter } from '../lib/nn';
import { MSELoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit, evaluate } from '../lib/train';
import { WeightAverage } from '../lib/averaging';
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
    /^WeightAverage: unknown option 'decy' \(did you mean 'decay'\?\); valid options: decay$/,
  );
});
