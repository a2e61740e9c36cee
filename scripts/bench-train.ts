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
import { setBackend, setThreads } from '../lib';
import { measure, NetSpec, specs } from './bench-nets';
import { TUNED_MALLOC_ENV, fmt, machineDescription, repoRoot, runPython, table, writeSection } from './bench-util';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !args.includes('--no-write') && !quick;
const compare = !args.includes('--no-compare');
const netArg =
  args.find((a) => a.startsWith('--nets='))?.slice(7) ?? (args.includes('--nets') ? args[args.indexOf('--nets') + 1] : undefined);
const cores = os.cpus().length;

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
  for (const s of chosen) {
    const r: Record<string, number | undefined> = {};
    setThreads(1);
    const m1 = await measure(s, epochs, batchesFor(s));
    r.native1 = m1.samplesPerSec;
    setThreads(cores);
    const mAll = await measure(s, epochs, batchesFor(s));
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
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON printed by bench_torch.py, read field by field
  const torch: Record<number, any> = {};
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same, with PyTorch's allocator tuned
  const torchTuned: Record<number, any> = {};
  let torchConfig = '';
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
    tfWasm = runTfjs('wasm', nets, quick ? 2 : 3, quick ? 3 : 30);
    console.log(`tfjs-wasm: ${JSON.stringify(tfWasm)}`);
    tfCpu = runTfjs('cpu', nets, 2, 3);
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
  const rss = process.resourceUsage().maxRSS / 1024;
  const body = [
    '## Training throughput (samples/s)',
    '',
    `Command: \`npm run bench\` (= \`npx ts-node --transpile-only scripts/bench-train.ts\`), ${new Date().toISOString().slice(0, 10)}.`,
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
  ].join('\n');
  if (write) writeSection('train', body);
  console.log(body);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
