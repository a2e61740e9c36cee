// Thread scaling of training throughput: neurone native and PyTorch at 1, 2, 4, ... threads,
// measured in one run on one machine (meant for a many-core machine; the 2-core development
// box shows only 1 → 2).
//
//   npx ts-node --transpile-only scripts/bench-scaling.ts [--threads 1,2,4,8,16] [--nets a,c32] [--no-write] [--no-torch]
//
// Same nets, data and timing as scripts/bench-train.ts (scripts/bench-nets.ts). PyTorch is
// scripts/bench_torch.py with OMP/MKL threads = torch threads, run by $NEURONE_PYTHON
// (default /usr/bin/python3). Writes the "scaling" section of BENCHMARKS.md.
import * as os from 'os';
import { setBackend, setThreads } from '../lib';
import { measure, specs } from './bench-nets';
import { fmt, machineDescription, runPython, table, writeSection } from './bench-util';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const cores = os.cpus().length;
const threadList = (option('--threads') ?? [1, 2, 4, 8, 16].filter((t) => t <= cores).join(','))
  .split(',')
  .map(Number)
  .filter((t) => Number.isInteger(t) && t >= 1);
const chosen = specs.filter((s) => !option('--nets') || option('--nets')!.split(',').includes(s.key));
const withTorch = !args.includes('--no-torch');
const epochs = Number(option('--epochs') ?? 5);

async function main(): Promise<void> {
  const t0 = Date.now();
  setBackend('native');
  const ours: Record<string, Record<number, number>> = {};
  const torch: Record<string, Record<number, number>> = {};
  let torchVersion = '';
  const notes: string[] = [];
  for (const t of threadList) {
    setThreads(t);
    for (const s of chosen) {
      // Enough batches that an epoch lasts ~0.1 s or more at 16 threads.
      const batches = s.key === 'b' || s.key === 'e' || s.batch === 256 ? 40 : 150;
      (ours[s.key] ??= {})[t] = (await measure(s, epochs, batches)).samplesPerSec;
      console.log(`neurone ${s.key} ${t}T: ${fmt(ours[s.key][t], 0)} samples/s`);
    }
    if (withTorch) {
      const r = runPython(
        'bench_torch.py',
        ['--nets', chosen.map((s) => s.key).join(','), '--threads', String(t), '--epochs', String(epochs), '--batches', '100'],
        t,
      );
      if (r.ok) {
        torchVersion = `PyTorch ${r.value.version}`;
        for (const s of chosen) {
          const v = r.value.results?.[s.key]?.samplesPerSec;
          if (typeof v === 'number') (torch[s.key] ??= {})[t] = v;
        }
        console.log(`torch ${t}T: ${JSON.stringify(r.value.results)}`);
      } else {
        notes.push(`PyTorch ${t}T failed: ${r.reason}`);
        console.log(`torch ${t}T failed: ${r.reason}`);
      }
    }
  }
  const best = (row: Record<number, number> | undefined): [number, number] | undefined => {
    if (!row) return undefined;
    const entries = Object.entries(row).map(([t, v]) => [Number(t), v] as [number, number]);
    return entries.length ? entries.reduce((a, b) => (b[1] > a[1] ? b : a)) : undefined;
  };
  const rows = chosen.map((s) => {
    const o = best(ours[s.key]);
    const p = best(torch[s.key]);
    return [
      s.label,
      ...threadList.map((t) => fmt(ours[s.key]?.[t], 0)),
      ...(withTorch ? threadList.map((t) => fmt(torch[s.key]?.[t], 0)) : []),
      o ? `${o[0]}T` : 'n/a',
      ...(withTorch ? [p ? `${p[0]}T` : 'n/a', o && p ? `${(o[1] / p[1]).toFixed(2)}×` : 'n/a'] : []),
    ];
  });
  const header = [
    'net',
    ...threadList.map((t) => `neurone ${t}T`),
    ...(withTorch ? threadList.map((t) => `PyTorch ${t}T`) : []),
    'neurone best at',
    ...(withTorch ? ['PyTorch best at', 'best / best'] : []),
  ];
  const body = [
    '## Thread scaling (samples/s)',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-scaling.ts${args.length ? ` ${args.join(' ')}` : ''}\`, ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    `Machine: ${machineDescription()}.${torchVersion ? ` ${torchVersion}, OMP/MKL threads = torch threads.` : ''}`,
    'Nets, data and timing as in the training table (median epoch after a warm-up, batches in order, plain SGD).',
    '',
    table(header, rows),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
  if (!args.includes('--no-write')) writeSection('scaling', body);
  console.log(body);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
