/**
 * Item 1 (report fig. 1): Linear(784,10) → Sigmoid on Fashion-MNIST with each of the 8
 * initialisations. BCE on one-hot targets, plain SGD. Loss and accuracy per epoch, the ten
 * weight columns drawn as 28×28 images, a confusion matrix.
 *
 * Run: nice -n 10 npx ts-node --transpile-only scripts/experiments/fashion-init.ts [--train-size 60000 --epochs 15]
 */
import { Sequential, Linear, Sigmoid, BCELoss, SGD, INIT_NAMES, InitName, EpochRecord, seed, evaluate } from '../../lib';
import { columnsOf, imageGridPng } from '../../lib/report/figures';
import { bceCurves, confusion, saveFigureData } from './charts';
import { flags, useNative, writeTable, figure, raw, loadFashion, oneHotTargets, train, pct, since, commandLine } from './common';

const args = flags({ trainSize: 60000, epochs: 15, lr: 1e-3, seed: 0 });

async function main(): Promise<void> {
  const backendText = useNative();
  const t0 = performance.now();
  const { train: tr, test } = loadFashion(args.trainSize as number, args.seed as number);
  const y = oneHotTargets(tr);
  const yTest = oneHotTargets(test);
  const loss = new BCELoss({ reduction: 'sum' });
  const results: {
    init: InitName;
    history: EpochRecord[];
    test: number;
    testLoss: number;
    weights: Float32Array;
    confusion?: number[][];
  }[] = [];
  for (const init of INIT_NAMES) {
    seed(args.seed as number);
    const lin = new Linear(784, 10, { init });
    const net = new Sequential(lin, new Sigmoid());
    const h = await train(
      net,
      loss,
      new SGD({ lr: args.lr as number }),
      { x: tr.x, y },
      {
        batchSize: 32,
        epochs: args.epochs as number,
        validation: { x: test.x, y: yTest },
      },
    );
    const ev = evaluate(net, loss, test.x, yTest);
    results.push({
      init,
      history: h.epochs,
      test: ev.accuracy ?? NaN,
      testLoss: ev.loss,
      weights: lin.weight.data.slice(),
      confusion: ev.confusion,
    });
    process.stdout.write(`${init.padEnd(14)} test ${pct(ev.accuracy ?? NaN)} loss ${ev.loss.toFixed(4)}\n`);
  }
  raw(
    'fashion-init',
    results.map((r) => ({ init: r.init, test: r.test, testLoss: r.testLoss, history: r.history })),
  );
  figure(
    'fashion-init-curves.svg',
    bceCurves(results, (r) => r.init),
  );
  // One row of ten 28×28 weight images per initialisation, blue negative / red positive.
  const grid = results.flatMap((r) => columnsOf(r.weights, 784, 10));
  figure('fashion-init-weights.png', imageGridPng(grid, { imageShape: [28, 28], cols: 10, scale: 3, mode: 'diverging' }));
  const best = results.reduce((a, b) => (b.test > a.test ? b : a));
  const confusionData = {
    title: `Linear→Sigmoid, ${best.init} init, Fashion-MNIST test`,
    classNames: [...(test.classNames ?? [])],
    matrix: best.confusion ?? [],
  };
  saveFigureData('fashion-init-confusion', 'written by scripts/experiments/fashion-init.ts', confusionData);
  figure('fashion-init-confusion.svg', confusion(confusionData));
  writeTable(
    'fashion-init',
    'Item 1 — initialisation of Linear(784,10) → Sigmoid on Fashion-MNIST',
    ['init', 'train BCE epoch 1', `train BCE epoch ${args.epochs}`, 'test BCE', 'test accuracy %'],
    results.map((r) => [
      r.init,
      r.history[0].trainLoss.toFixed(4),
      r.history[r.history.length - 1].trainLoss.toFixed(4),
      r.testLoss.toFixed(4),
      pct(r.test),
    ]),
    [
      `Command: \`${commandLine()}\` (seed ${args.seed}; ${backendText}; ${since(t0).toFixed(0)} s). ` +
        `Training set: ${tr.labels.length} of the 60,000 Fashion-MNIST training images${tr.labels.length < 60000 ? ' (stratified subset)' : ''}; test: the 10,000 test images (curves only, no model selection). ` +
        `BCE on one-hot targets, plain SGD lr ${args.lr} (summed over the batch and the 10 outputs, = ${(args.lr as number) * 320} with PyTorch's mean BCELoss), batch 32, ${args.epochs} epochs. ` +
        'Weight images: rows in the order of the table, columns = classes 0–9 (T-shirt … ankle boot).',
    ],
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
