/**
 * Item 3 (report fig. 3): the same comparison across activation functions on a small MLP,
 * Linear(784,64) → activation → Linear(64,10), cross-entropy on log-softmax, plain SGD.
 *
 * Run: nice -n 10 npx ts-node --transpile-only scripts/experiments/fashion-activations.ts [--train-size 20000 --epochs 15]
 */
import {
  Sequential,
  Linear,
  Module,
  Sigmoid,
  TanH,
  ReLU,
  LeakyReLU,
  SoftPlus,
  Identity,
  CELogSoftmaxLoss,
  SGD,
  EpochRecord,
  seed,
  evaluate,
} from '../../lib';
import { activationCurves } from './charts';
import { flags, useNative, writeTable, figure, raw, loadFashion, indexTargets, train, pct, since, commandLine } from './common';

const args = flags({ trainSize: 20000, epochs: 15, hidden: 64, lr: 1e-3, seed: 0 });
const ACTIVATIONS: [string, () => Module][] = [
  ['Identity (no activation)', () => new Identity()],
  ['Sigmoid', () => new Sigmoid()],
  ['TanH', () => new TanH()],
  ['ReLU', () => new ReLU()],
  ['LeakyReLU(0.01)', () => new LeakyReLU(0.01)],
  ['SoftPlus', () => new SoftPlus()],
];

async function main(): Promise<void> {
  const backendText = useNative();
  const t0 = performance.now();
  const { train: tr, test } = loadFashion(args.trainSize as number, args.seed as number);
  const h = args.hidden as number;
  const loss = new CELogSoftmaxLoss({ reduction: 'sum' });
  const results: { name: string; history: EpochRecord[]; train: number; test: number; seconds: number }[] = [];
  for (const [name, act] of ACTIVATIONS) {
    const t1 = performance.now();
    seed(args.seed as number);
    // Xavier for the saturating activations' layer would be the textbook choice; one init for all keeps the comparison about the activation.
    const net = new Sequential(new Linear(784, h), act(), new Linear(h, 10));
    const hist = await train(
      net,
      loss,
      new SGD({ lr: args.lr as number, momentum: 0.9 }),
      { x: tr.x, y: indexTargets(tr) },
      {
        batchSize: 32,
        epochs: args.epochs as number,
        validation: { x: test.x, y: indexTargets(test) },
      },
    );
    const ev = evaluate(net, loss, test.x, indexTargets(test));
    results.push({
      name,
      history: hist.epochs,
      train: hist.epochs[hist.epochs.length - 1].trainAccuracy ?? NaN,
      test: ev.accuracy ?? NaN,
      seconds: since(t1),
    });
    process.stdout.write(`${name.padEnd(26)} test ${pct(ev.accuracy ?? NaN)} (${since(t1).toFixed(0)} s)\n`);
  }
  raw('fashion-activations', results);
  figure('fashion-activations-curves.svg', activationCurves(results));
  writeTable(
    'fashion-activations',
    `Item 3 — activations, Linear(784,${h}) → act → Linear(${h},10) on Fashion-MNIST`,
    ['activation', 'train CE epoch 1', 'train CE last epoch', 'train accuracy % (last epoch)', 'test accuracy %', 'seconds'],
    results.map((r) => [
      r.name,
      r.history[0].trainLoss.toFixed(4),
      r.history[r.history.length - 1].trainLoss.toFixed(4),
      pct(r.train),
      pct(r.test),
      r.seconds.toFixed(0),
    ]),
    [
      `Command: \`${commandLine()}\` (seed ${args.seed}; ${backendText}; ${since(t0).toFixed(0)} s). ` +
        `Training set: a stratified subset of ${tr.labels.length} of the 60,000 Fashion-MNIST training images (to keep the run short); test: the 10,000 test images. ` +
        `CELogSoftmaxLoss, SGD lr ${args.lr} momentum 0.9 (summed gradients; PyTorch-equivalent lr ${(args.lr as number) * 32}), batch 32, ${args.epochs} epochs, He-normal init for both layers.`,
    ],
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
