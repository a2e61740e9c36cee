/** fit / evaluate / predict: problems that must be learned, and the loop's features. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { argmaxRows, fromArray, Tensor, zeros } from '../lib/tensor';
import { Rng, seed } from '../lib/random';
import { backend, nativeAvailable, setBackend } from '../lib/backend';
import { Sequential, Linear, TanH, Sigmoid, StableSigmoid, ReLU, LogSoftmax } from '../lib/nn';
import { BCELoss, MSELoss, CELogSoftmaxLoss, CrossEntropyLoss, HingeLoss } from '../lib/losses';
import { oneHot } from '../lib/data/dataset';
import { SGD, Adam } from '../lib/optim';
import { fit, predict, evaluate, NonFiniteError } from '../lib/train';
import { Logger } from '../lib/logger';
import { ReduceLROnPlateau } from '../lib/schedulers';
import { accuracy, classify, confusionMatrix } from '../lib/metrics';

const backends = nativeAvailable() ? (['js', 'native'] as const) : (['js'] as const);

const xorX = fromArray([
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
]);
const xorY = fromArray([[0], [1], [1], [0]]);

/** Two Gaussian blobs in 5-D, centres ±1.5 on every axis (linearly separable in practice), labels 0/1. */
function blobs(n: number, rng: Rng): { x: Tensor; y: Tensor } {
  const x = zeros([n, 5]);
  const y = zeros([n]);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    y.data[i] = c;
    for (let j = 0; j < 5; j++) x.data[i * 5 + j] = (c ? 1.5 : -1.5) + 0.7 * rng.normal();
  }
  return { x, y };
}

describe.each(backends)('learning (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  test('XOR: Linear → TanH → Linear → Sigmoid with BCE reaches 100 %', async () => {
    seed(0);
    const net = new Sequential(new Linear(2, 4), new TanH(), new Linear(4, 1), new Sigmoid());
    const history = await fit(net, new BCELoss(), new SGD({ lr: 0.5 }), { x: xorX, y: xorY }, { epochs: 1000, batchSize: 4, verbose: 0 });
    expect(history.epochs).toHaveLength(1000);
    const last = history.epochs[999];
    expect(last.trainLoss).toBeLessThan(0.1);
    expect(accuracy(predict(net, xorX), xorY)).toBe(1);
    expect(evaluate(net, new BCELoss(), xorX, xorY).accuracy).toBe(1);
  });

  test('Gaussian blobs: a linear classifier with CE from logits, validation ≥ 98 %', async () => {
    seed(1);
    const rng = new Rng(2);
    const train = blobs(400, rng);
    const val = blobs(200, rng);
    const net = new Sequential(new Linear(5, 2));
    const history = await fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.01 }), train, {
      epochs: 10,
      batchSize: 16,
      verbose: 0,
      validation: val,
    });
    const last = history.epochs[history.epochs.length - 1];
    expect(last.trainAccuracy).toBeGreaterThan(0.98);
    expect(last.valAccuracy).toBeGreaterThan(0.98);
    expect(last.valLoss).toBeLessThan(history.epochs[0].trainLoss);
    const ev = evaluate(net, new CELogSoftmaxLoss(), val.x, val.y);
    expect(ev.accuracy).toBe(last.valAccuracy);
    expect(ev.confusion?.flat().reduce((a, b) => a + b, 0)).toBe(200);
  });
});

