// A redis-server of the test's own for the BullMQ queue's tests (test/sweep-queue.test.ts and
// test/sweep-queue-bullmq5.test.ts): started on a free port, checked with the queue's own
// connection check, stopped with the test. Without redis-server those tests are skipped, unless
// NEURONE_REQUIRE_REDIS=1 (as .ci/run sets) makes its absence a failure.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as net from 'net';
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
