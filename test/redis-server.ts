// A redis-server of the test's own for the BullMQ queue's tests (test/sweep-queue.test.ts and
// test/sweep-queue-bullmq5.test.ts): started on a free port, checked with the queue's own
// connection check, stopped with the test. Without redis-server those tests are skipped, unless
// NEURONE_REQUIRE_REDIS=1 (as .ci/run sets) makes its absence a failure.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { checkRedis } from '../lib/sweep/queue';

const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
const required = process.env.NEURONE_REQUIRE_REDIS === '1';
if (!redisBin && !required) {
  process.stderr.write(
    'NOT APPLICABLE: redis-server is not installed; the BullMQ sweep tests are skipped (apt-get install redis-server)\n',
  );
}
export const describeRedis = redisBin || required ? describe : describe.skip;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts redis-server on `port`, its append-only file in `dir` (so a restart keeps the queue, as a
 * real deployment would), with `extra` arguments.
 */
export async function startRedis(port: number, dir: string, extra: readonly string[] = []): Promise<ChildProcess> {
  if (!redisBin) throw new Error('NEURONE_REQUIRE_REDIS=1 but redis-server is not on PATH');
  const proc = spawn(
    redisBin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, ...extra],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      await checkRedis(url);
      return proc;
    } catch {
      await sleep(100);
    }
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
}

/** A describe block's own redis-server (see {@link useRedisServer}). */
export interface RedisFixture {
  /** The server's folder (its append-only file), also the block's scratch folder; removed after the block. */
  readonly dir: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the server, as a test of a lost Redis does; after the block it is stopped anyway. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again, on the same port and folder: the queue it had comes back with it. */
  start(): Promise<void>;
}

/**
 * A redis-server for the tests of the describe block this is called in: started on a free port in a
 * new temporary folder named from `prefix` before them, stopped and the folder removed after them.
 * `beforeStop` runs first in that cleanup (closing the block's workers while Redis still answers: a
 * close waits for the commands its connections hold).
 */
export function useRedisServer(prefix: string, beforeStop?: () => Promise<unknown>): RedisFixture {
  let proc: ChildProcess | undefined;
  const fixture = {
    dir: '',
    port: 0,
    url: '',
    start: async (): Promise<void> => {
      proc = await startRedis(fixture.port, fixture.dir);
    },
    stop: (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => stopProcess(proc, signal),
  };
  beforeAll(async () => {
    fixture.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fixture.port = await freePort();
    fixture.url = `redis://127.0.0.1:${fixture.port}`;
    await fixture.start();
  });
  afterAll(async () => {
    try {
      await beforeStop?.();
    } finally {
      await fixture.stop();
      if (fixture.dir) fs.rmSync(fixture.dir, { recursive: true, force: true });
    }
  });
  return fixture;
}

export function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    p.kill(signal);
  });
}

export async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
