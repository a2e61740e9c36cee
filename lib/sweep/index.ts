/**
 * Sweeps: many trainings side by side on a worker-thread pool, or across machines on BullMQ over
 * Redis. Re-exported by the root entry point.
 */
import type { QueueWorker, QueueWorkerOptions } from './queue';
import { loadQueue } from './queue-load';

export { sweep } from './sweep';
export type { SweepOptions, SweepResult, SweepStatus } from './sweep';
export { SpecError, validateSpec, expandSpec, SWEEP_DATASETS } from './spec';
export type { SweepSpec, SweepRun, RunConfig, SweepDataset } from './spec';
export type { RunRecord, SummaryRow } from './summary';
export type { RunMetrics } from './training';
export type { QueueWorker, QueueWorkerOptions } from './queue';

/**
 * Starts a queue worker in this process: takes the runs that `sweep({ queue })` (or
 * `neurone sweep --queue`) enqueues on BullMQ at `options.url` and trains them on a worker-thread
 * pool, until `close()`. Throws within seconds when Redis cannot be reached; a connection lost
 * later is reported and the worker carries on when Redis answers again. BullMQ and its Redis
 * client are loaded on the first call only; they are optional peer dependencies of neurone, to
 * install beside it (`npm install bullmq ioredis`), and without them this throws saying so.
 *
 * @example
 * const worker = await startQueueWorker({ url: 'redis://127.0.0.1:6379', concurrency: 4 });
 * process.once('SIGINT', () => worker.close());
 * @param options The Redis URL and queue, the trainings at once, where models, checkpoints and data are, the backend.
 * @returns The worker, running until its `close()`.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const queue = await loadQueue('startQueueWorker');
  return queue.startQueueWorker(options);
}
