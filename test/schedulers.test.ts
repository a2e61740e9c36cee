/** Learning-rate schedulers, metrics beyond accuracy, gradient clipping and AdamW, alone and in fit; on every backend. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { setBackend } from '../lib/backend';
import { seed } from '../lib/random';
import { argmaxRows, fromArray, tensor, zeros } from '../lib/tensor';
import { Sequential, Linear, ReLU, Parameter } from '../lib/nn';
import { CELogSoftmaxLoss, MSELoss } from '../lib/losses';
import { SGD, Adam, AdamW } from '../lib/optim';
import { fit, evaluate } from '../lib/train';
import { Logger } from '../lib/logger';
import { StepLR, CosineAnnealingLR, LinearWarmup, LRScheduler, ReduceLROnPlateau } from '../lib/schedulers';
import { clipGradNorm, clipGradValue } from '../lib/clip';
import {
  accuracy,
  topKAccuracy,
  classReport,
  classify,
  confusionMatrix,
  MAX_CONFUSION_CLASSES,
  meanSquaredError,
  meanAbsoluteError,
} from '../lib/metrics';
import { loadUSPS } from '../lib/data';
import { availableBackends } from './backends';

function param(values: number[], grads: number[]): Parameter {
  const value = fromArray(values);
  const grad = fromArray(grads);
  return { name: 'p', value, grad, module: new Linear(1, 1) } as Parameter;
}

describe('schedulers on their own', () => {
  test('StepLR, CosineAnnealingLR and LinearWarmup give the closed-form rates', () => {
    const opt = new SGD({ lr: 0.1 });
    const step = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    expect([1, 2, 3, 4, 5].map((e) => step.lrAt(e))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    const cosine = new CosineAnnealingLR(opt, { epochs: 4, minLr: 0.02 });
    const expected = [0, 1, 2, 3, 4, 5].map((d) => 0.02 + (0.08 * (1 + Math.cos((Math.PI * Math.min(d, 4)) / 4))) / 2);
    [1, 2, 3, 4, 5, 6].forEach((e, i) => expect(cosine.lrAt(e)).toBeCloseTo(expected[i], 12));
    expect(cosine.lrAt(5)).toBeCloseTo(0.02, 12);
    const warm = new LinearWarmup(opt, { epochs: 4, startFactor: 0.2, then: new StepLR(opt, { stepSize: 1, gamma: 0.5 }) });
    [0.02, 0.04, 0.06, 0.08, 0.1, 0.05].forEach((lr, i) => expect(warm.lrAt(i + 1)).toBeCloseTo(lr, 12));
    warm.epochStart(3);
    expect(opt.lr).toBeCloseTo(0.06, 12);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow('StepLR: stepSize must be an integer in [1, 9007199254740991], got number 0');
    expect(() => new StepLR(opt, { step_size: 2 } as never)).toThrow(/StepLR: unknown option 'step_size' \(did you mean 'stepSize'\?\)/);
    expect(() => new CosineAnnealingLR(new SGD({ lr: 0.1 }), { epochs: 3, minLr: 1 })).toThrow(/minLr must be a number in \[0, 0.1\]/);
  });

  test('ReduceLROnPlateau lowers the rate after `patience` epochs without improvement by minDelta, then waits again', () => {
    const opt = new SGD({ lr: 1 });
    const plateau = new ReduceLROnPlateau(opt, { patience: 2, factor: 0.5, minDelta: 0.01, minLr: 0.2 });
    const lowered = [1, 0.5, 0.495, 0.6, 0.7, 0.8, 0.9, 0.2, 0.3, 0.3, 0.3, 0.3].map((v) => {
      plateau.step(v);
      return opt.lr;
    });
    // 0.495 is not an improvement on 0.5 by 0.01: epochs 3-4 stall → 0.5; 5-6 → 0.25; 0.2 improves; 9-10 → 0.2 (the floor).
    expect(lowered).toEqual([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]);
    const accuracy = new ReduceLROnPlateau(new SGD({ lr: 1 }), { monitor: 'valAccuracy', patience: 1 });
    accuracy.step(0.5);
    expect(accuracy.step(0.6)).toBe(false);
    expect(accuracy.step(0.55)).toBe(true);
    expect(accuracy.optimizer.lr).toBeCloseTo(0.1, 12);
  });

  test("ReduceLROnPlateau skips a drop smaller than eps (PyTorch's 1e-8 by default); eps 0 drops on every plateau", () => {
    const rates = (options: { eps?: number }): number[] => {
      const opt = new Adam({ lr: 1e-3 });
      const plateau = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.1, minDelta: 0, ...options });
      plateau.step(1);
      return Array.from({ length: 8 }, () => (plateau.step(1), opt.lr));
    };
    // torch.optim.lr_scheduler.ReduceLROnPlateau(Adam(lr=1e-3), factor=0.1, patience=0, threshold=0,
    // threshold_mode='abs') on a constant loss: 1e-4 ... 1e-8, then 1e-8 (a drop of 9e-9 < eps).
    const want = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-8, 1e-8, 1e-8];
    rates({}).forEach((lr, i) => expect(lr).toBeCloseTo(want[i], 20));
    rates({ eps: 0 }).forEach((lr, i) => expect(lr).toBeCloseTo(1e-3 * 0.1 ** (i + 1), 20));
    expect(() => rates({ eps: -1 })).toThrow('ReduceLROnPlateau: eps must be a number in [0, Infinity], got number -1');
  });
});

describe('learning rates fit cannot use', () => {
  test('a scheduler on an optimiser whose rate is NaN or negative is refused; a NaN plateau value is no improvement', () => {
    const opt = new SGD({ lr: 0.1 });
    opt.lr = -1;
    expect(() => new StepLR(opt, { stepSize: 1 })).toThrow("StepLR: the optimiser's learning rate must be a finite number >= 0, got -1");
    opt.lr = NaN;
    expect(() => new ReduceLROnPlateau(opt, { patience: 1 })).toThrow(
      /ReduceLROnPlateau: the optimiser's learning rate must be a finite number >= 0, got NaN/,
    );
    opt.lr = 0.1;
    const plateau = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
    expect(plateau.step(1)).toBe(false);
    expect(plateau.step(NaN)).toBe(true); // one epoch without improvement, patience 1
    expect(opt.lr).toBeCloseTo(0.05, 10);
    expect(() => plateau.step('1' as never)).toThrow(/expected a number, got string/);
  });

  test('fit refuses a rate set to NaN, a negative number or past float32, by a scheduler or a callback, before the step', async () => {
    seed(1);
    const x = fromArray([
      [0, 1],
      [1, 0],
      [1, 1],
      [0, 0],
    ]);
    const y = fromArray([[1], [1], [0], [0]]);
    class Fixed extends StepLR {
      constructor(
        opt: SGD,
        private readonly rate: unknown,
      ) {
        super(opt, { stepSize: 1 });
      }
      lrAt(): number {
        return this.rate as number;
      }
    }
    for (const rate of [-0.05, NaN, 1e39, '0.1']) {
      const net = new Sequential(new Linear(2, 1));
      const before = net.parameters().map((p) => p.value.data.slice());
      const opt = new SGD({ lr: 0.1 });
      await expect(fit(net, new MSELoss(), opt, { x, y }, { epochs: 2, verbose: 0, scheduler: new Fixed(opt, rate) })).rejects.toThrow(
        /^fit: the learning rate is .* \(the scheduler set it for epoch 1\); expected a finite float32 number >= 0$/,
      );
      net.parameters().forEach((p, i) => expect(p.value.data).toEqual(before[i]));
    }
    const opt = new SGD({ lr: 0.1 });
    await expect(
      fit(
        new Sequential(new Linear(2, 1)),
        new MSELoss(),
        opt,
        { x, y },
        { epochs: 1, batchSize: 2, verbose: 0, onBatchEnd: () => (opt.lr = -1) },
      ),
    ).rejects.toThrow('fit: the learning rate is number -1 (at epoch 1, batch 2/2); expected a finite float32 number >= 0');
  });
});

describe('metrics', () => {
  test('top-k, per-class precision/recall/F1 and the regression errors, against hand values', () => {
    const scores = fromArray([
      [0.1, 0.5, 0.4],
      [0.7, 0.2, 0.1],
      [0.2, 0.3, 0.5],
      [0.6, 0.3, 0.1],
    ]);
    const labels = [2, 0, 0, 1];
    expect(topKAccuracy(scores, labels, 1)).toBe(0.25);
    expect(topKAccuracy(scores, labels, 2)).toBe(0.75);
    expect(topKAccuracy(scores, labels, 3)).toBe(1);
    // Past the classes, an error as torch.topk's, not a hit for every sample.
    expect(() => topKAccuracy(scores, labels, 4)).toThrow(
      new RangeError('topKAccuracy: k must be at most the 3 classes of the scores, got 4'),
    );
    // Equal scores rank by class index, as argmax breaks them: top-1 is the accuracy. A network
    // scoring every class the same got top-1 = top-5 = 1 before (every tie counted as a hit).
    const flat = fromArray(Array.from({ length: 10 }, () => Array.from({ length: 10 }, () => 0.1)));
    const each = Array.from({ length: 10 }, (_, i) => i);
    expect([topKAccuracy(flat, each, 1), topKAccuracy(flat, each, 5)]).toEqual([0.1, 0.5]);
    const tie = fromArray([[3, 3, 1, 0]]);
    expect([topKAccuracy(tie, [0], 1), topKAccuracy(tie, [1], 1), topKAccuracy(tie, [1], 2)]).toEqual([1, 0, 1]);
    expect(topKAccuracy(tie, [1], 1)).toBe(Number(argmaxRows(tie)[0] === 1));
    // NaN ranks above every number (torch.topk): the true class's NaN is a miss, another's is above it.
    const nan = fromArray([
      [0.1, NaN, 0.5],
      [NaN, 0.2, 0.9],
    ]);
    expect(topKAccuracy(nan, [2, 2], 1)).toBe(0); // row 0: NaN above 0.5; row 1: NaN above 0.9
    expect(topKAccuracy(nan, [1, 0], 3)).toBe(0); // their own scores are NaN
    expect(topKAccuracy(nan, [2, 2], 2)).toBe(1);
    expect(Array.from(argmaxRows(nan))).toEqual([1, 0]); // the first NaN, as torch.argmax
    expect(Array.from(classify(nan, fromArray([2, 2]))!.predicted)).toEqual([1, 0]);
    // predicted [1, 0, 2, 0]; actual [2, 0, 0, 1]
    const r = classReport([
      [1, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(r.precision).toEqual([0.5, 0, 0]);
    expect(r.recall).toEqual([0.5, 0, 0]);
    expect(r.f1).toEqual([0.5, 0, 0]);
    expect(r.support).toEqual([2, 1, 1]);
    expect(r.macroF1).toBeCloseTo(1 / 6, 12);
    // A class of the output that no sample has and none was predicted as is left out of the
    // macro means, as scikit-learn's default labels: predicted [0, 1, 1, 0, 2, 2], actual
    // [0, 1, 0, 0, 2, 1], 4 classes; sklearn: 0.6667, 0.7222, 0.6556 (over classes 0, 1, 2).
    const absent = classReport(confusionMatrix(Int32Array.from([0, 1, 1, 0, 2, 2]), Int32Array.from([0, 1, 0, 0, 2, 1]), 4));
    expect(absent.precision).toEqual([1, 0.5, 0.5, 0]);
    expect(absent.macroPrecision).toBeCloseTo(2 / 3, 12);
    expect(absent.macroRecall).toBeCloseTo((2 / 3 + 1 / 2 + 1) / 3, 12);
    expect(absent.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    const y = fromArray([
      [1, 2],
      [3, 4],
    ]);
    const yhat = fromArray([
      [1, 0],
      [4, 4],
    ]);
    expect(meanSquaredError(yhat, y)).toBe(5 / 4);
    expect(meanAbsoluteError(yhat, y)).toBe(3 / 4);
  });
});

describe('clipping', () => {
  test('clipGradNorm scales all gradients together to the norm; clipGradValue clamps each', () => {
    const a = param([0, 0], [3, 0]);
    const b = param([0], [4]);
    expect(clipGradNorm([a, b], 1)).toBe(5);
    expect(Array.from(a.grad.data)).toEqual([Math.fround(0.6), 0]);
    expect(Array.from(b.grad.data)).toEqual([Math.fround(0.8)]);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 6);
    expect(Array.from(b.grad.data)).toEqual([Math.fround(0.8)]);
    const c = param([0, 0, 0], [-2, 0.1, 5]);
    clipGradValue([c], 0.5);
    expect(Array.from(c.grad.data)).toEqual([-0.5, Math.fround(0.1), 0.5]);
    expect(() => clipGradNorm([a], 0)).toThrow('clipGradNorm: maxNorm must be a positive finite number, got number 0');
  });
});

test('AdamW decays the weights apart from the gradient; Adam adds the decay to it', () => {
  // With a zero gradient, AdamW's step is exactly w(1 − lr·wd); Adam's L2 term goes through the
  // adaptive scaling instead (a step of about lr, whatever the weight).
  const w = param([2, -4], [0, 0]);
  new AdamW({ lr: 0.1, weightDecay: 0.5 }).step([w]);
  expect(Array.from(w.value.data)).toEqual([Math.fround(2 * 0.95), Math.fround(-4 * 0.95)]);
  const v = param([2, -4], [0, 0]);
  new Adam({ lr: 0.1, weightDecay: 0.5 }).step([v]);
  expect(v.value.data[0]).toBeCloseTo(1.9, 4);
  expect(v.value.data[1]).toBeCloseTo(-3.9, 4);
  expect(new AdamW().weightDecay).toBe(0.01);
  expect(new AdamW().toJSON().type).toBe('AdamW');
});

describe.each(availableBackends())('in fit (%s backend)', (name) => {
  beforeAll(() => setBackend(name));
  const train = loadUSPS({ flatten: true });

  test("a scheduler sets each epoch's rate, recorded as lr; metrics land in valMetrics; clipping bounds the step", async () => {
    seed(3);
    const net = new Sequential(new Linear(256, 32), new ReLU(), new Linear(32, 10));
    const opt = new SGD({ lr: 0.2, momentum: 0.9 });
    const scheduler = new LinearWarmup(opt, { epochs: 2, then: new CosineAnnealingLR(opt, { epochs: 2 }) });
    const h = await fit(net, new CELogSoftmaxLoss(), opt, train, {
      epochs: 4,
      batchSize: 64,
      verbose: 0,
      validationSplit: 0.2,
      scheduler,
      metrics: ['top3', 'f1', 'precision', 'recall'],
      clipGradNorm: 5,
    });
    const rates = h.epochs.map((e) => e.lr as number);
    [0.02, 0.11, 0.2, 0.1].forEach((lr, k) => expect(rates[k]).toBeCloseTo(lr, 12));
    const last = h.epochs[3];
    const m = last.valMetrics as Record<string, number>;
    expect(m.top3).toBeGreaterThanOrEqual(last.valAccuracy as number);
    expect(m.top3).toBeGreaterThan(0.9);
    expect(m.f1).toBeGreaterThan(0.7);
    for (const k of ['f1', 'precision', 'recall']) expect(m[k]).toBeLessThanOrEqual(1);
    // The same metrics from evaluate, with the per-class report.
    const held = train.labels.length - Math.floor(train.labels.length * 0.8); // Keras's count
    const rest = {
      x: { shape: [held, 256], data: train.x.data.subarray((train.labels.length - held) * 256) },
      labels: train.labels.subarray(train.labels.length - held),
    };
    const e = evaluate(net, new CELogSoftmaxLoss(), rest, { metrics: ['top3', 'f1'] });
    expect(e.metrics?.top3).toBeCloseTo(m.top3, 12);
    expect(e.metrics?.f1).toBeCloseTo(m.f1, 12);
    expect(e.classReport?.f1).toHaveLength(10);
    // Over the training batches too: top-3 at least the accuracy, F1 a fraction.
    const t = last.trainMetrics as Record<string, number>;
    expect(t.top3).toBeGreaterThanOrEqual(last.trainAccuracy as number);
    expect(t.f1).toBeGreaterThan(0.5);
    expect(t.f1).toBeLessThanOrEqual(1);
    await expect(
      fit(net, new CELogSoftmaxLoss(), opt, train, { metrics: ['auc' as 'mse'], validationSplit: 0.1, verbose: 0 }),
    ).rejects.toThrow('fit: unknown metric "auc"; valid metrics: top1, top5 (any topK), precision, recall, f1, mse, mae');
    await expect(fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 1 }), train, { scheduler, verbose: 0 })).rejects.toThrow(
      'fit: the scheduler was built on another optimiser than the one fit trains with',
    );
  });

  test('trainMetrics: the mean squared error over the batches is the MSE loss per output', async () => {
    seed(8);
    const net = new Sequential(new Linear(4, 3));
    const rng = (i: number): number => Math.sin(i * 12.9898) * 0.5;
    const x = fromArray(
      Array.from({ length: 40 * 4 }, (_, i) => rng(i)),
      [40, 4],
    );
    const y = fromArray(
      Array.from({ length: 40 * 3 }, (_, i) => rng(i + 1000)),
      [40, 3],
    );
    const h = await fit(
      net,
      new MSELoss(),
      new SGD({ lr: 0.05 }),
      { x, y },
      { epochs: 3, batchSize: 8, verbose: 0, metrics: ['mse', 'mae'] },
    );
    for (const e of h.epochs) {
      const m = e.trainMetrics as Record<string, number>;
      expect(m.mse * 3).toBeCloseTo(e.trainLoss, 5);
      expect(m.mae).toBeGreaterThan(0);
      expect(m.mae ** 2).toBeLessThanOrEqual(m.mse + 1e-9); // Jensen: mean |e| ≤ √(mean e²)
    }
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, { epochs: 1, verbose: 0, metrics: ['f1'] })).rejects.toThrow(
      /fit: metric f1 needs a classification/,
    );
    // Named alone when a regression metric is asked beside it: mae takes any shapes.
    await expect(
      fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, { epochs: 1, verbose: 0, metrics: ['mae', 'precision', 'top1'] }),
    ).rejects.toThrow(/fit: metrics precision, top1 need a classification; predictions/);
  });

  test('ReduceLROnPlateau in fit lowers the rate when the training loss stalls and says so', async () => {
    seed(4);
    const net = new Sequential(new Linear(2, 1));
    const x = zeros([8, 2]);
    const y = zeros([8, 1]);
    const opt = new SGD({ lr: 0.1 });
    const lines: string[] = [];
    const { Logger } = await import('../lib/logger');
    // Zero inputs and targets: the loss is constant after the bias reaches 0, so it stalls.
    const h = await fit(
      net,
      new MSELoss(),
      opt,
      { x, y },
      {
        epochs: 40,
        batchSize: 8,
        logger: new Logger({ verbose: 1, write: (l) => lines.push(l) }),
        scheduler: new ReduceLROnPlateau(opt, { monitor: 'trainLoss', patience: 3, factor: 0.5 }),
      },
    );
    const rates = h.epochs.map((e) => e.lr as number);
    expect(rates[0]).toBe(0.1);
    expect(rates[rates.length - 1]).toBeLessThan(0.1);
    expect(lines.some((l) => /trainLoss has not improved for 3 epochs: learning rate 0\.100 → 0\.0500/.test(l))).toBe(true);
  });

  test("a top-k metric past the network's classes is refused by fit before the first step, and by evaluate", async () => {
    seed(4);
    const net = new Sequential(new Linear(2, 3));
    const before = net.parameters().map((p) => p.value.data.slice());
    const data = {
      x: fromArray([
        [1, 2],
        [3, 4],
      ]),
      labels: Int32Array.from([0, 2]),
    };
    const message = "metric top5 asks for the 5 best of the network's 3 classes; use top1 to top3";
    await expect(fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.1 }), data, { verbose: 0, metrics: ['top5'] })).rejects.toThrow(
      new RangeError(`fit: ${message}`),
    );
    expect(net.parameters().map((p) => p.value.data)).toEqual(before);
    expect(() => evaluate(net, new CELogSoftmaxLoss(), data, { metrics: ['top3', 'top5'] })).toThrow(
      new RangeError(`evaluate: ${message}`),
    );
    expect(evaluate(net, new CELogSoftmaxLoss(), data, { metrics: ['top3'] }).metrics?.top3).toBe(1);
  });

  test('a plateau on the validation loss without a validation set is refused before the first epoch, with the way out', async () => {
    seed(4);
    const net = new Sequential(new Linear(2, 1));
    const before = net.parameters().map((p) => p.value.data.slice());
    const opt = new SGD({ lr: 0.1 });
    const data = {
      x: fromArray([
        [1, 2],
        [3, 4],
      ]),
      y: fromArray([[1], [2]]),
    };
    await expect(fit(net, new MSELoss(), opt, data, { epochs: 3, verbose: 0, scheduler: new ReduceLROnPlateau(opt) })).rejects.toThrow(
      "fit: the scheduler monitors valLoss but no validation set was given; pass validation (or validationSplit), or build it with monitor: 'trainLoss'",
    );
    expect(net.parameters().map((p) => p.value.data)).toEqual(before);
    // With a validation split it trains.
    const h = await fit(net, new MSELoss(), opt, data, {
      epochs: 1,
      verbose: 0,
      validationSplit: 0.5,
      scheduler: new ReduceLROnPlateau(opt),
    });
    expect(h.epochs[0].valLoss).toBeDefined();
  });

  test('clipGradValue and clipGradNorm in fit: the first SGD step moves the weights by at most lr times the limit', async () => {
    for (const clip of [{ clipGradNorm: 0.01 }, { clipGradValue: 0.001 }]) {
      seed(5);
      const net = new Sequential(new Linear(256, 10));
      const before = net.parameters().map((p) => p.value.data.slice());
      const x = { shape: [64, 256], data: train.x.data.subarray(0, 64 * 256) };
      await fit(
        net,
        new CELogSoftmaxLoss(),
        new SGD({ lr: 1 }),
        { x, labels: train.labels.subarray(0, 64) },
        { epochs: 1, batchSize: 64, verbose: 0, shuffle: false, ...clip },
      );
      let squares = 0;
      let largest = 0;
      net.parameters().forEach((p, i) =>
        p.value.data.forEach((v, j) => {
          const d = v - before[i][j];
          squares += d * d;
          largest = Math.max(largest, Math.abs(d));
        }),
      );
      if ('clipGradNorm' in clip) expect(Math.sqrt(squares)).toBeCloseTo(0.01, 4);
      else expect(largest).toBeCloseTo(0.001, 6);
    }
  });

  test('fit called again goes on with the schedule from initialEpoch; without it, a used scheduler is refused', async () => {
    const small = { x: { shape: [96, 256], data: train.x.data.subarray(0, 96 * 256) }, labels: train.labels.subarray(0, 96) };
    const setup = (): { net: Sequential; opt: SGD; scheduler: StepLR } => {
      seed(8);
      const net = new Sequential(new Linear(256, 16), new ReLU(), new Linear(16, 10));
      const opt = new SGD({ lr: 0.1, momentum: 0.9 });
      return { net, opt, scheduler: new StepLR(opt, { stepSize: 2, gamma: 0.1 }) };
    };
    const common = { batchSize: 32, verbose: 0 as const, shuffle: false };
    const whole = setup();
    const straight = await fit(whole.net, new CELogSoftmaxLoss(), whole.opt, small, { ...common, epochs: 6, scheduler: whole.scheduler });
    const chunked = setup();
    const epochs: number[] = [];
    const rates: number[] = [];
    for (const [from, to] of [
      [0, 3],
      [3, 4],
      [4, 6],
    ]) {
      const h = await fit(chunked.net, new CELogSoftmaxLoss(), chunked.opt, small, {
        ...common,
        epochs: to,
        ...(from > 0 ? { initialEpoch: from } : {}),
        scheduler: chunked.scheduler,
      });
      epochs.push(...h.epochs.map((e) => e.epoch));
      rates.push(...h.epochs.map((e) => e.lr as number));
    }
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rates).toEqual(straight.epochs.map((e) => e.lr));
    expect(rates.map((r) => Number(r.toPrecision(6)))).toEqual([0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
    expect(chunked.net.parameters().map((p) => p.value.data)).toEqual(whole.net.parameters().map((p) => p.value.data));
    // The same scheduler again without saying where: it would restart at 0.1 under momentum that carries on.
    await expect(
      fit(chunked.net, new CELogSoftmaxLoss(), chunked.opt, small, { ...common, epochs: 2, scheduler: chunked.scheduler }),
    ).rejects.toThrow(
      'fit: this scheduler set the rates of epochs up to 6 in an earlier fit, and would start its schedule again at epoch 1; ' +
        'pass { initialEpoch: 6, epochs: 6 + more } to go on with it (epochs is the total), or build a new scheduler to start over',
    );
    await expect(fit(chunked.net, new CELogSoftmaxLoss(), chunked.opt, small, { ...common, epochs: 6, initialEpoch: 6 })).rejects.toThrow(
      "fit: initialEpoch must be an integer in [0, 5] (epochs 6 is the total, the earlier calls' included), got number 6",
    );
    await expect(
      fit(chunked.net, new CELogSoftmaxLoss(), chunked.opt, small, {
        ...common,
        epochs: 8,
        initialEpoch: 6,
        checkpoint: { path: 'x.ckpt' },
      }),
    ).rejects.toThrow('fit: a checkpoint holds a run from its first epoch; continue a checkpointed run with resumeFrom, not initialEpoch');
    // A fit that failed in its first epoch ran none of the schedule: the same scheduler starts again without initialEpoch.
    const again = setup();
    const bad = { x: { shape: [96, 256], data: small.x.data.slice().fill(NaN) }, labels: small.labels };
    await expect(
      fit(again.net, new CELogSoftmaxLoss(), again.opt, bad, { ...common, epochs: 2, scheduler: again.scheduler }),
    ).rejects.toThrow('NaN');
    await expect(
      fit(again.net, new CELogSoftmaxLoss(), again.opt, small, { ...common, epochs: 1, scheduler: again.scheduler }),
    ).resolves.toBeDefined();
  });

  test('a run resumed from a checkpoint gets the scheduled rates and weights of an uninterrupted one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-sched-'));
    const small = { x: { shape: [256, 256], data: train.x.data.subarray(0, 256 * 256) }, labels: train.labels.subarray(0, 256) };
    // A plateau that drops the rate after every epoch but the first (no change is 10 better): its
    // best value comes back from the checkpoint's epochs (before, the resumed run's first epoch
    // counted as an improvement, and epoch 4 ran at 0.05).
    const schedulers: Record<string, (opt: SGD) => LRScheduler> = {
      step: (opt) => new StepLR(opt, { stepSize: 1, gamma: 0.5 }),
      plateau: (opt) => new ReduceLROnPlateau(opt, { monitor: 'trainLoss', patience: 1, factor: 0.5, minDelta: 10 }),
    };
    let kind = 'step';
    const run = async (epochs: number, resume: boolean): Promise<{ weights: Float32Array[]; rates: number[] }> => {
      seed(6);
      const net = new Sequential(new Linear(256, 16), new ReLU(), new Linear(16, 10));
      const opt = new SGD({ lr: 0.1, momentum: 0.9 });
      const scheduler = schedulers[kind](opt);
      const checkpoint = { path: path.join(dir, 'run.ckpt') };
      const h = await fit(net, new CELogSoftmaxLoss(), opt, small, {
        epochs,
        batchSize: 32,
        verbose: 0,
        scheduler,
        metrics: ['top3'], // records with trainMetrics go into the checkpoint too
        checkpoint,
        resumeFrom: resume ? checkpoint.path : undefined,
      });
      return { weights: net.parameters().map((p) => p.value.data.slice()), rates: h.epochs.map((e) => e.lr as number) };
    };
    try {
      for (const [name, rates] of [
        ['step', [0.1, 0.05, 0.025, 0.0125]],
        ['plateau', [0.1, 0.1, 0.05, 0.025]],
      ] as const) {
        kind = name;
        const straight = await run(4, false);
        await run(2, false);
        const resumed = await run(4, true);
        expect([name, straight.rates]).toEqual([name, rates]);
        expect([name, resumed.rates]).toEqual([name, straight.rates]);
        expect(resumed.weights).toEqual(straight.weights);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('confusionMatrix refuses what it cannot hold', () => {
  test('a class count past MAX_CONFUSION_CLASSES, or not a count, names the argument; labels must be integers', () => {
    // 1e5 classes asked for 10^10 counts: the process ran out of memory.
    expect(() => confusionMatrix([0], [0], 1e5)).toThrow(
      `confusionMatrix: classes must be an integer in [1, ${MAX_CONFUSION_CLASSES}] (the matrix holds classes² counts), got number 100000`,
    );
    expect(() => confusionMatrix([0], [0], 2.5)).toThrow(/classes must be an integer in \[1, \d+\]/);
    expect(() => confusionMatrix([0], [0], 0)).toThrow(/classes must be an integer/);
    expect(() => confusionMatrix([0.5], [0], 2)).toThrow(
      'confusionMatrix: label 0 (actual 0, predicted 0.5) is not an integer class in [0, 2) (probabilities? threshold or argmax them first)',
    );
    expect(() => confusionMatrix([2], [0], 2)).toThrow('confusionMatrix: label 0 (actual 0, predicted 2) outside [0, 2)');
    expect(confusionMatrix([1], [0], MAX_CONFUSION_CLASSES)[0][1]).toBe(1);
  });

  test('precision, recall and F1 past MAX_CONFUSION_CLASSES classes: refused naming the metric, in fit and evaluate', async () => {
    // fit's own matrix grew without a bound: 100,000 classes ended the process out of memory.
    const classes = MAX_CONFUSION_CLASSES + 1;
    const x = tensor([
      [1, 0],
      [0, 1],
    ]);
    const y = tensor([0, 5]);
    const message = `metric f1 counts a classes × classes confusion matrix, at most ${MAX_CONFUSION_CLASSES} classes; the predictions have ${classes}`;
    await expect(
      fit(
        new Linear(2, classes),
        new CELogSoftmaxLoss(),
        new SGD({ lr: 0.01 }),
        { x, y },
        { epochs: 1, batchSize: 2, metrics: ['f1'], logger: new Logger({ verbose: 0 }) },
      ),
    ).rejects.toThrow(`fit: ${message}`);
    expect(() => evaluate(new Linear(2, classes), new CELogSoftmaxLoss(), x, y, { metrics: ['f1'] })).toThrow(`evaluate: ${message}`);
  });

  test('evaluate leaves the matrix out past MAX_CONFUSION_CLASSES classes, accuracy still given', () => {
    const classes = MAX_CONFUSION_CLASSES + 1;
    const net = new Linear(2, classes);
    const x = tensor([
      [1, 0],
      [0, 1],
    ]);
    const y = tensor([0, 5]);
    const r = evaluate(net, new CELogSoftmaxLoss(), x, y);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.confusion).toBeUndefined();
    const small = evaluate(new Linear(2, 3), new CELogSoftmaxLoss(), x, tensor([0, 2]));
    expect(small.confusion).toHaveLength(3);
  });
});

describe('one-output classification', () => {
  test('a score on the threshold is class 0, as Keras binary_accuracy reads y_pred > 0.5 (0 for ±1 targets)', () => {
    const on = tensor([[0.5], [0.5]]);
    expect([accuracy(on, tensor([[1], [1]])), accuracy(on, tensor([[0], [0]]))]).toEqual([0, 1]);
    expect(accuracy(tensor([[0.5000001], [0.4999999]]), tensor([[1], [0]]))).toBe(1);
    // {−1, 1} targets: the threshold is 0, and 0 itself is the negative class.
    expect([accuracy(tensor([[0], [0]]), tensor([[-1], [1]])), accuracy(tensor([[1e-7], [-1e-7]]), tensor([[1], [-1]]))]).toEqual([0.5, 1]);
  });
});

describe('the label metrics take labels as arrays, typed arrays or Tensors', () => {
  test('confusionMatrix and topKAccuracy count the same from a Tensor (n,) or (n, 1) as from an array', () => {
    const predicted = [1, 0, 2, 2];
    const actual = [1, 1, 2, 0];
    const want = confusionMatrix(predicted, actual, 3);
    expect(want).toEqual([
      [0, 0, 1],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    // A Tensor of labels once gave a matrix of zeros: it has no length, so nothing was counted.
    expect(confusionMatrix(fromArray(predicted), fromArray(actual), 3)).toEqual(want);
    expect(confusionMatrix(tensor(predicted.slice(0, 2), [2, 1]), Int32Array.from(actual.slice(0, 2)), 3)).toEqual([
      [0, 0, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    const scores = tensor([
      [0.1, 0.7, 0.2],
      [0.5, 0.3, 0.2],
      [0.3, 0.3, 0.4],
      [0.2, 0.5, 0.3],
    ]);
    expect(topKAccuracy(scores, fromArray(actual), 1)).toBe(topKAccuracy(scores, actual, 1));
    expect(topKAccuracy(scores, fromArray(actual), 1)).toBe(0.5);
    expect(topKAccuracy(scores, tensor(actual, [4, 1]), 2)).toBe(0.75);
  });

  test('anything else is refused naming the call and the argument', () => {
    const scores = tensor([
      [0.1, 0.9],
      [0.8, 0.2],
    ]);
    expect(() => confusionMatrix(scores, [0, 1], 2)).toThrow(
      new RangeError(
        "confusionMatrix: predicted must be class labels, a Tensor of shape (n,) or (n, 1), got (2, 2) (scores? take each row's argmax first: 2 labels)",
      ),
    );
    expect(() => confusionMatrix([0, 1], { 0: 1, 1: 0 } as unknown as number[], 2)).toThrow(
      new TypeError('confusionMatrix: actual must be class labels (an array, a typed array or a Tensor of shape (n,)), got object'),
    );
    // A hand-made Tensor whose data does not fit its shape, nested rows, 64-bit integers: refused by name.
    expect(() => confusionMatrix({ shape: [2], data: new Float32Array(4) }, [0, 1], 2)).toThrow(/^confusionMatrix: predicted/);
    expect(() => confusionMatrix([[0], [1]] as unknown as number[], [0, 1], 2)).toThrow(
      /^confusionMatrix: predicted must be class labels, numbers; got an array holding /,
    );
    expect(() => confusionMatrix(BigInt64Array.of(0n, 1n) as unknown as number[], [0, 1], 2)).toThrow(
      /^confusionMatrix: predicted must be class labels \(/,
    );
    expect(() => topKAccuracy(scores, scores, 1)).toThrow(
      /^topKAccuracy: labels must be class labels, a Tensor of shape \(n,\) or \(n, 1\), got \(2, 2\)/,
    );
    expect(() => topKAccuracy([[0.1, 0.9]] as unknown as ReturnType<typeof tensor>, [1], 1)).toThrow(
      new TypeError('topKAccuracy: scores must be a Tensor (n, classes), got Array(1)'),
    );
  });
});