describe('fit: the loop', () => {
  beforeAll(() => setBackend('js'));

  test('validationSplit holds out the last rows, n − floor(n·(1 − fraction)) of them, as Keras does', async () => {
    const x = zeros([10, 2]);
    const y = zeros([10, 1]);
    for (let i = 0; i < 10; i++) {
      x.data.set([i, 10 - i], 2 * i);
      y.data[i] = i * i;
    }
    const rows = (t: Tensor, from: number, to: number): Tensor => {
      const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
      return { shape: [to - from, ...t.shape.slice(1)], data: t.data.slice(from * width, to * width) };
    };
    seed(1);
    const net = new Sequential(new Linear(2, 1));
    const loss = new MSELoss();
    // lr 0: the weights stay, so the epoch's losses are those of the first 7 and the last 3 rows
    // (Keras: 10 − floor(10 · 0.75) = 3 held out).
    const h = await fit(
      net,
      loss,
      new SGD({ lr: 0 }),
      { x, y },
      { epochs: 1, batchSize: 4, validationSplit: 0.25, shuffle: false, verbose: 0 },
    );
    expect(h.epochs[0].valLoss).toBeCloseTo(evaluate(net, loss, rows(x, 7, 10), rows(y, 7, 10)).loss, 4);
    expect(h.epochs[0].trainLoss).toBeCloseTo(evaluate(net, loss, rows(x, 0, 7), rows(y, 0, 7)).loss, 4);
  });

  test('history, callbacks, async yielding, reproducible with seed()', async () => {
    const run = async (): Promise<{ losses: number[]; batches: number; epochsSeen: number[]; weights: Float32Array }> => {
      seed(5);
      const net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1), new StableSigmoid());
      let batches = 0;
      const epochsSeen: number[] = [];
      const h = await fit(
        net,
        new BCELoss(),
        new Adam({ lr: 0.05 }),
        { x: xorX, y: xorY },
        {
          epochs: 5,
          batchSize: 3,
          verbose: 0,
          onBatchEnd: (b) => {
            batches++;
            expect(b.batches).toBe(2);
            expect(Number.isFinite(b.loss)).toBe(true);
          },
          onEpochEnd: async (r) => {
            epochsSeen.push(r.epoch);
            expect(r.seconds).toBeGreaterThanOrEqual(0);
          },
        },
      );
      return { losses: h.epochs.map((e) => e.trainLoss), batches, epochsSeen, weights: (net.modules[0] as Linear).weight.data.slice() };
    };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const a = await run();
    clearInterval(timer);
    const b = await run();
    expect(a.batches).toBe(10);
    expect(a.epochsSeen).toEqual([1, 2, 3, 4, 5]);
    expect(b.losses).toEqual(a.losses);
    expect(b.weights).toEqual(a.weights);
    expect(ticks).toBeGreaterThan(0); // the event loop ran while training
  });

  test('early stopping on valLoss with restoreBest puts back the best weights', async () => {
    seed(2);
    const rng = new Rng(9);
    const train = blobs(64, rng);
    // A validation set with flipped labels: the better the fit, the worse the validation loss.
    const val = { x: train.x, y: fromArray(Array.from(train.y.data, (v) => 1 - v)) };
    const net = new Sequential(new Linear(5, 2));
    const snapshots: Float32Array[] = [];
    const h = await fit(net, new CELogSoftmaxLoss(), new SGD({ lr: 0.01 }), train, {
      epochs: 50,
      batchSize: 16,
      verbose: 0,
      validation: val,
      earlyStopping: { patience: 3, monitor: 'valLoss', restoreBest: true },
      onEpochEnd: () => {
        snapshots.push((net.modules[0] as Linear).weight.data.slice());
      },
    });
    expect(h.stoppedEarly).toBe(true);
    expect(h.epochs.length).toBe((h.bestEpoch as number) + 3);
    expect(h.restoredBest).toBe(true);
    expect((net.modules[0] as Linear).weight.data).toEqual(snapshots[(h.bestEpoch as number) - 1]);
    const best = Math.min(...h.epochs.map((e) => e.valLoss as number));
    expect(h.bestValue).toBe(best);
  });

  test('the early-stopping message writes the best value as losses are written, not as a raw float', async () => {
    seed(2);
    const rng = new Rng(9);
    const train = blobs(64, rng);
    const val = { x: train.x, y: fromArray(Array.from(train.y.data, (v) => 1 - v)) };
    const messages: string[] = [];
    const logger = new Logger({ verbose: 0 });
    logger.message = (text: string): void => {
      messages.push(text);
    };
    const h = await fit(new Sequential(new Linear(5, 2)), new CELogSoftmaxLoss(), new SGD({ lr: 0.01 }), train, {
      epochs: 50,
      batchSize: 16,
      logger,
      validation: val,
      earlyStopping: { patience: 3, monitor: 'valLoss' },
    });
    const line = messages.find((m) => m.startsWith('early stopping'));
    expect(line).toBeDefined();
    expect(line).toContain(`(${(h.bestValue as number).toPrecision(4)})`);
    expect(line).not.toContain(String(h.bestValue));
  });

  test('early stopping on valAccuracy needs a validation set', async () => {
    const net = new Sequential(new Linear(2, 1));
    await expect(
      fit(
        net,
        new MSELoss(),
        new SGD({ lr: 0.1 }),
        { x: xorX, y: xorY },
        {
          verbose: 0,
          earlyStopping: { patience: 2, monitor: 'valAccuracy' },
        },
      ),
    ).rejects.toThrow(/no validation set/);
  });

  test('an AbortSignal stops fit after the batch running; the finished epochs come back, marked aborted', async () => {
    const x = fromArray(Array.from({ length: 40 }, (_, i) => [Math.sin(i), Math.cos(i)]));
    const y = fromArray(Array.from({ length: 40 }, (_, i) => [Math.sin(2 * i)]));
    const quietly = { verbose: 0 as const, batchSize: 4, epochs: 5 };
    // From onBatchEnd, in the middle of epoch 2: epoch 1 recorded, 10 + 3 batches run.
    seed(3);
    let controller = new AbortController();
    let batches = 0;
    const lines: string[] = [];
    const logger = new Logger({ verbose: 1, write: (l: string) => lines.push(l) });
    const net = new Sequential(new Linear(2, 4), new TanH(), new Linear(4, 1));
    const h = await fit(
      net,
      new MSELoss(),
      new SGD({ lr: 0.05 }),
      { x, y },
      {
        ...quietly,
        logger,
        signal: controller.signal,
        onBatchEnd: ({ epoch, batch }) => {
          batches++;
          if (epoch === 2 && batch === 3) controller.abort();
        },
      },
    );
    expect([h.epochs.length, h.aborted, h.stoppedEarly, batches]).toEqual([1, true, false, 13]);
    expect(lines.join('\n')).toContain('stopped by the signal after batch 3 of 10 of epoch 2; that epoch is not recorded');
    // With restoreBest, the best epoch's weights come back even when it is the last recorded one:
    // the epoch cut short moved them past it. (minDelta −1: every epoch counts as the best so far.)
    controller = new AbortController();
    const cut = controller;
    let afterEpoch1: number[][] = [];
    const h1 = await fit(
      net,
      new MSELoss(),
      new SGD({ lr: 0.05 }),
      { x, y },
      {
        ...quietly,
        earlyStopping: { patience: 3, restoreBest: true, minDelta: -1 },
        signal: cut.signal,
        onEpochEnd: () => (afterEpoch1 = net.parameters().map((p) => Array.from(p.value.data))),
        onBatchEnd: ({ epoch, batch }) => (epoch === 2 && batch === 4 ? cut.abort() : undefined),
      },
    );
    expect([h1.epochs.length, h1.bestEpoch, h1.restoredBest]).toEqual([1, 1, true]);
    expect(net.parameters().map((p) => Array.from(p.value.data))).toEqual(afterEpoch1);
    // From onEpochEnd: the epochs up to it, whole.
    controller = new AbortController();
    const c = controller;
    const h2 = await fit(
      net,
      new MSELoss(),
      new SGD({ lr: 0.05 }),
      { x, y },
      {
        ...quietly,
        signal: c.signal,
        onEpochEnd: (r) => (r.epoch === 2 ? c.abort() : undefined),
      },
    );
    expect([h2.epochs.map((r) => r.epoch), h2.aborted]).toEqual([[1, 2], true]);
    // From a timer while fit runs (it yields to the event loop every few milliseconds).
    const timed = new AbortController();
    let timedBatches = 0;
    setTimeout(() => timed.abort(), 5);
    const big = { x: fromArray(Array.from({ length: 4000 }, (_, i) => [Math.sin(i), 1])), y: zeros([4000, 1]) };
    const h3 = await fit(net, new MSELoss(), new SGD({ lr: 0.01 }), big, {
      verbose: 0,
      batchSize: 1,
      epochs: 1000,
      signal: timed.signal,
      onBatchEnd: () => timedBatches++,
    });
    expect(h3.aborted).toBe(true);
    expect(timedBatches).toBeLessThan(4000 * 1000);
    // Aborted before fit starts: nothing trained.
    const before = net.parameters().map((p) => Array.from(p.value.data));
    const h4 = await fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, { ...quietly, signal: AbortSignal.abort() });
    expect([h4.epochs, h4.aborted]).toEqual([[], true]);
    expect(net.parameters().map((p) => Array.from(p.value.data))).toEqual(before);
    // Without the signal, the same fit trains its 5 epochs and is not marked.
    expect((await fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, quietly)).aborted).toBeUndefined();
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, { ...quietly, onBatchEnd: 5 as never })).rejects.toThrow(
      'fit: onBatchEnd must be a function, got number 5',
    );
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.05 }), { x, y }, { ...quietly, signal: {} as never })).rejects.toThrow(
      'fit: signal must be an AbortSignal (new AbortController().signal), got object',
    );
  });

  test('class weights in fit: a rare class weighted by its rarity is recalled where the plain loss gives it up', async () => {
    // 10 % of class 1, overlapping class 0: the plain loss does best by saying 0 almost always.
    const rng = new Rng(12);
    const n = 400;
    const labels = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const x = fromArray(labels.map((c) => [rng.normal() + (c === 1 ? 1 : 0), rng.normal()]));
    const y = fromArray(labels);
    const recall = async (weight?: number[]): Promise<number> => {
      seed(5);
      const net = new Sequential(new Linear(2, 2));
      await fit(net, new CELogSoftmaxLoss({ weight }), new Adam({ lr: 0.05 }), { x, y }, { epochs: 30, batchSize: 40, verbose: 0 });
      const predicted = argmaxRows(predict(net, x));
      const ones = labels.filter((c) => c === 1).length;
      return labels.filter((c, i) => c === 1 && predicted[i] === 1).length / ones;
    };
    const plain = await recall();
    const weighted = await recall([1, 9]);
    expect(plain).toBeLessThan(0.3);
    expect(weighted).toBeGreaterThan(0.6);
  });

  test('fit given x and y apart, as evaluate takes them, says to pass { x, y }', async () => {
    // y as a tensor, as the datasets' labels (an Int32Array) or as a plain array.
    for (const y of [xorY, new Int32Array([0, 1, 1, 0]), [0, 1, 1, 0]]) {
      const two = fit(new Sequential(new Linear(2, 1)), new MSELoss(), new SGD({ lr: 0.1 }), xorX as never, y as never);
      await expect(two).rejects.toThrow(
        'fit: data must be one object { x, y }, got x and y as two arguments (evaluate takes either form); write fit(net, loss, optimizer, { x, y }, options)',
      );
    }
  });

  test("a monitor fit does not report is refused before the first batch, Keras's names translated", async () => {
    const net = new Sequential(new Linear(2, 1));
    let batches = 0;
    const run = (monitor: string): Promise<unknown> =>
      fit(
        net,
        new MSELoss(),
        new SGD({ lr: 0.1 }),
        { x: xorX, y: xorY },
        {
          verbose: 0,
          validationSplit: 0.5,
          earlyStopping: { patience: 2, monitor: monitor as never },
          onBatchEnd: () => batches++,
        },
      );
    await expect(run('val_loss')).rejects.toThrow(
      "fit: earlyStopping.monitor must be one of valLoss, valAccuracy, trainLoss, trainAccuracy, got string val_loss (Keras's 'val_loss' is 'valLoss' here)",
    );
    await expect(run('accuracy')).rejects.toThrow(/got string accuracy \(Keras's 'accuracy' is 'trainAccuracy' here\)$/);
    await expect(run('valAcc')).rejects.toThrow(/got string valAcc \(did you mean 'valAccuracy'\?\)$/);
    expect(batches).toBe(0);
    expect(() => new ReduceLROnPlateau(new SGD({ lr: 0.1 }), { monitor: 'val_acc' as never })).toThrow(
      "ReduceLROnPlateau: monitor must be one of valLoss, valAccuracy, trainLoss, trainAccuracy, got string val_acc (Keras's 'val_acc' is 'valAccuracy' here)",
    );
  });

  test('a NaN loss stops training with the epoch and batch, before corrupting the weights', async () => {
    seed(1);
    const net = new Sequential(new Linear(2, 1));
    const x = fromArray([
      [0, 1],
      [1, 0],
      [NaN, 1],
      [1, 1],
    ]);
    const before = (net.modules[0] as Linear).weight.data.slice();
    const run = fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x, y: xorY }, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    await expect(run).rejects.toThrow(NonFiniteError);
    await expect(
      fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x, y: xorY }, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 }),
    ).rejects.toThrow(/the loss is NaN at epoch 1, batch 2\/2/);
    // Batch 1 updated the weights; batch 2 (with the NaN) did not touch them.
    const w = (net.modules[0] as Linear).weight.data;
    expect(Array.from(w).every(Number.isFinite)).toBe(true);
    expect(w).not.toEqual(before);
  });

  test('{−1, 1} targets are read so over the whole set: a batch of +1 alone is not thresholded at 0.5', async () => {
    // ŷ = x, never trained (lr 0): every sign right, so every accuracy is 1.
    const net = new Sequential(new Linear(1, 1, { init: 'zeros' }));
    (net.modules[0] as Linear).weight.data[0] = 1;
    const x = fromArray([[0.3], [0.2], [-0.5], [-0.4]]);
    const y = fromArray([[1], [1], [-1], [-1]]);
    // A validation set of +1 alone is read as the training set's ±1 too.
    const validation = { x: fromArray([[0.3], [0.2]]), y: fromArray([[1], [1]]) };
    const h = await fit(
      net,
      new HingeLoss(),
      new SGD({ lr: 0 }),
      { x, y },
      { epochs: 1, batchSize: 2, shuffle: false, verbose: 0, metrics: ['precision'], validation },
    );
    expect(h.epochs[0].trainAccuracy).toBe(1); // the first batch, +1 alone, was read as {0, 1}: 0.5
    expect(h.epochs[0].trainMetrics?.precision).toBe(1);
    expect(h.epochs[0].valAccuracy).toBe(1); // read alone as {0, 1}: 0
    expect(evaluate(net, new HingeLoss(), x, y).accuracy).toBe(1);
  });

  test('an infinite gradient names the parameter and its module', async () => {
    // Zero weights give ŷ = 0, so the hinge loss is a finite 1 per sample, but ∂L/∂W sums
    // −y·x over two samples of 3e38: −6e38 overflows float32 to −Infinity.
    const net = new Sequential(new Linear(2, 1, { init: 'zeros' }));
    const x = fromArray([
      [3e38, 0],
      [3e38, 0],
    ]);
    const y = fromArray([[1], [1]]);
    let caught: unknown;
    try {
      await fit(net, new HingeLoss({ reduction: 'sum' }), new SGD({ lr: 0.1 }), { x, y }, { epochs: 1, batchSize: 2, verbose: 0 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteError);
    const err = caught as NonFiniteError;
    expect(err.message).toMatch(/^fit: the gradient of 0\.weight \(Linear\(2, 1\) at position 0\) holds -Infinity at epoch 1, batch 1\/1/);
    expect([err.epoch, err.batch, err.parameter]).toEqual([1, 1, '0.weight']);
    expect(Array.from((net.modules[0] as Linear).weight.data)).toEqual([0, 0]);
  });

  test('allowNonFinite: true keeps going', async () => {
    const net = new Sequential(new Linear(2, 1));
    const x = fromArray([
      [0, 1],
      [1, 0],
      [NaN, 1],
      [1, 1],
    ]);
    const h = await fit(
      net,
      new MSELoss(),
      new SGD({ lr: 0.1 }),
      { x, y: xorY },
      { epochs: 2, batchSize: 2, verbose: 0, allowNonFinite: true },
    );
    expect(h.epochs).toHaveLength(2);
    expect(Number.isNaN(h.epochs[0].trainLoss)).toBe(true);
  });

  test('NaN weights are refused before training, naming the parameter', async () => {
    // The loss check alone would blame the loss and the learning rate, or miss the NaN wherever a
    // layer drops it (a max over a window, a unit a later zero weight ignores): name the weight.
    seed(2);
    const net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
    (net.modules[0] as Linear).weight.data[1] = NaN;
    let caught: unknown;
    try {
      await fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x: xorX, y: xorY }, { epochs: 1, verbose: 0 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteError);
    expect((caught as Error).message).toMatch(
      /^fit: the weights of 0\.weight \(Linear\(2, 3\) at position 0\) hold NaN at index 1 before training/,
    );
    expect((caught as NonFiniteError).parameter).toBe('0.weight');
    // allowNonFinite still lets it run.
    await fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x: xorX, y: xorY }, { epochs: 1, verbose: 0, allowNonFinite: true });
  });

  test('an update that overflows the weights is named, even with finite gradients', async () => {
    // One batch, one epoch: no later loss would show it. The gradient (about 2·10·10 per weight)
    // is finite; lr 1e38 takes the weights past float32's range.
    const net = new Sequential(new Linear(2, 1, { init: 'ones' }));
    const x = fromArray([
      [10, 10],
      [10, 10],
    ]);
    const y = fromArray([[0], [0]]);
    await expect(fit(net, new MSELoss(), new SGD({ lr: 1e38 }), { x, y }, { epochs: 1, batchSize: 2, verbose: 0 })).rejects.toThrow(
      /^fit: the update at epoch 1, batch 1\/1 made the weights of 0\.weight \(Linear\(2, 1\) at position 0\) -Infinity at index 0/,
    );
  });

  test('an overflowing update in mid-epoch is named by the next step, not blamed on the data', async () => {
    // Two batches: the first update overflows; the second step's loss is non-finite, and the
    // error names the update that caused it.
    const net = new Sequential(new Linear(2, 1, { init: 'ones' }));
    const x = fromArray([
      [10, 10],
      [10, 10],
      [1, 1],
      [1, 1],
    ]);
    const y = fromArray([[0], [0], [0], [0]]);
    await expect(
      fit(net, new MSELoss(), new SGD({ lr: 1e38 }), { x, y }, { epochs: 1, batchSize: 2, shuffle: false, verbose: 0 }),
    ).rejects.toThrow(/^fit: the update at epoch 1, batch 1\/2 made the weights of 0\.weight/);
  });

  test('no samples, or an empty validation set, is refused', async () => {
    const net = new Sequential(new Linear(2, 1));
    const empty = { x: zeros([0, 2]), y: zeros([0, 1]) };
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.1 }), empty, { verbose: 0 })).rejects.toThrow(
      /^fit: data\.x \(0, 2\) has 0 samples; fit needs at least 1/,
    );
    await expect(
      fit(
        net,
        new MSELoss(),
        new SGD({ lr: 0.1 }),
        { x: xorX, y: xorY },
        { verbose: 0, validation: empty, earlyStopping: { patience: 1 } },
      ),
    ).rejects.toThrow(/^fit: validation\.x \(0, 2\) has 0 samples; give a non-empty validation set or none/);
    // A validation set the network does not take is refused before the first epoch, not at its end.
    let batchesRun = 0;
    await expect(
      fit(
        net,
        new MSELoss(),
        new SGD({ lr: 0.1 }),
        { x: xorX, y: xorY },
        { verbose: 0, validation: { x: zeros([3, 2, 1]), y: zeros([3, 1]) }, onBatchEnd: () => batchesRun++ },
      ),
    ).rejects.toThrow(
      /^fit: validation\.x of shape \(3, 2, 1\) does not fit the network: Linear\(2, 1\) at position 0: expected input \(batch, 2\), got \(3, 2, 1\) \(add a Flatten\(\)/,
    );
    expect(batchesRun).toBe(0);
  });

  test('argument errors', async () => {
    const net = new Sequential(new Linear(2, 1));
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x: xorX, y: fromArray([[1]]) }, { verbose: 0 })).rejects.toThrow(
      /same number of rows/,
    );
    await expect(fit(net, new MSELoss(), new SGD({ lr: 0.1 }), { x: xorX, y: xorY }, { batchSize: 0, verbose: 0 })).rejects.toThrow(
      /batchSize/,
    );
    await expect(fit(net, new MSELoss(), {} as never, { x: xorX, y: xorY })).rejects.toThrow(TypeError);
  });

  test('predict batches and concatenates; evaluate gives loss, accuracy, confusion', () => {
    seed(4);
    const net = new Sequential(new Linear(3, 4), new LogSoftmax());
    const x = zeros([10, 3]);
    for (let i = 0; i < 30; i++) x.data[i] = Math.sin(i);
    const whole = net.forward(x).data.slice();
    const batched = predict(net, x, { batchSize: 3 });
    expect([...batched.shape]).toEqual([10, 4]);
    expect(batched.data).toEqual(whole);
    const labels = fromArray([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    const ev = evaluate(net, new CrossEntropyLoss(), x, labels, { batchSize: 4 });
    const evOneHot = evaluate(net, new CrossEntropyLoss(), x, oneHot(labels, 4));
    expect(ev.loss).toBeCloseTo(evOneHot.loss, 6);
    expect(ev.accuracy).toBe(accuracy(batched, labels));
    expect(ev.confusion?.length).toBe(4);
  });

  test('confusionMatrix counts [actual][predicted]', () => {
    expect(confusionMatrix([0, 1, 1], [0, 1, 0], 2)).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });

  test('Logger: one line per epoch, a terminal chart at verbose 2, an SVG at the end', async () => {
    const lines: string[] = [];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-'));
    const svgPath = path.join(dir, 'curves.svg');
    const logger = new Logger({ verbose: 2, write: (l) => lines.push(l), svgPath });
    seed(0);
    const net = new Sequential(new Linear(2, 4), new TanH(), new Linear(4, 1), new Sigmoid());
    await fit(
      net,
      new BCELoss(),
      new SGD({ lr: 0.5 }),
      { x: xorX, y: xorY },
      { epochs: 3, batchSize: 4, logger, validation: { x: xorX, y: xorY } },
    );
    expect(logger.history).toHaveLength(3);
    const epochLines = lines.filter((l) => l.startsWith('epoch'));
    expect(epochLines).toHaveLength(3);
    expect(epochLines[0]).toMatch(/^epoch 1\/3 {2}loss \d\.\d+ {2}acc \d+\.\d\d% {2}val_loss \d\.\d+ {2}val_acc \d+\.\d\d% {2}\d+\.\d\ds$/);
    expect(lines.some((l) => l.includes('* train loss'))).toBe(true);
    const svg = fs.readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('train loss');
    expect(svg).toContain('val accuracy');
    expect((svg.match(/<path /g) ?? []).length).toBe(4);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a layer added during fit is trained only by the next fit, as a PyTorch optimiser (plain SGD, Adam)', async () => {
    for (const makeOptimizer of [() => new SGD({ lr: 0.05 }), () => new Adam({ lr: 0.01 })]) {
      seed(2);
      const x = zeros([32, 3]);
      const y = zeros([32, 2]);
      for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sin(i);
      for (let i = 0; i < y.data.length; i++) y.data[i] = Math.cos(i);
      const net = new Sequential(new Linear(3, 2));
      const added = new Linear(2, 2);
      let kept = new Float32Array(0);
      const optimizer = makeOptimizer();
      await fit(
        net,
        new MSELoss(),
        optimizer,
        { x, y },
        {
          epochs: 3,
          batchSize: 8,
          verbose: 0,
          onEpochEnd: (r) => {
            if (r.epoch === 1) {
              net.add(added);
              kept = Float32Array.from(added.parameters()[0].value.data);
            }
          },
        },
      );
      expect(added.parameters()[0].value.data).toEqual(kept);
      await fit(net, new MSELoss(), makeOptimizer(), { x, y }, { epochs: 1, batchSize: 8, verbose: 0 });
      expect(added.parameters()[0].value.data).not.toEqual(kept);
    }
  });
});

