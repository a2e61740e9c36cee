// Training throughput (samples/s) of neurone against PyTorch and TensorFlow.js,
// all measured in this one run on this machine.
//
//   npx ts-node --transpile-only scripts/bench-train.ts [--quick] [--no-write] [--nets a,c32] [--no-compare]
//
// Each neurone figure is the median epoch of `fit` (the real training loop:
// batches, loss, NaN guard, SGD) over random data, after a warm-up epoch; the nets
// and the timing live in scripts/bench-nets.ts. Writes the "train" section of BENCHMARKS.md.
import * as os from 'os';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { Conv1D, Conv2D, Linear, Sequential, setBackend, setThreads, zeros } from '../lib';
import { loadNative } from '../lib/backend/native';
import { Measure, measure, NetSpec, specs } from './bench-nets';
import { TORCH_AVX2_ENV, TUNED_MALLOC_ENV, fmt, machineDescription, repoRoot, runPython, table, writeSection } from './bench-util';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !args.includes('--no-write') && !quick;
const compare = !args.includes('--no-compare');
const netArg =
  args.find((a) => a.startsWith('--nets='))?.slice(7) ?? (args.includes('--nets') ? args[args.indexOf('--nets') + 1] : undefined);
// The CPUs this process may run on (a `taskset` narrows them), not all the machine has.
const cores = os.availableParallelism();

