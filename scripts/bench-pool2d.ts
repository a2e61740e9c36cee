// The 2-D pooling kernels against PyTorch's, side by side in one run: max pooling's forward (with
// its argmax) and backward, average pooling's forward and backward, one thread, on the shapes of
// the nets people build: LeNet's first pooling (2×2 over 6 channels), a VGG block's (2×2 stride 2
// over 64), and ResNet's stem (3×3 stride 2 over 64 channels of 56×56, overlapping windows) with
// its stride-1 variant. neurone's figures are per SIMD path this CPU runs, the kernels called
// through the backend (what a module's pass runs on an unpadded input); PyTorch's are ATen's
// kernels called directly on a channels-last tensor (scripts/bench_torch_pool.py), so neither
// side pays for autograd or allocation. Writes the "pool2d" section of BENCHMARKS.md.
//
//   npx ts-node --transpile-only scripts/bench-pool2d.ts [--no-write]
import { setBackend, setThreads } from '../lib';
import { backend } from '../lib/backend';
import { loadNative } from '../lib/backend/native';
import { bestTime, fmt, machineDescription, randomArray, runPython, table, writeSection } from './bench-util';

const write = !process.argv.includes('--no-write');

/** [batch, height, width, chan, kSize, stride]: square windows, no padding. */
type PoolShape = [number, number, number, number, number, number];
const SHAPES: { label: string; shape: PoolShape }[] = [
  { label: "LeNet's first, 2×2", shape: [32, 24, 24, 6, 2, 2] },
  { label: 'a VGG block, 2×2', shape: [32, 32, 32, 64, 2, 2] },
  { label: "ResNet's stem, 3×3 stride 2", shape: [32, 56, 56, 64, 3, 2] },
  { label: '3×3 stride 1', shape: [32, 56, 56, 64, 3, 1] },
];
const PASSES = ['maxForward', 'maxBackward', 'avgForward', 'avgBackward'] as const;
type Pass = (typeof PASSES)[number];

function windows(size: number, k: number, stride: number): number {
  return Math.floor((size - k) / stride) + 1;
}

/** Seconds per call of each pass on `shape`, on the kernel path set now. */
function measureOurs([batch, height, width, chan, k, stride]: PoolShape): Record<Pass, number> {
  const kernels = backend();
  const outputs = batch * windows(height, k, stride) * windows(width, k, stride) * chan;
  const x = randomArray(batch * height * width * chan);
  const y = new Float32Array(outputs);
  const argmax = new Int32Array(outputs);
  const dy = randomArray(outputs);
  const dx = new Float32Array(x.length);
  const geometry = [batch, height, width, chan, k, k, stride, stride] as const;
  kernels.maxPool2dForward(x, y, argmax, ...geometry);
  return {
    maxForward: bestTime(() => kernels.maxPool2dForward(x, y, argmax, ...geometry)),
    maxBackward: bestTime(() => kernels.maxPool2dBackward(dy, argmax, dx, ...geometry)),
    avgForward: bestTime(() => kernels.avgPool2dForward(x, y, ...geometry)),
    avgBackward: bestTime(() => kernels.avgPool2dBackward(dy, dx, ...geometry)),
  };
}

function main(): void {
  setBackend('native');
  setThreads(1);
  const addon = loadNative().addon;
  if (!addon) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
  const defaultPath = addon.kernelPath();
  const paths = addon.supportedKernelPaths().slice().reverse();
  const ours: Record<string, Record<Pass, number>[]> = {};
  for (const p of paths) {
    addon.setKernelPath(p);
    ours[p] = SHAPES.map(({ shape }) => measureOurs(shape));
    console.log(`neurone ${p}: measured`);
  }
  addon.setKernelPath(defaultPath);
  const torch = runPython('bench_torch_pool.py', [JSON.stringify(SHAPES.map((s) => s.shape))], 1);
  if (!torch.ok) console.log(`PyTorch not measured: ${torch.reason}`);
  const theirs: Record<Pass, number>[] | undefined = torch.ok ? torch.value.results : undefined;

  const ms = (s: number | undefined): string => fmt(s === undefined ? undefined : s * 1e3, 2);
  const rows: string[][] = [];
  SHAPES.forEach(({ label, shape }, i) => {
    for (const pass of PASSES) {
      const torchTime = theirs?.[i][pass];
      const cells = paths.map((p) => {
        const t = ours[p][i][pass];
        return `${ms(t)} (${torchTime === undefined ? 'n/a' : `${fmt(torchTime / t, 2)}×`})`;
      });
      rows.push([`${label} (${shape.slice(0, 4).join(', ')})`, pass, ...cells, ms(torchTime)]);
    }
  });
  const body = [
    '## 2-D pooling kernels against PyTorch (ms per call, one thread)',
    '',
    `\`npx ts-node --transpile-only scripts/bench-pool2d.ts\` on ${machineDescription()}, PyTorch ${torch.ok ? torch.value.version : 'not measured'}.`,
    "Each cell: neurone's time per call on that SIMD path and, in brackets, PyTorch's time over it (above 1: neurone is faster).",
    "Both sides' kernels are called directly (ATen's on a channels-last tensor, no autograd), the best of three rounds of at least 0.2 s, in one run.",
    '',
    table(['input (batch, height, width, chan)', 'pass', ...paths.map((p) => `neurone ${p}`), 'PyTorch'], rows),
  ].join('\n');
  console.log(`\n${body}`);
  if (write) writeSection('pool2d', body);
}

main();