test('classify refills a previous result of the same batch size instead of allocating', () => {
  const first = classify(
    fromArray([
      [0.1, 0.9],
      [0.8, 0.2],
    ]),
    fromArray([1, 1]),
  )!;
  expect(Array.from(first.predicted)).toEqual([1, 0]);
  const again = classify(
    fromArray([
      [0.7, 0.3],
      [0.4, 0.6],
    ]),
    fromArray([0, 1]),
    first,
  )!;
  expect(again.predicted).toBe(first.predicted);
  expect(Array.from(again.predicted)).toEqual([0, 1]);
  expect(Array.from(again.actual)).toEqual([0, 1]);
  const other = classify(fromArray([[0.7, 0.3]]), fromArray([0]), first)!;
  expect(other.predicted).not.toBe(first.predicted);
  expect(Array.from(other.predicted)).toEqual([0]);
});

describe.each(backends)("fit's fused SGD step on Linear weights (%s backend)", (name) => {
  beforeAll(() => setBackend(name));
  afterAll(() => setBackend('native'));

  /** An SGD that fit does not recognise as plain SGD, so it takes the usual step: the reference. */
  class UsualSGD extends SGD {}

  /** A small MLP with a shared-nothing set of Linear layers, and its copy with the same weights. */
  function twoNets(): [Sequential, Sequential] {
    const build = () => new Sequential(new Linear(12, 16), new TanH(), new Linear(16, 16), new ReLU(), new Linear(16, 3), new LogSoftmax());
    seed(3);
    const a = build();
    seed(3);
    return [a, build()];
  }
  const rng = new Rng(11);
  const x = zeros([70, 12]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform() * 2 - 1;
  const y = oneHot(
    Array.from({ length: 70 }, (_, i) => i % 3),
    3,
  );

  test('trains as the usual step does, to rounding, and leaves the fused gradients at zero', async () => {
    const [fused, usual] = twoNets();
    // Batch 4: the two first layers' weights outweigh their batch, so fit fuses them; not the last's.
    const options = { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 } as const;
    await fit(fused, new CELogSoftmaxLoss(), new SGD({ lr: 0.05 }), { x, y }, options);
    await fit(usual, new CELogSoftmaxLoss(), new UsualSGD({ lr: 0.05 }), { x, y }, options);
    const before = twoNets()[0].parameters();
    const a = fused.parameters(),
      b = usual.parameters();
    for (let p = 0; p < a.length; p++) {
      let moved = 0;
      for (let i = 0; i < a[p].value.data.length; i++) {
        const u = b[p].value.data[i];
        expect(Math.abs(a[p].value.data[i] - u)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(u)));
        moved = Math.max(moved, Math.abs(u - before[p].value.data[i]));
      }
      expect(moved).toBeGreaterThan(1e-3);
    }
    // The usual step keeps the last batch's gradients; the fused weights' were never written.
    for (const m of [0, 2, 4]) expect((usual.modules[m] as Linear).weightGrad.data.some((g) => g !== 0)).toBe(true);
    for (const m of [0, 2]) expect((fused.modules[m] as Linear).weightGrad.data.every((g) => g === 0)).toBe(true);
    expect((fused.modules[4] as Linear).weightGrad.data.some((g) => g !== 0)).toBe(true);
  });

  test('is not taken with momentum, weight decay or clipping: the gradients are kept', async () => {
    for (const [optimizer, extra] of [
      [new SGD({ lr: 0.05, momentum: 0.9 }), {}],
      [new SGD({ lr: 0.05, weightDecay: 1e-4 }), {}],
      [new SGD({ lr: 0.05 }), { clipGradNorm: 10 }],
    ] as const) {
      const [net] = twoNets();
      await fit(net, new CELogSoftmaxLoss(), optimizer, { x, y }, { epochs: 1, batchSize: 4, verbose: 0, ...extra });
      expect((net.modules[0] as Linear).weightGrad.data.some((g) => g !== 0)).toBe(true);
    }
  });

  /**
   * A net whose first Linear is used twice, trained on `n` random rows with plain SGD (the fused
   * step) and with UsualSGD from the same weights; `during` wraps the fused fit. Returns the shared
   * layer's weights after each.
   */
  async function sharedLayerFits(
    n: number,
    epochs: number,
    during: (train: () => Promise<unknown>) => Promise<void>,
  ): Promise<[Float32Array, Float32Array]> {
    const build = () => {
      const shared = new Linear(16, 16);
      return new Sequential(shared, new TanH(), shared, new Linear(16, 2));
    };
    seed(5);
    const fused = build();
    seed(5);
    const usual = build();
    const data = new Rng(17); // its own stream: the data do not depend on which tests ran before
    const xs = zeros([n, 16]);
    for (let i = 0; i < xs.data.length; i++) xs.data[i] = data.uniform() - 0.5;
    const ys = zeros([n, 2]);
    for (let i = 0; i < ys.data.length; i++) ys.data[i] = data.uniform();
    const options = { epochs, batchSize: 2, shuffle: false, verbose: 0 } as const;
    await during(() => fit(fused, new MSELoss(), new SGD({ lr: 0.1 }), { x: xs, y: ys }, options));
    await fit(usual, new MSELoss(), new UsualSGD({ lr: 0.1 }), { x: xs, y: ys }, options);
    return [(fused.modules[0] as Linear).weight.data, (usual.modules[0] as Linear).weight.data];
  }

  test('a layer used twice gets both updates, as the usual step sums both gradients', async () => {
    const [a, b] = await sharedLayerFits(24, 4, async (train) => void (await train()));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-5);
  });

  // An update whose bound passes float32's range falls back to writing the gradient the usual way,
  // for the usual checks to judge it; a layer used twice then sums its two uses' products. The
  // bound is made to fail here (sumOfSquares reads huge) with values that keep every update finite.
  test('a layer used twice that falls back to the usual gradient still gets both uses', async () => {
    const [a, b] = await sharedLayerFits(8, 2, async (train) => {
      const huge = jest.spyOn(backend(), 'sumOfSquares').mockReturnValue(1e40);
      try {
        await train();
        expect(huge).toHaveBeenCalled();
      } finally {
        huge.mockRestore();
      }
    });
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-5);
  });

  test('a NaN in a batch stops the step before any weight changes', async () => {
    const [net] = twoNets();
    const bad = zeros([32, 12]);
    bad.data.set(x.data.subarray(0, 32 * 12));
    bad.data[20 * 12 + 5] = NaN; // in the second batch of 16
    const labels = oneHot(
      Array.from({ length: 32 }, (_, i) => i % 3),
      3,
    );
    const seen: Float32Array[] = [];
    await expect(
      fit(
        net,
        new CELogSoftmaxLoss(),
        new SGD({ lr: 0.05 }),
        { x: bad, y: labels },
        {
          epochs: 1,
          batchSize: 16,
          shuffle: false,
          verbose: 0,
          onBatchEnd: () => seen.push(...net.parameters().map((p) => p.value.data.slice())),
        },
      ),
    ).rejects.toThrow(NonFiniteError);
    // The weights are those after batch 1.
    net.parameters().forEach((p, i) => expect(p.value.data).toEqual(seen[i]));
  });
});

