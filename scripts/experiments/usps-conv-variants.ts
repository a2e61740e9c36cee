/**
 * Item 5 (report figs. 5–8): on USPS, protocol (ii) of item 4 (stratified 15 % validation split
 * for early stopping, one evaluation on USPS_test), vary one thing at a time around the headline
 * CNN: batch size, kernel size, number of feature maps; then the 2- and 4-convolution networks
 * (presets cnn2 and cnn4).
 *
 * Run: nice -n 10 npx ts-node --transpile-only scripts/experiments/usps-conv-variants.ts [--seeds 2]
 */
import { Sequential, Conv1D, MaxPool1D, Flatten, Linear, ReLU, CELogSoftmaxLoss, SGD, EpochRecord, seed, data, evaluate } from '../../lib';
import { buildModel, presetDescription } from '../../lib/cli/presets';
import { meanStd } from '../../lib/report/figures';
import { convVariantCurves, saveFigureData } from './charts';
import { flags, useNative, writeTable, figure, raw, indexTargets, reduceOnPlateau, train, pm, since, commandLine } from './common';

const args = flags({ seeds: 2, epochs: 50, patience: 5, lr: 5e-4, weightDecay: 1e-2 });

/** The headline network with kernel size k and m feature maps (Xavier-normal Linear layers, as in item 4). */
function variant(k: number, m: number): Sequential {
  const length = Math.floor((256 - k + 1 - 2) / 2) + 1;
  const x = { init: 'xavierNormal' as const };
  return new Sequential(
    new Conv1D(k, 1, m),
    new MaxPool1D(2, 2),
    new Flatten(),
    new Linear(length * m, 100, x),
    new ReLU(),
    new Linear(100, 10, x),
  );
}

interface Setting {
  sweep: string;
  value: string;
  batch: number;
  make: () => Sequential;
}

const settings: Setting[] = [
  ...[8, 32, 128, 512].map((b) => ({ sweep: 'batch size', value: String(b), batch: b, make: () => variant(3, 32) })),
  ...[3, 5, 7, 9, 15].map((k) => ({ sweep: 'kernel size', value: String(k), batch: 32, make: () => variant(k, 32) })),
  ...[4, 8, 16, 32, 64].map((m) => ({ sweep: 'feature maps', value: String(m), batch: 32, make: () => variant(3, m) })),
  ...['seed-cnn', 'cnn2', 'cnn4'].map((p) => ({
    sweep: 'architecture',
    value: p,
    batch: 32,
    make: () => buildModel(presetDescription(p, { inputSize: 256, numClasses: 10 })),
  })),
];

async function main(): Promise<void> {
  const backendText = useNative();
  const t0 = performance.now();
  const full = data.loadUSPS({ flatten: true });
  const test = data.toSequence(data.loadUSPS({ split: 'test', flatten: true }));
  const loss = new CELogSoftmaxLoss({ reduction: 'sum' });
  const results: {
    s: Setting;
    params: number;
    epochs: number[];
    val: number[];
    test: number[];
    seconds: number[];
    curves: EpochRecord[][];
  }[] = [];
  for (const st of settings) {
    const r = {
      s: st,
      params: 0,
      epochs: [] as number[],
      val: [] as number[],
      test: [] as number[],
      seconds: [] as number[],
      curves: [] as EpochRecord[][],
    };
    for (let sd = 0; sd < (args.seeds as number); sd++) {
      const t1 = performance.now();
      seed(sd);
      const split = data.trainTestSplit(full, { testFraction: 0.15, seed: 2000 + sd, stratify: true });
      const tr = data.toSequence(split.train);
      const val = data.toSequence(split.test);
      const net = st.make();
      r.params = net.parameters().reduce((a, p) => a + p.value.data.length, 0);
      const opt = new SGD({ lr: args.lr as number, momentum: 0.9, weightDecay: args.weightDecay as number });
      const h = await train(
        net,
        loss,
        opt,
        { x: tr.x, y: indexTargets(tr) },
        {
          batchSize: st.batch,
          epochs: args.epochs as number,
          validation: { x: val.x, y: indexTargets(val) },
          earlyStopping: { patience: args.patience as number, monitor: 'valLoss', restoreBest: true },
          onEpochEnd: reduceOnPlateau(opt, 1, 0.3),
        },
      );
      const best = h.bestEpoch ?? h.epochs.length;
      r.epochs.push(best);
      r.val.push(100 * (h.epochs[best - 1].valAccuracy ?? NaN));
      r.test.push(100 * (evaluate(net, loss, test.x, indexTargets(test)).accuracy ?? NaN));
      r.seconds.push(since(t1));
      r.curves.push(h.epochs);
    }
    results.push(r);
    process.stdout.write(
      `${st.sweep} ${st.value}: test ${r.test.map((v) => v.toFixed(2)).join(', ')} (${r.seconds.map((v) => v.toFixed(0)).join(', ')} s)\n`,
    );
  }
  raw(
    'usps-conv-variants',
    results.map(({ s, curves, ...r }) => ({ sweep: s.sweep, value: s.value, batch: s.batch, ...r })),
  );
  const fmt = (v: number[], d = 2): string => {
    const { mean, std } = meanStd(v);
    return pm(mean, std, d);
  };
  writeTable(
    'usps-conv-variants',
    'Item 5 — batch size, kernel size, feature maps, 2- and 4-convolution networks on USPS (protocol ii)',
    ['sweep', 'setting', 'parameters', 'best epoch', 'validation %', 'official test %', 'seconds per run'],
    results.map((r) => [
      r.s.sweep,
      r.s.value,
      r.params.toLocaleString('en-US'),
      fmt(r.epochs, 1),
      fmt(r.val),
      fmt(r.test),
      fmt(r.seconds, 0),
    ]),
    [
      `Command: \`${commandLine()}\` (seeds 0–${(args.seeds as number) - 1}, mean ± std; ${backendText}; total ${since(t0).toFixed(0)} s).`,
      `Everything as item 4's protocol (ii) (SGD lr ${args.lr} momentum 0.9 weight decay ${args.weightDecay}, plateau schedule, early stopping patience ${args.patience}, Xavier-normal Linear layers) except the swept setting. ` +
        "The learning rate is not rescaled with the batch size: with summed gradients a fixed lr means PyTorch's lr grows with the batch. " +
        'Kernel and map sweeps: Conv1D(k,1,m) → MaxPool1D(2,2) → Flatten → Linear(·,100) → ReLU → Linear(100,10). Architectures: `neurone presets` (cnn2: 16, 32 maps; cnn4: 8, 16, 32, 64 maps; ReLU after every conv).',
    ],
  );

  const sweeps = ['batch size', 'kernel size', 'feature maps', 'architecture'];
  const panels = sweeps.map((sw) => {
    const rs = results.filter((r) => r.s.sweep === sw);
    return {
      title: `${sw}: validation accuracy (%) per epoch, seed 0`,
      series: rs.map((r) => ({
        name: `${sw === 'architecture' ? '' : `${sw.split(' ')[0]} `}${r.s.value}`,
        values: r.curves[0].map((e) => (e.valAccuracy === undefined ? null : 100 * e.valAccuracy)),
      })),
    };
  });
  saveFigureData('usps-conv-variants', 'written by scripts/experiments/usps-conv-variants.ts', panels);
  figure('usps-conv-variants.svg', convVariantCurves(panels));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
