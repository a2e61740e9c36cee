// A short training whose numbers must not depend on the machine beyond rounding: run on x64 and,
// under qemu, on an arm64 Node with the cross-built addon (scripts/test-arm64.sh compares them
// within 1e-5 relative: the paths sum in different orders — 4, 8 or 16 lanes, fused or separate
// multiply-adds — and on this training the losses measured 6e-7 apart at most).
//
//   npx ts-node --transpile-only scripts/arm64-smoke.ts   → one JSON line
//
// A seeded 1-D CNN (conv, max pool, linear) and an MLP trained for three epochs with SGD on a
// fixed synthetic set, batches in order. Prints the kernel path, each epoch's loss and the sum
// of the final predictions.
import {
  CELogSoftmaxLoss,
  Conv1D,
  Flatten,
  Linear,
  MaxPool1D,
  ReLU,
  SGD,
  Sequential,
  TanH,
  fit,
  getBackend,
  predict,
  seed,
  zeros,
} from '../lib';
import { loadNative } from '../lib/backend/native';

async function train(build: () => Sequential, shape: number[]): Promise<{ losses: number[]; predictionSum: number }> {
  seed(7);
  const n = 256;
  const x = zeros([n, ...shape]);
  const y = zeros([n]);
  // A deterministic signal whose class is the position of its largest bump (no Math.random).
  for (let i = 0; i < n; i++) {
    const cls = i % 10;
    for (let j = 0; j < x.data.length / n; j++) {
      const t = j / (x.data.length / n);
      x.data[i * (x.data.length / n) + j] = Math.exp(-((t - cls / 10) ** 2) * 80) + 0.1 * Math.sin(37 * i + 11 * j);
    }
    y.data[i] = cls;
  }
  const net = build();
  const history = await fit(
    net,
    new CELogSoftmaxLoss(),
    new SGD({ lr: 0.05, momentum: 0.9 }),
    { x, y },
    {
      epochs: 3,
      batchSize: 32,
      shuffle: false,
      verbose: 0,
    },
  );
  const out = predict(net, x);
  let predictionSum = 0;
  for (const v of out.data) predictionSum += v;
  return { losses: history.epochs.map((e) => e.trainLoss), predictionSum };
}

void (async () => {
  const cnn = await train(() => new Sequential(new Conv1D(3, 1, 8), new MaxPool1D(2, 2), new Flatten(), new Linear(8 * 31, 10)), [64, 1]);
  const mlp = await train(() => new Sequential(new Linear(64, 32), new TanH(), new Linear(32, 10), new ReLU()), [64]);
  const path = getBackend() === 'js' ? 'js' : (loadNative().addon?.kernelPath() ?? 'js');
  console.log(JSON.stringify({ arch: process.arch, path, cnn, mlp }));
})();
