// Training throughput of the 2-D nets (a LeNet-style MNIST CNN at batch 32 and 128, the CNN with
// batch norm and dropout of reports/' 2-D accuracy experiment, a small VGG-style net on 32×32×3
// images) against PyTorch, side by side in one run; the 2-D convolutions'
// GFLOP/s against the FMA peak measured in the same rounds; the peak RSS of the LeNet benchmark.
//
//   npx ts-node --transpile-only scripts/bench-2d.ts [--quick] [--no-write]
//
// neurone's figures are the median epoch of `fit` over random data after a warm-up epoch
// (scripts/bench-nets.ts, as for the other nets), on every SIMD path this CPU runs, at one thread
// and at all cores; PyTorch's come from scripts/bench_torch.py with the same nets, at one thread
// and all cores, with glibc's allocator as installed and tuned (TUNED_MALLOC_ENV), and its best of
// those four is what the ratios divide by. On a CPU with AVX-512 the AVX2 path's ratios divide by
// the best of the same four with PyTorch held to AVX2 (TORCH_AVX2_ENV), the PyTorch an AVX2-only
// CPU runs. Writes the "2d" section of BENCHMARKS.md.
import { execFileSync } from 'child_process';
import * as os from 'os';
import { setBackend, setThreads } from '../lib';
import { loadNative, nativeBackend } from '../lib/backend/native';
import { measure, specs } from './bench-nets';
import {
  TORCH_AVX2_ENV,
  TUNED_MALLOC_ENV,
  bestTime,
  conv2dCase,
  Conv2dBenchShape,
  fmt,
  machineDescription,
  repoRoot,
  runPython,
  table,
  writeSection,
} from './bench-util';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !args.includes('--no-write') && !quick;
// The CPUs this process may run on (a `taskset` narrows them), not all the machine has.
const cores = os.availableParallelism();
const NETS = ['lenet32', 'lenet128', 'bncnn', 'vgg'];

/** The convolutions of the two nets, (batch, height, width, chanIn, chanOut, k, padding), stride 1. */
const CONVS: { label: string; shape: Conv2dBenchShape }[] = [
  { label: 'LeNet conv1 1→6, 28×28, k5', shape: [32, 28, 28, 1, 6, 5, 0] },
  { label: 'LeNet conv2 6→16, 12×12, k5', shape: [32, 12, 12, 6, 16, 5, 0] },
  { label: 'VGG conv 3→32, 32×32, k3 p1', shape: [32, 32, 32, 3, 32, 3, 1] },
  { label: 'VGG conv 32→32, 32×32, k3 p1', shape: [32, 32, 32, 32, 32, 3, 1] },
  { label: 'VGG conv 32→64, 16×16, k3 p1', shape: [32, 16, 16, 32, 64, 3, 1] },
  { label: 'VGG conv 64→64, 16×16, k3 p1', shape: [32, 16, 16, 64, 64, 3, 1] },
];

