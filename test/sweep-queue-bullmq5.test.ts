// The queue on BullMQ 5. package.json's peer range takes bullmq ^5.76.11 as well as ^6, the
// version this repository installs and test/sweep-queue.test.ts runs on; the two majors keep their
// Redis connections in different places (connectionsOf in lib/sweep/queue.ts), and BullMQ before
// 5.76.11 re-took a job that a closing worker had put back, in a loop, so its close never returned.
// This file's module registry hands neurone the devDependency bullmq-5 (npm:bullmq@5.76.11, the
// range's floor, with its own ioredis 5) wherever it asks for 'bullmq'. Workers run in this process: a `neurone worker` child would load
// BullMQ 6.
jest.mock('bullmq', () => jest.requireActual('bullmq-5'));

import * as fs from 'fs';
import * as path from 'path';
import { Queue } from 'bullmq';
import { SweepSpec } from '../lib/sweep/spec';
import { sweep } from '../lib/sweep/sweep';
import * as queueModule from '../lib/sweep/queue';
import { QueueWorker, startQueueWorker } from '../lib/sweep/queue';
import { loadQueue } from '../lib/sweep/queue-load';
import { describeRedis, until, useRedisServer } from './redis-server';

/** Two runs of about a second each (XOR, batch 8). */
const SPEC: SweepSpec = {
  name: 'bullmq5',
  base: { dataset: 'xor', model: 'small-mlp', optimizer: 'adam', lr: 0.01, epochs: 100, batchSize: 8, schedule: 'none', patience: 0 },
  axes: { lr: [0.01, 0.003] },
  seeds: 1,
};

describeRedis('the queue on BullMQ 5', () => {
  const workers: QueueWorker[] = [];
  // Run alone, jest may say this file did not exit within a second: ioredis 5's reply parser
  // shrinks its buffers on a 50 ms interval for about a second after a large reply (seen after the
  // last connection closed; not neurone's, and it ends by itself).
  const redis = useRedisServer('neurone-bullmq5-', () => Promise.all(workers.map((w) => w.close())));
  const startWorker = async (queueName: string, log: (line: string) => void = () => undefined): Promise<QueueWorker> => {
    const w = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, log });
    workers.push(w);
    return w;
  };

  test('what neurone loads as bullmq here is BullMQ 5.76.11, also through the queue loader, and the one installed beside it is 6', async () => {
    expect(Queue).toBe(jest.requireActual('bullmq-5').Queue);
    expect(Queue).not.toBe(jest.requireActual('bullmq').Queue);
    expect(jest.requireActual('bullmq-5/package.json').version).toBe('5.76.11');
    expect(jest.requireActual('bullmq/package.json').version).toMatch(/^6\./);
    // sweep() and startQueueWorker load the queue with import(): the same module as this file's,
    // whose bullmq is the one above (were import() native, the registry's mock would not apply).
    expect(await loadQueue('this test')).toBe(queueModule);
  });

  test('a sweep on two workers gives the summary of the local sweep, and closing them returns', async () => {
    const local = await sweep(SPEC, { out: path.join(redis.dir, 'local'), workers: 2 });
    expect(local.status.failed).toBe(0);
    const queueName = 'two-workers';
    const [a, b] = [await startWorker(queueName), await startWorker(queueName)];
    const out = path.join(redis.dir, 'queued');
    const result = await sweep(SPEC, { out, queue: redis.url, queueName });
    expect(result.runs.map((r) => r.status)).toEqual(['done', 'done']);
    const summary = (dir: string): string => fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8');
    expect(summary(out)).toBe(summary(path.join(redis.dir, 'local')));
    // Each close finds the worker's connections (BullMQ 5's places) and ends within its bound.
    const started = Date.now();
    await Promise.all([a.close(), b.close()]);
    expect(Date.now() - started).toBeLessThan(10000);
  }, 120000);

  test('a worker closed mid-run puts its job back, no attempt used, and another worker runs it', async () => {
    const queueName = 'closed-mid-run';
    const spec: SweepSpec = { ...SPEC, name: 'closed5', base: { ...SPEC.base, epochs: 3000 }, axes: {}, seeds: [3] };
    const firstLines: string[] = [];
    const first = await startWorker(queueName, (l) => firstLines.push(l));
    const pending = sweep(spec, { out: path.join(redis.dir, 'closed-mid-run'), queue: redis.url, queueName });
    pending.catch(() => undefined);
    await until('the first worker to start the run', () => firstLines.some((l) => l.startsWith('started ')), 30000);
    // With BullMQ up to 5.76.10 this close never returned (the worker took the job it had just
    // put back, again and again), and the test hung.
    await first.close();
    const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const [job] = await queue.getJobs(['waiting']);
      expect([job?.id?.endsWith('.seed=3'), job?.attemptsMade]).toEqual([true, 0]);
    } finally {
      await queue.close();
    }
    const secondLines: string[] = [];
    await startWorker(queueName, (l) => secondLines.push(l));
    const result = await pending;
    expect(result.runs.map((r) => r.status)).toEqual(['done']);
    expect(secondLines.some((l) => l.startsWith('finished seed=3: test accuracy '))).toBe(true);
  }, 120000);
});