describe('fit without await', () => {
  beforeAll(() => setBackend('js'));
  const data = { x: xorX, y: xorY };
  const quiet = { batchSize: 2, verbose: 0 as const };
  const xorNet = (): Sequential => new Sequential(new Linear(2, 3), new TanH(), new Linear(3, 1), new Sigmoid());

  test('a second fit on the network while the first has not finished is refused, and the guard goes when fit ends', async () => {
    seed(7);
    const net = xorNet();
    const first = fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 3 });
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1 })).rejects.toThrow(
      new Error('fit: this network is already being trained by a fit that has not finished: was the first fit awaited?'),
    );
    // A module of it, or another network holding one of its modules, would interleave with it too.
    await expect(fit(net.modules[0], new MSELoss(), new SGD({ lr: 0.1 }), { x: xorX, y: zeros([4, 3]) }, quiet)).rejects.toThrow(
      'fit: this network is part of a network that is already being trained by a fit that has not finished: was the first fit awaited?',
    );
    const sharing = new Sequential(net.modules[0], new Linear(3, 1));
    await expect(fit(sharing, new MSELoss(), new SGD({ lr: 0.1 }), data, quiet)).rejects.toThrow(
      /^fit: this network's Linear\(2, 3\) at position 0 is already being trained by a fit that has not finished: was the first fit awaited\?$/,
    );
    // Another network trains alongside.
    const other = fit(xorNet(), new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2 });
    expect((await first).epochs).toHaveLength(3);
    expect((await other).epochs).toHaveLength(2);
    // Finished: the network trains again, and so does the network sharing its layer.
    expect((await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1 })).epochs).toHaveLength(1);
    expect((await fit(sharing, new MSELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1 })).epochs).toHaveLength(1);
  });

  test('a module added to the network during its fit is trained by it: a second fit on that module is refused', async () => {
    seed(11);
    const net = xorNet();
    const added = new Linear(1, 1); // after the Sigmoid: the output keeps its shape
    let second: Promise<unknown> | undefined;
    const first = fit(net, new MSELoss(), new SGD({ lr: 0.1 }), data, {
      ...quiet,
      epochs: 200,
      onEpochEnd: (r) => {
        if (r.epoch !== 1) return;
        net.add(added);
        // From outside the fit's callbacks, while it waits between batches.
        setTimeout(() => {
          second = fit(added, new MSELoss(), new SGD({ lr: 0.1 }), { x: zeros([4, 1]), y: xorY }, quiet).then(
            () => 'trained alongside',
            (e: Error) => e.message,
          );
        }, 0);
      },
    });
    expect((await first).epochs).toHaveLength(200);
    expect(await second).toBe(
      'fit: this network is part of a network that is already being trained by a fit that has not finished: was the first fit awaited?',
    );
  });

  test('an async onBatchEnd finishes before the next batch runs, and before fit returns', async () => {
    seed(8);
    let running = false;
    let calls = 0;
    const onBatchEnd = async (): Promise<void> => {
      if (running) throw new Error('a batch ran while the last onBatchEnd had not finished');
      running = true;
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      running = false;
    };
    await fit(xorNet(), new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2, onBatchEnd });
    expect([calls, running]).toEqual([4, false]);
  });

  test('the guard goes when fit throws (a callback, a bad option, non-finite data) or stops early', async () => {
    seed(8);
    const net = xorNet();
    const again = async (): Promise<void> => {
      expect((await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1 })).epochs).toHaveLength(1);
    };
    const boom = (): never => {
      throw new Error('callback failed');
    };
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2, onEpochEnd: boom })).rejects.toThrow(
      'callback failed',
    );
    await again();
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2, onBatchEnd: boom })).rejects.toThrow(
      'callback failed',
    );
    await again();
    const asyncBoom = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw new Error('async callback failed');
    };
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2, onEpochEnd: asyncBoom })).rejects.toThrow(
      'async callback failed',
    );
    await again();
    // An async onBatchEnd as well: its rejection rejects fit (it once went unhandled and ended the process).
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 2, onBatchEnd: asyncBoom })).rejects.toThrow(
      'async callback failed',
    );
    await again();
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochz: 2 } as never)).rejects.toThrow(
      /unknown option 'epochz'/,
    );
    await again();
    // A logger must be neurone's (fit clears its bar however the epochs end).
    const lookalike = { progress: () => undefined, epoch: () => undefined, message: () => undefined, end: () => undefined };
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1, logger: lookalike } as never)).rejects.toThrow(
      /^fit: logger must be a Logger \(new Logger\(\{ verbose, svgPath \}\)\), got /,
    );
    await again();
    const nan = fromArray([
      [NaN, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    await expect(fit(net, new BCELoss(), new SGD({ lr: 0.1 }), { x: nan, y: xorY }, { ...quiet, epochs: 1 })).rejects.toThrow(
      NonFiniteError,
    );
    await again();
    const h = await fit(net, new BCELoss(), new SGD({ lr: 0 }), data, {
      ...quiet,
      epochs: 50,
      earlyStopping: { patience: 1, monitor: 'trainLoss' },
    });
    expect(h.stoppedEarly).toBe(true);
    await again();
  });

  test("a fit started from the first fit's own callback is refused, saying so", async () => {
    seed(9);
    const net = xorNet();
    const refusals: string[] = [];
    const nested = async (): Promise<void> => {
      await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1 }).catch((e: Error) => refusals.push(e.message));
    };
    await fit(net, new BCELoss(), new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 1, onEpochEnd: nested });
    expect(refusals).toEqual([
      'fit: this network is already being trained by a fit that has not finished: this fit was called from one of its callbacks (onBatchEnd, onEpochEnd) or from code it awaits; train the network after the first fit returns',
    ]);
  });

  test('predict or evaluate while an un-awaited fit waits between batches warns once; from its callbacks they do not', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const notAwaited = (): unknown[][] =>
      warn.mock.calls.filter((c) => (c[1] as { code?: string } | undefined)?.code === 'NEURONE_FIT_NOT_AWAITED');
    try {
      seed(10);
      const net = xorNet();
      const loss = new BCELoss();
      // The usual places: every batch, and after each epoch (after an await too), with fit's own validation.
      let calls = 0;
      await fit(net, loss, new SGD({ lr: 0.1 }), data, {
        ...quiet,
        epochs: 2,
        validation: data,
        onBatchEnd: () => {
          predict(net, xorX);
          calls++;
        },
        onEpochEnd: async () => {
          evaluate(net, loss, data);
          await new Promise((resolve) => setTimeout(resolve, 1));
          evaluate(net, loss, data);
          predict(net.modules[0], xorX);
          calls++;
        },
      });
      expect(calls).toBe(6);
      expect(notAwaited()).toEqual([]);

      // The missing await: the caller's next line runs while fit waits between batches.
      const running = fit(net, loss, new SGD({ lr: 0.1 }), data, { ...quiet, epochs: 3 });
      evaluate(net, loss, data);
      predict(net, xorX);
      expect(notAwaited()).toHaveLength(1);
      expect(notAwaited()[0][0]).toBe(
        'evaluate ran on a network that a fit which has not finished is training (was fit awaited?): its figures come from the weights ' +
          'as they are between two batches. Await fit first, or call it from onEpochEnd or onBatchEnd.',
      );
      await running;
      evaluate(net, loss, data);
      expect(notAwaited()).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });
});
