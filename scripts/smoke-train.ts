// A short training of one net per module family, run on this machine and again on a CPU it is
// not, under qemu: an arm64 Node with the cross-built addon (scripts/test-arm64.sh), and this
// machine's own Node and addon on emulated x86-64 CPUs without AVX-512 or without AVX
// (scripts/test-x64-cpus.sh).
//
//   npx ts-node --transpile-only scripts/smoke-train.ts   → one JSON line
//
// Four seeded nets trained for three epochs on fixed synthetic sets, batches in order: a 1-D CNN
// (conv, max pool, linear), an MLP with batch norm and dropout (Adam), a 2-D CNN (padded and
// strided convolutions, batch norm, max and average pooling, global average pooling) and a 2-D
// autoencoder (transposed convolution, nearest upsampling, sigmoid output, MSE). Between them
// every kernel family a training reaches: GEMMs, direct convolutions and pools of both
// dimensions, batch norm, the elementwise activations, the losses and both optimisers. Prints the
// kernel path, each net's epoch losses and the sum of its final predictions (with the sum of
// their magnitudes, the scale that sum's rounding is read against: its terms cancel).
//
// What the comparisons allow: on another x86-64 CPU the same path runs the same instructions,
// so the numbers must be equal to the last bit; arm64's NEON path sums in other orders (4 lanes
// against 8 or 16), so test-arm64.sh allows 1e-5 relative, but for the plain products below,
// which must be its bits.
// Which is why the trainings are kept where rounding does not grow: a layer in front of a batch
// norm has no bias (its gradient would be rounding alone, which Adam scales up to whole steps:
// the MLP's predictions then differed by 1e-3 between paths), and the autoencoder learns at 0.02
// (at 0.05 its last-bit differences grew to 2e-3 in three epochs; at 0.02 they stay under 1e-7).
import {
  AvgPool2D,
  BatchNorm1D,
  BatchNorm2D,
  CELogSoftmaxLoss,
  Conv1D,
  Conv2D,
  ConvTranspose2D,
  Adam,
  Dropout,
  Flatten,
  GlobalAvgPool2D,
  LeakyReLU,
  Linear,
  Loss,
  MSELoss,
  MaxPool1D,
  MaxPool2D,
  Optimizer,
  ReLU,
  SGD,
  Sequential,
  Sigmoid,
  SoftPlus,
  TanH,
  Tensor,
  Upsample2D,
  fit,
  getBackend,
  predict,
  seed,
  zeros,
} from '../lib';
import { loadNative } from '../lib/backend/native';
import { backend } from '../lib/backend';

interface Run {
  losses: number[];
  /** The sum of the final predictions, and of their magnitudes: the scale its error is read against. */
  predictionSum: number;
  predictionMagnitude: number;
}

/** 256 samples whose class (0–9) is the position of a bump along their values, without Math.random. */
function bumps(shape: number[]): { x: Tensor; y: Tensor } {
  const n = 256;
  const x = zeros([n, ...shape]);
  const y = zeros([n]);
  const size = x.data.length / n;
  for (let i = 0; i < n; i++) {
    const cls = i % 10;
    for (let j = 0; j < size; j++) {
      const t = j / size;
      x.data[i * size + j] = Math.exp(-((t - cls / 10) ** 2) * 80) + 0.1 * Math.sin(37 * i + 11 * j);
    }
    y.data[i] = cls;
  }
  return { x, y };
}

async function train(
  build: () => Sequential,
  shape: number[],
  loss: Loss,
  optimizer: () => Optimizer,
  target: 'class' | 'input',
): Promise<Run> {
  seed(7);
  const { x, y } = bumps(shape);
  const net = build();
  const history = await fit(
    net,
    loss,
    optimizer(),
    { x, y: target === 'class' ? y : x },
    { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 },
  );
  const out = predict(net, x);
  let predictionSum = 0;
  let predictionMagnitude = 0;
  for (const v of out.data) {
    predictionSum += v;
    predictionMagnitude += Math.abs(v);
  }
  return { losses: history.epochs.map((e) => e.trainLoss), predictionSum, predictionMagnitude };
}

/**
 * The bits of products small enough for the GEMM's plain loop (m·n·k ≤ 256, native/gemm.h), which
 * every path of every architecture computes in one order with two roundings a term: arm64 must
 * give these exactly (the build's -ffp-contract=off; GCC fused them there, 1.4e-6 apart). The
 * last one's product 3e38 · 2 passes float32's range: rounded alone it is Infinity; fused with
 * the −3e38 before it, the sum would be a finite 3e38.
 */
function plainProducts(): string[] {
  const k = backend();
  const a = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i * 1.7) * 0.5);
  const b = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.9) * 0.5);
  const c = new Float32Array(16);
  k.sgemm(false, false, 4, 4, 8, 1, a, 0, 8, b, 0, 4, 0, c, 0, 4);
  const over = new Float32Array(1);
  k.sgemm(false, false, 1, 1, 2, 1, Float32Array.of(1, 3e38), 0, 2, Float32Array.of(-3e38, 2), 0, 1, 0, over, 0, 1);
  return [...c, over[0]].map((v) => new Uint32Array(Float32Array.of(v).buffer)[0].toString(16));
}

void (async () => {
  const sgd = (): Optimizer => new SGD({ lr: 0.05, momentum: 0.9 });
  const cnn = await train(
    () => new Sequential(new Conv1D(3, 1, 8), new MaxPool1D(2, 2), new Flatten(), new Linear(8 * 31, 10)),
    [64, 1],
    new CELogSoftmaxLoss(),
    sgd,
    'class',
  );
  const mlp = await train(
    () =>
      new Sequential(
        new Linear(64, 32, { bias: false }),
        new BatchNorm1D(32),
        new TanH(),
        new Dropout(0.2),
        new Linear(32, 10),
        new ReLU(),
      ),
    [64],
    new CELogSoftmaxLoss(),
    () => new Adam({ lr: 0.01 }),
    'class',
  );
  const cnn2d = await train(
    () =>
      new Sequential(
        new Conv2D(3, 1, 8, 1, { padding: 1, bias: false }),
        new BatchNorm2D(8),
        new ReLU(),
        new MaxPool2D(2, 2),
        new Conv2D([3, 2], 8, 16, 1, { padding: [1, 0] }),
        new LeakyReLU(),
        new AvgPool2D(2, 1),
        new Conv2D(2, 16, 10, 2),
        new GlobalAvgPool2D(),
      ),
    [8, 8, 1],
    new CELogSoftmaxLoss(),
    sgd,
    'class',
  );
  const autoencoder2d = await train(
    () =>
      new Sequential(
        new Conv2D(3, 1, 4, 2, { padding: 1 }),
        new SoftPlus(),
        new ConvTranspose2D(4, 4, 2, 2, { padding: 1 }),
        new TanH(),
        new Upsample2D(2),
        new Conv2D(3, 2, 1, 2, { padding: 1 }),
        new Sigmoid(),
      ),
    [8, 8, 1],
    new MSELoss(),
    () => new SGD({ lr: 0.02, momentum: 0.9 }),
    'input',
  );
  const path = getBackend() === 'js' ? 'js' : (loadNative().addon?.kernelPath() ?? 'js');
  console.log(JSON.stringify({ arch: process.arch, path, cnn, mlp, cnn2d, autoencoder2d, plain: plainProducts() }));
})();
