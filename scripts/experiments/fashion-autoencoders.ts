/**
 * Item 6 (report figs. 9–13): autoencoders on Fashion-MNIST.
 *
 *   784→64, 784→256→64, 784→512→256→128→64, TanH after every encoder layer, a mirrored decoder
 *   (TanH between its layers) ending in Sigmoid, BCE on the pixels, Adam.
 *
 * Figures: loss curves, reconstructions side by side, one fixed test image reconstructed after
 * each epoch, and the latent activations compared (histograms and 8×8 code images).
 *
 * Run: nice -n 10 npx ts-node --transpile-only scripts/experiments/fashion-autoencoders.ts [--train-size 10000 --epochs 15]
 */
import { Sequential, Linear, TanH, Sigmoid, Module, BCELoss, Adam, EpochRecord, Tensor, seed, predict, evaluate } from '../../lib';
import { imageGridPng, rowsOf } from '../../lib/report/figures';
import { autoencoderCurves, latentHistogram, saveFigureData } from './charts';
import { flags, useNative, writeTable, figure, raw, loadFashion, train, since, commandLine } from './common';

const ARCHS = [
  [784, 64],
  [784, 256, 64],
  [784, 512, 256, 128, 64],
];

/** Encoder: Linear→TanH for each step; decoder: the mirror, TanH between layers, Sigmoid at the end. */
export function autoencoder(sizes: readonly number[], linearCode = false): { encoder: Sequential; decoder: Sequential; net: Sequential } {
  const enc: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    enc.push(new Linear(sizes[i], sizes[i + 1], { init: 'xavierNormal' }));
    // A 2-unit TanH code saturates at the corners (every image at (±1, ±1)); a linear code layer keeps it spread out.
    if (!(linearCode && i + 2 === sizes.length)) enc.push(new TanH());
  }
  const dec: Module[] = [];
  const rev = [...sizes].reverse();
  for (let i = 0; i + 1 < rev.length; i++) {
    dec.push(new Linear(rev[i], rev[i + 1], { init: 'xavierNormal' }), i + 2 < rev.length ? new TanH() : new Sigmoid());
  }
  const encoder = new Sequential(...enc);
  const decoder = new Sequential(...dec);
  return { encoder, decoder, net: new Sequential(encoder, decoder) };
}

function rows(x: Tensor, idx: number[]): Float32Array[] {
  return rowsOf(x.data, x.shape[1], idx);
}

