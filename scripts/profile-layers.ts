// Time per module and pass (forward, backwardUpdateGradient, backwardDelta) of a benchmark net,
// to see where a training step goes before optimising it. The step is fit's: the Sequential's
// forward pass keeping what backward needs, then its backward pass, with the fusions fit runs
// (a fused pair is one row). Each module's methods are wrapped with a timer for the run, so a
// pass that reads what its forward kept is timed as that, not as a recomputation.
//
//   npx ts-node --transpile-only scripts/profile-layers.ts [a|c|c256|d|e|lenet|lenet128|bncnn|vgg] [threads] [--cpu]
//
// --cpu times each call by the process's CPU time (process.cpuUsage) instead of the wall clock:
// on a machine others are using, a one-thread profile then counts only this process's work.
import { Conv1D, Flatten, Linear, MaxPool1D, Module, ReLU, Sequential, Sigmoid, TanH, setThreads, zeros } from '../lib';
import { FUSIONS, Fusion } from '../lib/nn/fusion';
import { accumulateGradients, forwardView } from '../lib/nn/module';
import { bnCnn, lenet, smallVgg } from './bench-nets';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const key = positional[0] ?? 'a';
setThreads(Number(positional[1] ?? 1));
const cpuClock = process.argv.includes('--cpu');
const now = (): number => {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const nets: Record<string, () => { net: Sequential; shape: number[] }> = {
  a: () => ({
    net: new Sequential(new Conv1D(3, 1, 32), new MaxPool1D(2, 2), new Flatten(), new Linear(4064, 100), new ReLU(), new Linear(100, 10)),
    shape: [32, 256, 1],
  }),
  c: () => ({ net: new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)), shape: [32, 784] }),
  c256: () => ({ net: new Sequential(new Linear(784, 256), new TanH(), new Linear(256, 10)), shape: [256, 784] }),
  d: () => ({
    net: new Sequential(
      new Linear(784, 256),
      new TanH(),
      new Linear(256, 64),
      new TanH(),
      new Linear(64, 256),
      new TanH(),
      new Linear(256, 784),
      new Sigmoid(),
    ),
    shape: [32, 784],
  }),
  e: () => {
    let n = 256;
    for (let i = 0; i < 3; i++) n = Math.floor((n - 2 - 8) / 2) + 1;
    return {
      net: new Sequential(
        new Conv1D(3, 1, 64),
        new ReLU(),
        new MaxPool1D(8, 2),
        new Conv1D(3, 64, 64),
        new ReLU(),
        new MaxPool1D(8, 2),
        new Conv1D(3, 64, 64),
        new ReLU(),
        new MaxPool1D(8, 2),
        new Flatten(),
        new Linear(64 * n, 10),
      ),
      shape: [32, 256, 1],
    };
  },
  lenet: () => ({ net: lenet() as Sequential, shape: [32, 28, 28, 1] }),
  lenet128: () => ({ net: lenet() as Sequential, shape: [128, 28, 28, 1] }),
  bncnn: () => ({ net: bnCnn() as Sequential, shape: [32, 28, 28, 1] }),
  vgg: () => ({ net: smallVgg() as Sequential, shape: [32, 32, 32, 3] }),
};
if (!nets[key]) throw new Error(`unknown net '${key}': expected one of ${Object.keys(nets).join(', ')}`);
const { net, shape } = nets[key]();
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
