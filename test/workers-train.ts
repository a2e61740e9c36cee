/**
 * One small training run, shared by test/workers.test.ts (in the jest process, as the reference)
 * and test/workers-child.ts (inside worker_threads and child processes): same code, same seed,
 * so the same weights are expected wherever it runs.
 */
import { seed, Rng } from '../lib/random';
import { setBackend, setThreads, getBackend } from '../lib/backend';
import { Sequential, Linear, TanH, Conv1D, ReLU, MaxPool1D, Flatten } from '../lib/nn';
import { CELogSoftmaxLoss } from '../lib/losses';
import { SGD, Adam } from '../lib/optim';
import { fit } from '../lib/train';
import { Tensor } from '../lib/tensor';

export interface RunOptions {
  seed: number;
  threads: number;
  backend?: 'js' | 'native';
  model?: 'mlp' | 'cnn';
  epochs?: number;
  /** Called after every batch (the exit tests use it to stop mid-training). */
  onBatch?: (batch: number) => void;
}

/** Trains a small MLP (or CNN) on seeded synthetic data; returns copies of its parameters. */
export async function trainOnce(o: RunOptions): Promise<Float32Array[]> {
  if (o.backend) setBackend(o.backend);
  setThreads(o.threads);
  seed(o.seed);
  const rng = new Rng(o.seed + 1000);
  const n = 96;
  const model = o.model ?? 'mlp';
  const features = model === 'mlp' ? 20 : 24;
  const x: Tensor = { shape: model === 'mlp' ? [n, features] : [n, features, 1], data: new Float32Array(n * features) };
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let j = 0; j < features; j++) x.data[i * features + j] = rng.normal() + (j % 3 === c ? 1 : 0);
  }
  const net =
    model === 'mlp'
      ? new Sequential(new Linear(features, 32), new TanH(), new Linear(32, 3))
      : new Sequential(new Conv1D(3, 1, 8), new ReLU(), new MaxPool1D(2), new Flatten(), new Linear(88, 3));
  const opt = model === 'mlp' ? new SGD({ lr: 0.01, momentum: 0.9 }) : new Adam({ lr: 0.01 });
  await fit(
    net,
    new CELogSoftmaxLoss(),
    opt,
    { x, y: { shape: [n], data: labels } },
    {
      epochs: o.epochs ?? 3,
      batchSize: 16,
      verbose: 0,
      onBatchEnd: o.onBatch ? (b) => o.onBatch?.(b.batch) : undefined,
    },
  );
  return net.parameters().map((p) => p.value.data.slice());
}

export { getBackend };
