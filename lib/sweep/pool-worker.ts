/**
 * The code each of the pool's worker threads runs (piscina loads this file by name): one training
 * per task, single-threaded kernels, the data shared with the thread that posted it. A training
 * that throws becomes a `failed` result: the sweep records it and goes on.
 */
import { setBackend, setThreads, BackendName } from '../backend';
import { RunConfig } from './spec';
import { RunFiles, RunMetrics, SharedData, loadSharedData, runTraining } from './training';
import { SweepDataset } from './spec';
import { firstLine } from '../messages';

/** What the pool posts to a worker thread for one run. */
export interface PoolTask {
  runId: string;
  config: RunConfig;
  data: SharedData;
  files: RunFiles;
  /** Shared counters: [0] training samples processed by all workers (for the throughput display). */
  counters: SharedArrayBuffer;
  /** This run's own counter of training samples (BigInt64), when the caller follows it. */
  progress?: SharedArrayBuffer;
  backend?: BackendName;
}

/** A run's outcome: its metrics, or the error it threw. */
export type RunOutcome = { status: 'done'; metrics: RunMetrics } | { status: 'failed'; error: string };

let configuredBackend: BackendName | undefined;

/** Runs one task; never throws for a failed training (only for a task that is not one). */
export async function runTask(task: PoolTask): Promise<RunOutcome> {
  try {
    if (task.backend && task.backend !== configuredBackend) {
      setBackend(task.backend);
      configuredBackend = task.backend;
    }
    // The pool runs one training per core: splitting a small GEMM further only adds synchronisation.
    setThreads(1);
    const samples = new BigInt64Array(task.counters);
    const own = task.progress ? new BigInt64Array(task.progress) : undefined;
    const metrics = await runTraining(task.config, task.data, task.files, (n) => {
      Atomics.add(samples, 0, BigInt(n));
      if (own) Atomics.add(own, 0, BigInt(n));
    });
    return { status: 'done', metrics };
  } catch (e) {
    return { status: 'failed', error: firstLine(e) };
  }
}

/** What the pool posts to a worker thread to load a dataset. */
export interface LoadTask {
  dataset: SweepDataset;
  dataSeed: number;
  dir?: string;
}

/**
 * Loads a dataset into shared memory on a worker thread: the arrays come back shared, not copied,
 * and the thread that asked keeps answering meanwhile (a queue worker renews its jobs' locks).
 */
export function loadTask(task: LoadTask): SharedData {
  return loadSharedData(task.dataset, task.dataSeed, task.dir);
}
