// Throughput of many trainings at once: a sweep of 8 seed-CNN trainings on USPS run (a) on the
// worker pool with 1 worker, (b) with 2 workers (or --workers N), (c) one after the other in one
// thread with as many kernel threads as there are workers, and, with --queue, (d) through BullMQ on a redis-server
// started here with 2 local `neurone worker` processes. All in this one run, side by side.
//
//   npx ts-node --transpile-only scripts/bench-sweep-pool.ts [--runs 8] [--epochs 4] [--train-size N] [--workers 2] [--modes pool1,pool2,sequential] [--queue] [--quick] [--no-write]
//
// Summed samples/s = training samples of all runs / the window from the first run's start to the
// last run's end (thread or process start-up is shown apart: it is paid once per sweep). Each
// mode runs in a fresh child process, whose peak RSS is reported (one copy of the dataset plus
// one model per worker). Short runs understate the pool: its threads finish loading the code at
// different times, so the window includes the last one's stagger; use full USPS and >= 4 epochs.
// Every mode runs the built package (dist/, as `npm ci` or `npm run build:ts` leaves it), as an
// installed neurone would: from the TypeScript sources each worker thread would first transpile
// the library and JIT-compile the TypeScript compiler, which takes a core from the other worker
// for the first seconds of the sweep (measured: the four V8 compiler threads used one core's
// worth for 4 s) and adds ~170 MiB per thread. Writes the "sweep-pool" section of BENCHMARKS.md
// unless --quick or --no-write.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { Worker } from 'worker_threads';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { fmt, machineDescription, table, writeSection } from './bench-util';

const args = process.argv.slice(2);
const value = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const quick = args.includes('--quick');
const runs = value('--runs', quick ? 4 : 8);
const epochs = value('--epochs', quick ? 1 : 4);
const trainSize = value('--train-size', quick ? 600 : 0);
const workers = value('--workers', 2);
const write = !args.includes('--no-write') && !quick;
const modeArg = args.includes('--modes') ? args[args.indexOf('--modes') + 1].split(',') : ['pool1', 'pool2', 'sequential'];
const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

/** Refuses to measure a dist/ older than the sources it was built from. */
function checkBuilt(): void {
  const built = path.join(dist, 'sweep', 'pool-worker.js');
  if (!fs.existsSync(built)) throw new Error('dist/ is missing: run `npm run build:ts` first');
  const builtAt = fs.statSync(built).mtimeMs;
  const stale = (dir: string): string | undefined => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const found = e.isDirectory() ? stale(p) : e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > builtAt ? p : undefined;
      if (found) return found;
    }
    return undefined;
  };
  const newer = stale(path.join(root, 'lib'));
  if (newer) throw new Error(`${path.relative(root, newer)} is newer than dist/: run \`npm run build:ts\` first`);
}

/** The sweep every mode runs: `runs` seeds of the headline CNN, no early stopping, a fixed number of epochs. */
function spec(): object {
  return {
    name: 'bench-pool',
    base: {
      dataset: 'usps',
      model: 'seed-cnn',
      optimizer: 'sgd',
      lr: 5e-4,
      epochs,
      batchSize: 32,
      patience: 0,
      schedule: 'none',
      ...(trainSize > 0 ? { trainSize } : {}),
    },
    seeds: runs,
  };
}

interface ModeResult {
  samples: number;
  windowSeconds: number;
  totalSeconds: number;
  maxRssMiB: number;
  failed: number;
  /** Queue mode: median milliseconds from a job being available to a worker starting it. */
  pickupMs?: number;
  /** Pool modes: median seconds of each worker's first run and of its later runs, and how far apart the workers' first runs started. */
  firstRunS?: number;
  laterRunS?: number;
  startSpreadS?: number;
}

const median = (xs: number[]): number | undefined => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : undefined);

