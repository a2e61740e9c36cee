// The 2-D convolution's three passes in two builds side by side: this tree's addon and another
// tree's, loaded into one process and timed alternately (best of a short run each, 7 rounds), on
// shapes whose routes differ (few output channels, few input channels, LeNet's, VGG's and the
// style-transfer experiment's first layers). Prints both times and the median ratio this/other
// per pass; the ratios, not the times, are what a busy host lets one read.
//
//   npx ts-node --transpile-only scripts/bench-conv2d-ab.ts --other /path/to/other/checkout [--paths avx512,avx2]
//
// The other checkout must be built (npm run build:native); one thread.
import { bestTime, conv2dCase, Conv2dBenchShape } from './bench-util';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const other = value('--other');
if (!other) throw new Error('--other: expected the path of another built checkout');

interface Addon {
  setKernelPath(path: string): void;
  setThreads(n: number): void;
  supportedKernelPaths(): string[];
  [pass: string]: unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the builds are chosen at run time
const load = (root: string): Addon => require(`${root}/build/Release/neurone.node`) as Addon;
const ours = load(process.cwd());
const theirs = load(other);
const paths = (value('--paths') ?? 'avx512,avx2').split(',').filter((p) => ours.supportedKernelPaths().includes(p));

/** label, (batch, height, width, chanIn, chanOut, k, padding), stride 1. */
const SHAPES: [string, Conv2dBenchShape][] = [
  ['autoencoder output 16→1, 28×28, k3 p1', [32, 28, 28, 16, 1, 3, 1]],
  ['RGB output 32→3, 128×128, k3 p1, batch 1', [1, 128, 128, 32, 3, 3, 1]],
  ['8→4, 28×28, k5 p2', [32, 28, 28, 8, 4, 5, 2]],
  ['pointwise 64→4, 16×16', [32, 16, 16, 64, 4, 1, 0]],
  ['2→8, 28×28, k3 p1', [32, 28, 28, 2, 8, 3, 1]],
  ['4→64, 32×32, k3 p1', [32, 32, 32, 4, 64, 3, 1]],
  ['LeNet conv1 1→6, 28×28, k5', [32, 28, 28, 1, 6, 5, 0]],
  ['VGG conv 3→32, 32×32, k3 p1', [32, 32, 32, 3, 32, 3, 1]],
  ['batch-norm CNN conv1 1→32, 28×28, k3 p1', [32, 28, 28, 1, 32, 3, 1]],
  ['style features 3→32, 256×256, k3 p1, batch 1', [1, 256, 256, 3, 32, 3, 1]],
  ['style experiment 3→48, 256×256, k7 p3, batch 1', [1, 256, 256, 3, 48, 7, 3]],
];

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

for (const path of paths) {
  for (const addon of [ours, theirs]) {
    addon.setKernelPath(path);
    addon.setThreads(1);
  }
  for (const [label, shape] of SHAPES) {
    const { x, weight, y, dy, dx, dw, geometry } = conv2dCase(shape);
    const passes: [string, (a: Addon) => void][] = [
      ['forward', (a) => (a.conv2dForward as (...v: unknown[]) => void)(x, weight, null, y, ...geometry)],
      ['input gradient', (a) => (a.conv2dBackwardInput as (...v: unknown[]) => void)(dy, weight, dx, ...geometry)],
      ['weight gradient', (a) => (a.conv2dBackwardWeight as (...v: unknown[]) => void)(x, dy, dw, ...geometry)],
    ];
    const row = [`${path}, ${label}:`];
    for (const [name, run] of passes) {
      const ratios: number[] = [];
      const mine: number[] = [];
      const theirTimes: number[] = [];
      for (let r = 0; r < 7; r++) {
        const a = bestTime(() => run(ours), { minSeconds: 0.03, rounds: 1 });
        const b = bestTime(() => run(theirs), { minSeconds: 0.03, rounds: 1 });
        mine.push(a);
        theirTimes.push(b);
        ratios.push(a / b);
      }
      row.push(`${name} ${(median(theirTimes) * 1e6).toFixed(0)} → ${(median(mine) * 1e6).toFixed(0)} µs (${median(ratios).toFixed(2)})`);
    }
    console.log(row.join('  '));
  }
}
