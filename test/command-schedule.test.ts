/**
 * The schedules of `neurone train` and of the sweeps are the library's schedulers now: the plateau
 * rule (ReduceLROnPlateau with the recipes' settings) and the retraining's replayed rates
 * (ReplayedRates). Both are checked against the rules the command had written out by hand before,
 * kept here as the reference: the same rates epoch by epoch and the same weights at the end.
 */
import { setBackend } from '../lib/backend';
import { Rng, seed } from '../lib/random';
import { Tensor } from '../lib/tensor';
import { Sequential, Linear, ReLU } from '../lib/nn';
import { MSELoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { fit } from '../lib/train';
import { EpochRecord } from '../lib/logger';
import type { LRScheduler } from '../lib/schedulers';
import { PLATEAU, ReplayedRates, plateauScheduler } from '../lib/cli/recipes';
import { availableBackends } from './backends';

/** The command's plateau rule as it was written in lib/cli/main.ts: lr × 0.3 after 2 epochs without a validation loss 1e-4 lower. */
function handWrittenPlateau(optimizer: { lr: number }): (r: EpochRecord) => void {
  let bestVal = Infinity;
  let stalled = 0;
  return (r) => {
    if (r.valLoss === undefined) return;
    if (r.valLoss < bestVal - 1e-4) {
      bestVal = r.valLoss;
      stalled = 0;
    } else if (++stalled >= 2) {
      optimizer.lr *= 0.3;
      stalled = 0;
    }
  };
}

function randomTensor(rng: Rng, shape: number[]): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { shape, data };
}

test('the recipes keep the settings the command had: valLoss, patience 2, factor 0.3, minDelta 1e-4, no floor', () => {
  expect(PLATEAU).toEqual({ monitor: 'valLoss', patience: 2, factor: 0.3, minDelta: 1e-4, eps: 0 });
  const s = plateauScheduler(new SGD({ lr: 0.1 }));
  expect([s.monitor, s.patience, s.factor, s.minDelta, s.minLr, s.eps]).toEqual(['valLoss', 2, 0.3, 1e-4, 0, 0]);
});

test('plateauScheduler lowers the rate at the epochs the hand-written rule did, on 200 random loss sequences', () => {
  const rng = new Rng(7);
  let drops = 0;
  for (let run = 0; run < 200; run++) {
    const before = { lr: 0.01 };
    const oldRule = handWrittenPlateau(before);
    const optimizer = new SGD({ lr: 0.01 });
    const scheduler = plateauScheduler(optimizer);
    let loss = 1;
    for (let epoch = 1; epoch <= 30; epoch++) {
      // Steps around the 1e-4 threshold as well as clear gains and losses.
      const step = [0, 1e-4, -1e-4, 5e-5, -5e-5, -0.01, 0.01][rng.int(7)];
      loss += step;
      const record = { epoch, trainLoss: 1, valLoss: loss, seconds: 0 };
      oldRule(record);
      const line = scheduler.epochEnd(record);
      if (line !== undefined) drops++;
      expect(optimizer.lr).toBe(before.lr);
    }
  }
  expect(drops).toBeGreaterThan(100); // the comparison covered many drops, not only constant rates
});

describe.each(availableBackends())('in fit (%s backend)', (name) => {
  beforeAll(() => setBackend(name));

  /** A small regression whose validation set is unrelated noise: its loss stalls within a few epochs. */
  async function train(schedule: 'hand-written' | 'scheduler', replay?: number[]) {
    const rng = new Rng(3);
    const x = randomTensor(rng, [64, 4]);
    const y = randomTensor(rng, [64, 1]);
    const validation = { x: randomTensor(rng, [32, 4]), y: randomTensor(rng, [32, 1]) };
    seed(11);
    const net = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 1));
    const optimizer = new SGD({ lr: 0.05, momentum: 0.9 });
    const lrs: number[] = [];
    let onEpochEnd: (r: EpochRecord) => void;
    let scheduler: LRScheduler | undefined;
    if (schedule === 'hand-written') {
      // As the command did: the first rate set before training, the next after each epoch.
      const plateau = handWrittenPlateau(optimizer);
      if (replay) optimizer.lr = replay[0];
      onEpochEnd = (r) => {
        lrs.push(optimizer.lr);
        if (replay) {
          if (r.epoch < replay.length) optimizer.lr = replay[r.epoch];
          return;
        }
        plateau(r);
      };
    } else {
      scheduler = replay ? new ReplayedRates(optimizer, replay) : plateauScheduler(optimizer);
      onEpochEnd = () => {
        lrs.push(optimizer.lr);
      };
    }
    await fit(net, new MSELoss(), optimizer, { x, y }, { epochs: 15, batchSize: 16, validation, scheduler, onEpochEnd, verbose: 0 });
    return { lrs, weights: net.parameters().map((p) => Array.from(p.value.data)) };
  }

  test('the plateau schedule: the same rate each epoch and the same weights as the hand-written rule', async () => {
    const old = await train('hand-written');
    const now = await train('scheduler');
    expect(new Set(old.lrs).size).toBeGreaterThan(2); // at least two drops happened
    expect(now.lrs).toEqual(old.lrs);
    expect(now.weights).toEqual(old.weights);
  });

  test("the retraining's replayed rates: the same rate each epoch and the same weights", async () => {
    const rates = [0.05, 0.05, 0.015, 0.015, 0.015, 0.0045, 0.0045, 0.00135];
    const old = await train('hand-written', rates);
    const now = await train('scheduler', rates);
    expect(now.lrs.slice(0, rates.length)).toEqual(rates);
    expect(now.lrs).toEqual(old.lrs);
    expect(now.weights).toEqual(old.weights);
  });
});