/** Child side: runs one mode, prints its result as JSON on the last line. */
async function child(mode: string): Promise<void> {
  // The built package (see the header): typed by the sources, loaded from dist/.
  const { sweep } = (await import(path.join(dist, 'sweep'))) as typeof import('../lib/sweep');
  const { loadSharedData, runTraining } = (await import(path.join(dist, 'sweep', 'training'))) as typeof import('../lib/sweep/training');
  const { expandSpec, validateSpec } = (await import(path.join(dist, 'sweep', 'spec'))) as typeof import('../lib/sweep/spec');
  const { setThreads } = (await import(path.join(dist, 'backend'))) as typeof import('../lib/backend');
  const t0 = Date.now();
  let metrics: { samples: number; startedAt: number; finishedAt: number }[] = [];
  let failed = 0;
  let pickupMs: number | undefined;
  let phases: Pick<ModeResult, 'firstRunS' | 'laterRunS' | 'startSpreadS'> = {};
  if (mode === 'sequential') {
    setThreads(workers);
    const data = loadSharedData('usps', 0);
    for (const r of expandSpec(validateSpec(spec()))) metrics.push(await runTraining(r.config, data));
  } else {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sweep-pool-'));
    try {
      const queue = mode === 'queue' ? process.env.BENCH_QUEUE_URL : undefined;
      const result = await sweep(spec(), { out, workers: mode === 'pool1' ? 1 : workers, ...(queue ? { queue, queueName: 'bench' } : {}) });
      failed = result.status.failed;
      metrics = result.runs.flatMap((r) => (r.metrics ? [r.metrics] : []));
      // Each worker's runs in the order it ran them.
      const byWorker = new Map<string, { startedAt: number; finishedAt: number }[]>();
      for (const r of result.runs) if (r.metrics) byWorker.set(r.worker, [...(byWorker.get(r.worker) ?? []), r.metrics]);
      const lists = [...byWorker.values()].map((list) => list.sort((a, b) => a.startedAt - b.startedAt));
      // A worker's first run against its later ones (the first also pays the JIT warm-up).
      const firstRuns = lists.map((l) => (l[0].finishedAt - l[0].startedAt) / 1000);
      const laterRuns = lists.flatMap((l) => l.slice(1).map((m) => (m.finishedAt - m.startedAt) / 1000));
      const starts = lists.map((l) => l[0].startedAt);
      phases = {
        firstRunS: median(firstRuns),
        laterRunS: median(laterRuns),
        startSpreadS: (Math.max(...starts) - Math.min(...starts)) / 1000,
      };
      if (queue) {
        // Pickup gap per job: from when it could start (enqueued, or its worker's previous run
        // ended) to its start. A worker's first job also pays its data loading (and the sweep's
        // enqueueing): it is left out when there are later jobs, which show the queue's own cost.
        const firstGaps = lists.map((l) => l[0].startedAt - t0);
        const laterGaps = lists.flatMap((l) => l.slice(1).map((m, i) => m.startedAt - l[i].finishedAt));
        pickupMs = median(laterGaps.length ? laterGaps : firstGaps);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
  const start = Math.min(...metrics.map((m) => m.startedAt));
  const end = Math.max(...metrics.map((m) => m.finishedAt));
  const result: ModeResult = {
    samples: metrics.reduce((a, m) => a + m.samples, 0),
    windowSeconds: (end - start) / 1000,
    totalSeconds: (Date.now() - t0) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    failed,
    pickupMs,
    ...phases,
  };
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}

/**
 * The machine's own ceiling for side-by-side work: the addon's FMA probe (independent multiply-add
 * chains, no memory traffic) for `seconds` on `threads` worker threads at once. Returns the summed
 * GFLOP/s; two threads over one shows how much two busy cores slow each other (clock, host).
 */
async function probeRate(threads: number, seconds: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('worker_threads');
    const { loadNative } = require(workerData.backend);
    const addon = loadNative().addon;
    addon.setThreads(1);
    let flops = 0;
    const t0 = process.hrtime.bigint();
    const end = Date.now() + workerData.seconds * 1000;
    while (Date.now() < end) flops += addon.fmaProbe(1 << 18);
    parentPort.postMessage(flops / (Number(process.hrtime.bigint() - t0) / 1e9));`;
  const backend = path.join(dist, 'backend', 'native');
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { backend, seconds } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, r) => a + r, 0) / 1e9;
}

function runMode(mode: string, env: NodeJS.ProcessEnv = {}): ModeResult {
  // Run as TypeScript (ts-node) or as its compiled JavaScript (a machine with Node alone).
  const loader = __filename.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  const r = spawnSync(process.execPath, [...loader, __filename, '--child', mode, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 2 ** 20,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as ModeResult;
  } catch {
    throw new Error(`mode ${mode} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts redis-server and `workers` local `neurone worker` processes (one training each); returns the URL and a stop function. */
async function startQueue(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const procs: ChildProcess[] = [
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }),
  ];
  const { checkRedis } = (await import(path.join(dist, 'sweep', 'queue'))) as typeof import('../lib/sweep/queue');
  for (let i = 0; ; i++) {
    try {
      await checkRedis(url);
      break;
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let ready = 0;
  for (let w = 0; w < workers; w++) {
    const p = spawn(
      process.execPath,
      [path.join(dist, 'cli', 'main.js'), 'worker', '--queue', url, '--queue-name', 'bench', '--concurrency', '1'],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    p.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('neurone worker ')) ready++;
    });
    procs.push(p);
  }
  while (ready < workers) await new Promise((r) => setTimeout(r, 100));
  return { url, stop: () => procs.reverse().forEach((p) => p.kill('SIGKILL')) };
}

async function main(): Promise<void> {
  checkBuilt();
  const t0 = Date.now();
  const modes = (
    [
      ['pool1', 'worker pool, 1 worker (1 kernel thread)'],
      ['pool2', `worker pool, ${workers} workers (1 kernel thread each)`],
      ['sequential', `one after the other, ${workers} kernel threads`],
    ] as [string, string][]
  ).filter(([mode]) => modeArg.includes(mode) || mode === 'pool1');
  const probeOne = await probeRate(1, 3);
  const probeBoth = await probeRate(workers, 3);
  console.log(`FMA probe: 1 thread ${fmt(probeOne, 1)} GFLOP/s, ${workers} at once ${fmt(probeBoth, 1)} GFLOP/s`);
  const results: Record<string, ModeResult> = {};
  for (const [mode, label] of modes) {
    results[mode] = runMode(mode);
    const r = results[mode];
    const runTimes =
      r.firstRunS === undefined
        ? ''
        : `; run s: first per worker ${fmt(r.firstRunS, 2)}, later ${r.laterRunS === undefined ? '-' : fmt(r.laterRunS, 2)}; first starts spread over ${fmt(r.startSpreadS ?? 0, 2)} s`;
    console.log(`${label}: ${fmt(r.samples / r.windowSeconds, 0)} samples/s${runTimes}`);
  }
  const notes: string[] = [];
  if (args.includes('--queue')) {
    if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0)
      notes.push('--queue: redis-server is not installed; the queue mode was not run.');
    else {
      const q = await startQueue();
      try {
        results.queue = runMode('queue', { BENCH_QUEUE_URL: q.url });
        modes.push(['queue', `BullMQ on local redis-server, ${workers} worker processes (1 training each)`]);
      } finally {
        q.stop();
      }
    }
  }
  const base = results.pool1.samples / results.pool1.windowSeconds;
  const rows = modes.map(([mode, label]) => {
    const r = results[mode];
    const rate = r.samples / r.windowSeconds;
    return [
      label,
      String(runs - r.failed),
      fmt(r.windowSeconds, 1),
      fmt(r.totalSeconds - r.windowSeconds, 1),
      fmt(rate, 0),
      `${(rate / base).toFixed(2)}×`,
      fmt(r.maxRssMiB, 0),
      r.pickupMs === undefined ? '' : fmt(r.pickupMs, 0),
    ];
  });
  const body = [
    '## Sweeps: trainings side by side (samples/s summed over workers)',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-sweep-pool.ts${args.length ? ` ${args.join(' ')}` : ''}\`, ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    `Machine: ${machineDescription()}.`,
    `${runs} trainings of the seed CNN on USPS (${trainSize > 0 ? `${trainSize} training examples` : 'all of USPS_train'}, 15 % held out), batch 32, ${epochs} epoch${epochs === 1 ? '' : 's'} each, seeds 0–${runs - 1}. ` +
      'Rate = all training samples / the window from the first run’s start to the last run’s end; start-up (threads or processes loading the code and the data) is paid once per sweep and shown apart. Peak RSS of the process running the mode (for the queue, the sweep process only: the workers are other processes).',
    '',
    table(
      [
        'mode',
        'runs',
        'window s',
        'start-up s',
        'samples/s',
        'vs 1 worker',
        'peak RSS MiB',
        'pickup ms (median, jobs after each worker’s first)',
      ],
      rows,
    ),
    '',
    `The machine's own ceiling, measured in the same run: the FMA probe (multiply-add chains, no memory traffic) on ${workers} threads at once gives ` +
      `${(probeBoth / probeOne).toFixed(2)}× its 1-thread rate (${fmt(probeOne, 1)} → ${fmt(probeBoth, 1)} GFLOP/s): what ${workers} busy cores of this host allow before any memory or start-up cost.`,
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
  if (write) writeSection('sweep-pool', body);
  console.log(body);
}

if (args[0] === '--child') {
  child(args[1]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
