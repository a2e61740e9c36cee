/**
 * Issue 16, experiment 2 (the original's §3.3.3 finished): the convolutional autoencoder the
 * original could not make work, now with 2-D layers, against the dense autoencoders of item 6 at
 * the same 64-number code, on MNIST and Fashion-MNIST.
 *
 *   dense 784→64 and 784→256→64: item 6's autoencoders (TanH code, Sigmoid output);
 *   conv: Conv2D(3, pad 1)+ReLU+MaxPool2D(2) twice (28×28×1 → 7×7×16), Linear(784, 64)+TanH code,
 *         Linear(64, 784)+ReLU, Reshape([7, 7, 16]), ConvTranspose2D(4, stride 2, pad 1) twice
 *         (7×7 → 14×14 → 28×28), Sigmoid; about as many parameters as 784→64;
 *   conv-up: the same encoder, decoder Upsample2D(2)+Conv2D(3, pad 1) twice instead of the
 *         transposed convolutions (the "resize-convolution" decoder).
 *   conv-lin and dense256-lin: conv and 784→256→64 with a linear code (no TanH), a diagnostic:
 *         with a TanH code the transposed-convolution decoder drove the code to ±1 for every image
 *         (the same code whatever the input) in 4 of 6 runs.
 *
 * Same protocol for every model: the same stratified training subset, epochs, Adam lr, batch 32,
 * BCE summed over the pixels, Xavier-normal init, seeds 0..seeds−1 (the seed sets the
 * initialisation and the batch order). The test set is only measured, never used for a choice.
 * Denoising: the trained (plain) autoencoders reconstruct test images with Gaussian noise
 * (clipped to [0, 1]) or masking noise (pixels set to 0), scored by MSE against the clean image.
 *
 * Run (the report's two tables):
 *   EXPERIMENT_THREADS=1 nice -n 10 npx ts-node --transpile-only scripts/experiments/conv-autoencoders.ts --epochs 15 --seeds 3
 *   EXPERIMENT_THREADS=1 nice -n 10 npx ts-node --transpile-only scripts/experiments/conv-autoencoders.ts --epochs 15 --seeds 3 \
 *     --models dense256-lin,conv-lin --out conv-autoencoders-linear-code
 * Other flags: --datasets mnist,fashion --train-size 10000 --lr 1e-3 --sigma 0.3 --mask 0.25 --curve-size 2000 --allow-js
 */
import {
  Sequential,
  Linear,
  Conv2D,
  ConvTranspose2D,
  Upsample2D,
  MaxPool2D,
  Reshape,
  Flatten,
  ReLU,
  TanH,
  Identity,
  Sigmoid,
  Module,
  BCELoss,
  Adam,
  Tensor,
  Rng,
  seed,
  predict,
  evaluate,
  data,
  getBackend,
} from '../../lib';
import { imageGridPng, rowsOf, meanStd } from '../../lib/report/figures';
import { Resvg } from '@resvg/resvg-js';
import { SeedCurves, saveFigureData, seedBandCurves } from './charts';
import { flags, useNative, writeTable, figure, raw, stratifiedSubset, train, since, commandLine } from './common';
import { autoencoder } from './fashion-autoencoders';

const args = flags({
  datasets: 'mnist,fashion',
  trainSize: 10000,
  epochs: 15,
  seeds: 3,
  lr: 1e-3,
  models: 'dense64,dense256,conv,conv-up',
  sigma: 0.3,
  mask: 0.25,
  curveSize: 2000,
  // A second set of models writes its own table, raw record and figures: reports/tables/<out>.md, …
  out: 'conv-autoencoders',
  allowJs: false,
});

const CODE = 64;

interface ModelSpec {
  key: string;
  name: string;
  /** Takes images (n, 28, 28, 1) rather than rows (n, 784). */
  images: boolean;
  build: () => Module;
}

/** The conv encoder shared by both conv autoencoders: (n, 28, 28, 1) → (n, 64) TanH code. */
function convEncoder(linearCode = false): Module[] {
  return [
    new Conv2D(3, 1, 16, 1, { padding: 1 }),
    new ReLU(),
    new MaxPool2D(2, 2), // (14, 14, 16)
    new Conv2D(3, 16, 16, 1, { padding: 1 }),
    new ReLU(),
    new MaxPool2D(2, 2), // (7, 7, 16)
    new Flatten(),
    new Linear(7 * 7 * 16, CODE, { init: 'xavierNormal' }),
    // The code: TanH as item 6's autoencoders; linear for the diagnostic variant.
    linearCode ? new Identity() : new TanH(),
  ];
}

