// How neurone's lead over PyTorch changes with batch size and layer width, on the MLP of net c
// (784-W-10, TanH, cross-entropy from logits, plain SGD): both measured in this one run.
//
//   npx ts-node --transpile-only scripts/bench-sweep.ts [--widths 64,256,1024] [--batches 1,8,32,128,512] [--quick] [--no-write]
//
// Same timing as the training table (scripts/bench-nets.ts: median epoch after a warm-up,
// batches in order); each epoch holds at least 2,048 samples (and 20 batches). PyTorch is
// scripts/bench_torch.py with its mlp-W-B nets. Writes the "sweep" section of BENCHMARKS.md.
import * as os from 'os';
import { setBackend, setThreads } from '../lib';
import { measure, mlpSpec } from './bench-nets';
import { fmt, machineDescription, runPython, table, writeSection } from './bench-util';

const args = process.argv.slice(2);
const list = (name: string, fallback: number[]): number[] =>
  args.includes(name) ? args[args.indexOf(name) + 1].split(',').map(Number) : fallback;
const widths = list('--widths', [64, 256, 1024]);
const batchSizes = list('--batches', [1, 8, 32, 128, 512]);
const cores = os.cpus().length;
const threadCounts = cores > 1 ? [1, cores] : [1];
const quick = args.includes('--quick');
const write = !args.includes('--no-write') && !quick;
const epochs = quick ? 2 : 5;
const samplesPerEpoch = quick ? 256 : 2048;

async function main(): Promise<void> {
  const t0 = Date.now();
  setBackend('native');
  const specs = widths.flatMap((w) => batchSizes.map((b) => mlpSpec(w, b)));
  const ours: Record<string, Record<number, number>> = {};
  for (const t of threadCounts) {
    setThreads(t);
    for (const s of specs) {
      const batches = Math.max(quick ? 4 : 20, Math.ceil(samplesPerEpoch / s.batch));
      (ours[s.key] ??= {})[t] = (await measure(s, epochs, batches)).samplesPerSec;
      console.log(`neurone ${s.key} ${t}T: ${fmt(ours[s.key][t], 0)} samples/s`);
    }
  }
  const torch: Record<string, Record<number, number>> = {};
  let torchVersion = '';
  const notes: string[] = [];
  for (const t of threadCounts) {
    const r = runPython(
      'bench_torch.py',
      [
        '--nets',
        specs.map((s) => s.key).join(','),
        '--threads',
        String(t),
        '--epochs',
        String(epochs),
        '--batches',
        quick ? '4' : '20',
        '--samples',
        String(samplesPerEpoch),
      ],
      t,
    );
    if (!r.ok) {
      notes.push(`PyTorch ${t}T failed: ${r.reason}`);
      continue;
    }
    torchVersion = `PyTorch ${r.value.version}`;
    for (const s of specs) {
      const v = r.value.results?.[s.key]?.samplesPerSec;
      if (typeof v === 'number') (torch[s.key] ??= {})[t] = v;
    }
    console.log(`torch ${t}T done`);
  }
  const best = (row?: Record<number, number>): number | undefined => (row ? Math.max(...Object.values(row)) : undefined);
  const rows = specs.map((s) => {
    const o = best(ours[s.key]);
    const p = best(torch[s.key]);
    return [
      String(s.key.split('-')[1]),
      String(s.batch),
      ...threadCounts.map((t) => fmt(ours[s.key]?.[t], 0)),
      ...threadCounts.map((t) => fmt(torch[s.key]?.[t], 0)),
      o && p ? `${(o / p).toFixed(2)}×` : 'n/a',
    ];
  });
  const body = [
    '## Batch size and width sweep, MLP 784-W-10 (samples/s)',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-sweep.ts${args.length ? ` ${args.join(' ')}` : ''}\` (part of npm run bench), ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    `Machine: ${machineDescription()}.${torchVersion ? ` ${torchVersion}, OMP/MKL threads = torch threads.` : ''}`,
    `Net c with hidden width W (TanH, cross-entropy from logits, plain SGD), timed as in the training table; each epoch holds at least ${samplesPerEpoch} samples. The ratio is best against best thread setting.`,
    '',
    table(
      ['W', 'batch', ...threadCounts.map((t) => `neurone ${t}T`), ...threadCounts.map((t) => `PyTorch ${t}T`), 'neurone / PyTorch'],
      rows,
    ),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
  if (write) writeSection('sweep', body);
  console.log(body);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
