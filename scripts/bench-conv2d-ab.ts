// The 2-D convolution's three passes, and 2×2 max pooling's two, in two builds side by side: this
// tree's addon and another tree's, loaded into one process and timed alternately (best of a short
// run each, 7 rounds), on shapes whose routes differ (few output channels, few input channels,
// LeNet's, VGG's and the style-transfer experiment's first layers; pooling of 1 to 16 channels).
// Prints both times and the median ratio this/other per pass; the ratios, not the times, are what
// a busy host lets one read.
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

/** label, (batch, height, width, chan): 2×2 windows, stride 2. */
const POOL_SHAPES: [string, [number, number, number, number]][] = [
  ['LeNet pooling 1, 24×24×6', [32, 24, 24, 6]],
  ['LeNet pooling 1, batch 128', [128, 24, 24, 6]],
  ['LeNet pooling 2, 8×8×16', [32, 8, 8, 16]],
  ['an image, 28×28×1', [32, 28, 28, 1]],
  ['an RGB image, 32×32×3', [32, 32, 32, 3]],
  ['24×24×5', [32, 24, 24, 5]],
  ['24×24×12', [32, 24, 24, 12]],
];

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

/** "name before → after µs (ratio)" of `run` on this tree's addon and the other's, alternated. */
function paired(name: string, run: (a: Addon) => void): string {
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
  return `${name} ${(median(theirTimes) * 1e6).toFixed(0)} → ${(median(mine) * 1e6).toFixed(0)} µs (${median(ratios).toFixed(2)})`;
}

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
    console.log([`${path}, ${label}:`, ...passes.map(([name, run]) => paired(name, run))].join('  '));
  }
  for (const [label, [batch, height, width, chan]] of POOL_SHAPES) {
    const oh = Math.floor(height / 2),
      ow = Math.floor(width / 2);
    const x = Float32Array.from({ length: batch * height * width * chan }, () => Math.random() - 0.5);
    const y = new Float32Array(batch * oh * ow * chan);
    const winners = new Int32Array(y.length);
    const dy = Float32Array.from(y, () => Math.random() - 0.5);
    const dx = new Float32Array(x.length);
    const geometry = [batch, height, width, chan, 2, 2, 2, 2];
    (ours.maxPool2dForward as (...v: unknown[]) => void)(x, y, winners, ...geometry);
    const passes: [string, (a: Addon) => void][] = [
      ['max pooling forward', (a) => (a.maxPool2dForward as (...v: unknown[]) => void)(x, y, winners, ...geometry)],
      ['backward', (a) => (a.maxPool2dBackward as (...v: unknown[]) => void)(dy, winners, dx, ...geometry)],
    ];
    console.log([`${path}, ${label}:`, ...passes.map(([name, run]) => paired(name, run))].join('  '));
  }
}
