// Training throughput of two trees side by side: for each round, one process per tree measures
// every net of bench-nets (native backend, one thread, median epoch of `fit`), alternating, so
// both see the same phases of a shared, noisy host. Prints the median samples/s per tree and
// the median and quartiles of the per-round ratio this/other.
//
//   npx ts-node --transpile-only scripts/bench-ab.ts --other /path/to/other/checkout [--rounds 16] [--nets a,c32]
//
// --nets measures only the nets named (bench-nets keys; each tree must define them).
// --threads N runs both trees' kernels on N threads (default 1).
// The other checkout must be installed and built (npm ci). Used for the "Before and after"
// section of BENCHMARKS.md.
//
// --in-process loads both trees into this process instead (each its own library and addon) and
// alternates single epochs of `fit`, the two trees' order swapped every round: on a host whose
// speed drifts between processes (memory placement, neighbours' load), a round's two epochs are
// then a few seconds apart, not a process start. Inference-only nets are skipped there, and the
// nets of ownSpec below (convae-up, convae-tr) may be named too.
import { execFileSync } from 'child_process';
import * as path from 'path';
import type { Module } from '../lib';
import { median, NetSpec } from './bench-nets';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

type Lib = typeof import('../lib');
type Nets = typeof import('./bench-nets');

/**
 * Nets of this script's own, built from either tree's library (with --in-process only): the two
 * convolutional autoencoders of reports/ (scripts/experiments/conv-autoencoders.ts), whose
 * decoders end in a one-channel convolution: `convae-up` (Upsample2D + Conv2D) and `convae-tr`
 * (ConvTranspose2D), MNIST-sized random images, batch 32.
 */
function ownSpec(lib: Lib, key: string): NetSpec | undefined {
  const encoder = (): Module[] => [
    new lib.Conv2D(3, 1, 16, 1, { padding: 1 }),
    new lib.ReLU(),
    new lib.MaxPool2D(2, 2),
    new lib.Conv2D(3, 16, 16, 1, { padding: 1 }),
    new lib.ReLU(),
    new lib.MaxPool2D(2, 2),
    new lib.Flatten(),
    new lib.Linear(7 * 7 * 16, 64),
    new lib.TanH(),
    new lib.Linear(64, 7 * 7 * 16),
    new lib.ReLU(),
    new lib.Reshape([7, 7, 16]),
  ];
  const decoders: Record<string, () => Module[]> = {
    'convae-up': () => [
      new lib.Upsample2D(2),
      new lib.Conv2D(3, 16, 16, 1, { padding: 1 }),
      new lib.ReLU(),
      new lib.Upsample2D(2),
      new lib.Conv2D(3, 16, 1, 1, { padding: 1 }),
    ],
    'convae-tr': () => [
      new lib.ConvTranspose2D(4, 16, 16, 2, { padding: 1 }),
      new lib.ReLU(),
      new lib.ConvTranspose2D(4, 16, 1, 2, { padding: 1 }),
    ],
  };
  const decoder = decoders[key];
  if (!decoder) return undefined;
  return {
    key,
    label: `conv autoencoder ${key}`,
    build: () => new lib.Sequential(...encoder(), ...decoder(), new lib.Sigmoid()),
    inputShape: [28, 28, 1],
    batch: 32,
    loss: () => new lib.BCELoss({ reduction: 'sum' }),
    target: 'input',
  };
}