const MODELS: ModelSpec[] = [
  { key: 'dense64', name: 'dense 784→64', images: false, build: () => autoencoder([784, CODE]).net },
  { key: 'dense256', name: 'dense 784→256→64', images: false, build: () => autoencoder([784, 256, CODE]).net },
  {
    key: 'dense256-lin',
    name: 'dense 784→256→64, linear code',
    images: false,
    build: () => autoencoder([784, 256, CODE], true).net,
  },
  {
    key: 'conv',
    name: 'conv (ConvTranspose2D decoder)',
    images: true,
    build: () =>
      new Sequential(
        ...convEncoder(),
        new Linear(CODE, 7 * 7 * 16, { init: 'xavierNormal' }),
        new ReLU(),
        new Reshape([7, 7, 16]),
        new ConvTranspose2D(4, 16, 16, 2, { padding: 1 }), // (14, 14, 16)
        new ReLU(),
        new ConvTranspose2D(4, 16, 1, 2, { padding: 1 }), // (28, 28, 1)
        new Sigmoid(),
      ),
  },
  {
    key: 'conv-lin',
    name: 'conv (ConvTranspose2D decoder), linear code',
    images: true,
    build: () =>
      new Sequential(
        ...convEncoder(true),
        new Linear(CODE, 7 * 7 * 16, { init: 'xavierNormal' }),
        new ReLU(),
        new Reshape([7, 7, 16]),
        new ConvTranspose2D(4, 16, 16, 2, { padding: 1 }),
        new ReLU(),
        new ConvTranspose2D(4, 16, 1, 2, { padding: 1 }),
        new Sigmoid(),
      ),
  },
  {
    key: 'conv-up',
    name: 'conv (Upsample2D + Conv2D decoder)',
    images: true,
    build: () =>
      new Sequential(
        ...convEncoder(),
        new Linear(CODE, 7 * 7 * 16, { init: 'xavierNormal' }),
        new ReLU(),
        new Reshape([7, 7, 16]),
        new Upsample2D(2), // (14, 14, 16)
        new Conv2D(3, 16, 16, 1, { padding: 1 }),
        new ReLU(),
        new Upsample2D(2), // (28, 28, 16)
        new Conv2D(3, 16, 1, 1, { padding: 1 }),
        new Sigmoid(),
      ),
  },
];

const DATASETS: Record<string, { title: string; load: (split: 'train' | 'test') => data.Dataset }> = {
  mnist: { title: 'MNIST', load: (split) => data.loadMNIST({ split }) },
  fashion: { title: 'Fashion-MNIST', load: (split) => data.loadFashionMNIST({ split }) },
};

const flat = (x: Tensor): Tensor => ({ shape: [x.shape[0], x.data.length / x.shape[0]], data: x.data });
const asImages = (x: Tensor): Tensor => ({ shape: [x.shape[0], 28, 28, 1], data: x.data });
const paramCount = (m: Module): number => m.parameters().reduce((a, p) => a + p.value.data.length, 0);

function mse(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}

/** x + N(0, σ²), clipped to [0, 1]. */
function gaussianNoise(x: Tensor, sigma: number, rng: Rng): Tensor {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, x.data[i] + sigma * rng.normal()));
  return { shape: x.shape, data: out };
}

/** Each pixel set to 0 with probability p. */
function maskingNoise(x: Tensor, p: number, rng: Rng): Tensor {
  const out = Float32Array.from(x.data);
  for (let i = 0; i < out.length; i++) if (rng.uniform() < p) out[i] = 0;
  return { shape: x.shape, data: out };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string);
}

/**
 * An image grid with a label left of each row: the grid drawn by imageGridPng, embedded in an SVG
 * next to the labels; returns the SVG and its PNG render.
 */
function labelledGrid(title: string, rows: { label: string; images: Float32Array[] }[]): { svg: string; png: Buffer } {
  const cols = rows[0].images.length;
  const scale = 2;
  const gap = 2;
  const grid = imageGridPng(
    rows.flatMap((r) => r.images),
    { imageShape: [28, 28], cols, scale, gap },
  );
  const cell = 28 * scale + gap;
  const gridWidth = cols * cell + gap;
  const gridHeight = rows.length * cell + gap;
  const labelWidth = 300;
  const top = 30;
  const texts = rows.map(
    (r, i) =>
      `<text x="${labelWidth - 8}" y="${top + gap + i * cell + cell / 2}" text-anchor="end" dominant-baseline="middle" font-family="DejaVu Sans, sans-serif" font-size="13">${escapeXml(r.label)}</text>`,
  );
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${labelWidth + gridWidth}" height="${top + gridHeight}">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="8" y="20" font-family="DejaVu Sans, sans-serif" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    ...texts,
    `<image x="${labelWidth}" y="${top}" width="${gridWidth}" height="${gridHeight}" image-rendering="pixelated" xlink:href="data:image/png;base64,${grid.toString('base64')}"/>`,
    '</svg>',
  ].join('\n');
  const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  return { svg, png };
}

