/**
 * Runs inside a worker_thread (workerData set) or as a child process (argv) for
 * test/workers.test.ts. Modes:
 *   train        train once and post the weights back
 *   exit-worker  train, and call process.exit(3) from inside the worker in the middle of it
 *   spin         keep training until terminated (the parent exits or terminates it)
 */
import { parentPort, workerData, isMainThread, Worker } from 'worker_threads';
import { trainOnce, getBackend } from './workers-train';
import { TS_REGISTER } from './ts-child';

interface Job {
  mode: 'train' | 'exit-worker' | 'spin';
  seed: number;
  threads: number;
  model?: 'mlp' | 'cnn';
}

async function runJob(job: Job): Promise<void> {
  if (job.mode === 'train') {
    const weights = await trainOnce({ seed: job.seed, threads: job.threads, model: job.model });
    parentPort?.postMessage({ backend: getBackend(), weights });
    return;
  }
  if (job.mode === 'exit-worker') {
    await trainOnce({ seed: job.seed, threads: job.threads, epochs: 50, onBatch: (b) => (b === 3 ? process.exit(3) : undefined) });
    return;
  }
  parentPort?.postMessage({ started: true });
  for (;;) await trainOnce({ seed: job.seed, threads: job.threads, epochs: 1 });
}

/** Child-process entry: `node -r tsx/cjs test/workers-child.ts <scenario>`. */
function startWorker(job: Job): Worker {
  return new Worker(`${TS_REGISTER} require(${JSON.stringify(__filename)});`, {
    eval: true,
    workerData: job,
  });
}

async function scenario(name: string): Promise<void> {
  if (name === 'pool-then-exit') {
    // Use the kernel thread pool on several threads, then let the event loop run dry:
    // the process must exit without anyone tearing the pool down by hand.
    await trainOnce({ seed: 1, threads: 2 });
    process.stdout.write(`done ${Date.now()}\n`);
    return;
  }
  if (name === 'worker-exits') {
    // process.exit inside a worker ends that worker only; the main thread carries on.
    const w = startWorker({ mode: 'exit-worker', seed: 2, threads: 2 });
    const code = await new Promise<number>((resolve) => w.on('exit', resolve));
    await trainOnce({ seed: 3, threads: 2, epochs: 1 });
    process.stdout.write(`worker exit code ${code}\ndone ${Date.now()}\n`);
    return;
  }
  if (name === 'exit-during-training') {
    // The main thread exits while two workers are in the middle of training with their pools.
    const workers = [startWorker({ mode: 'spin', seed: 4, threads: 2 }), startWorker({ mode: 'spin', seed: 5, threads: 2, model: 'cnn' })];
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.stdout.write(`done ${Date.now()}\n`);
    process.exit(0);
  }
  if (name === 'terminate-during-training') {
    const w = startWorker({ mode: 'spin', seed: 6, threads: 2 });
    await new Promise((resolve) => w.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const code = await w.terminate();
    process.stdout.write(`terminated ${code}\ndone ${Date.now()}\n`);
    return;
  }
  throw new Error(`unknown scenario ${name}`);
}

if (!isMainThread && workerData) {
  runJob(workerData as Job).catch((e) => {
    parentPort?.postMessage({ error: String((e as Error)?.stack ?? e) });
  });
} else if (require.main === module) {
  scenario(process.argv[2]).catch((e) => {
    process.stderr.write(String((e as Error)?.stack ?? e));
    process.exitCode = 1;
  });
}
