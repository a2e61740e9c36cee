// Sweeps across processes on BullMQ over a real Redis (Debian's redis-server, started here on a
// free localhost port): two `neurone worker` processes, one killed (SIGKILL) in the middle of a
// job; every run completes exactly once and the summary equals the same sweep run locally. Also:
// an unreachable Redis is an error within seconds, a malformed job is refused by the worker, a
// worker reconnects when Redis comes back, and a sweep whose jobs no worker takes (none started,
// or all killed) says so once, with the command that starts one, and goes on waiting.
//
// The unreachable-Redis tests always run. The others need `redis-server` on PATH; without it they
// are NOT APPLICABLE and skipped with a warning, unless NEURONE_REQUIRE_REDIS=1 (as .ci/run should
// set it), where its absence fails.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import IORedis from 'ioredis';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { SweepSpec } from '../lib/sweep/spec';
import { RunMetrics } from '../lib/sweep/training';
import { SweepResult, SweepStatus, sweep } from '../lib/sweep/sweep';
import { loadWithSampleShape } from '../lib/serialize';
import { caretAlternatives, versionAgainstRange } from '../lib/sweep/queue-load';
import { JobResult, QueueWorker, checkRedis, idleMessage, queueTiming, redisOptions, startQueueWorker } from '../lib/sweep/queue';
import { workerCommand } from '../lib/cli/worker';
import { sweepCommand } from '../lib/cli/sweep';
import { nativeAvailable } from '../lib/backend';
import { loadNative } from '../lib/backend/native';
import { runInProcess } from './in-process';
import { tsNodeFile } from './ts-child';
import { describeRedis, freePort, sleep, startRedis, stopProcess, until, useRedisServer } from './redis-server';

/** Runs `neurone worker` in this process once per argument list; each must exit 2. Returns what each printed on stderr. */
async function refusedWith2(runs: readonly string[][]): Promise<string[]> {
  const errors: string[] = [];
  for (const args of runs) {
    const r = await runInProcess((argv) => workerCommand(argv), args);
    expect(r.code).toBe(2);
    errors.push(r.stderr);
  }
  return errors;
}

const root = path.join(__dirname, '..');
interface WorkerProc {
  proc: ChildProcess;
  output: string[];
  id?: string;
}

/**
 * Starts `neurone worker` in a child process (through ts-node: the worker loads the queue with
 * import(), see test/ts-child.ts); its stdout lines are collected.
 */
function startWorkerProcess(url: string, queueName: string): WorkerProc {
  const proc = spawn(
    process.execPath,
    [
      ...tsNodeFile(path.join(root, 'lib', 'cli', 'main.ts')),
      'worker',
      '--queue',
      url,
      '--queue-name',
      queueName,
      '--concurrency',
      '1',
      '--lock-ms',
      '1000',
    ],
    { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const w: WorkerProc = { proc, output: [] };
  let buffer = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const l of lines) {
      w.output.push(l);
      const m = /^neurone worker (\S+):/.exec(l);
      if (m) w.id = m[1];
    }
  });
  proc.stderr?.on('data', (d: Buffer) => w.output.push(`stderr: ${d.toString().trim()}`));
  return w;
}

/**
 * Lets a sweep that a failed check left waiting end (a worker on its queue takes its jobs), so
 * that nothing outlives the test; then closes the worker.
 */
async function drain(
  url: string,
  queueName: string,
  pending: Promise<unknown> | undefined,
  worker: QueueWorker | undefined,
): Promise<void> {
  const w = worker ?? (pending ? await startQueueWorker({ url, queueName, concurrency: 1, log: () => undefined }) : undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([pending?.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 60000)))]);
  clearTimeout(timer);
  await w?.close();
}

/**
 * A sweep of two runs on queue `queueName`, which no worker serves, once it has said so (its jobs
 * are queued and waited for); `stop` aborts it.
 */
async function waitingSweep(
  url: string,
  out: string,
  queueName: string,
): Promise<{ pending: Promise<SweepResult>; stop: AbortController }> {
  const stop = new AbortController();
  const lines: string[] = [];
  const spec: SweepSpec = { ...SPEC, name: queueName, axes: {}, seeds: 2 };
  const pending = sweep(spec, { out, queue: url, queueName, idleWarningMs: 200, signal: stop.signal, log: (l) => lines.push(l) });
  // A rejection before the test awaits it (the line never comes) is the test's failure, not an unhandled one.
  pending.catch(() => undefined);
  await until('the line that no worker takes the jobs', () => lines.some((l) => /^sweep: no worker/.test(l)), 30000);
  return { pending, stop };
}

/** Four runs of about two seconds each (XOR, 150 epochs of batch 8). */
const SPEC: SweepSpec = {
  name: 'queue',
  base: { dataset: 'xor', model: 'small-mlp', optimizer: 'adam', lr: 0.01, epochs: 150, batchSize: 8, schedule: 'none', patience: 0 },
  axes: { lr: [0.01, 0.003] },
  seeds: 2,
};

