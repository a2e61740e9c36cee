// Time per module and pass (forward, backwardUpdateGradient, backwardDelta) of a benchmark net,
// to see where a training step goes before optimising it.
//
//   npx ts-node --transpile-only scripts/profile-layers.ts [a|c|d|e|lenet|vgg] [threads] [--cpu]
//
// --cpu times each call by the process's CPU time (process.cpuUsage) instead of the wall clock:
// on a machine others are using, a one-thread profile then counts only this process's work.
import { Conv1D, Flatten, Linear, MaxPool1D, ReLU, Sequential, Sigmoid, TanH, setThreads, zeros, Tensor } from '../lib';
import { lenet, smallVgg } from './bench-nets';

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
  vgg: () => ({ net: smallVgg() as Sequential, shape: [32, 32, 32, 3] }),
};
if (!nets[key]) throw new Error(`unknown net '${key}': expected one of ${Object.keys(nets).join(', ')}`);
const { net, shape } = nets[key]();
const x = zeros(shape);
for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random();
const mods = net.modules;
const time = { forward: mods.map(() => 0), gradient: mods.map(() => 0), delta: mods.map(() => 0) };
const rounds = 200;
const warmup = 10;
for (let r = 0; r < rounds + warmup; r++) {
  const keep = r >= warmup;
  const inputs: Tensor[] = [x];
  mods.forEach((m, i) => {
    const t = now();
    inputs.push(m.forward(inputs[i]));
    if (keep) time.forward[i] += now() - t;
  });
  let d = zeros(inputs[mods.length].shape);
  d.data.fill(0.01);
  for (let i = mods.length - 1; i >= 0; i--) {
    let t = now();
    mods[i].backwardUpdateGradient(inputs[i], d);
    if (keep) time.gradient[i] += now() - t;
    if (i === 0) break; // a training step does not need the input's gradient
    t = now();
    d = mods[i].backwardDelta(inputs[i], d);
    if (keep) time.delta[i] += now() - t;
  }
}
const us = (ms: number): string => `${((ms / rounds) * 1000).toFixed(0).padStart(6)} µs`;
let total = 0;
mods.forEach((m, i) => {
  total += time.forward[i] + time.gradient[i] + time.delta[i];
  console.log(`${m.toString().padEnd(24)} forward ${us(time.forward[i])}  grad ${us(time.gradient[i])}  delta ${us(time.delta[i])}`);
});
console.log(`total ${us(total)} per batch of ${shape[0]} → ${(shape[0] / (total / rounds / 1000)).toFixed(0)} samples/s (modules only)`);
