// Training throughput of two trees side by side: for each round, one process per tree measures
// every net of bench-nets (native backend, one thread, median epoch of `fit`), alternating, so
// both see the same phases of a shared, noisy host. Prints the median samples/s per tree and
// the median and quartiles of the per-round ratio this/other.
//
//   npx ts-node --transpile-only scripts/bench-ab.ts --other /path/to/other/checkout [--rounds 16] [--nets a,c32]
//
// --nets measures only the nets named (bench-nets keys; each tree must define them).
// The other checkout must be installed and built (npm ci). Used for the "Before and after"
// section of BENCHMARKS.md.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { median } from './bench-nets';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

if (args[0] === '--child') {
  // One measurement in the tree this script was loaded from (the path given).
  const root = args[1];
  const only = args[2] ? args[2].split(',') : null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the tree under test is chosen at run time
  const lib = require(path.join(root, 'lib')) as typeof import('../lib');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- likewise its nets and timing
  const nets = require(path.join(root, 'scripts', 'bench-nets')) as typeof import('./bench-nets');
  void (async () => {
    lib.setBackend('native');
    lib.setThreads(1);
    const out: Record<string, number> = {};
    for (const s of nets.specs) {
      if (only && !only.includes(s.key)) continue;
      const batches = s.key === 'b' || s.key === 'e' ? 40 : s.batch === 256 ? 40 : 150;
      out[s.key] = (await nets.measure(s, 3, batches)).samplesPerSec;
    }
    console.log(JSON.stringify(out));
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
      [require.resolve('ts-node/dist/bin'), '--transpile-only', __filename, '--child', root, ...(netList ? [netList] : [])],
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
