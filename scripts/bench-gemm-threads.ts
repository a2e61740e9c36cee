// One thread against two for the products of a training step, timed alone: each product's
// median over rounds that alternate the thread counts, so both see the same phases of a shared
// host. The shapes are net d's (the autoencoder, batch 32); others can be given.
//
//   NEURONE_KERNEL=avx512 npx ts-node --transpile-only scripts/bench-gemm-threads.ts [--rounds 30] [--shape tA,tB,m,n,k ...]
//
// tA and tB are 0 or 1 (transposed A, B). Prints microseconds per product (median over the
// rounds), the ratio 1T/2T of the medians and the quartiles of the rounds' own ratios.
import { loadNative, nativeBackend } from '../lib/backend/native';
import { median } from './bench-nets';
import { randomArray } from './bench-util';

const native = loadNative().addon;
if (!native) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
const nb = nativeBackend(native);
const args = process.argv.slice(2);
const rounds = Number(args.includes('--rounds') ? args[args.indexOf('--rounds') + 1] : 30);
type Shape = [string, boolean, boolean, number, number, number];
const given: Shape[] = args
  .flatMap((a, i) => (a === '--shape' ? [args[i + 1]] : []))
  .map((text) => {
    const [ta, tb, m, n, k] = text.split(',').map(Number);
    return [text, ta === 1, tb === 1, m, n, k];
  });
const shapes: Shape[] =
  given.length > 0
    ? given
    : [
        ['forward, 784 inputs (X·Wᵀ as stored)', false, false, 32, 256, 784],
        ['forward, 256 inputs', false, false, 32, 784, 256],
        ['weight gradient 784×256 (Xᵀ·dY)', true, false, 784, 256, 32],
        ['weight gradient 256×784', true, false, 256, 784, 32],
        ['input gradient over 784 (dY·W)', false, true, 32, 256, 784],
      ];
console.log(`path ${native.kernelPath()}, ${rounds} rounds`);
for (const [label, ta, tb, m, n, k] of shapes) {
  const a = randomArray(m * k);
  const b = randomArray(k * n);
  const c = new Float32Array(m * n);
  const times: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let round = 0; round < rounds; round++) {
    for (const threads of [1, 2] as const) {
      nb.setThreads(threads);
      const reps = 100;
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) nb.sgemm(ta, tb, m, n, k, 1, a, 0, ta ? m : k, b, 0, tb ? k : n, 0, c, 0, n);
      times[threads].push(Number(process.hrtime.bigint() - t0) / 1e3 / reps);
    }
  }
  const [one, two] = [median(times[1]), median(times[2])];
  // The per-round ratios' quartiles: how much the host moved under the medians.
  const ratios = times[1].map((t, i) => t / times[2][i]).sort((p, q) => p - q);
  const q = (f: number): string => ratios[Math.floor(f * (ratios.length - 1))].toFixed(2);
  console.log(
    `${label.padEnd(40)} 1T ${one.toFixed(1).padStart(7)} µs  2T ${two.toFixed(1).padStart(7)} µs  1T/2T ${(one / two).toFixed(2)} (rounds ${q(0.25)}–${q(0.75)})`,
  );
}