/** The peak RSS (MiB) of a process that only runs the benchmark of `key` at one thread. */
function peakRss(key: string): number | undefined {
  const code = `
    const { setBackend, setThreads } = require('./lib');
    const { measure, specs } = require('./scripts/bench-nets');
    setBackend('native'); setThreads(1);
    measure(specs.find((s) => s.key === '${key}'), 2, 20).then(() => console.log(process.resourceUsage().maxRSS / 1024));`;
  try {
    // From TypeScript through ts-node, or as this script's compiled JavaScript (Node alone).
    const loader = __filename.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
    const out = execFileSync(process.execPath, [...loader, '-e', code], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number(out.trim().split('\n').pop());
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  setBackend('native');
  const addon = loadNative().addon;
  if (!addon) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
  const defaultPath = addon.kernelPath();
  const paths = addon
    .supportedKernelPaths()
    .filter((p) => p !== 'scalar')
    .reverse();
  const epochs = quick ? 2 : 5;
  const batchesFor = (key: string): number => (quick ? 5 : key === 'vgg' ? 12 : key === 'lenet128' || key === 'bncnn' ? 25 : 60);

  // neurone, per path, 1 thread and all cores.
  const ours: Record<string, Record<string, { one: number; all: number }>> = {};
  for (const key of NETS) {
    const s = specs.find((x) => x.key === key)!;
    for (const p of paths) {
      addon.setKernelPath(p);
      setThreads(1);
      const one = (await measure(s, epochs, batchesFor(key))).samplesPerSec;
      setThreads(cores);
      const all = (await measure(s, epochs, batchesFor(key))).samplesPerSec;
      (ours[key] ??= {})[p] = { one, all };
      console.log(`neurone ${key} ${p}: 1T ${fmt(one, 0)}, ${cores}T ${fmt(all, 0)} samples/s`);
    }
  }
  addon.setKernelPath(defaultPath);

  // PyTorch: 1 thread and all cores, allocator as installed and tuned; samples/s by net and setting.
  let torchVersion = '';
  const runTorch = (what: string, isa: NodeJS.ProcessEnv): Record<string, Record<string, number | undefined>> => {
    const results: Record<string, Record<string, number | undefined>> = {};
    for (const t of [1, cores]) {
      for (const [malloc, env] of [
        ['plain', isa],
        ['tuned', { ...isa, ...TUNED_MALLOC_ENV }],
      ] as const) {
        const r = runPython(
          'bench_torch.py',
          ['--nets', NETS.join(','), '--threads', String(t), '--epochs', String(epochs), '--batches', quick ? '5' : '25'],
          t,
          env,
        );
        const label = `${t}T ${malloc}`;
        if (!r.ok) {
          console.log(`${what} ${label} failed: ${r.reason}`);
          continue;
        }
        torchVersion = r.value.version;
        for (const key of NETS) (results[key] ??= {})[label] = r.value.results[key]?.samplesPerSec ?? undefined;
        console.log(`${what} ${label}: ${JSON.stringify(r.value.results)}`);
      }
    }
    return results;
  };
  const torch = runTorch('PyTorch', {});
  // What an AVX2-only CPU's PyTorch runs (ATen, oneDNN and OpenBLAS held to AVX2): the AVX2
  // path's rival, in the same four settings, when this CPU also has AVX-512.
  const torchAvx2 = paths.includes('avx2') && paths.includes('avx512') ? runTorch('PyTorch held to AVX2', TORCH_AVX2_ENV) : {};

  // The convolutions alone, one thread, current path, in rounds alternating with the FMA probe.
  setThreads(1);
  const nb = nativeBackend(addon);
  const probe = addon.fmaProbe as ((steps: number) => number) | undefined;
  const convRows: string[][] = [];
  let bestPeak = 0;
  for (const c of CONVS) {
    const { x, weight, y, dy, dx, dw, geometry, flops } = conv2dCase(c.shape);
    const passes: [string, () => void][] = [
      ['forward', () => nb.conv2dForward(x, weight, null, y, ...geometry)],
      ['input gradient', () => nb.conv2dBackwardInput(dy, weight, dx, ...geometry)],
      ['weight gradient', () => nb.conv2dBackwardWeight(x, dy, dw, ...geometry)],
    ];
    const row = [c.label];
    for (const [, run] of passes) {
      let best = Infinity;
      let peak = 0;
      for (let r = 0; r < (quick ? 1 : 3); r++) {
        if (typeof probe === 'function') {
          let f = 0;
          const t = bestTime(() => (f = probe.call(addon, 1 << 18)), { minSeconds: 0.05, rounds: 1 });
          peak = Math.max(peak, f / t / 1e9);
        }
        best = Math.min(best, bestTime(run, { minSeconds: quick ? 0.05 : 0.2, rounds: 1 }));
      }
      bestPeak = Math.max(bestPeak, peak);
      const gflops = flops / best / 1e9;
      row.push(`${fmt(gflops)} (${peak ? `${((100 * gflops) / peak).toFixed(0)} %` : 'n/a'})`);
    }
    convRows.push(row);
    console.log(row.join(' | '));
  }
  setThreads(cores);

  const rss = Object.fromEntries(['lenet32', 'lenet128'].map((key) => [key, peakRss(key)]));
  console.log(`peak RSS: ${JSON.stringify(rss)}`);

  const label = (key: string): string => specs.find((s) => s.key === key)!.label;
  const bestOf = (settings: Record<string, number | undefined> | undefined): number | undefined =>
    Math.max(...Object.values(settings ?? {}).map((v) => v ?? 0)) || undefined;
  const heldToAvx2 = Object.keys(torchAvx2).length > 0;
  // Each path against the PyTorch an AVX2-only or an AVX-512 CPU would run.
  const torchBest = (key: string, p: string): number | undefined => bestOf(p === 'avx2' && heldToAvx2 ? torchAvx2[key] : torch[key]);
  const rival = (p: string): string => (p === 'avx2' && heldToAvx2 ? 'PyTorch AVX2 best' : 'PyTorch best');
  const ratio = (v: number | undefined, d: number | undefined): string => (v && d ? `${(v / d).toFixed(2)}×` : 'n/a');
  const header = ['net'];
  for (const p of paths) header.push(`neurone ${p} 1T`, `neurone ${p} ${cores}T`);
  header.push('PyTorch 1T', `PyTorch ${cores}T`, 'PyTorch 1T tuned malloc', `PyTorch ${cores}T tuned malloc`);
  if (heldToAvx2) header.push('PyTorch held to AVX2, best of four');
  for (const p of paths) header.push(`${p} 1T / ${rival(p)}`, `${p} ${cores}T / ${rival(p)}`);
  const rows = NETS.map((key) => {
    const r = [label(key)];
    for (const p of paths) r.push(fmt(ours[key][p]?.one, 0), fmt(ours[key][p]?.all, 0));
    const t = torch[key] ?? {};
    r.push(fmt(t['1T plain'], 0), fmt(t[`${cores}T plain`], 0), fmt(t['1T tuned'], 0), fmt(t[`${cores}T tuned`], 0));
    if (heldToAvx2) r.push(fmt(bestOf(torchAvx2[key]), 0));
    for (const p of paths) r.push(ratio(ours[key][p]?.one, torchBest(key, p)), ratio(ours[key][p]?.all, torchBest(key, p)));
    return r;
  });
  const body = [
    '## 2-D nets: training throughput (samples/s), convolutions, memory',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-2d.ts\`, ${new Date().toISOString().slice(0, 10)}. Machine: ${machineDescription()}. PyTorch ${torchVersion} (\`scripts/bench_torch.py\`, OMP/MKL threads = torch threads).`,
    `Median epoch after a warm-up, float32, plain SGD, random data taken in order (scripts/bench-nets.ts: LeNet-style = Conv2D 5×5 1→6, ReLU, MaxPool2D 2, Conv2D 5×5 6→16, ReLU, MaxPool2D 2, Linear 256→120, ReLU, Linear 120→10 on 28×28×1; small VGG = two blocks of two padded 3×3 convolutions (3→32→32, 32→64→64) with ReLU and 2×2 max pooling, Linear 4096→128, ReLU, Linear 128→10 on 32×32×3; the BatchNorm CNN = reports/' second 2-D recipe, Conv2D 3×3 1→32 and 32→64 padded and without bias, each followed by BatchNorm2D, ReLU and MaxPool2D 2, Linear 3136→128, ReLU, Dropout 0.3, Linear 128→10 on 28×28×1). "PyTorch best" is PyTorch's best of its four settings in this run${heldToAvx2 ? '; "PyTorch AVX2 best" its best of the same four held to AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2: what it runs on an AVX2-only CPU), the AVX2 path\'s rival' : ''}.`,
    '',
    table(header, rows),
    '',
    `The convolutions alone, batch 32, one thread, ${defaultPath} path: GFLOP/s of useful work (2·batch·outH·outW·kH·kW·chanIn·chanOut per pass) and, in brackets, its share of one core's FMA peak measured by the addon's \`fmaProbe\` in rounds alternating with the pass (best probe of the run: ${fmt(bestPeak)} GFLOP/s).`,
    '',
    table(['convolution', 'forward', 'input gradient', 'weight gradient'], convRows),
    '',
    `Peak RSS of a process running only the LeNet benchmark (one thread, 60·batch random images held in memory): batch 32 ${fmt(rss.lenet32, 0)} MiB, batch 128 ${fmt(rss.lenet128, 0)} MiB.`,
  ].join('\n');
  console.log(`\n${body}`);
  if (write) writeSection('2d', body);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
