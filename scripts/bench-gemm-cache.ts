// The MLP's (net c, batch 32) first-layer products, one thread, by where their operands come from:
// called back to back (the 784 × 256 weight stays in L2, as in the kernel table), with 2 MB of
// other lines written between calls (the operands then come from L3), with 32 MB written (from
// memory), and as the net calls them: the forward product, the second layer's, then the weight
// gradient added into an 800 KB gradient (beta 1). Prints GFLOP/s of the median call per SIMD
// path. Written to tell a slow product from a slow net on a host where the two disagree
// (BENCHMARKS.md, the Zen 4 section).
//
//   npx ts-node --transpile-only scripts/bench-gemm-cache.ts [--rounds 400]
import { setThreads } from '../lib';
import { loadNative } from '../lib/backend/native';

const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 400;
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench-gemm-cache: --rounds must be a positive integer, got ${args[args.indexOf('--rounds') + 1]}`);
  process.exit(2);
}
const loaded = loadNative();
if (!loaded.addon) {
  console.error(`bench-gemm-cache: the native addon did not load (${loaded.error?.message}): build it first`);
  process.exit(2);
}
const addon = loaded.addon;
setThreads(1);

const [batch, inputs, hidden, classes] = [32, 784, 256, 10];
const filled = (n: number): Float32Array => new Float32Array(n).map(() => Math.random());
const x = filled(batch * inputs);
const weight = filled(inputs * hidden);
const weightGrad = new Float32Array(inputs * hidden);
const y = new Float32Array(batch * hidden);
const delta = filled(batch * hidden);
const weight2 = filled(hidden * classes);
const y2 = new Float32Array(batch * classes);
const other = new Float32Array(8 << 20); // 32 MB
const flops = 2 * batch * inputs * hidden;

const forward = (): void => addon.sgemm(false, false, batch, hidden, inputs, 1, x, 0, inputs, weight, 0, hidden, 0, y, 0, hidden);
const gradient = (beta: number): void =>
  addon.sgemm(true, false, inputs, hidden, batch, 1, x, 0, inputs, delta, 0, hidden, beta, weightGrad, 0, hidden);
/** Writes one float of each 64-byte line of the first `bytes` of `other`. */
const writeLines = (bytes: number): void => {
  for (let i = 0; i < bytes / 4; i += 16) other[i] += 1;
};

/** GFLOP/s of the median of `rounds` timed calls of `call`, `between` run untimed before each. */
function rate(call: () => void, between: () => void): number {
  const ns: number[] = [];
  for (let r = 0; r < rounds; r++) {
    between();
    const t0 = process.hrtime.bigint();
    call();
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  ns.sort((a, b) => a - b);
  return flops / ns[ns.length >> 1];
}

const paths = addon.supportedKernelPaths().filter((p) => p !== 'scalar');
console.log('| path | product | back to back | 2 MB written between | 32 MB written between | as in the net |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const path of paths) {
  addon.setKernelPath(path);
  const none = (): void => {};
  // As in the net: the forward product, then the second layer's, then the weight gradient.
  const inNet = { forward: 0, gradient: 0 };
  const ns: { forward: number[]; gradient: number[] } = { forward: [], gradient: [] };
  for (let r = 0; r < rounds; r++) {
    let t0 = process.hrtime.bigint();
    forward();
    ns.forward.push(Number(process.hrtime.bigint() - t0));
    addon.sgemm(false, false, batch, classes, hidden, 1, y, 0, hidden, weight2, 0, classes, 0, y2, 0, classes);
    t0 = process.hrtime.bigint();
    gradient(1);
    ns.gradient.push(Number(process.hrtime.bigint() - t0));
  }
  for (const k of ['forward', 'gradient'] as const) inNet[k] = flops / ns[k].sort((a, b) => a - b)[rounds >> 1];
  const rows: [string, () => void, number][] = [
    [`forward ${batch}×${inputs}×${hidden}`, forward, inNet.forward],
    [`weight gradient ${inputs}×${batch}×${hidden}, Aᵀ, beta 1`, () => gradient(1), inNet.gradient],
  ];
  for (const [label, call, net] of rows) {
    const cells = [rate(call, none), rate(call, () => writeLines(2 << 20)), rate(call, () => writeLines(32 << 20)), net];
    console.log(`| ${path} | ${label} | ${cells.map((c) => c.toFixed(1)).join(' | ')} |`);
  }
}
