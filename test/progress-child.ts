/**
 * Trains a small network with a library Logger that draws its progress bar (run by
 * test/progress.test.ts inside a pseudo-terminal). With `long`, it trains for 1000 epochs, so
 * that a Ctrl-C typed by the test arrives while the bar is on screen.
 */
import { fit } from '../lib/train';
import { Logger } from '../lib/logger';
import { TerminalProgress } from '../lib/progress';
import { Sequential, Linear, ReLU } from '../lib/nn';
import { CELogSoftmaxLoss } from '../lib/losses';
import { SGD } from '../lib/optim';
import { seed } from '../lib/random';
import * as data from '../lib/data';

async function run(): Promise<void> {
  const long = process.argv.includes('long');
  seed(0);
  const ds = data.checkerboard({ n: 2000, extent: 2, seed: 0 });
  const net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
  const logger = new Logger({ verbose: 1, progress: true });
  await fit(
    net,
    new CELogSoftmaxLoss(),
    new SGD({ lr: 1e-3, momentum: 0.9 }),
    { x: ds.x, y: { shape: [ds.labels.length], data: Float32Array.from(ds.labels) } },
    {
      epochs: long ? 1000 : 2,
      batchSize: 16,
      logger,
    },
  );
  process.stdout.write('finished\n');
}

/**
 * With `signal-at-stop`: a SIGINT that reaches the process while a bar draws, and the bar stops
 * before the event loop has handed the signal to JavaScript (an epoch ending just after Ctrl-C).
 * The process must still die of it.
 */
function signalAtStop(): void {
  const bar = new TerminalProgress();
  bar.start(10, 1, 1, 2);
  process.kill(process.pid, 'SIGINT');
  bar.stop();
  setTimeout(() => process.stdout.write('survived\n'), 300);
}

/**
 * With `throws`: fit with the default logger, whose callback throws in the middle of epoch 2 with
 * the bar on screen; the error is caught and the process should then end by itself.
 */
async function throwsMidEpoch(): Promise<void> {
  seed(0);
  const ds = data.checkerboard({ n: 2000, extent: 2, seed: 0 });
  const net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
  try {
    await fit(
      net,
      new CELogSoftmaxLoss(),
      new SGD({ lr: 1e-3 }),
      { x: ds.x, y: { shape: [ds.labels.length], data: Float32Array.from(ds.labels) } },
      {
        epochs: 5,
        batchSize: 16,
        onBatchEnd: (b) => {
          if (b.epoch === 2 && b.batch === 3) throw new Error('stopped by the callback');
        },
      },
    );
  } catch (e) {
    process.stdout.write(`caught: ${(e as Error).message}\n`);
  }
}

if (process.argv.includes('signal-at-stop')) signalAtStop();
else if (process.argv.includes('throws')) void throwsMidEpoch();
else void run();
