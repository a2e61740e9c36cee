// Fuzzing the boundary: random malformed (and valid) calls at every native entry point and at
// every public module, loss, optimiser and training function, in child processes so that a
// crash is seen as a signal instead of killing jest. See test/fuzz-child.ts for what is checked.
//
// Budget: NEURONE_FUZZ_CASES cases per entry point (default 1500) and NEURONE_FUZZ_SECONDS per
// child (default 12); NEURONE_FUZZ_SEED picks the seed (default 1). A long campaign:
//   NEURONE_FUZZ_CASES=100000 NEURONE_FUZZ_SECONDS=600 npx jest test/fuzz.test.ts
import { spawn } from 'child_process';
import * as path from 'path';
import { tsFile } from './ts-child';
import { OP_NAMES } from '../lib/backend/ops';
import { addon } from './backends';

const root = path.resolve(__dirname, '..');
const CASES = Number(process.env.NEURONE_FUZZ_CASES ?? 1500);
const SECONDS = Number(process.env.NEURONE_FUZZ_SECONDS ?? 12);
const SEED = Number(process.env.NEURONE_FUZZ_SEED ?? 1);

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runChild(mode: string): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...tsFile('test/fuzz-child.ts'), mode, '--seed', String(SEED), '--cases', String(CASES), '--seconds', String(SECONDS)],
      { cwd: root, env: process.env },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
}

type Counts = Record<string, { cases: number; valid: number; TypeError: number; RangeError: number; other: number }>;

function report(mode: string, r: Result): Counts {
  const how =
    `rerun: node -r tsx/cjs test/fuzz-child.ts ${mode} --seed ${SEED} --cases ${CASES} --seconds ${SECONDS}` +
    ' (FUZZ_TRACE=1 prints each case before it runs; --replay <entry>:<caseSeed> runs one)';
  if (r.signal !== null || r.code === null) {
    throw new Error(`the ${mode} fuzzer child died with signal ${r.signal}: a crash in the addon.\n${r.stderr.slice(-3000)}\n${how}`);
  }
  const failures = r.stdout.split('\n').filter((l) => l.startsWith('FUZZ_FAILURE '));
  if (r.code !== 0 || failures.length > 0) {
    throw new Error(
      `the ${mode} fuzzer found ${failures.length} problem(s) (exit ${r.code}):\n${failures.slice(0, 10).join('\n')}\n${r.stderr.slice(-2000)}\n${how}`,
    );
  }
  if (r.stdout.includes('FUZZ_SKIP')) return {};
  const line = r.stdout.split('\n').find((l) => l.startsWith('FUZZ_SUMMARY '));
  if (!line) throw new Error(`the ${mode} fuzzer printed no summary:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const summary = JSON.parse(line.slice('FUZZ_SUMMARY '.length)) as { counts: Counts; seconds: number };
  const rows = Object.entries(summary.counts).map(
    ([entry, c]) =>
      `${entry.padEnd(36)} ${String(c.cases).padStart(7)} ${String(c.valid).padStart(7)} ${String(c.TypeError).padStart(9)} ${String(c.RangeError).padStart(10)} ${String(c.other).padStart(6)}`,
  );
  const total = Object.values(summary.counts).reduce((s, c) => s + c.cases, 0);
  // The numbers RELIABILITY.md quotes.
  process.stdout.write(
    `fuzz ${mode} (seed ${SEED}, ${summary.seconds.toFixed(1)} s in the child, ${(r.ms / 1000).toFixed(1)} s with start-up): ${total} cases\n` +
      `${'entry point'.padEnd(36)} ${'cases'.padStart(7)} ${'ok'.padStart(7)} ${'TypeError'.padStart(9)} ${'RangeError'.padStart(10)} ${'other'.padStart(6)}\n${rows.join('\n')}\n`,
  );
  return summary.counts;
}

const skipNative = process.env.NEURONE_BACKEND === 'js';

// Both children start at once (two cores): each is bounded by SECONDS plus its start-up.
const kernels = skipNative ? undefined : runChild('kernels');
const modules = runChild('modules');

(skipNative ? test.skip : test)(
  'native entry points: malformed calls throw TypeError/RangeError naming the argument, valid ones match js, nothing crashes or writes out of bounds',
  async () => {
    const counts = report('kernels', await (kernels as Promise<Result>));
    for (const [entry, c] of Object.entries(counts)) {
      expect([entry, c.other]).toEqual([entry, 0]);
      expect(c.cases).toBeGreaterThan(0);
    }
    // Every kernel entry point of the op table saw both rejected and accepted (and compared) calls
    // (where the addon loads: without it the child has nothing to call).
    for (const entry of addon() ? OP_NAMES : []) {
      const c = counts[entry];
      expect([entry, (c?.valid ?? 0) > 0, (c?.TypeError ?? 0) + (c?.RangeError ?? 0) > 0]).toEqual([entry, true, true]);
    }
  },
);

test('public modules, losses, optimisers, fit/predict/evaluate: only documented error types, nothing crashes', async () => {
  const counts = report('modules', await modules);
  expect(Object.keys(counts).length).toBeGreaterThan(15);
  for (const [entry, c] of Object.entries(counts)) {
    if (entry.startsWith('(')) continue;
    expect([entry, c.cases > 0]).toEqual([entry, true]);
  }
});
