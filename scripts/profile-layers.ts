// Time per module and pass (forward, backwardUpdateGradient, backwardDelta) of a benchmark net,
// to see where a training step goes before optimising it. The step is fit's: the Sequential's
// forward pass keeping what backward needs, then its backward pass, with the fusions fit runs
// (a fused pair is one row). Each module's methods are wrapped with a timer for the run, so a
// pass that reads what its forward kept is timed as that, not as a recomputation.
//
//   npx ts-node --transpile-only scripts/profile-layers.ts [a|b|c32|c256|d|e|lenet32|lenet128|bncnn|vgg] [threads] [--cpu]
//
// --cpu times each call by the process's CPU time (process.cpuUsage) instead of the wall clock:
// on a machine others are using, a one-thread profile then counts only this process's work.
import { Sequential, setThreads, zeros } from '../lib';
import { FUSIONS, Fusion } from '../lib/nn/fusion';
import { Module, accumulateGradients, forwardView } from '../lib/nn/module';
import { specs } from './bench-nets';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// The names this script's own copies of the nets had, which BENCHMARKS.md's commands use.
const aliases: Record<string, string> = { c: 'c32', lenet: 'lenet32' };
const key = aliases[positional[0]] ?? positional[0] ?? 'a';
setThreads(Number(positional[1] ?? 1));
const cpuClock = process.argv.includes('--cpu');
const now = (): number => {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
// The training benchmark's nets, at its batch sizes (the inference-only net has no backward pass).
const trained = specs.filter((s) => !s.inferenceOnly);
const spec = trained.find((s) => s.key === key);
if (!spec) throw new Error(`unknown net '${key}': expected one of ${trained.map((s) => s.key).join(', ')}`);
const built = spec.build();
if (!(built instanceof Sequential)) throw new Error(`net ${key} is not a Sequential: its layers cannot be listed`);
const net = built;
const shape = [spec.batch, ...spec.inputShape];
const x = zeros(shape);
for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random();
const mods = net.modules;
// Rows: one per module, and one per fusion (fit runs the fused pair's passes in place of theirs).
interface Row {
  label: string;
  /**
   * A fused pair, or a module whose two backward halves run as one call (batch norm's share its
   * sums): the backward pass, parameter and input gradients together, is timed in `gradient`.
   */
  wholeBackward: boolean;
  forward: number;
  gradient: number;
  delta: number;
}
/** Whether m's class joins the two backward halves (wrapping them apart would split them). */
const joinsHalves = (m: Module): boolean =>
  (m as unknown as { backwardHalves: unknown }).backwardHalves !==
  (Module.prototype as unknown as { backwardHalves: unknown }).backwardHalves;
const rows: Row[] = mods.map((m) => ({ label: m.toString(), wholeBackward: joinsHalves(m), forward: 0, gradient: 0, delta: 0 }));
let keep = false;
const timed = <A extends unknown[], R>(row: Row, pass: 'forward' | 'gradient' | 'delta', fn: (...args: A) => R) =>
  function (this: unknown, ...args: A): R {
    const t = now();
    try {
      return fn.apply(this, args);
    } finally {
      if (keep) row[pass] += now() - t;
    }
  };
mods.forEach((m, i) => {
  // Own properties shadow the prototype's methods; the Sequential calls them through forwardAt and backwardAt.
  m.forward = timed(rows[i], 'forward', m.forward);
  if (rows[i].wholeBackward) {
    // The module checks that its halves are its class's own before joining them: time the whole.
    m.backwardAt = timed(rows[i], 'gradient', m.backwardAt);
    return;
  }
  m.backwardUpdateGradient = timed(rows[i], 'gradient', m.backwardUpdateGradient);
  m.backwardDelta = timed(rows[i], 'delta', m.backwardDelta);
});
for (const f of FUSIONS) {
  const row: Row = { label: `${f.name} (fused)`, wholeBackward: true, forward: 0, gradient: 0, delta: 0 };
  rows.push(row);
  const mutable = f as { -readonly [K in keyof Fusion]: Fusion[K] };
  mutable.forward = timed(row, 'forward', f.forward);
  mutable.backward = timed(row, 'gradient', f.backward);
}
const rounds = 200;
const warmup = 10;
const d = zeros(net.outputShape(shape));
d.data.fill(0.01);
let stepTime = 0;
for (let r = 0; r < rounds + warmup; r++) {
  keep = r >= warmup;
  const t = now();
  net.deferZeroGrad();
  forwardView(net, x, false);
  accumulateGradients(net, x, d);
  if (keep) stepTime += now() - t;
}
const us = (ms: number): string => `${((ms / rounds) * 1000).toFixed(0).padStart(6)} µs`;
let total = 0;
for (const r of rows) {
  if (r.forward + r.gradient + r.delta === 0) continue; // a fusion this net does not use, or a module only fused
  total += r.forward + r.gradient + r.delta;
  const backward = r.wholeBackward ? `backward ${us(r.gradient)}` : `grad ${us(r.gradient)}  delta ${us(r.delta)}`;
  console.log(`${r.label.padEnd(28)} forward ${us(r.forward)}  ${backward}`);
}
console.log(
  `modules ${us(total)}, whole step ${us(stepTime)} per batch of ${shape[0]} → ${(shape[0] / (stepTime / rounds / 1000)).toFixed(0)} samples/s (no loss, no optimiser step)`,
);
