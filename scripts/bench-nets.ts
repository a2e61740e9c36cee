// The nets of the training benchmark (issue 5) and how one is timed, shared by
// scripts/bench-train.ts (all frameworks, this machine) and scripts/bench-scaling.ts
// (thread scaling on a many-core machine).
import { PerformanceObserver } from 'perf_hooks';
import {
  BCELoss,
  BatchNorm2D,
  CELogSoftmaxLoss,
  Conv1D,
  Conv2D,
  Dropout,
  Flatten,
  MaxPool2D,
  Linear,
  MaxPool1D,
  ReLU,
  Sequential,
  SGD,
  Sigmoid,
  TanH,
  fit,
  predict,
  seed,
  Tensor,
  zeros,
} from '../lib';
import { Loss } from '../lib/losses';
import { Module } from '../lib/nn/module';

export interface NetSpec {
  key: string;
  label: string;
  build: () => Module;
  inputShape: number[];
  batch: number;
  loss: () => Loss;
  target: 'class' | 'input';
  inferenceOnly?: boolean;
  /** False for the nets scripts/bench-tfjs.ts has no twin of (the 2-D nets). */
  tfjs?: boolean;
}

const seedCnn = (length: number) => (): Module =>
  new Sequential(
    new Conv1D(3, 1, 32),
    new MaxPool1D(2, 2),
    new Flatten(),
    new Linear(32 * Math.floor((length - 2) / 2), 100),
    new ReLU(),
    new Linear(100, 10),
  );
const deepCnn = (): Module => {
  let n = 256;
  for (let i = 0; i < 3; i++) n = Math.floor((n - 2 - 8) / 2) + 1;
  return new Sequential(
    new Conv1D(3, 1, 64),
    new ReLU(),
    new MaxPool1D(8, 2),
    new Conv1D(3, 64, 64),
    new ReLU(),
    new MaxPool1D(8, 2),
    new Conv1D(3, 64, 64),
    new ReLU(),
    new MaxPool1D(8, 2),
    new Flatten(),
    new Linear(64 * n, 10),
  );
};

/** LeNet-style: Conv2D 5×5 ×2 with 2×2 max pooling, two dense layers, on 28×28×1 images. */
export const lenet = (): Module =>
  new Sequential(
    new Conv2D(5, 1, 6),
    new ReLU(),
    new MaxPool2D(2),
    new Conv2D(5, 6, 16),
    new ReLU(),
    new MaxPool2D(2),
    new Flatten(),
    new Linear(16 * 4 * 4, 120),
    new ReLU(),
    new Linear(120, 10),
  );
/**
 * The second recipe of reports/' 2-D accuracy experiment on 28×28×1 images: two padded 3×3
 * convolutions without bias, each followed by BatchNorm2D, ReLU and 2×2 max pooling, then a
 * 128-unit hidden layer with dropout 0.3.
 */
export const bnCnn = (): Module =>
  new Sequential(
    new Conv2D(3, 1, 32, 1, { padding: 1, bias: false }),
    new BatchNorm2D(32),
    new ReLU(),
    new MaxPool2D(2),
    new Conv2D(3, 32, 64, 1, { padding: 1, bias: false }),
    new BatchNorm2D(64),
    new ReLU(),
    new MaxPool2D(2),
    new Flatten(),
    new Linear(7 * 7 * 64, 128),
    new ReLU(),
    new Dropout(0.3),
    new Linear(128, 10),
  );

/** Two VGG blocks (two padded 3×3 convolutions, then 2×2 max pooling) on 32×32×3 images. */
export const smallVgg = (): Module =>
  new Sequential(
    new Conv2D(3, 3, 32, 1, { padding: 1 }),
    new ReLU(),
    new Conv2D(3, 32, 32, 1, { padding: 1 }),
    new ReLU(),
    new MaxPool2D(2),
    new Conv2D(3, 32, 64, 1, { padding: 1 }),
    new ReLU(),
    new Conv2D(3, 64, 64, 1, { padding: 1 }),
    new ReLU(),
    new MaxPool2D(2),
    new Flatten(),
    new Linear(64 * 8 * 8, 128),
    new ReLU(),
    new Linear(128, 10),
  );

