// Training throughput (samples/s) of neurone against PyTorch and TensorFlow.js,
// all measured in this one run on this machine.
//
//   npx ts-node --transpile-only scripts/bench-train.ts [--quick] [--no-write] [--nets a,c32] [--no-compare]
//
// Each neurone figure is the median epoch of `fit` (the real training loop:
// shuffling, batch gathering, loss, NaN guard, SGD) over random data, after a
// warm-up epoch. Writes the "train" section of BENCHMARKS.md.
import * as os from 'os';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { PerformanceObserver } from 'perf_hooks';
import {
  AvgPool1D, BCELoss, CELogSoftmaxLoss, Conv1D, Flatten, Linear, MaxPool1D, ReLU, Sequential, SGD, Sigmoid, TanH,
  fit, predict, seed, setBackend, setThreads, Tensor, zeros,
} from '../lib';
import { Loss } from '../lib/losses';
import { Module } from '../lib/nn/module';
import { fmt, machineDescription, repoRoot, runPython, table, writeSection } from './bench-util';

void AvgPool1D;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !args.includes('--no-write') && !quick;
const compare = !args.includes('--no-compare');
const netArg = args.find((a) => a.startsWith('--nets='))?.slice(7) ?? (args.includes('--nets') ? args[args.indexOf('--nets') + 1] : undefined);
const cores = os.cpus().length;

interface NetSpec {
  key: string;
  label: string;
  build: () => Module;
  inputShape: number[];
  batch: number;
  loss: () => Loss;
  target: 'class' | 'input';
  inferenceOnly?: boolean;
}

const seedCnn = (length: number) => (): Module => new Sequential(
  new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(),
  new Linear(32 * Math.floor((length - 2) / 2), 100), new ReLU(), new Linear(100, 10),
);
const deepCnn = (): Module => {
  let n = 256;
  for (let i = 0; i < 3; i++) n = Math.floor((n - 2 - 8) / 2) + 1;
  return new Sequential(
    new Conv1D(3, 1, 64), new ReLU(), new MaxPool1D(8, 2),
    new Conv1D(3, 64, 64), new ReLU(), new MaxPool1D(8, 2),
    new Conv1D(3, 64, 64), new ReLU(), new MaxPool1D(8, 2),
    new Flatten(), new Linear(64 * n, 10),
  );
};

const specs: NetSpec[] = [
  { key: 'a', label: 'a. seed CNN, length 256, batch 32', build: seedCnn(256), inputShape: [256, 1], batch: 32, loss: () => new CELogSoftmaxLoss(), target: 'class' },
  { key: 'b', label: 'b. seed CNN, length 784, batch 32', build: seedCnn(784), inputShape: [784, 1], batch: 32, loss: () => new CELogSoftmaxLoss(), target: 'class' },
  { key: 'c32', label: 'c. MLP 784-256-10, batch 32', build: () => new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)), inputShape: [784], batch: 32, loss: () => new CELogSoftmaxLoss(), target: 'class' },
  { key: 'c256', label: 'c. MLP 784-256-10, batch 256', build: () => new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)), inputShape: [784], batch: 256, loss: () => new CELogSoftmaxLoss(), target: 'class' },
  {
    key: 'd', label: 'd. autoencoder 784-256-64-256-784, batch 32',
    build: () => new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 64), new TanH(), new Linear(64, 256), new TanH(), new Linear(256, 784), new Sigmoid()),
    inputShape: [784], batch: 32, loss: () => new BCELoss(), target: 'input',
  },
  { key: 'e', label: 'e. deep CNN (3 conv), length 256, batch 32', build: deepCnn, inputShape: [256, 1], batch: 32, loss: () => new CELogSoftmaxLoss(), target: 'class' },
  { key: 'infer', label: 'inference of a, batch 256', build: seedCnn(256), inputShape: [256, 1], batch: 256, loss: () => new CELogSoftmaxLoss(), target: 'class', inferenceOnly: true },
];

