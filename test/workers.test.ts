// Concurrency in Node: several worker_threads each training its own network through the native
// addon at the same time (one addon instance, thread pool and kernel path per environment),
// with results equal to a reference run in this thread; and the process exits promptly after
// using the pool, when a worker calls process.exit, and when it exits with workers mid-training.
import { Worker } from 'worker_threads';
import { spawn } from 'child_process';
import * as path from 'path';
import { trainOnce } from './workers-train';
import { availableBackends } from './backends';
import { tsFile, TS_REGISTER } from './ts-child';

const root = path.resolve(__dirname, '..');
const childFile = path.join(__dirname, 'workers-child.ts');
const hasNative = availableBackends().includes('native');
const nativeTest = hasNative ? test : test.skip;

function startWorker(job: object): Worker {
  return new Worker(`${TS_REGISTER} require(${JSON.stringify(childFile)});`, {
    eval: true,
    workerData: job,
  });
}

function result(w: Worker): Promise<{ backend: string; weights: Float32Array[] }> {
  return new Promise((resolve, reject) => {
    w.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
  });
}

function same(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (x, i) =>
        x.length === b[i].length &&
        Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)),
    )
  );
}

nativeTest(
  'four workers train their own networks at once through the addon; each equals the single-thread reference bit for bit',
  async () => {
    // Reference runs here, one thread, one after the other.
    const seeds = [11, 12, 13, 14];
    const reference: Float32Array[][] = [];
    for (const s of seeds) reference.push(await trainOnce({ seed: s, threads: 1, backend: 'native' }));
    // The MLP's kernels (GEMM, elementwise) are bitwise identical across thread counts, so
    // workers alternate 1 and 2 kernel threads and must still match exactly.
    const workers = seeds.map((s, i) => startWorker({ mode: 'train', seed: s, threads: 1 + (i % 2) }));
    const results = await Promise.all(workers.map(result));
    await Promise.all(workers.map((w) => w.terminate()));
    results.forEach((r, i) => {
      expect(r.backend).toBe('native');
      expect(same(r.weights, reference[i])).toBe(true);
    });
    // Different seeds really gave different networks (the comparison above could not pass by accident).
    expect(same(results[0].weights, results[1].weights)).toBe(false);
  },
);

nativeTest('a CNN (conv, pool, Adam) trained in two workers at once matches the reference run', async () => {
  const reference = await trainOnce({ seed: 21, threads: 1, backend: 'native', model: 'cnn' });
  const workers = [
    startWorker({ mode: 'train', seed: 21, threads: 1, model: 'cnn' }),
    startWorker({ mode: 'train', seed: 21, threads: 1, model: 'cnn' }),
  ];
  const results = await Promise.all(workers.map(result));
  await Promise.all(workers.map((w) => w.terminate()));
  for (const r of results) expect(same(r.weights, reference)).toBe(true);
});

/** Runs a scenario of workers-child.ts in a fresh process; returns its output and how long it took to exit after printing "done". */
function scenario(
  name: string,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; exitLagMs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...tsFile(childFile), name], { cwd: root, env: process.env });
    let stdout = '';
    let stderr = '';
    let doneAt = 0;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!doneAt && stdout.includes('done ')) doneAt = Date.now();
    });
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, exitLagMs: doneAt ? Date.now() - doneAt : Infinity });
    });
  });
}

// "Promptly": the pool's idle workers sleep on a condition variable and are joined when the
// addon's environment is torn down; a hang would show as the 60 s kill.
const PROMPT_MS = 5000;

nativeTest('a process that used the thread pool exits by itself, promptly', async () => {
  const r = await scenario('pool-then-exit');
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(r.exitLagMs).toBeLessThan(PROMPT_MS);
});

nativeTest('process.exit inside a worker mid-training ends that worker only, and the process still exits promptly', async () => {
  const r = await scenario('worker-exits');
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(r.stdout).toMatch(/worker exit code 3/);
  expect(r.exitLagMs).toBeLessThan(PROMPT_MS);
});

nativeTest('process.exit while two workers are mid-training exits at once, without a crash', async () => {
  const r = await scenario('exit-during-training');
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(r.exitLagMs).toBeLessThan(PROMPT_MS);
});

nativeTest('worker.terminate() during training stops it cleanly', async () => {
  const r = await scenario('terminate-during-training');
  expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(r.stdout).toMatch(/terminated 1/);
  expect(r.exitLagMs).toBeLessThan(PROMPT_MS);
});