// These need no redis-server: nothing listens on the port.
describe('an unreachable Redis', () => {
  test('an unreachable Redis is an error within seconds, and nothing is written', async () => {
    const closed = await freePort();
    const out = path.join(os.tmpdir(), `neurone-unreachable-${process.pid}`);
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    const t0 = Date.now();
    await expect(sweep(SPEC, { out, queue: `redis://127.0.0.1:${closed}` })).rejects.toThrow(
      new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`),
    );
    await expect(startQueueWorker({ url: `redis://127.0.0.1:${closed}`, concurrency: 1 })).rejects.toThrow(
      /cannot reach Redis at .*ECONNREFUSED/,
    );
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(fs.existsSync(out)).toBe(false);
    // Nothing is left waiting that would keep the caller's process alive after the error (a closed
    // connection's disconnect timer once held it 2 s).
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  test('a server that accepts connections and never answers is an error within seconds, not a hang', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    try {
      await expect(checkRedis(`redis://127.0.0.1:${port}`)).rejects.toThrow(
        new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: `),
      );
      expect(Date.now() - t0).toBeLessThan(10000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('neurone worker: exit 2 and one line, within seconds', async () => {
    const closed = await freePort();
    const errors = await refusedWith2([
      ['--queue', `redis://127.0.0.1:${closed}`],
      ['--concurrency', '2'],
      ['--queue', 'redis://127.0.0.1:6379', '--lock-ms', '10'],
    ]);
    expect(errors).toEqual([
      expect.stringMatching(new RegExp(`^neurone: cannot reach Redis at redis://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED.*\n$`)),
      'neurone: --queue URL is required (redis://host:port)\n',
      "neurone: bad value for --lock-ms: '10' (expected an integer in [200, 3600000])\n",
    ]);
  });
});

// bullmq and ioredis are optional peer dependencies: a child process where Node cannot find one
// (test/hide-packages.js) gets, from the API and from both commands, one line naming what to install.
describe('without the optional packages bullmq and ioredis, or at versions outside their ranges', () => {
  const child = `
    const { sweep, startQueueWorker } = require('./lib');
    const { workerCommand } = require('./lib/cli/worker');
    const { sweepCommand } = require('./lib/cli/sweep');
    const [url, out, specFile] = process.argv.slice(1);
    const spec = JSON.parse(require('fs').readFileSync(specFile, 'utf8'));
    const message = (p) => p.then(() => 'resolved', (e) => e.name + ': ' + e.message);
    (async () => {
      const api = [await message(sweep(spec, { out, queue: url })), await message(startQueueWorker({ url }))];
      const codes = [await workerCommand(['--queue', url]), await sweepCommand([specFile, '--out', out, '--queue', url])];
      process.stdout.write(JSON.stringify({ api, codes }));
    })();`;
  const peers = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> })
    .peerDependencies;
  const where = 'where neurone is installed (in its project; -g beside a global neurone)';

  /**
   * Runs the API and both commands in a child whose package lookups test/hide-packages.js bends as
   * `env` says, against a Redis URL where nothing listens; what each said, and whether `out` exists.
   */
  async function runChild(env: Record<string, string>): Promise<{ api: string[]; codes: number[]; stderr: string; wrote: boolean }> {
    const closed = await freePort();
    const url = `redis://127.0.0.1:${closed}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-no-queue-'));
    try {
      const specFile = path.join(dir, 'spec.json');
      fs.writeFileSync(specFile, JSON.stringify(SPEC));
      const out = path.join(dir, 'out');
      const r = spawnSync(
        process.execPath,
        [
          '--require',
          path.join(__dirname, 'hide-packages.js'),
          '--require',
          require.resolve('ts-node/register/transpile-only'),
          '-e',
          child,
          url,
          out,
          specFile,
        ],
        { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 },
      );
      expect(r.status).toBe(0);
      return { ...JSON.parse(r.stdout), stderr: r.stderr, wrote: fs.existsSync(out) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The API and both commands fail with `why` (exit 2), nothing written. */
  async function expectRefused(env: Record<string, string>, why: string): Promise<void> {
    const got = await runChild(env);
    expect(got.api).toEqual([`SpecError: sweep: queue needs ${why}`, `SpecError: startQueueWorker needs ${why}`]);
    expect(got.codes).toEqual([2, 2]);
    expect(got.stderr).toBe(`neurone: neurone worker needs ${why}\nneurone: sweep: queue needs ${why}\n`);
    expect(got.wrote).toBe(false);
  }

  /** A package folder in `dir` that says it is bullmq `version` and loads BullMQ 5. */
  function fakeBullmq(dir: string, version: string): void {
    const folder = path.join(dir, 'node_modules', 'bullmq');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name: 'bullmq', version, main: 'index.js' }));
    fs.writeFileSync(path.join(folder, 'index.js'), `module.exports = require(${JSON.stringify(require.resolve('bullmq-5'))});\n`);
  }

  test.each([
    ['bullmq', 'the package bullmq', 'npm install "bullmq@^5.76.11 || ^6.0.0"'],
    ['ioredis', 'the package ioredis', 'npm install "ioredis@^5.0.0 || ^6.0.0"'],
    ['bullmq,ioredis', 'the packages bullmq and ioredis', 'npm install "bullmq@^5.76.11 || ^6.0.0" "ioredis@^5.0.0 || ^6.0.0"'],
  ])(
    '%s missing: sweep({ queue }), startQueueWorker and both commands say what to install (exit 2), nothing written',
    async (hidden, which, command) => {
      expect(peers).toEqual({ bullmq: '^5.76.11 || ^6.0.0', ioredis: '^5.0.0 || ^6.0.0' });
      const why = `${which}, which a plain install of neurone leaves out (the queue's clients are optional): run ${command} ${where}`;
      await expectRefused({ NEURONE_TEST_HIDDEN_PACKAGES: hidden }, why);
    },
  );

  test('versions are read against the ranges as npm reads caret ranges; every peer range is one this reader follows', () => {
    for (const range of Object.values(peers)) expect(() => caretAlternatives(range)).not.toThrow();
    expect(() => caretAlternatives('>=6')).toThrow("expected caret ranges such as ^6.0.0 joined by ||, got '>=6'");
    const read = (versions: string[]): string[] => versions.map((v) => versionAgainstRange(v, peers.bullmq));
    const within = [
      '5.76.11',
      '5.76.12',
      '5.77.0',
      '5.81.5',
      '6.0.0',
      '6.7.6',
      '6.12.0',
      'v6.1.0',
      '=6.1.0',
      ' 6.1.0 ',
      '6.7.0+local',
      '5.80.0+build.5',
    ];
    const outside = ['5.76.10', '5.66.0', '5.0.0', '4.18.3', '6.0.0-beta.1', '7.0.0-rc.1', '6.1', 'six', '', '0.6.0'];
    expect(read(within)).toEqual(within.map(() => 'within'));
    expect(read(outside)).toEqual(outside.map(() => 'outside'));
    expect(read(['7.0.0', '12.3.4'])).toEqual(['newer', 'newer']);
    expect(['5.0.0', '5.9.2', '6.1.0'].map((v) => versionAgainstRange(v, peers.ioredis))).toEqual(['within', 'within', 'within']);
    expect(versionAgainstRange('4.28.5', peers.ioredis)).toBe('outside');
  });

  test('bullmq at 5.66.0 (a forced install): refused, naming the range, the version found and the fix in its major', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-old-bullmq-'));
    try {
      fakeBullmq(dir, '5.66.0');
      await expectRefused(
        { NEURONE_TEST_PACKAGES_FROM: `bullmq=${dir}` },
        `bullmq ^5.76.11 || ^6.0.0, and finds bullmq 5.66.0: run npm install bullmq@^5.76.11 ${where}`,
      );
      // With ioredis missing too, one line says both.
      await expectRefused(
        { NEURONE_TEST_PACKAGES_FROM: `bullmq=${dir}`, NEURONE_TEST_HIDDEN_PACKAGES: 'ioredis' },
        `bullmq ^5.76.11 || ^6.0.0, and finds bullmq 5.66.0 and no ioredis: run npm install bullmq@^5.76.11 "ioredis@^5.0.0 || ^6.0.0" ${where}`,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bullmq at 5.81.5 goes on to Redis; at 7.0.0 too, with a warning that it is newer than the range', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-other-bullmq-'));
    try {
      const unreachable = expect.stringMatching(/^SpecError: cannot reach Redis at /);
      fakeBullmq(dir, '5.81.5');
      const inRange = await runChild({ NEURONE_TEST_PACKAGES_FROM: `bullmq=${dir}` });
      expect([inRange.api, inRange.codes]).toEqual([
        [unreachable, unreachable],
        [2, 2],
      ]);
      expect(inRange.stderr).not.toMatch(/newer than/);
      fakeBullmq(dir, '7.0.0');
      const newer = await runChild({ NEURONE_TEST_PACKAGES_FROM: `bullmq=${dir}` });
      expect([newer.api, newer.codes]).toEqual([
        [unreachable, unreachable],
        [2, 2],
      ]);
      expect(newer.stderr).toContain(
        "Warning: sweep: queue: bullmq 7.0.0 is newer than the versions neurone's queue was tested with (^5.76.11 || ^6.0.0); going on",
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('usage errors of the queue options', () => {
  test("a queue name with ':' and a database that is not a plain integer are usage errors (exit 2) naming the option", async () => {
    expect(redisOptions('redis://127.0.0.1:6379/3').db).toBe(3);
    expect(redisOptions('redis://127.0.0.1:6379').db).toBe(0);
    for (const db of ['1e1', '0x1', '-1', '1.5', ' 1', '1/2'])
      expect(() => redisOptions(`redis://127.0.0.1:6379/${db}`)).toThrow(/^--queue: database '.*' in '.*' is not a non-negative integer$/);
    // Credentials are used, never shown.
    expect(() => redisOptions('redis://someone:s3cret@127.0.0.1:6379/x')).toThrow(
      "--queue: database 'x' in 'redis://***@127.0.0.1:6379/x' is not a non-negative integer",
    );
    const closed = await freePort();
    const errors = await refusedWith2([
      ['--queue', `redis://127.0.0.1:${closed}`, '--queue-name', 'a:b'],
      ['--queue', `redis://127.0.0.1:${closed}/1e1`],
    ]);
    expect(errors).toEqual([
      'neurone: --queue-name: expected a name without \':\', got "a:b"\n',
      `neurone: --queue: database '1e1' in 'redis://127.0.0.1:${closed}/1e1' is not a non-negative integer\n`,
    ]);
    const out = path.join(os.tmpdir(), `neurone-queue-name-${process.pid}`);
    await expect(sweep(SPEC, { out, queue: `redis://127.0.0.1:${closed}`, queueName: 'a:b' })).rejects.toThrow(/^--queue-name: /);
    expect(fs.existsSync(out)).toBe(false);
    // A worker whose data folder is not there refuses to start, rather than fail every job it takes.
    expect(await refusedWith2([['--queue', `redis://127.0.0.1:${closed}`, '--data-dir', path.join(out, 'nowhere')]])).toEqual([
      `neurone: --data-dir ${path.join(out, 'nowhere')}: not a folder on this machine (every job reading its data would fail)\n`,
    ]);
    // The sweep's flags for local runs are refused with --queue, naming what the workers take instead.
    for (const [flag, instead] of [
      [['--save-models'], 'start the workers with --models DIR'],
      [['--workers', '2'], 'start more `neurone worker`s, or give them --concurrency'],
      [['--data-dir', '/tmp'], 'give the workers --data-dir'],
    ] as const) {
      const r = await runInProcess(
        (argv) => sweepCommand(argv),
        ['spec.json', '--out', out, '--queue', `redis://127.0.0.1:${closed}`, ...flag],
      );
      expect([r.code, r.stderr]).toEqual([2, `neurone: ${flag[0]} applies to local runs; with --queue the workers train: ${instead}\n`]);
    }
    // And the queue's own flag without a queue: it would have run the sweep here, saying nothing.
    const alone = await runInProcess((argv) => sweepCommand(argv), ['spec.json', '--out', out, '--queue-name', 'lr']);
    expect([alone.code, alone.stderr]).toEqual([
      2,
      'neurone: --queue-name applies to a sweep through a queue; give --queue redis://host:port too, or drop it\n',
    ]);
    await expect(sweep(SPEC, { out, queueName: 'lr' })).rejects.toThrow(/^sweep: queueName applies to a sweep through a queue/);
    await expect(sweep(SPEC, { out, idleWarningMs: 1000 })).rejects.toThrow(/^sweep: idleWarningMs applies to a sweep through a queue/);
    await expect(sweep(SPEC, { out, queue: '' })).rejects.toThrow(
      /^sweep: queue must be a Redis URL like redis:\/\/host:6379, got an empty string$/,
    );
    expect(fs.existsSync(out)).toBe(false);
    // A credential with a bad %-escape: named as such, and not shown.
    for (const url of ['redis://user:pa%zzss@127.0.0.1:6379', 'redis://us%4@127.0.0.1:6379']) {
      expect(() => redisOptions(url)).toThrow(
        /^--queue: the (password|user name) in 'redis:\/\/\*\*\*@127\.0\.0\.1:6379' holds a bad %-escape/,
      );
      expect(await refusedWith2([['--queue', url]])).toEqual([
        expect.stringMatching(/^neurone: --queue: the .* holds a bad %-escape.*\n$/),
      ]);
    }
  });
});

describe('the line of a sweep whose jobs no worker takes', () => {
  test('it names the queue, hides the credentials, and gives the command that starts a worker', () => {
    const base = { url: 'redis://someone:s3cret@queue-host:6379/2', queueName: 'lr', idleMs: 30000, left: 3 };
    const start = 'start one with `neurone worker --queue redis://***@queue-host:6379/2 --queue-name lr`; the sweep goes on waiting';
    expect(idleMessage({ ...base, workers: 0, taken: false })).toBe(
      `sweep: no worker has taken a job from queue 'lr' at redis://***@queue-host:6379/2 in 30 s, and none is connected to it: ${start}`,
    );
    expect(idleMessage({ ...base, workers: 0, taken: false, elsewhere: ["queue 'neurone'"] })).toBe(
      `sweep: no worker has taken a job from queue 'lr' at redis://***@queue-host:6379/2 in 30 s, and none is connected to it (this Redis has workers of queue 'neurone'): ${start}`,
    );
    // Where Redis does not list its clients, the sweep cannot say whether a worker is connected.
    expect(idleMessage({ ...base, workers: undefined, taken: false })).toBe(
      `sweep: no worker has taken a job from queue 'lr' at redis://***@queue-host:6379/2 in 30 s: ${start}`,
    );
    expect(idleMessage({ ...base, workers: 0, taken: true, left: 1 })).toBe(
      `sweep: no job of this sweep has been running for 30 s and no worker is connected to queue 'lr' at redis://***@queue-host:6379/2 any more (1 run left): ${start}`,
    );
    expect(idleMessage({ ...base, workers: undefined, taken: true })).toBe(
      `sweep: no job of this sweep has been running on queue 'lr' at redis://***@queue-host:6379/2 for 30 s (3 runs left): if its workers are gone, ${start}`,
    );
    expect(idleMessage({ ...base, workers: 2, taken: true, idleMs: 1500 })).toBe(
      "sweep: 2 workers are connected to queue 'lr' at redis://***@queue-host:6379/2 but none has taken a job of this sweep in 1.5 s (3 runs left; busy with other jobs?); the sweep goes on waiting",
    );
    for (const workers of [0, 1, 2, undefined])
      for (const taken of [false, true]) expect(idleMessage({ ...base, workers, taken })).not.toContain('s3cret');
  });

  test('sweep() refuses an idleWarningMs that is not a positive number, before anything is written', async () => {
    const out = path.join(os.tmpdir(), `neurone-idle-option-${process.pid}`);
    for (const idleWarningMs of [0, -1, NaN, Infinity, '30' as unknown as number])
      await expect(sweep(SPEC, { out, queue: 'redis://127.0.0.1:1', idleWarningMs })).rejects.toThrow(
        /^sweep: idleWarningMs must be a number of milliseconds > 0, got /,
      );
    expect(fs.existsSync(out)).toBe(false);
  });
});

describeRedis('sweeps on BullMQ over redis-server', () => {
  const workers: WorkerProc[] = [];
  const redis = useRedisServer('neurone-queue-', () => Promise.all(workers.map((w) => stopProcess(w.proc, 'SIGKILL'))));

  test("a database past the server's count is refused within seconds, not used as database 0", async () => {
    await expect(checkRedis(`${redis.url}/15`)).resolves.toBeUndefined();
    await expect(checkRedis(`${redis.url}/99`)).rejects.toThrow(`cannot reach Redis at ${redis.url}/99: ERR DB index is out of range`);
    const out = path.join(redis.dir, 'db-99');
    expect(await refusedWith2([['--queue', `${redis.url}/99`]])).toEqual([
      `neurone: cannot reach Redis at ${redis.url}/99: ERR DB index is out of range\n`,
    ]);
    await expect(sweep(SPEC, { out, queue: `${redis.url}/99` })).rejects.toThrow(/ERR DB index is out of range/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('a sweep stopped while its jobs wait: nothing is left that would keep the process alive', async () => {
    // Before, each job's wait held BullMQ's pollMs timer (5 s) past the queue's close:
    // `neurone sweep --queue` stayed 3 to 5 s after Ctrl-C.
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    const { pending, stop } = await waitingSweep(redis.url, path.join(redis.dir, 'stopped'), 'stopped-nobody');
    stop.abort();
    await expect(pending).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
    // A close by ioredis's disconnect() (BullMQ 5's way) keeps a guard timer until the socket has
    // closed, a few ms on localhost: allow 500 ms, far under the 5 s it was.
    for (let i = 0; i < 50 && timers() > timersBefore; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(timers()).toBeLessThanOrEqual(timersBefore);
  });

  test('two worker processes, one killed mid-job: every run completes exactly once, the summary equals the local sweep', async () => {
    const local = await sweep(SPEC, { out: path.join(redis.dir, 'local'), workers: 2 });
    expect(local.status.failed).toBe(0);

    const queueName = 'kill-test';
    const a = startWorkerProcess(redis.url, queueName);
    const b = startWorkerProcess(redis.url, queueName);
    workers.push(a, b);
    await until('both workers to be ready', () => a.id !== undefined && b.id !== undefined, 60000);

    const out = path.join(redis.dir, 'queued');
    const lines: string[] = [];
    const done = sweep(SPEC, { out, queue: redis.url, queueName, log: (l) => lines.push(l) });
    // The first worker that starts a job is killed at once, in the middle of it.
    const started = (w: WorkerProc): string | undefined => w.output.map((l) => /^started (\S+) /.exec(l)?.[1]).find(Boolean);
    await until('a job to start', () => started(a) !== undefined || started(b) !== undefined, 60000);
    const [victim, survivor] = started(a) !== undefined ? [a, b] : [b, a];
    const killedRun = started(victim) as string;
    victim.proc.kill('SIGKILL');
    const result = await done;

    expect(victim.output.filter((l) => l.startsWith('finished'))).toEqual([]);
    expect(result.runs.map((r) => r.status)).toEqual(['done', 'done', 'done', 'done']);
    // Each run finished once, all on the survivor; the killed job among them.
    const finished = survivor.output.filter((l) => l.startsWith('finished')).map((l) => /^finished (\S+):/.exec(l)?.[1]);
    expect([...finished].sort()).toEqual(result.runs.map((r) => r.id).sort());
    expect(result.runs.find((r) => r.id === killedRun)?.worker).toBe(survivor.id);
    expect(survivor.output.some((l) => l.startsWith(`started ${killedRun} `) && /attempt [2-9]/.test(l))).toBe(true);
    expect(lines).toHaveLength(4);
    // Same seeds, same numbers: the summary files are identical, byte for byte.
    expect(fs.readFileSync(path.join(out, 'summary.csv'), 'utf8')).toBe(
      fs.readFileSync(path.join(redis.dir, 'local', 'summary.csv'), 'utf8'),
    );
    expect(fs.readFileSync(path.join(out, 'summary.md'), 'utf8')).toBe(
      fs.readFileSync(path.join(redis.dir, 'local', 'summary.md'), 'utf8'),
    );

    // Started again, the sweep finds its completed jobs instead of enqueueing copies.
    const again = await sweep(SPEC, { out: path.join(redis.dir, 'queued-again'), queue: redis.url, queueName });
    expect(fs.readFileSync(path.join(redis.dir, 'queued-again', 'summary.csv'), 'utf8')).toBe(
      fs.readFileSync(path.join(out, 'summary.csv'), 'utf8'),
    );
    expect(again.runs.every((r) => r.worker === survivor.id)).toBe(true);
    expect(survivor.output.filter((l) => l.startsWith('finished'))).toHaveLength(4);

    // A job that is not a run is refused by the worker, with the field at fault, and not retried.
    const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
    const events = new QueueEvents(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      await events.waitUntilReady();
      const job = await queue.add('run', { version: 1, sweep: '0123456789ab', runId: 'x', config: { dataset: 'xor', epochs: -1 } });
      await expect(job.waitUntilFinished(events)).rejects.toThrow(
        /job payload: "config": "epochs": expected an integer in \[1, 100000\], got .*-1/,
      );
    } finally {
      await events.close();
      await queue.close();
    }

    // Redis stops in the middle of a run and comes back on the same port: the sweep says so
    // (no silent wait), the worker reconnects, and the run is recorded once.
    const sweepLines: string[] = [];
    const pending = sweep(
      { ...SPEC, base: { ...SPEC.base, epochs: 300 }, axes: {}, seeds: [7] },
      { out: path.join(redis.dir, 'after-restart'), queue: redis.url, queueName, log: (l) => sweepLines.push(l) },
    );
    await until('the run to start', () => survivor.output.some((l) => l.startsWith('started seed=7 ')), 60000);
    await redis.stop();
    await until(
      'the sweep to report the lost connection',
      () => sweepLines.some((l) => /^sweep: Redis at redis:\/\/127\.0\.0\.1:\d+: .*retrying until it answers/.test(l)),
      10000,
    );
    await redis.start();
    const after = await pending;
    expect(after.runs.map((r) => [r.status, r.worker])).toEqual([['done', survivor.id]]);
  });

  test('a result that is not a run outcome (another program answering the queue) is a failed run, not a crash', async () => {
    const queueName = 'impostor';
    const connection = { host: '127.0.0.1', port: redis.port };
    const answers: unknown[] = [null, 'garbage', { outcome: { status: 'done', metrics: { samples: 5 } }, worker: 'x' }, { worker: 'y' }];
    let k = 0;
    const impostor = new Worker(queueName, async () => answers[k++ % answers.length], { connection, concurrency: 1 });
    try {
      const spec: SweepSpec = { ...SPEC, name: 'impostor', base: { ...SPEC.base, epochs: 1 } };
      const lines: string[] = [];
      const result = await sweep(spec, { out: path.join(redis.dir, 'impostor'), queue: redis.url, queueName, log: (l) => lines.push(l) });
      expect(result.status).toMatchObject({ total: 4, done: 0, failed: 4 });
      expect(result.runs.map((r) => r.error)).toEqual(
        result.runs.map(() => expect.stringMatching(/: the worker's result is not a run's outcome \(.+\)$/)),
      );
      expect(fs.existsSync(path.join(redis.dir, 'impostor', 'summary.csv'))).toBe(true);
    } finally {
      await impostor.close();
    }
  }, 60000);
});

describeRedis('a queue worker in this process', () => {
  const redis = useRedisServer('neurone-queue-lost-');
  const pollMs = queueTiming.pollMs;

  beforeAll(() => {
    queueTiming.pollMs = 500;
  });
  afterAll(() => {
    queueTiming.pollMs = pollMs;
  });

  test('Redis flushed in the middle of a sweep: the lost jobs are added again and the sweep completes', async () => {
    const queueName = 'flushed';
    const workerLines: string[] = [];
    const worker = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, lockMs: 1000, log: (l) => workerLines.push(l) });
    const client = new IORedis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 });
    try {
      const spec: SweepSpec = { ...SPEC, name: 'flushed', base: { ...SPEC.base, epochs: 300 }, axes: {}, seeds: 2 };
      const lines: string[] = [];
      const t0 = Date.now();
      const pending = sweep(spec, { out: path.join(redis.dir, 'flushed'), queue: redis.url, queueName, log: (l) => lines.push(l) });
      await until('a job to start', () => workerLines.some((l) => l.startsWith('started ')), 30000);
      await client.flushall();
      let hang: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          hang = setTimeout(
            () => reject(new Error(`the sweep did not end after Redis was flushed; worker: ${workerLines.join(' | ')}`)),
            45000,
          );
        }),
      ]).finally(() => clearTimeout(hang));
      expect(Date.now() - t0).toBeLessThan(45000);
      expect(result.runs.map((r) => r.status)).toEqual(['done', 'done']);
      expect(lines.some((l) => /^sweep: job \S+ is no longer in Redis .*; adding it again$/.test(l))).toBe(true);
      // A job gone from Redis is not a connection problem.
      expect(workerLines.filter((l) => /retrying until it answers/.test(l))).toEqual([]);
    } finally {
      client.disconnect();
      await worker.close();
    }
  }, 90000);

  const idleLines = (lines: readonly string[]): string[] => lines.filter((l) => /^sweep: no (worker|job)\b/.test(l));

  test('no worker on its queue: the sweep says so once after idleWarningMs, naming the queues that have workers, and waits for one', async () => {
    // Workers of another queue, and of the same queue name in another database, are not this queue's.
    const decoys = [
      await startQueueWorker({ url: redis.url, queueName: 'elsewhere', concurrency: 1, log: () => undefined }),
      await startQueueWorker({ url: `${redis.url}/1`, queueName: 'nobody', concurrency: 1, log: () => undefined }),
    ];
    let worker: QueueWorker | undefined;
    let pending: Promise<SweepResult> | undefined;
    try {
      const spec: SweepSpec = { ...SPEC, name: 'nobody', base: { ...SPEC.base, epochs: 2 }, axes: {}, seeds: 2 };
      const lines: string[] = [];
      let settled = false;
      const t0 = Date.now();
      pending = sweep(spec, {
        out: path.join(redis.dir, 'nobody'),
        queue: redis.url,
        queueName: 'nobody',
        idleWarningMs: 1000,
        log: (l) => lines.push(l),
      });
      const ended = (): void => {
        settled = true;
      };
      pending.then(ended, ended);
      await until('the sweep to say that no worker takes its jobs', () => idleLines(lines).length > 0, 20000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      // Four times the delay later: still one line, and still waiting.
      await sleep(4000);
      expect(lines).toEqual([
        `sweep: no worker has taken a job from queue 'nobody' at ${redis.url} in 1 s, and none is connected to it ` +
          `(this Redis has workers of queue 'elsewhere', queue 'nobody' in database 1): ` +
          `start one with \`neurone worker --queue ${redis.url} --queue-name nobody\`; the sweep goes on waiting`,
      ]);
      expect(settled).toBe(false);
      worker = await startQueueWorker({ url: redis.url, queueName: 'nobody', concurrency: 1, log: () => undefined });
      const result = await pending;
      expect(result.runs.map((r) => r.status)).toEqual(['done', 'done']);
      expect(idleLines(lines)).toHaveLength(1);
    } finally {
      await drain(redis.url, 'nobody', pending, worker);
      for (const d of decoys) await d.close();
    }
  }, 60000);

  test('a worker comes after the line, then is killed mid-job while runs remain: the sweep says so again, once; a new worker finishes it', async () => {
    const queueName = 'gone';
    let first: WorkerProc | undefined;
    let second: QueueWorker | undefined;
    let pending: Promise<SweepResult> | undefined;
    try {
      // Long enough (a few seconds each) to be killed in the middle.
      const spec: SweepSpec = { ...SPEC, name: 'gone', base: { ...SPEC.base, epochs: 3000 }, axes: {}, seeds: 2 };
      const lines: string[] = [];
      let status: SweepStatus | undefined;
      pending = sweep(spec, {
        out: path.join(redis.dir, 'gone'),
        queue: redis.url,
        queueName,
        idleWarningMs: 1000,
        log: (l) => lines.push(l),
        onStatus: (s) => {
          status = s;
        },
      });
      await until('the sweep to say that no worker takes its jobs', () => idleLines(lines).length > 0, 20000);
      const w = startWorkerProcess(redis.url, queueName);
      first = w;
      await until('a job to start', () => w.output.some((l) => l.startsWith('started ')), 60000);
      // Running, and reported as running: no line about idleness.
      await until('the status to count the job as running', () => status?.running === 1, 10000);
      expect(idleLines(lines)).toHaveLength(1);
      // Killed: its job stays active in Redis, with no worker left to run the stalled-job check
      // that would put it back; only the list of Redis's clients tells that nobody holds it.
      await stopProcess(w.proc, 'SIGKILL');
      await until('the sweep to say that its workers are gone', () => idleLines(lines).length > 1, 20000);
      await sleep(3000);
      const start = `start one with \`neurone worker --queue ${redis.url} --queue-name gone\`; the sweep goes on waiting`;
      expect(idleLines(lines)).toEqual([
        `sweep: no worker has taken a job from queue 'gone' at ${redis.url} in 1 s, and none is connected to it: ${start}`,
        `sweep: no job of this sweep has been running for 1 s and no worker is connected to queue 'gone' at ${redis.url} any more (2 runs left): ${start}`,
      ]);
      expect(status?.running).toBe(0);
      second = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, lockMs: 1000, log: () => undefined });
      const result = await pending;
      expect(result.runs.map((r) => r.status)).toEqual(['done', 'done']);
      expect(idleLines(lines)).toHaveLength(2);
    } finally {
      await stopProcess(first?.proc, 'SIGKILL');
      await drain(redis.url, queueName, pending, second);
    }
  }, 120000);

  test('neurone sweep, its output not a terminal: the line is printed, on stdout, and the sweep ends when a worker comes', async () => {
    const queueName = 'cli-nobody';
    const file = path.join(redis.dir, 'cli-nobody.json');
    fs.writeFileSync(file, JSON.stringify({ ...SPEC, name: 'cli-nobody', base: { ...SPEC.base, epochs: 2 }, axes: {}, seeds: [5] }));
    const idleMs = queueTiming.idleWarningMs;
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
    queueTiming.idleWarningMs = 1000;
    let worker: QueueWorker | undefined;
    let code: Promise<number> | undefined;
    try {
      let stdout = '';
      code = sweepCommand([file, '--out', path.join(redis.dir, 'cli-nobody'), '--queue', redis.url, '--queue-name', queueName], (t) => {
        stdout += t;
      });
      await until('the command to say that no worker takes its jobs', () => stdout.includes('sweep: no worker'), 20000);
      worker = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, log: () => undefined });
      expect(await code).toBe(0);
      expect(stdout.split('\n')[0]).toBe(
        `sweep: no worker has taken a job from queue 'cli-nobody' at ${redis.url} in 1 s, and none is connected to it: ` +
          `start one with \`neurone worker --queue ${redis.url} --queue-name cli-nobody\`; the sweep goes on waiting`,
      );
      expect(stdout).not.toContain('\r');
      expect(stdout).toMatch(/^sweep: 1\/1 done, 0 running, 0 failed/m);
    } finally {
      queueTiming.idleWarningMs = idleMs;
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
      await drain(redis.url, queueName, code, worker);
    }
  }, 60000);

  /** Adds jobs made as a sweep makes them (the id names the sweep and the run, unless `jobId` is given) and waits for each to finish. */
  async function runJobs(queueName: string, payloads: Record<string, unknown>[]): Promise<string[]> {
    const connection = { host: '127.0.0.1', port: redis.port };
    const queue = new Queue(queueName, { connection });
    const events = new QueueEvents(queueName, { connection });
    try {
      await events.waitUntilReady();
      const answers: string[] = [];
      for (const p of payloads) {
        const { jobId, ...data } = p;
        const job = await queue.add('run', data, { jobId: typeof jobId === 'string' ? jobId : `${String(p.sweep)}.${String(p.runId)}` });
        answers.push(
          await job.waitUntilFinished(events, 30000).then(
            (r: JobResult) => `completed: ${r.outcome.status === 'done' ? 'done' : r.outcome.error}`,
            (e: Error) => `failed: ${e.message}`,
          ),
        );
      }
      return answers;
    } finally {
      await events.close();
      await queue.close();
    }
  }

  const tiny = {
    dataset: 'xor',
    optimizer: 'sgd',
    momentum: 0.9,
    schedule: 'none',
    epochs: 1,
    batchSize: 8,
    patience: 0,
    valFraction: 0.2,
    seed: 0,
  };

  test('the dataset cache stays bounded however many data seeds the jobs use', async () => {
    const worker = await startQueueWorker({ url: redis.url, queueName: 'cache', concurrency: 1, log: () => undefined });
    try {
      const payloads = Array.from({ length: 12 }, (_, i) => ({
        version: 1,
        sweep: '0123456789ab',
        runId: `data${i}`,
        config: { ...tiny, dataSeed: 1000 + i },
      }));
      expect(await runJobs('cache', payloads)).toEqual(payloads.map(() => 'completed: done'));
      expect(worker.cachedDatasets()).toBeGreaterThan(0);
      expect(worker.cachedDatasets()).toBeLessThanOrEqual(4);
    } finally {
      await worker.close();
    }
  }, 60000);

  test("a job's backend is the one it trains on, over the worker's own", async () => {
    const own = nativeAvailable() ? 'native' : 'js';
    const other = own === 'native' ? 'js' : 'native';
    const worker = await startQueueWorker({ url: redis.url, queueName: 'backends', concurrency: 1, backend: own, log: () => undefined });
    const connection = { host: '127.0.0.1', port: redis.port };
    const queue = new Queue('backends', { connection });
    const events = new QueueEvents('backends', { connection });
    try {
      await events.waitUntilReady();
      const trained: unknown[] = [];
      for (const [runId, backend] of [
        ['named', other],
        ['unnamed', undefined],
      ] as const) {
        if (backend === 'native' && !nativeAvailable()) continue;
        const payload = { version: 1, sweep: '0123456789ab', runId, config: { ...tiny, dataSeed: 0 }, ...(backend ? { backend } : {}) };
        const job = await queue.add('run', payload, { jobId: `0123456789ab.${runId}` });
        const r = (await job.waitUntilFinished(events, 30000)) as JobResult;
        trained.push(r.outcome.status === 'done' ? [r.outcome.metrics.backend, r.outcome.metrics.kernelPath] : r.outcome.error);
      }
      // The native kernels' SIMD path is recorded too (a seed's result depends on it); js has none.
      const pathOf = (b: string): string | undefined => (b === 'native' ? loadNative().addon?.kernelPath() : undefined);
      expect(pathOf('native') ?? 'none').toMatch(nativeAvailable() ? /^(scalar|avx2|avx512|neon)$/ : /^none$/);
      expect(trained).toEqual((nativeAvailable() ? [other, own] : [own]).map((b) => [b, pathOf(b)]));
    } finally {
      await events.close();
      await queue.close();
      await worker.close();
    }
  }, 60000);

  test('--models and --checkpoints: the model saved with its sample shape, the checkpoint gone once the run is done', async () => {
    const models = path.join(redis.dir, 'models');
    const checkpoints = path.join(redis.dir, 'checkpoints');
    const worker = await startQueueWorker({
      url: redis.url,
      queueName: 'files',
      concurrency: 1,
      models,
      checkpoints,
      log: () => undefined,
    });
    try {
      const payload = { version: 1, sweep: '0123456789ab', runId: 'saved', config: { ...tiny, dataSeed: 0 } };
      expect(await runJobs('files', [payload])).toEqual(['completed: done']);
      const model = path.join(models, '0123456789ab', 'saved.safetensors');
      expect(loadWithSampleShape(model).sampleShape).toEqual([2]);
      // The run's checkpoint served while it trained; a finished run leaves none to be taken for its own.
      expect(fs.readdirSync(path.join(checkpoints, '0123456789ab'))).toEqual([]);
    } finally {
      await worker.close();
    }
    // A file where either folder goes: refused at start, before any job trains and fails to write.
    const file = path.join(redis.dir, 'not-a-folder');
    fs.writeFileSync(file, '');
    for (const flag of ['models', 'checkpoints'] as const)
      await expect(startQueueWorker({ url: redis.url, queueName: 'files', [flag]: file, log: () => undefined })).rejects.toThrow(
        `--${flag} ${file}: not a folder this worker can write (${file} exists and is not a folder)`,
      );
  }, 60000);

  test("a worker that cannot load a job's data fails the job (to be tried again), not the run", async () => {
    const empty = fs.mkdtempSync(path.join(redis.dir, 'no-data-'));
    const lines: string[] = [];
    const worker = await startQueueWorker({
      url: redis.url,
      queueName: 'no-data',
      concurrency: 1,
      dataDir: empty,
      log: (l) => lines.push(l),
    });
    try {
      const payload = { version: 1, sweep: '0123456789ab', runId: 'mnist', config: { ...tiny, dataset: 'mnist', dataSeed: 0 } };
      expect(await runJobs('no-data', [payload])).toEqual([expect.stringMatching(/^failed: on \S+: /)]);
      expect(lines).toContainEqual(expect.stringMatching(/^cannot run mnist: /));
    } finally {
      await worker.close();
    }
  }, 60000);

  test('a worker closed mid-run puts its job back on the queue, no attempt used; another worker runs it', async () => {
    const queueName = 'closed-mid-run';
    const spec: SweepSpec = { ...SPEC, name: 'closed', base: { ...SPEC.base, epochs: 3000 }, axes: {}, seeds: [5] };
    const firstLines: string[] = [];
    const first = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, log: (l) => firstLines.push(l) });
    let second: QueueWorker | undefined;
    const pending = sweep(spec, { out: path.join(redis.dir, 'closed-mid-run'), queue: redis.url, queueName });
    try {
      await until('the first worker to start the run', () => firstLines.some((l) => l.startsWith('started ')), 30000);
      await first.close();
      expect(firstLines.filter((l) => /^stopped seed=5: its job goes back to the queue for another worker$/.test(l))).toHaveLength(1);
      const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
      try {
        const [job] = await queue.getJobs(['waiting']);
        expect([job?.id?.endsWith('.seed=5'), job?.attemptsMade]).toEqual([true, 0]);
      } finally {
        await queue.close();
      }
      const secondLines: string[] = [];
      second = await startQueueWorker({ url: redis.url, queueName, concurrency: 1, log: (l) => secondLines.push(l) });
      const result = await pending;
      expect(result.runs.map((r) => r.status)).toEqual(['done']);
      expect(secondLines.some((l) => l.startsWith('finished seed=5: test accuracy '))).toBe(true);
    } finally {
      await drain(redis.url, queueName, pending, second);
    }
  }, 120000);

  test('a job that completed with a failed run is run again by a sweep (--resume runs failed runs again)', async () => {
    const queueName = 'failed-once';
    // The second answer is a real run's outcome, from a local sweep of the same spec.
    const spec: SweepSpec = { ...SPEC, name: 'failed-once', base: { ...SPEC.base, epochs: 2 }, axes: {}, seeds: [3] };
    const local = await sweep(spec, { out: path.join(redis.dir, 'failed-once-local'), workers: 1 });
    const answers: JobResult[] = [
      { outcome: { status: 'failed', error: 'no data here' }, worker: 'first' },
      { outcome: { status: 'done', metrics: local.runs[0].metrics as RunMetrics }, worker: 'second' },
    ];
    let calls = 0;
    const impostor = new Worker(queueName, async () => answers[Math.min(calls++, 1)], {
      connection: { host: '127.0.0.1', port: redis.port },
      concurrency: 1,
    });
    try {
      const out = path.join(redis.dir, 'failed-once');
      const first = await sweep(spec, { out, queue: redis.url, queueName });
      expect(first.runs.map((r) => [r.status, r.worker])).toEqual([['failed', 'first']]);
      const again = await sweep(spec, { out, queue: redis.url, queueName, resume: true });
      expect(again.runs.map((r) => [r.status, r.worker])).toEqual([['done', 'second']]);
      expect(calls).toBe(2);
      // The same runs under another name and --out: the queue's result is taken, said once, and
      // not counted as this sweep's throughput.
      const lines: string[] = [];
      const renamed = await sweep(
        { ...spec, name: 'renamed' },
        { out: path.join(redis.dir, 'renamed'), queue: redis.url, queueName, log: (l) => lines.push(l) },
      );
      expect(renamed.runs.map((r) => [r.status, r.worker])).toEqual([['done', 'second']]);
      expect(calls).toBe(2);
      expect(
        lines.filter((l) => /already done on queue 'failed-once' \(jobs \w+\.\*, by an earlier sweep of the same runs\)/.test(l)),
      ).toHaveLength(1);
      expect(renamed.status.samplesPerSecond).toBe(0);
    } finally {
      await impostor.close();
    }
  }, 60000);

  test("a job whose id is not its payload's sweep and run, or whose run id holds control characters, is refused", async () => {
    const lines: string[] = [];
    const worker = await startQueueWorker({ url: redis.url, queueName: 'forged', concurrency: 1, log: (l) => lines.push(l) });
    try {
      const run = (runId: string, jobId?: string): Record<string, unknown> => ({
        version: 1,
        sweep: '0123456789ab',
        runId,
        config: { ...tiny, dataSeed: 0 },
        ...(jobId === undefined ? {} : { jobId }),
      });
      expect(
        await runJobs('forged', [
          run('victim', '0123456789ab.other'),
          run('a\nfinished fake: test accuracy 1', 'forged-newline'),
          run('tab\there'),
          run('é'.repeat(91)), // 182 bytes: its files' names would be past 255
          run('ok'),
        ]),
      ).toEqual([
        'failed: job "0123456789ab.other": its id is not its payload\'s "<sweep>.<runId>" ("0123456789ab.victim"); refused',
        expect.stringMatching(
          /^failed: job payload: "runId": expected a file-name-safe string of at most 180 bytes without control characters$/,
        ),
        expect.stringMatching(
          /^failed: job payload: "runId": expected a file-name-safe string of at most 180 bytes without control characters$/,
        ),
        expect.stringMatching(/^failed: job payload: "runId": expected a file-name-safe string of at most 180 bytes/),
        'completed: done',
      ]);
      expect(lines.filter((l) => l.startsWith('started') || l.startsWith('finished'))).toEqual([
        'started ok (job 0123456789ab.ok, attempt 1)',
        expect.stringMatching(/^finished ok: test accuracy /),
      ]);
      // The refusals are in the worker's own output too, one line each, the forged newline escaped.
      expect(lines.filter((l) => l.startsWith('refused'))).toEqual([
        'refused job "0123456789ab.other": job "0123456789ab.other": its id is not its payload\'s "<sweep>.<runId>" ("0123456789ab.victim"); refused',
        expect.stringMatching(/^refused job "forged-newline": job payload: "runId": expected a file-name-safe string/),
        'refused job "0123456789ab.tab\\there": job payload: "runId": expected a file-name-safe string of at most 180 bytes without control characters',
        expect.stringMatching(
          /^refused job "0123456789ab\.é+": job payload: "runId": expected a file-name-safe string of at most 180 bytes/,
        ),
      ]);
      expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    } finally {
      await worker.close();
    }
  }, 60000);
});