function randomData(spec: NetSpec, n: number): { x: Tensor; y: Tensor } {
  const x = zeros([n, ...spec.inputShape]);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random();
  if (spec.target === 'input') return { x, y: x };
  const y = zeros([n]);
  for (let i = 0; i < n; i++) y.data[i] = Math.floor(Math.random() * 10);
  return { x, y };
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

interface Measure { samplesPerSec: number; gcShare: number }

/**
 * Median samples/s over `epochs` timed epochs of `batches` batches, after one warm-up epoch.
 * Like the PyTorch and tfjs twins, the batches are taken in order (fit then reads them in
 * place); `shuffle` measures fit's default instead, which gathers random rows every batch.
 */
async function measure(spec: NetSpec, epochs: number, batches: number, shuffle = false): Promise<Measure> {
  seed(1);
  const net = spec.build();
  const n = spec.batch * batches;
  const data = randomData(spec, n);
  if (spec.inferenceOnly) {
    const times: number[] = [];
    predict(net, data.x, { batchSize: spec.batch });
    const gc0 = gcMs;
    let total = 0;
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      predict(net, data.x, { batchSize: spec.batch });
      const dt = performance.now() - t0;
      total += dt;
      times.push(n / (dt / 1000));
    }
    return { samplesPerSec: median(times), gcShare: (gcMs - gc0) / total };
  }
  const optimizer = new SGD({ lr: 0.01 / spec.batch });
  await fit(net, spec.loss(), optimizer, data, { epochs: 1, batchSize: spec.batch, verbose: 0, shuffle });
  const gc0 = gcMs;
  const t0 = performance.now();
  const history = await fit(net, spec.loss(), optimizer, data, { epochs, batchSize: spec.batch, verbose: 0, shuffle });
  const total = performance.now() - t0;
  return { samplesPerSec: median(history.epochs.map((e) => n / e.seconds)), gcShare: (gcMs - gc0) / total };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function runTfjs(backendName: 'cpu' | 'wasm', nets: string, epochs: number, batches: number): Record<string, { samplesPerSec: number | null; note: string }> | string {
  try {
    const out = execFileSync(process.execPath, [
      path.join(repoRoot, 'node_modules/ts-node/dist/bin.js'), '--transpile-only', path.join(repoRoot, 'scripts/bench-tfjs.ts'),
      '--backend', backendName, '--threads', '1', '--nets', nets, '--epochs', String(epochs), '--batches', String(batches),
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 });
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
    console.log(`${s.key}: native 1T ${fmt(r.native1, 0)}, ${cores}T ${fmt(r.nativeAll, 0)} (shuffled ${fmt(r.shuffled, 0)}), js ${fmt(r.js, 0)} samples/s, GC ${(100 * r.gc).toFixed(2)} %`);
  }
  const nets = chosen.map((s) => s.key).join(',');
  const torch: Record<number, any> = {};
  let torchConfig = '';
  let tfCpu: ReturnType<typeof runTfjs> = 'not run';
  let tfWasm: ReturnType<typeof runTfjs> = 'not run';
  if (compare) {
    for (const t of [1, cores]) {
      const r = runPython('bench_torch.py', ['--nets', nets, '--threads', String(t), '--epochs', String(epochs), '--batches', quick ? '10' : '100'], t);
      if (r.ok) {
        torch[t] = r.value.results;
        torchConfig = `PyTorch ${r.value.version}`;
      } else notes.push(`PyTorch ${t}T failed: ${r.reason}`);
      console.log(`torch ${t}T: ${JSON.stringify(torch[t] ?? r)}`);
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
    const tfc = typeof tfCpu === 'object' ? tfCpu[s.key]?.samplesPerSec ?? undefined : undefined;
    const tfw = typeof tfWasm === 'object' ? tfWasm[s.key]?.samplesPerSec ?? undefined : undefined;
    const ratio = (v: number | undefined): string => (v && tBest ? `${(v / tBest).toFixed(2)}×` : 'n/a');
    return [
      s.label, fmt(r.native1, 0), fmt(r.nativeAll, 0), fmt(r.shuffled, 0), fmt(r.js, 0), fmt(tfc ?? undefined, 0), fmt(tfw ?? undefined, 0),
      fmt(t1, 0), fmt(tAll, 0), ratio(r.native1), ratio(r.nativeAll), r.js ? `${((r.nativeAll ?? 0) / r.js).toFixed(0)}×` : 'n/a',
      tfc ? `${(r.js! / tfc).toFixed(1)}×` : 'n/a',
    ];
  });
  const rss = process.resourceUsage().maxRSS / 1024;
  const body = [
    '## Training throughput (samples/s)',
    '',
    `Command: \`npm run bench\` (= \`npx ts-node --transpile-only scripts/bench-train.ts\`), ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machineDescription()}. ${torchConfig}, run by \`/usr/bin/python3 scripts/bench_torch.py\` with OMP/MKL threads = torch threads; tfjs 4.22 (\`scripts/bench-tfjs.ts\`, 1 thread).`,
    `Median epoch after a warm-up, float32, plain SGD, random data taken in order by every framework (neurone's \`fit\` then reads each batch in place; the "shuffled" column is \`fit\`'s default, which reshuffles every epoch and copies each batch's random rows, ${cores} threads). Ratios are to PyTorch's best thread setting in this run. Peak RSS of the neurone process ${rss.toFixed(0)} MiB; GC time at most ${(100 * maxGcShare).toFixed(2)} % of training time (perf_hooks 'gc' entries).`,
    '',
    table(['net', 'neurone 1T', `neurone ${cores}T`, `neurone ${cores}T shuffled`, 'neurone js', 'tfjs cpu', 'tfjs wasm', 'PyTorch 1T', `PyTorch ${cores}T`, 'neurone 1T / PyTorch', `neurone ${cores}T / PyTorch`, 'native / js', 'js / tfjs cpu'], rows),
    ...(typeof tfWasm === 'object' ? ['', ...Object.entries(tfWasm).filter(([, v]) => v.note).map(([k, v]) => `- tfjs wasm ${k}: ${v.note}`)] : []),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
  if (write) writeSection('train', body);
  console.log(body);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