/** One training epoch of `key` in a tree, as a closure timing itself (samples/s). */
function epochOf(lib: Lib, nets: Nets, key: string): (() => Promise<number>) | null {
  const spec = nets.specs.find((s) => s.key === key) ?? ownSpec(lib, key);
  if (!spec || spec.inferenceOnly) return null;
  lib.seed(1);
  const net = spec.build();
  const n = spec.batch * (spec.key === 'b' || spec.key === 'e' || spec.batch === 256 ? 40 : 60);
  const x = lib.zeros([n, ...spec.inputShape]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random();
  const labels = lib.zeros([n]);
  for (let i = 0; i < n; i++) labels.data[i] = Math.floor(Math.random() * 10);
  const data = { x, y: spec.target === 'input' ? x : labels };
  const optimizer = new lib.SGD({ lr: 0.01 / spec.batch });
  return async () => {
    const history = await lib.fit(net, spec.loss(), optimizer, data, { epochs: 1, batchSize: spec.batch, verbose: 0, shuffle: false });
    return n / history.epochs[0].seconds;
  };
}

function printTable(mine: Record<string, number>[], theirs: Record<string, number>[]): void {
  console.log('| net | other (samples/s, median) | this tree | this/other, median of paired rounds | quartiles of the ratio |');
  console.log('|---|---|---|---|---|');
  for (const k of Object.keys(mine[0])) {
    const ratios = mine.map((m, i) => m[k] / theirs[i][k]).sort((a, b) => a - b);
    const q = (f: number): string => ratios[Math.floor(f * ratios.length)].toFixed(2);
    console.log(
      `| ${k} | ${median(theirs.map((t) => t[k])).toFixed(0)} | ${median(mine.map((m) => m[k])).toFixed(0)} | ${median(ratios).toFixed(2)} | ${q(0.25)}–${q(0.75)} |`,
    );
  }
}

// Kernel threads for both trees (--threads, default 1).
const threads = Number(value('--threads') ?? 1);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`bench-ab: --threads must be a positive integer, got ${value('--threads')}`);

if (args[0] === '--child') {
  // One measurement in the tree this script was loaded from (the path given).
  const root = args[1];
  const only = args[2] && !args[2].startsWith('--') ? args[2].split(',') : null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the tree under test is chosen at run time
  const lib = require(path.join(root, 'lib')) as typeof import('../lib');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- likewise its nets and timing
  const nets = require(path.join(root, 'scripts', 'bench-nets')) as typeof import('./bench-nets');
  void (async () => {
    lib.setBackend('native');
    lib.setThreads(threads);
    const out: Record<string, number> = {};
    for (const s of nets.specs) {
      if (only && !only.includes(s.key)) continue;
      const batches = s.key === 'b' || s.key === 'e' ? 40 : s.batch === 256 ? 40 : 150;
      out[s.key] = (await nets.measure(s, 3, batches)).samplesPerSec;
    }
    console.log(JSON.stringify(out));
  })();
} else if (args.includes('--in-process')) {
  const other = value('--other');
  if (!other) throw new Error('bench-ab: --other /path/to/checkout is required');
  const rounds = Number(value('--rounds') ?? 16);
  const load = (root: string): { lib: Lib; nets: Nets } => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the trees are chosen at run time
    const lib = require(path.join(root, 'lib')) as Lib;
    lib.setBackend('native');
    lib.setThreads(threads);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- likewise their nets
    return { lib, nets: require(path.join(root, 'scripts', 'bench-nets')) as Nets };
  };
  const here = load(path.resolve(__dirname, '..'));
  const there = load(path.resolve(other));
  const keys = value('--nets')?.split(',') ?? here.nets.specs.map((s) => s.key);
  void (async () => {
    const mine: Record<string, number>[] = Array.from({ length: rounds }, () => ({}));
    const theirs: Record<string, number>[] = Array.from({ length: rounds }, () => ({}));
    for (const key of keys) {
      const ours = epochOf(here.lib, here.nets, key);
      const others = epochOf(there.lib, there.nets, key);
      if (!ours || !others) continue;
      await ours();
      await others();
      for (let r = 0; r < rounds; r++) {
        if (r % 2 === 0) {
          mine[r][key] = await ours();
          theirs[r][key] = await others();
        } else {
          theirs[r][key] = await others();
          mine[r][key] = await ours();
        }
      }
    }
    printTable(mine, theirs);
  })();
} else {
  const other = value('--other');
  if (!other) throw new Error('bench-ab: --other /path/to/checkout is required');
  const rounds = Number(value('--rounds') ?? 16);
  const netList = value('--nets');
  const here = path.resolve(__dirname, '..');
  const run = (root: string): Record<string, number> => {
    const out = execFileSync(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin'),
        '--transpile-only',
        __filename,
        '--child',
        root,
        ...(netList ? [netList] : []),
        '--threads',
        String(threads),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, TS_NODE_PROJECT: path.join(here, 'tsconfig.json') },
      },
    );
    return JSON.parse(out.trim().split('\n').pop() as string);
  };
  const mine: Record<string, number>[] = [];
  const theirs: Record<string, number>[] = [];
  for (let r = 0; r < rounds; r++) {
    theirs.push(run(path.resolve(other)));
    mine.push(run(here));
  }
  printTable(mine, theirs);
}