export const specs: NetSpec[] = [
  {
    key: 'a',
    label: 'a. seed CNN, length 256, batch 32',
    build: seedCnn(256),
    inputShape: [256, 1],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'b',
    label: 'b. seed CNN, length 784, batch 32',
    build: seedCnn(784),
    inputShape: [784, 1],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'c32',
    label: 'c. MLP 784-256-10, batch 32',
    build: () => new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)),
    inputShape: [784],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'c256',
    label: 'c. MLP 784-256-10, batch 256',
    build: () => new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)),
    inputShape: [784],
    batch: 256,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'd',
    label: 'd. autoencoder 784-256-64-256-784, batch 32',
    build: () =>
      new Sequential(
        new Linear(784, 256),
        new TanH(),
        new Linear(256, 64),
        new TanH(),
        new Linear(64, 256),
        new TanH(),
        new Linear(256, 784),
        new Sigmoid(),
      ),
    inputShape: [784],
    batch: 32,
    loss: () => new BCELoss({ reduction: 'sum' }),
    target: 'input',
  },
  {
    key: 'e',
    label: 'e. deep CNN (3 conv), length 256, batch 32',
    build: deepCnn,
    inputShape: [256, 1],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'infer',
    label: 'inference of a, batch 256',
    build: seedCnn(256),
    inputShape: [256, 1],
    batch: 256,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
    inferenceOnly: true,
  },
  {
    key: 'lenet32',
    tfjs: false,
    label: 'LeNet-style 2-D CNN, 28×28×1, batch 32',
    build: lenet,
    inputShape: [28, 28, 1],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'lenet128',
    tfjs: false,
    label: 'LeNet-style 2-D CNN, 28×28×1, batch 128',
    build: lenet,
    inputShape: [28, 28, 1],
    batch: 128,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'bncnn',
    tfjs: false,
    label: '2-D CNN with BatchNorm2D and Dropout, 28×28×1, batch 32',
    build: bnCnn,
    inputShape: [28, 28, 1],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
  {
    key: 'vgg',
    tfjs: false,
    label: 'small VGG-style 2-D CNN, 32×32×3, batch 32',
    build: smallVgg,
    inputShape: [32, 32, 3],
    batch: 32,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  },
];

/** The sweep's net: Linear(784, width) → TanH → Linear(width, 10), batch `batch` (key mlp-W-B, as in bench_torch.py). */
export function mlpSpec(width: number, batch: number): NetSpec {
  return {
    key: `mlp-${width}-${batch}`,
    label: `MLP 784-${width}-10, batch ${batch}`,
    build: () => new Sequential(new Linear(784, width), new TanH(), new Linear(width, 10)),
    inputShape: [784],
    batch,
    loss: () => new CELogSoftmaxLoss({ reduction: 'sum' }),
    target: 'class',
  };
}

function randomData(spec: NetSpec, n: number): { x: Tensor; y: Tensor } {
  const x = zeros([n, ...spec.inputShape]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random();
  if (spec.target === 'input') return { x, y: x };
  const y = zeros([n]);
  for (let i = 0; i < n; i++) y.data[i] = Math.floor(Math.random() * 10);
  return { x, y };
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

export interface Measure {
  samplesPerSec: number;
  /** The slowest and the fastest timed epoch, samples/s: the spread behind the median. */
  spread: [number, number];
  gcShare: number;
}

/**
 * Median samples/s over `epochs` timed epochs of `batches` batches, after one warm-up epoch.
 * Like the PyTorch and tfjs twins, the batches are taken in order (fit then reads them in
 * place); `shuffle` measures fit's default instead, which gathers random rows every batch.
 */
export async function measure(spec: NetSpec, epochs: number, batches: number, shuffle = false): Promise<Measure> {
  seed(1);
  const net = spec.build();
  const n = spec.batch * batches;
  const data = randomData(spec, n);
  if (spec.inferenceOnly) {
    const times: number[] = [];
    predict(net, data.x, { batchSize: spec.batch });
    const gc0 = gcMs;
    let total = 0;
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      predict(net, data.x, { batchSize: spec.batch });
      const dt = performance.now() - t0;
      total += dt;
      times.push(n / (dt / 1000));
    }
    return { samplesPerSec: median(times), spread: [Math.min(...times), Math.max(...times)], gcShare: (gcMs - gc0) / total };
  }
  const optimizer = new SGD({ lr: 0.01 / spec.batch });
  await fit(net, spec.loss(), optimizer, data, { epochs: 1, batchSize: spec.batch, verbose: 0, shuffle });
  const gc0 = gcMs;
  const t0 = performance.now();
  const history = await fit(net, spec.loss(), optimizer, data, { epochs, batchSize: spec.batch, verbose: 0, shuffle });
  const total = performance.now() - t0;
  const rates = history.epochs.map((e) => n / e.seconds);
  return { samplesPerSec: median(rates), spread: [Math.min(...rates), Math.max(...rates)], gcShare: (gcMs - gc0) / total };
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
