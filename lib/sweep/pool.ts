/**
 * The worker-thread pool that runs trainings side by side (piscina): one thread per core by
 * default, each training single-threaded. The same pool serves a local sweep and `neurone worker`.
 */
import * as os from 'os';
import * as path from 'path';
import Piscina from 'piscina';
import { BackendName, getBackend } from '../backend';
import { LoadTask, PoolTask, RunOutcome } from './pool-worker';
import { RunConfig, SweepDataset } from './spec';
import { RunFiles, SharedData } from './training';
import { firstLine } from '../messages';

/** Cores of this machine, the pool's default size. */
export function defaultConcurrency(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** A line for a pool of more trainings at once than this machine has cores, or undefined. */
export function oversubscribed(size: number, what: string): string | undefined {
  const cores = defaultConcurrency();
  return size > cores
    ? `${what}: ${size} trainings at once on ${cores} cores: they share the cores, each one slower (one a core is the default)`
    : undefined;
}

/** A pool of `size` worker threads running trainings. */
export class TrainingPool {
  private readonly pool: Piscina;
  /** [0]: training samples processed by every worker since the pool started (BigInt64). */
  readonly counters = new SharedArrayBuffer(8);

  /** The backend the runs use unless a run names its own. */
  private readonly backend: BackendName;

  constructor(
    readonly size: number,
    backend?: BackendName,
  ) {
    // Chosen here, once, and handed to every thread: each choosing for itself printed the
    // "native addon unavailable" warning once per thread, where the library promises one line.
    this.backend = backend ?? getBackend();
    // From a TypeScript checkout (tests, scripts) the worker file is .ts and the threads need a
    // TypeScript loader; from the built package it is the compiled .js beside this one.
    const ext = path.extname(__filename);
    this.pool = new Piscina({
      filename: path.join(__dirname, `pool-worker${ext}`),
      name: 'runTask',
      minThreads: size,
      maxThreads: size,
      // One training at a time per thread: a second would only share the core.
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      execArgv: ext === '.ts' ? ['--require', typeScriptLoader()] : [],
    });
  }

  /** Training samples processed so far by all workers. */
  samples(): number {
    return Number(Atomics.load(new BigInt64Array(this.counters), 0));
  }

  /**
   * Runs one training (`progress`, when given: a BigInt64 counter of this run's training samples;
   * `backend`, when given: the run's own, over the pool's); a worker thread that dies (rather than
   * the training throwing) also gives a failed outcome.
   */
  async run(
    runId: string,
    config: RunConfig,
    data: SharedData,
    files: RunFiles,
    progress?: SharedArrayBuffer,
    backend?: BackendName,
  ): Promise<RunOutcome> {
    const task: PoolTask = { runId, config, data, files, counters: this.counters, progress, backend: backend ?? this.backend };
    try {
      return (await this.pool.run(task)) as RunOutcome;
    } catch (e) {
      return { status: 'failed', error: `worker thread died: ${firstLine(e)}` };
    }
  }

  /**
   * Loads a dataset into shared memory on one of the pool's threads (as `loadSharedData`, whose
   * errors it throws), leaving this thread free while it reads and decodes the files.
   */
  async load(dataset: SweepDataset, dataSeed: number, dir?: string): Promise<SharedData> {
    const task: LoadTask = { dataset, dataSeed, dir };
    return (await this.pool.run(task, { name: 'loadTask' })) as SharedData;
  }

  /** Stops the threads (a training still running is abandoned). */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * The require hook a worker thread needs to load this file's TypeScript twin: tsx's, which caches
 * its transpiled files and starts a thread in a fraction of ts-node's time, where the checkout has
 * it (both are development dependencies; the built package never gets here).
 */
function typeScriptLoader(): string {
  try {
    return require.resolve('tsx/cjs');
  } catch {
    return 'ts-node/register/transpile-only';
  }
}