interface Run {
  dataset: string;
  model: string;
  seed: number;
  parameters: number;
  seconds: number;
  testBce: number;
  testMse: number;
  gaussianMse: number;
  maskedMse: number;
  curve: (number | undefined)[];
}

async function main(): Promise<void> {
  const backendText = useNative();
  // Wall times are part of the table: a run that fell back to the js backend (an addon being rebuilt) would mislead.
  if (getBackend() !== 'native' && !args.allowJs)
    throw new Error('the native addon did not load; pass --allow-js to run on the js backend anyway');
  const t0 = performance.now();
  const seeds = Array.from({ length: args.seeds as number }, (_, i) => i);
  const models = (args.models as string).split(',').map((k) => {
    const m = MODELS.find((s) => s.key === k);
    if (!m) throw new Error(`--models: unknown model '${k}' (known: ${MODELS.map((s) => s.key).join(', ')})`);
    return m;
  });
  const runs: Run[] = [];
  // Figure names: conv-ae-2d-… for the main set, <out>-… for another.
  const prefix = args.out === 'conv-autoencoders' ? 'conv-ae-2d' : (args.out as string);
  const loss = new BCELoss({ reduction: 'sum' });
  const datasetKeys = (args.datasets as string).split(',');
  for (const key of datasetKeys) {
    const ds = DATASETS[key];
    if (!ds) throw new Error(`--datasets: unknown dataset '${key}' (known: ${Object.keys(DATASETS).join(', ')})`);
    // The same stratified subset (seed 0) for every model and seed: only init and batch order vary.
    const tr = stratifiedSubset(ds.load('train'), args.trainSize as number, 0);
    const test = ds.load('test');
    const curveX = data.subset(
      test,
      Array.from({ length: Math.min(args.curveSize as number, test.labels.length) }, (_, i) => i),
    ).x;
    const gaussian = gaussianNoise(test.x, args.sigma as number, new Rng(99));
    const masked = maskingNoise(test.x, args.mask as number, new Rng(98));
    const show = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((c) => test.labels.indexOf(c));
    const shown = new Map<string, { clean: Float32Array[]; gaussian: Float32Array[]; masked: Float32Array[] }>();
    for (const spec of models) {
      const view = spec.images ? asImages : flat;
      for (const s of seeds) {
        seed(s);
        const net = spec.build();
        const t1 = performance.now();
        const h = await train(
          net,
          loss,
          new Adam({ lr: args.lr as number }),
          { x: view(tr.x), y: view(tr.x) },
          { batchSize: 32, epochs: args.epochs as number, validation: { x: view(curveX), y: view(curveX) } },
        );
        const seconds = since(t1);
        const out = predict(net, view(test.x));
        const outG = predict(net, view(gaussian));
        const outM = predict(net, view(masked));
        const run: Run = {
          dataset: key,
          model: spec.key,
          seed: s,
          parameters: paramCount(net),
          seconds,
          testBce: evaluate(net, loss, view(test.x), view(test.x)).loss,
          testMse: mse(out, test.x),
          gaussianMse: mse(outG, test.x),
          maskedMse: mse(outM, test.x),
          curve: h.epochs.map((e) => e.valLoss),
        };
        runs.push(run);
        if (s === 0) {
          shown.set(spec.key, {
            clean: rowsOf(out.data, 784, show),
            gaussian: rowsOf(outG.data, 784, show),
            masked: rowsOf(outM.data, 784, show),
          });
        }
        process.stdout.write(
          `${ds.title} ${spec.name} seed ${s}: ${run.parameters} parameters, test BCE ${run.testBce.toFixed(2)}, MSE ${run.testMse.toFixed(5)}, ` +
            `gaussian ${run.gaussianMse.toFixed(5)}, masked ${run.maskedMse.toFixed(5)} (${seconds.toFixed(0)} s)\n`,
        );
        raw(args.out as string, runs);
      }
    }
    // Reconstructions and denoising of one test image per class, seed 0.
    const gridRows: { label: string; images: Float32Array[] }[] = [{ label: 'original', images: rowsOf(test.x.data, 784, show) }];
    for (const spec of models) gridRows.push({ label: spec.name, images: shown.get(spec.key)!.clean });
    gridRows.push({ label: `noisy (Gaussian σ = ${args.sigma})`, images: rowsOf(gaussian.data, 784, show) });
    for (const spec of models) gridRows.push({ label: `→ ${spec.name}`, images: shown.get(spec.key)!.gaussian });
    gridRows.push({ label: `masked (${100 * (args.mask as number)} % of pixels → 0)`, images: rowsOf(masked.data, 784, show) });
    for (const spec of models) gridRows.push({ label: `→ ${spec.name}`, images: shown.get(spec.key)!.masked });
    const grid = labelledGrid(`${ds.title} test images: reconstructions and denoising (seed 0, ${args.epochs} epochs)`, gridRows);
    figure(`${prefix}-${key}-grid.svg`, grid.svg);
    figure(`png/${prefix}-${key}-grid.png`, grid.png); // the render figures.ts would make
  }

  // Test BCE per epoch (on the first curveSize test images), mean ± std over the seeds.
  const curves: SeedCurves[] = datasetKeys.map((key) => ({
    title: `${DATASETS[key].title}: test BCE (first ${args.curveSize} test images)`,
    series: models.map((spec) => ({
      name: spec.name,
      runs: runs.filter((r) => r.dataset === key && r.model === spec.key).map((r) => r.curve.map((v) => v ?? null)),
    })),
  }));
  saveFigureData(`${prefix}-curves`, 'written by scripts/experiments/conv-autoencoders.ts', curves);
  figure(`${prefix}-curves.svg`, seedBandCurves(curves, `BCE per image, mean ± std over ${seeds.length} seeds`));
  // (scripts/experiments/figures.ts redraws it from the saved data and renders its PNG.)

  const ms = (xs: number[], digits: number): string => {
    const { mean, std } = meanStd(xs);
    return xs.length > 1 ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}` : mean.toFixed(digits);
  };
  const rows: (string | number)[][] = [];
  for (const key of datasetKeys) {
    for (const spec of models) {
      const rs = runs.filter((r) => r.dataset === key && r.model === spec.key);
      rows.push([
        DATASETS[key].title,
        spec.name,
        rs[0].parameters.toLocaleString('en-US'),
        ms(
          rs.map((r) => r.testBce),
          1,
        ),
        ms(
          rs.map((r) => r.testMse),
          5,
        ),
        ms(
          rs.map((r) => r.gaussianMse),
          5,
        ),
        ms(
          rs.map((r) => r.maskedMse),
          5,
        ),
        ms(
          rs.map((r) => r.seconds),
          0,
        ),
      ]);
    }
  }
  writeTable(
    args.out as string,
    `Issue 16, experiment 2 — convolutional vs dense autoencoders at a 64-number code (test sets)${args.out === 'conv-autoencoders' ? '' : `: ${models.map((m) => m.name).join('; ')}`}`,
    [
      'dataset',
      'model',
      'parameters',
      'test BCE per image',
      'test MSE per pixel',
      `MSE vs clean, Gaussian σ ${args.sigma} input`,
      `MSE vs clean, ${100 * (args.mask as number)} % masked input`,
      'seconds per run',
    ],
    rows,
    [
      `Command: \`EXPERIMENT_THREADS=${process.env.EXPERIMENT_THREADS ?? ''} nice -n 10 ${commandLine()}\` (seeds 0–${seeds.length - 1}, mean ± std; ${backendText}; total ${since(t0).toFixed(0)} s). ` +
        `Every model: a stratified subset of ${args.trainSize} training images (the same for all models and seeds), ${args.epochs} epochs, Adam lr ${args.lr}, batch 32, ` +
        `BCE summed over the 784 pixels, Xavier-normal init, a code of ${CODE} (TanH unless the model says "linear code"), Sigmoid output; the seed sets the initialisation and the batch order. ` +
        `Scored on the 10,000 test images, which chose nothing. Noise (on the test images, the autoencoders were trained on clean ones): x + N(0, ${args.sigma}²) clipped to [0, 1]; ` +
        `masking sets each pixel to 0 with probability ${args.mask}. The noisy inputs themselves score ` +
        datasetKeys
          .map((key) => {
            const test = DATASETS[key].load('test');
            return `${DATASETS[key].title} ${mse(gaussianNoise(test.x, args.sigma as number, new Rng(99)), test.x).toFixed(5)} (Gaussian), ${mse(maskingNoise(test.x, args.mask as number, new Rng(98)), test.x).toFixed(5)} (masked)`;
          })
          .join('; ') +
        '.',
    ],
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