describeRedis('Redis gone when a sweep or a worker stops', () => {
  // Before, close() waited for the commands ioredis held until Redis came back: for ever.
  let tmp: string;
  const closeMs = queueTiming.closeMs;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-queue-gone-'));
    queueTiming.closeMs = 500;
  });
  afterAll(() => {
    queueTiming.closeMs = closeMs;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a sweep stopped while Redis is gone rejects with its AbortError', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const redis = await startRedis(port, tmp);
    const { pending, stop } = await waitingSweep(url, path.join(tmp, 'gone'), 'gone');
    await stopProcess(redis, 'SIGKILL');
    // Long enough for the sweep's idle check to queue commands that wait for Redis (what close() hung on).
    await sleep(1500);
    stop.abort();
    await expect(pending).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
  }, 30000);

  test('a worker closed while Redis is gone: close() ends', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const redis = await startRedis(port, tmp);
    const worker = await startQueueWorker({ url, queueName: 'gone-worker', concurrency: 1, log: () => undefined });
    await stopProcess(redis, 'SIGKILL');
    await sleep(300);
    await expect(worker.close()).resolves.toBeUndefined();
  }, 30000);
});

describeRedis('a Redis without the CLIENT command (as some managed services)', () => {
  test('the sweep cannot tell whether a worker is connected, and does not claim either: it says no job was taken', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-queue-noclient-'));
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    // BullMQ's worker count would read 1 here (it answers one placeholder entry).
    const redis = await startRedis(port, tmp, ['--rename-command', 'CLIENT', '""']);
    let worker: QueueWorker | undefined;
    let pending: Promise<SweepResult> | undefined;
    try {
      const lines: string[] = [];
      const spec: SweepSpec = { ...SPEC, name: 'no-client', base: { ...SPEC.base, epochs: 2 }, axes: {}, seeds: [1] };
      pending = sweep(spec, { out: path.join(tmp, 'out'), queue: url, queueName: 'q', idleWarningMs: 1000, log: (l) => lines.push(l) });
      await until('the sweep to say that no worker takes its jobs', () => lines.length > 0, 20000);
      expect(lines).toEqual([
        `sweep: no worker has taken a job from queue 'q' at ${url} in 1 s: start one with \`neurone worker --queue ${url} --queue-name q\`; the sweep goes on waiting`,
      ]);
      worker = await startQueueWorker({ url, queueName: 'q', concurrency: 1, log: () => undefined });
      expect((await pending).runs.map((r) => r.status)).toEqual(['done']);
    } finally {
      await drain(url, 'q', pending, worker);
      await stopProcess(redis);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60000);
});
