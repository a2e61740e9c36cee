/**
 * Item 2 (report fig. 2): Linear(784,10) → Sigmoid on Fashion-MNIST over a range of learning
 * rates (plain SGD, BCE on one-hot targets, Xavier-normal init).
 *
 * Run: nice -n 10 npx ts-node --transpile-only scripts/experiments/fashion-lr.ts [--train-size 60000 --epochs 15]
 */
import { Sequential, Linear, Sigmoid, BCELoss, SGD, EpochRecord, seed, evaluate, NonFiniteError } from '../../lib';
import { bceCurves } from './charts';
import { flags, useNative, writeTable, figure, raw, loadFashion, oneHotTargets, train, pct, since, commandLine } from './common';

const args = flags({ trainSize: 60000, epochs: 15, seed: 0 });
const RATES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

async function main(): Promise<void> {
  const backendText = useNative();
  const t0 = performance.now();
  const { train: tr, test } = loadFashion(args.trainSize as number, args.seed as number);
  const y = oneHotTargets(tr);
  const yTest = oneHotTargets(test);
  const loss = new BCELoss({ reduction: 'sum' });
  const results: { lr: number; history: EpochRecord[]; test: number; testLoss: number; note: string }[] = [];
  for (const lr of RATES) {
    seed(args.seed as number);
    const net = new Sequential(new Linear(784, 10, { init: 'xavierNormal' }), new Sigmoid());
    const history: EpochRecord[] = [];
    let note = '';
    try {
      await train(
        net,
        loss,
        new SGD({ lr }),
        { x: tr.x, y },
        {
          batchSize: 32,
          epochs: args.epochs as number,
          validation: { x: test.x, y: yTest },
          onEpochEnd: (r) => {
            history.push(r);
          },
        },
      );
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      note = `diverged at epoch ${e.epoch}`;
    }
    const ev = evaluate(net, loss, test.x, yTest);
    results.push({ lr, history, test: ev.accuracy ?? NaN, testLoss: ev.loss, note });
    process.stdout.write(`lr ${lr}: test ${pct(ev.accuracy ?? NaN)} loss ${ev.loss.toFixed(4)} ${note}\n`);
  }
  raw('fashion-lr', results);
  figure(
    'fashion-lr-curves.svg',
    bceCurves(results, (r) => `lr ${r.lr}`),
  );
  writeTable(
    'fashion-lr',
    'Item 2 — learning rate, Linear(784,10) → Sigmoid on Fashion-MNIST',
    [
      'lr (ours, summed gradients)',
      'PyTorch-equivalent lr',
      'train BCE epoch 1',
      'train BCE last epoch',
      'test BCE',
      'test accuracy %',
      'note',
    ],
    results.map((r) => [
      r.lr,
      +(r.lr * 320).toPrecision(3),
      r.history[0]?.trainLoss.toFixed(4) ?? '—',
      r.history[r.history.length - 1]?.trainLoss.toFixed(4) ?? '—',
      r.testLoss.toFixed(4),
      pct(r.test),
      r.note,
    ]),
    [
      `Command: \`${commandLine()}\` (seed ${args.seed}; ${backendText}; ${since(t0).toFixed(0)} s). ` +
        `Training set: ${tr.labels.length} Fashion-MNIST training images; test: the 10,000 test images. BCE on one-hot targets, plain SGD, batch 32, ${args.epochs} epochs, Xavier-normal init. ` +
        "PyTorch-equivalent lr = ours × 32 × 10: PyTorch's BCELoss averages over the batch and the 10 outputs, ours sums both (docs/COURSE.md).",
    ],
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