async function main(): Promise<void> {
  // Parsed here, not on import: fashion-latent.ts and conv-autoencoders.ts import autoencoder() with flags of their own.
  const args = flags({ trainSize: 10000, epochs: 15, lr: 1e-3, seed: 0 });
  const backendText = useNative();
  const t0 = performance.now();
  const { train: tr, test } = loadFashion(args.trainSize as number, args.seed as number);
  const loss = new BCELoss({ reduction: 'sum' });
  const show = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((c) => test.labels.indexOf(c)); // one test image per class
  const fixed = show[9]; // an ankle boot
  const results: {
    name: string;
    history: EpochRecord[];
    testBce: number;
    testMse: number;
    seconds: number;
    recon: Float32Array[];
    perEpoch: Float32Array[];
    codes: Tensor;
  }[] = [];
  for (const sizes of ARCHS) {
    const t1 = performance.now();
    seed(args.seed as number);
    const { encoder, net } = autoencoder(sizes);
    const name = sizes.join('→');
    const perEpoch: Float32Array[] = [];
    const probe: Tensor = { shape: [1, 784], data: test.x.data.slice(fixed * 784, fixed * 784 + 784) };
    const h = await train(
      net,
      loss,
      new Adam({ lr: args.lr as number }),
      { x: tr.x, y: tr.x },
      {
        batchSize: 32,
        epochs: args.epochs as number,
        validation: { x: test.x, y: test.x },
        onEpochEnd: () => {
          perEpoch.push(predict(net, probe).data.slice());
        },
      },
    );
    const out = predict(net, test.x);
    let se = 0;
    for (let i = 0; i < out.data.length; i++) se += (out.data[i] - test.x.data[i]) ** 2;
    const r = {
      name,
      history: h.epochs,
      testBce: evaluate(net, loss, test.x, test.x).loss,
      testMse: se / out.data.length,
      seconds: since(t1),
      recon: rows(out, show),
      perEpoch,
      codes: predict(encoder, test.x),
    };
    results.push(r);
    process.stdout.write(
      `${name}: test BCE ${r.testBce.toFixed(2)} per image, MSE ${r.testMse.toFixed(5)} per pixel (${r.seconds.toFixed(0)} s)\n`,
    );
  }
  raw(
    'fashion-autoencoders',
    results.map(({ recon, perEpoch, codes, ...r }) => r),
  );

  figure('ae-curves.svg', autoencoderCurves(results));
  // Originals on the first row, then one row per architecture.
  figure(
    'ae-reconstructions.png',
    imageGridPng([...rows(test.x, show), ...results.flatMap((r) => r.recon)], { imageShape: [28, 28], cols: 10, scale: 3 }),
  );
  // The fixed image: original, then its reconstruction after each epoch, one row per architecture.
  const original = rows(test.x, [fixed])[0];
  const epochsShown = Math.min(args.epochs as number, 15);
  figure(
    'ae-fixed-image-epochs.png',
    imageGridPng(
      results.flatMap((r) => [original, ...r.perEpoch.slice(0, epochsShown)]),
      { imageShape: [28, 28], cols: epochsShown + 1, scale: 3 },
    ),
  );
  // Latent activations: histogram of the 64 TanH codes over the test set, and the codes of the ten shown images as 8×8 tiles.
  const bins = 21;
  const hist = results.map((r) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of r.codes.data) counts[Math.min(bins - 1, Math.floor(((v + 1) / 2) * bins))]++;
    return { name: r.name, values: counts.map((c) => (100 * c) / r.codes.data.length) };
  });
  const histogram = { title: 'Latent (TanH) activations over the test set', series: hist };
  saveFigureData('ae-latent-histogram', 'written by scripts/experiments/fashion-autoencoders.ts', histogram);
  figure('ae-latent-histogram.svg', latentHistogram(histogram));
  figure(
    'ae-latent-codes.png',
    imageGridPng(
      results.flatMap((r) => rows(r.codes, show)),
      { imageShape: [8, 8], cols: 10, scale: 8, mode: 'diverging' },
    ),
  );
  const saturated = results.map((r) => {
    let s = 0;
    let abs = 0;
    for (const v of r.codes.data) {
      if (Math.abs(v) > 0.95) s++;
      abs += Math.abs(v);
    }
    return { sat: (100 * s) / r.codes.data.length, abs: abs / r.codes.data.length };
  });
  writeTable(
    'fashion-autoencoders',
    'Item 6 — autoencoders on Fashion-MNIST',
    [
      'architecture',
      'train BCE epoch 1',
      'train BCE last',
      'test BCE per image',
      'test MSE per pixel',
      'mean |code|',
      '% codes with |z| > 0.95',
      'seconds',
    ],
    results.map((r, i) => [
      r.name,
      r.history[0].trainLoss.toFixed(1),
      r.history[r.history.length - 1].trainLoss.toFixed(1),
      r.testBce.toFixed(1),
      r.testMse.toFixed(5),
      saturated[i].abs.toFixed(3),
      saturated[i].sat.toFixed(1),
      r.seconds.toFixed(0),
    ]),
    [
      `Command: \`${commandLine()}\` (seed ${args.seed}; ${backendText}; ${since(t0).toFixed(0)} s). ` +
        `Training set: a stratified subset of ${tr.labels.length} of the 60,000 training images, ${args.epochs} epochs (the original used 30 epochs on all of them; shortened to keep the run to minutes); ` +
        `test: the 10,000 test images. BCE summed over the 784 pixels (per image), Adam lr ${args.lr}, batch 32, Xavier-normal init.`,
    ],
  );
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