function runTfjs(
  backendName: 'cpu' | 'wasm',
  nets: string,
  epochs: number,
  batches: number,
): Record<string, { samplesPerSec: number | null; note: string }> | string {
  try {
    const out = execFileSync(
      process.execPath,
      [
        path.join(repoRoot, 'node_modules/ts-node/dist/bin.js'),
        '--transpile-only',
        path.join(repoRoot, 'scripts/bench-tfjs.ts'),
        '--backend',
        backendName,
        '--threads',
        '1',
        '--nets',
        nets,
        '--epochs',
        String(epochs),
        '--batches',
        String(batches),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 },
    );
    return JSON.parse(out.trim().split('\n').pop() ?? '{}').results;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

async function main(): Promise<void> {
  const chosen = specs.filter((s) => !netArg || netArg.split(',').includes(s.key));
  const epochs = quick ? 3 : 7;
  const batchesFor = (s: NetSpec): number => (quick ? 10 : s.key === 'b' || s.key === 'e' ? 40 : s.batch === 256 ? 40 : 150);
  const results: Record<string, Record<string, number | undefined>> = {};
  const notes: string[] = [];
  let maxGcShare = 0;
  setBackend('native');
  // Every SIMD path this CPU runs, best first: the main table is the best path (the default),
  // the per-path table adds the others (AVX2 on an AVX-512 machine, as an AVX2-only CPU runs).
  const addon = loadNative().addon;
  if (!addon) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
  const defaultPath = addon.kernelPath();
  const simdPaths = addon
    .supportedKernelPaths()
    .filter((p) => p !== 'scalar')
    .reverse();
  const perPath: Record<string, Record<string, { one: Measure; all: Measure }>> = {};
  for (const s of chosen) {
    const r: Record<string, number | undefined> = {};
    let m1: Measure | undefined;
    let mAll: Measure | undefined;
    for (const p of simdPaths.length ? simdPaths : [defaultPath]) {
      addon.setKernelPath(p);
      setThreads(1);
      const one = await measure(s, epochs, batchesFor(s));
      setThreads(cores);
      const all = await measure(s, epochs, batchesFor(s));
      (perPath[s.key] ??= {})[p] = { one, all };
      if (p === defaultPath) [m1, mAll] = [one, all];
      console.log(`${s.key} on ${p}: 1T ${fmt(one.samplesPerSec, 0)}, ${cores}T ${fmt(all.samplesPerSec, 0)} samples/s`);
    }
    addon.setKernelPath(defaultPath);
    if (!m1 || !mAll) throw new Error(`the default kernel path ${defaultPath} was not measured`);
    r.native1 = m1.samplesPerSec;
    r.nativeAll = mAll.samplesPerSec;
    if (!s.inferenceOnly) r.shuffled = (await measure(s, epochs, batchesFor(s), true)).samplesPerSec;
    maxGcShare = Math.max(maxGcShare, m1.gcShare, mAll.gcShare);
    r.gc = Math.max(m1.gcShare, mAll.gcShare);
    setBackend('js');
    r.js = (await measure(s, quick ? 1 : 3, quick ? 2 : Math.max(3, Math.floor(batchesFor(s) / 15)))).samplesPerSec;
    setBackend('native');
    results[s.key] = r;
    console.log(
      `${s.key}: native 1T ${fmt(r.native1, 0)}, ${cores}T ${fmt(r.nativeAll, 0)} (shuffled ${fmt(r.shuffled, 0)}), js ${fmt(r.js, 0)} samples/s, GC ${(100 * r.gc).toFixed(2)} %`,
    );
  }
  const nets = chosen.map((s) => s.key).join(',');
  const tfjsNets = chosen
    .filter((s) => s.tfjs !== false)
    .map((s) => s.key)
    .join(',');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON printed by bench_torch.py, read field by field
  const torch: Record<number, any> = {};
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same, with PyTorch's allocator tuned
  const torchTuned: Record<number, any> = {};
  let torchConfig = '';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bench_torch.py's JSON results
  const torchAvx2: Record<string, any> = {};
  let tfCpu: ReturnType<typeof runTfjs> = 'not run';
  let tfWasm: ReturnType<typeof runTfjs> = 'not run';
  if (compare) {
    for (const t of [1, cores]) {
      const r = runPython(
        'bench_torch.py',
        ['--nets', nets, '--threads', String(t), '--epochs', String(epochs), '--batches', quick ? '10' : '100'],
        t,
      );
      if (r.ok) {
        torch[t] = r.value.results;
        torchConfig = `PyTorch ${r.value.version}`;
      } else notes.push(`PyTorch ${t}T failed: ${r.reason}`);
      console.log(`torch ${t}T: ${JSON.stringify(torch[t] ?? r)}`);
      const rt = runPython(
        'bench_torch.py',
        ['--nets', nets, '--threads', String(t), '--epochs', String(epochs), '--batches', quick ? '10' : '100'],
        t,
        TUNED_MALLOC_ENV,
      );
      if (rt.ok) torchTuned[t] = rt.value.results;
      else notes.push(`PyTorch ${t}T with the tuned allocator failed: ${rt.reason}`);
      console.log(`torch ${t}T tuned malloc: ${JSON.stringify(torchTuned[t] ?? rt)}`);
    }
    // What PyTorch runs on an AVX2-only CPU: its ATen kernels, oneDNN and OpenBLAS held to AVX2
    // (on this machine they pick AVX-512 otherwise). The AVX2 path's rival, one thread.
    if (simdPaths.includes('avx2') && simdPaths.includes('avx512')) {
      for (const [key, extra] of [
        ['plain', {}],
        ['tuned', TUNED_MALLOC_ENV],
      ] as const) {
        const r = runPython(
          'bench_torch.py',
          ['--nets', nets, '--threads', '1', '--epochs', String(epochs), '--batches', quick ? '10' : '100'],
          1,
          { ...TORCH_AVX2_ENV, ...extra },
        );
        if (r.ok) torchAvx2[key] = r.value.results;
        else notes.push(`PyTorch 1T held to AVX2 (${key} malloc) failed: ${r.reason}`);
        console.log(`torch 1T avx2 ${key}: ${JSON.stringify(torchAvx2[key] ?? r)}`);
      }
    }
    tfWasm = runTfjs('wasm', tfjsNets, quick ? 2 : 3, quick ? 3 : 30);
    console.log(`tfjs-wasm: ${JSON.stringify(tfWasm)}`);
    tfCpu = runTfjs('cpu', tfjsNets, 2, 3);
    console.log(`tfjs-cpu: ${JSON.stringify(tfCpu)}`);
  }
  const rows = chosen.map((s) => {
    const r = results[s.key];
    const t1 = torch[1]?.[s.key]?.samplesPerSec as number | undefined;
    const tAll = torch[cores]?.[s.key]?.samplesPerSec as number | undefined;
    const tBest = Math.max(t1 ?? 0, tAll ?? 0) || undefined;
    const u1 = torchTuned[1]?.[s.key]?.samplesPerSec as number | undefined;
    const uAll = torchTuned[cores]?.[s.key]?.samplesPerSec as number | undefined;
    const overallBest = Math.max(tBest ?? 0, u1 ?? 0, uAll ?? 0) || undefined;
    const ourBest = Math.max(r.native1 ?? 0, r.nativeAll ?? 0) || undefined;
    const tfc = typeof tfCpu === 'object' ? (tfCpu[s.key]?.samplesPerSec ?? undefined) : undefined;
    const tfw = typeof tfWasm === 'object' ? (tfWasm[s.key]?.samplesPerSec ?? undefined) : undefined;
    const ratio = (v: number | undefined): string => (v && tBest ? `${(v / tBest).toFixed(2)}×` : 'n/a');
    return [
      s.label,
      fmt(r.native1, 0),
      fmt(r.nativeAll, 0),
      fmt(r.shuffled, 0),
      fmt(r.js, 0),
      fmt(tfc ?? undefined, 0),
      fmt(tfw ?? undefined, 0),
      fmt(t1, 0),
      fmt(tAll, 0),
      fmt(u1, 0),
      fmt(uAll, 0),
      ratio(r.native1),
      ratio(r.nativeAll),
      ourBest && overallBest ? `${(ourBest / overallBest).toFixed(2)}×` : 'n/a',
      r.js ? `${((r.nativeAll ?? 0) / r.js).toFixed(0)}×` : 'n/a',
      tfc ? `${(r.js! / tfc).toFixed(1)}×` : 'n/a',
    ];
  });
  const pathTables = simdPaths.length ? pathSection(chosen, simdPaths, perPath, torch, torchTuned, torchAvx2, cores) : [];
  const rss = process.resourceUsage().maxRSS / 1024;
  const body = [
    '## Training throughput (samples/s)',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-train.ts\` (the first part of npm run bench), ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machineDescription()}. ${torchConfig}, run by \`/usr/bin/python3 scripts/bench_torch.py\` with OMP/MKL threads = torch threads; tfjs 4.22 (\`scripts/bench-tfjs.ts\`, 1 thread).`,
    `Median epoch after a warm-up, float32, plain SGD, random data taken in order by every framework (neurone's \`fit\` then reads each batch in place; the "shuffled" column is \`fit\`'s default, which reshuffles every epoch and copies each batch's random rows, ${cores} threads). The "neurone / PyTorch" ratios are to PyTorch's best thread setting in this run, as installed; the "tuned malloc" columns rerun PyTorch with glibc's mmap threshold fixed at 32 MiB (\`GLIBC_TUNABLES\`, see \`TUNED_MALLOC_ENV\` in scripts/bench-util.ts), under which its seed CNNs and inference run up to 2.5× faster, and "best / best" compares neurone's best thread setting with PyTorch's best of all four. Peak RSS of the neurone process ${rss.toFixed(0)} MiB; GC time at most ${(100 * maxGcShare).toFixed(2)} % of training time (perf_hooks 'gc' entries).`,
    '',
    table(
      [
        'net',
        'neurone 1T',
        `neurone ${cores}T`,
        `neurone ${cores}T shuffled`,
        'neurone js',
        'tfjs cpu',
        'tfjs wasm',
        'PyTorch 1T',
        `PyTorch ${cores}T`,
        'PyTorch 1T tuned malloc',
        `PyTorch ${cores}T tuned malloc`,
        'neurone 1T / PyTorch',
        `neurone ${cores}T / PyTorch`,
        'best / best',
        'native / js',
        'js / tfjs cpu',
      ],
      rows,
    ),
    ...(typeof tfWasm === 'object'
      ? [
          '',
          ...Object.entries(tfWasm)
            .filter(([, v]) => v.note)
            .map(([k, v]) => `- tfjs wasm ${k}: ${v.note}`),
        ]
      : []),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    ...pathTables,
  ].join('\n');
  if (write) writeSection('train', body);
  console.log(body);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bench_torch.py's JSON results, by thread count
type TorchResults = Record<number | string, any>;

/** PyTorch's figure for a net at `threads` threads: the best of its two allocator settings. */
function torchAt(key: string, threads: number, torch: TorchResults, torchTuned: TorchResults): number | undefined {
  const v = Math.max(torch[threads]?.[key]?.samplesPerSec ?? 0, torchTuned[threads]?.[key]?.samplesPerSec ?? 0);
  return v || undefined;
}

/** PyTorch held to AVX2, one thread, the better of its two allocator settings. */
function torchAvx2OneThread(key: string, torchAvx2: TorchResults): number | undefined {
  const v = Math.max(torchAvx2.plain?.[key]?.samplesPerSec ?? 0, torchAvx2.tuned?.[key]?.samplesPerSec ?? 0);
  return v || undefined;
}

/**
 * FLOPs of one sample through a net's Linear, Conv1D and Conv2D layers: the forward product, and for
 * training its weight gradient and, past the first layer, its input gradient (each as many
 * multiply-adds again). The rest (activations, pooling, the loss, the optimiser) is not counted:
 * samples/s at the FMA peak over this is a ceiling no implementation passes.
 */
function flopsPerSample(spec: NetSpec): number {
  const net = spec.build() as Sequential;
  let x = zeros([1, ...spec.inputShape]);
  let flops = 0;
  net.modules.forEach((m, i) => {
    const y = m.forward(x);
    let product = 0;
    if (m instanceof Linear) product = 2 * m.weight.shape[0] * m.weight.shape[1];
    else if (m instanceof Conv1D) product = 2 * y.shape[1] * m.weight.shape[0] * m.weight.shape[1] * m.weight.shape[2];
    // Output pixels × the weight's kH·kW·chanIn·chanOut multiply-adds.
    else if (m instanceof Conv2D) product = 2 * y.shape[1] * y.shape[2] * m.weight.data.length;
    flops += spec.inferenceOnly ? product : (i === 0 ? 2 : 3) * product;
    x = y;
  });
  return flops;
}

/** PyTorch's best of everything: both thread counts, both allocator settings. */
function torchBest(key: string, torch: TorchResults, torchTuned: TorchResults, cores: number): number | undefined {
  const v = Math.max(...[torch[1], torch[cores], torchTuned[1], torchTuned[cores]].map((t) => (t?.[key]?.samplesPerSec as number) ?? 0));
  return v || undefined;
}

/** One core's FMA peak on a SIMD path, GFLOP/s: the best of a few rounds of the addon's probe. */
function fmaPeak(path: string): number | undefined {
  const addon = loadNative().addon!;
  const probe = (addon as unknown as { fmaProbe?: (steps: number) => number }).fmaProbe;
  if (typeof probe !== 'function') return undefined;
  const before = addon.kernelPath();
  addon.setKernelPath(path);
  let best = 0;
  for (let r = 0; r < 20; r++) {
    const t0 = process.hrtime.bigint();
    const flops = probe.call(addon, 1 << 18);
    best = Math.max(best, flops / Number(process.hrtime.bigint() - t0));
  }
  addon.setKernelPath(before);
  return best;
}

/**
 * Multiply-adds of one training sample of the seed CNN (net a or b), as FLOPs: the forward
 * through Conv1D(3, 1, 32), MaxPool1D(2, 2), Linear(32 * pooled, 100), Linear(100, 10); the
 * weight gradient of each (as many again); the input gradient of both Linears (the
 * convolution's input needs none).
 */
function seedCnnFlops(length: number): number {
  const conv = 2 * (length - 2) * 3 * 32;
  const fc1 = 2 * 32 * Math.floor((length - 2) / 2) * 100;
  const fc2 = 2 * 100 * 10;
  return 2 * (conv + fc1 + fc2) + fc1 + fc2;
}

// Issue 21's targets: one-thread ratios to PyTorch's one-thread best ('1T'), or neurone's best
// thread setting to PyTorch's best of all four ('best'); two threads over one on a quiet machine.
const ratioTargets: Record<string, { net: string; min: number; against: '1T' | 'best' }[]> = {
  avx2: [
    { net: 'a', min: 3, against: '1T' },
    { net: 'b', min: 2.5, against: '1T' },
    { net: 'c32', min: 2, against: '1T' },
    { net: 'c256', min: 1.3, against: '1T' },
    { net: 'd', min: 1.5, against: '1T' },
    { net: 'e', min: 2, against: '1T' },
    { net: 'infer', min: 3, against: '1T' },
  ],
  avx512: [
    { net: 'a', min: 4, against: 'best' },
    { net: 'c256', min: 1.5, against: 'best' },
    { net: 'e', min: 2, against: '1T' },
    { net: 'infer', min: 4, against: '1T' },
  ],
};
const scalingTargetNets = ['a', 'c256', 'e'];
const scalingTarget = 1.7;

/** The per-path table and the targets read against it, as Markdown lines. */
function pathSection(
  chosen: NetSpec[],
  paths: string[],
  perPath: Record<string, Record<string, { one: Measure; all: Measure }>>,
  torch: TorchResults,
  torchTuned: TorchResults,
  torchAvx2: TorchResults,
  cores: number,
): string[] {
  const peaks: Record<string, number | undefined> = {};
  for (const p of paths) peaks[p] = fmaPeak(p);
  const flops: Record<string, number> = {};
  for (const s of chosen) flops[s.key] = flopsPerSample(s);
  const heldToAvx2 = Object.keys(torchAvx2).length > 0;
  // The rival of a path's one-thread figure: PyTorch as it runs on a CPU with that path's
  // instructions (held to AVX2 for the AVX2 path on an AVX-512 machine), one thread.
  const rival = (p: string, key: string): number | undefined =>
    p === 'avx2' && heldToAvx2 ? torchAvx2OneThread(key, torchAvx2) : torchAt(key, 1, torch, torchTuned);
  const range = (lo: number, hi: number, digits = 2): string =>
    lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
  const rows = chosen.map((s) => {
    const cells = [s.label];
    for (const p of paths) {
      const m = perPath[s.key][p];
      cells.push(fmt(m.one.samplesPerSec, 0), fmt(m.all.samplesPerSec, 0));
    }
    cells.push(fmt(torchAt(s.key, 1, torch, torchTuned), 0));
    if (heldToAvx2) cells.push(fmt(torchAvx2OneThread(s.key, torchAvx2), 0));
    for (const p of paths) {
      const m = perPath[s.key][p];
      const r = rival(p, s.key);
      const ceiling = peaks[p] ? (peaks[p]! * 1e9) / flops[s.key] : undefined;
      cells.push(r ? `${(m.one.samplesPerSec / r).toFixed(2)}×` : 'n/a');
      cells.push(ceiling && r ? `${(ceiling / r).toFixed(2)}×` : 'n/a');
      cells.push(`${(m.all.samplesPerSec / m.one.samplesPerSec).toFixed(2)}×`);
    }
    return cells;
  });
  const header = ['net'];
  for (const p of paths) header.push(`${p} 1T`, `${p} ${cores}T`);
  header.push('PyTorch 1T (best malloc)');
  if (heldToAvx2) header.push('PyTorch 1T held to AVX2');
  for (const p of paths) header.push(`${p} 1T / its PyTorch`, `${p} FMA-peak ceiling / its PyTorch`, `${p} ${cores}T / 1T`);

  const targetRows: string[][] = [];
  for (const p of paths) {
    for (const t of ratioTargets[p] ?? []) {
      const m = perPath[t.net]?.[p];
      if (!m) continue;
      const theirs = t.against === '1T' ? rival(p, t.net) : torchBest(t.net, torch, torchTuned, cores);
      const ours = t.against === '1T' ? m.one : m.one.samplesPerSec >= m.all.samplesPerSec ? m.one : m.all;
      if (!theirs) {
        targetRows.push([p, `${t.net} ≥ ${t.min}× (${t.against})`, 'n/a', 'PyTorch not measured']);
        continue;
      }
      const ratio = ours.samplesPerSec / theirs;
      const ceiling = peaks[p] && t.against === '1T' ? (peaks[p]! * 1e9) / flops[t.net] / theirs : undefined;
      targetRows.push([
        p,
        `${t.net} ≥ ${t.min}× PyTorch ${t.against === '1T' ? '1T' : 'best / best'}`,
        `${ratio.toFixed(2)}× (epochs ${range(ours.spread[0] / theirs, ours.spread[1] / theirs)}×)`,
        ratio >= t.min
          ? 'met'
          : ceiling !== undefined && ceiling < t.min
            ? `**not met**: beyond the FMA peak (ceiling ${ceiling.toFixed(2)}×)`
            : '**not met**',
      ]);
    }
    if (cores === 2) {
      for (const net of scalingTargetNets) {
        const m = perPath[net]?.[p];
        if (!m) continue;
        const ratio = m.all.samplesPerSec / m.one.samplesPerSec;
        targetRows.push([
          p,
          `${net}: 2 threads ≥ ${scalingTarget}× 1 thread`,
          `${ratio.toFixed(2)}× (epochs ${range(m.all.spread[0] / m.one.spread[1], m.all.spread[1] / m.one.spread[0])}×)`,
          ratio >= scalingTarget ? 'met' : '**not met**',
        ]);
      }
    }
    const a = perPath.a?.[p];
    const peak = peaks[p];
    if (a && peak) {
      const share = (a.one.samplesPerSec * seedCnnFlops(256)) / 1e9 / peak;
      targetRows.push([
        p,
        'a at ≥ 40 % of the path’s FMA peak (1T)',
        `${(100 * share).toFixed(0)} % of ${peak.toFixed(0)} GFLOP/s (${((a.one.samplesPerSec * seedCnnFlops(256)) / 1e9).toFixed(1)} GFLOP/s)`,
        share >= 0.4 ? 'met' : '**not met**',
      ]);
    }
  }
  const behind = behindPyTorch(chosen, paths, perPath, torch, torchTuned, cores, rival, heldToAvx2);
  return [
    '',
    '### Per SIMD path',
    '',
    `The same nets on every SIMD path this CPU runs (\`setKernelPath\`, as \`NEURONE_KERNEL\` picks at start-up: the AVX2 columns are what an AVX2-only CPU of this microarchitecture runs), measured one after the other for each net. Each path's ratios are to PyTorch's one-thread figure as it runs on a CPU with that path's instructions, the better of its two allocator settings${heldToAvx2 ? ': for the AVX2 path, PyTorch held to AVX2 (`ATEN_CPU_CAPABILITY=avx2`, `DNNL_MAX_CPU_ISA=AVX2`, `OPENBLAS_CORETYPE=Haswell`), as on an AVX2-only CPU' : ''}. "FMA-peak ceiling" is the samples/s of the net's GEMM and convolution FLOPs at the path's measured FMA peak (one core), over the same PyTorch figure: no implementation's ratio can exceed it.`,
    '',
    table(header, rows),
    '',
    '### Targets read against this run',
    '',
    `"epochs" gives the range over neurone's timed epochs (slowest to fastest) against PyTorch's median.${cores === 2 ? '' : ' The two-thread targets are for a 2-core machine and are not read here.'}`,
    '',
    table(['path', 'target', 'measured', ''], targetRows),
    '',
    '### Where a path is behind PyTorch in this run',
    '',
    `Every net, every path: its one-thread figure against PyTorch's one-thread one on that path's instructions (the better allocator setting); on the path PyTorch itself runs here, also its ${cores}-thread figure against PyTorch's at ${cores} threads, and its one-thread and its best figure against PyTorch's best of all four settings. No average: each shortfall is listed.`,
    '',
    ...(behind.length ? behind : ['- None: every path is ahead of PyTorch on every net at each of these comparisons.']),
  ];
}

/**
 * The comparisons in which a path's samples/s are below PyTorch's, one Markdown line each. The
 * AVX2 path is compared at one thread only where PyTorch was also held to AVX2 (its two-thread and
 * best-of-four figures ran PyTorch's AVX-512 code).
 */
function behindPyTorch(
  chosen: NetSpec[],
  paths: string[],
  perPath: Record<string, Record<string, { one: Measure; all: Measure }>>,
  torch: TorchResults,
  torchTuned: TorchResults,
  cores: number,
  rival: (p: string, key: string) => number | undefined,
  heldToAvx2: boolean,
): string[] {
  const lines: string[] = [];
  for (const s of chosen) {
    for (const p of paths) {
      const m = perPath[s.key]?.[p];
      if (!m) continue;
      const installedCode = !(p === 'avx2' && heldToAvx2);
      const checks: [string, number, number | undefined][] = [
        [`1 thread against PyTorch's 1 thread`, m.one.samplesPerSec, rival(p, s.key)],
      ];
      if (installedCode) {
        checks.push([`${cores} threads against PyTorch's ${cores}`, m.all.samplesPerSec, torchAt(s.key, cores, torch, torchTuned)]);
        // Issue 16's reading for the 2-D nets: one neurone thread against whatever PyTorch does best.
        checks.push([`1 thread against PyTorch's best of four`, m.one.samplesPerSec, torchBest(s.key, torch, torchTuned, cores)]);
        checks.push([
          `best against PyTorch's best of four`,
          Math.max(m.one.samplesPerSec, m.all.samplesPerSec),
          torchBest(s.key, torch, torchTuned, cores),
        ]);
      }
      for (const [what, ours, theirs] of checks) {
        if (theirs === undefined || ours >= theirs) continue;
        lines.push(`- ${p}, ${s.label}: ${what}, ${(ours / theirs).toFixed(2)}× (${fmt(ours, 0)} against ${fmt(theirs, 0)} samples/s)`);
      }
    }
  }
  return lines;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
