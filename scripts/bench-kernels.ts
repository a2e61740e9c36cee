// Kernel throughput, GFLOP/s, for both backends and NumPy's OpenBLAS, in one run.
//
//   npx ts-node --transpile-only scripts/bench-kernels.ts [--quick] [--no-write]
//
// Writes the "kernels" table of BENCHMARKS.md.
import * as os from 'os';
import { jsBackend } from '../lib/backend/js';
import { loadNative, nativeBackend } from '../lib/backend/native';
import { Backend, windowCount } from '../lib/backend/types';
import { bestTime, fmt, machineDescription, randomArray, runPython, table, writeSection } from './bench-util';

const quick = process.argv.includes('--quick');
const write = !process.argv.includes('--no-write');
const native = loadNative().addon;
if (!native) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
const nb = nativeBackend(native);
const cores = os.cpus().length;

// Best of this many timed rounds of 50 ms: the machine's speed drifts by 10-15 % over seconds
// (a shared host), and the best round is the kernel's own speed. NumPy gets the same
// (bench_numpy_gemm.py).
const ROUNDS = 15;
/** The NEON column's cells off ARM: the path is tested there, not timed. */
const NEON_UNTIMED = 'correctness only (qemu)';

interface GemmShape {
  label: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}
const gemmShapes: GemmShape[] = [
  { label: '32×256×32', m: 32, n: 32, k: 256, transA: false, transB: false },
  { label: '32×4064×100 (seed CNN fc1 forward)', m: 32, n: 100, k: 4064, transA: false, transB: false },
  { label: '32×100×4064, Bᵀ (seed CNN fc1 grad input)', m: 32, n: 4064, k: 100, transA: false, transB: true },
  { label: '4064×32×100, Aᵀ (seed CNN fc1 grad weight)', m: 4064, n: 100, k: 32, transA: true, transB: false },
  { label: '32×784×256 (MLP fc1 forward)', m: 32, n: 256, k: 784, transA: false, transB: false },
  { label: '32×256×784, Bᵀ (MLP fc1 grad input)', m: 32, n: 784, k: 256, transA: false, transB: true },
  { label: '784×32×256, Aᵀ (MLP fc1 grad weight)', m: 784, n: 256, k: 32, transA: true, transB: false },
  { label: '256³', m: 256, n: 256, k: 256, transA: false, transB: false },
  { label: '1024³', m: 1024, n: 1024, k: 1024, transA: false, transB: false },
];

function gemmGflops(be: Backend, s: GemmShape, seconds: number): number {
  const a = randomArray(s.m * s.k);
  const b = randomArray(s.k * s.n);
  const c = new Float32Array(s.m * s.n);
  const lda = s.transA ? s.m : s.k;
  const ldb = s.transB ? s.k : s.n;
  const t = bestTime(() => be.sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, 0, lda, b, 0, ldb, 0, c, 0, s.n), {
    minSeconds: seconds,
    rounds: be === jsBackend ? 1 : ROUNDS,
  });
  return (2 * s.m * s.n * s.k) / t / 1e9;
}

// One core's FMA throughput at the clock it sustains under AVX load: the addon's fmaProbe
// (independent multiply-add chains on the current SIMD path). The host's speed drifts by 10-25 %
// within minutes, so the 1-thread GEMM figure is measured in rounds alternating with rounds of
// the probe: "of FMA peak (same rounds)" compares the two bests of those same few seconds, and
// "of the run's best peak" divides by the best probe round of the whole run, the stricter bar.
const probe = native.fmaProbe as ((steps: number) => number) | undefined;

function gemmInterleaved(s: GemmShape, seconds: number): { gflops: number; peak: number | undefined } {
  native!.setThreads(1);
  const a = randomArray(s.m * s.k);
  const b = randomArray(s.k * s.n);
  const c = new Float32Array(s.m * s.n);
  const lda = s.transA ? s.m : s.k;
  const ldb = s.transB ? s.k : s.n;
  let best = Infinity;
  let peak: number | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    if (typeof probe === 'function') {
      let flops = 0;
      const t = bestTime(
        () => {
          flops = probe.call(native, 1 << 18);
        },
        { minSeconds: seconds / 5, rounds: 1 },
      );
      peak = Math.max(peak ?? 0, flops / t / 1e9);
    }
    best = Math.min(
      best,
      bestTime(() => nb.sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, 0, lda, b, 0, ldb, 0, c, 0, s.n), {
        minSeconds: seconds,
        rounds: 1,
      }),
    );
  }
  return { gflops: (2 * s.m * s.n * s.k) / best / 1e9, peak };
}

interface ConvShape {
  label: string;
  batch: number;
  length: number;
  chanIn: number;
  chanOut: number;
  kSize: number;
  stride: number;
}
const convShapes: ConvShape[] = [
  { label: 'conv1d 32×256, 1→32, k3', batch: 32, length: 256, chanIn: 1, chanOut: 32, kSize: 3, stride: 1 },
  { label: 'conv1d 32×127, 32→32, k3', batch: 32, length: 127, chanIn: 32, chanOut: 32, kSize: 3, stride: 1 },
];

// Forward + grad weight + grad input: three convolutions' worth of multiply-adds.
function convGflops(be: Backend, s: ConvShape, seconds: number): number {
  const out = windowCount(s.length, s.kSize, s.stride);
  const x = randomArray(s.batch * s.length * s.chanIn);
  const w = randomArray(s.kSize * s.chanIn * s.chanOut);
  const y = new Float32Array(s.batch * out * s.chanOut);
  const dy = randomArray(y.length);
  const dx = new Float32Array(x.length);
  const dw = new Float32Array(w.length);
  const t = bestTime(
    () => {
      be.conv1dForward(x, w, null, y, s.batch, s.length, s.chanIn, s.chanOut, s.kSize, s.stride);
      be.conv1dBackwardWeight(x, dy, dw, s.batch, s.length, s.chanIn, s.chanOut, s.kSize, s.stride);
      be.conv1dBackwardInput(dy, w, dx, s.batch, s.length, s.chanIn, s.chanOut, s.kSize, s.stride);
    },
    { minSeconds: seconds, rounds: be === jsBackend ? 1 : ROUNDS },
  );
  return (3 * 2 * s.batch * out * s.kSize * s.chanIn * s.chanOut) / t / 1e9;
}

function main(): void {
  const seconds = quick ? 0.02 : 0.05;
  const path = native!.kernelPath();
  const rows: string[][] = [];
  const numpyShapes = gemmShapes.map((s) => [s.m, s.n, s.k, s.transA, s.transB]);
  const np1 = runPython('bench_numpy_gemm.py', [JSON.stringify(numpyShapes)], 1);
  const npAll = runPython('bench_numpy_gemm.py', [JSON.stringify(numpyShapes)], cores);
  if (!np1.ok) console.error(`NumPy comparison unavailable: ${np1.reason}`);
  let peak: number | undefined;
  const gemmRows: { n1: number; local: number | undefined; row: string[] }[] = [];
  const percent = (x: number, of: number | undefined): string => (of ? `${((100 * x) / of).toFixed(0)} %` : 'n/a');
  gemmShapes.forEach((s, i) => {
    const { gflops: n1, peak: local } = gemmInterleaved(s, seconds);
    if (local !== undefined) peak = Math.max(peak ?? 0, local);
    native!.setThreads(cores);
    const nAll = gemmGflops(nb, s, seconds);
    const js = gemmGflops(jsBackend, s, quick ? 0.01 : 0.1);
    const o1 = np1.ok ? np1.value.results[i].gflops : undefined;
    const oAll = npAll.ok ? npAll.value.results[i].gflops : undefined;
    const row = [
      `sgemm ${s.label}`,
      fmt(n1),
      fmt(nAll),
      fmt(js, 2),
      fmt(o1),
      fmt(oAll),
      o1 ? `${((100 * n1) / o1).toFixed(0)} %` : 'n/a',
      `${(n1 / js).toFixed(0)}×`,
    ];
    gemmRows.push({ n1, local, row });
    console.log([...row, percent(n1, local)].join('  '));
  });
  for (const { n1, local, row } of gemmRows) rows.push([...row, percent(n1, local), percent(n1, peak)]);
  for (const s of convShapes) {
    native!.setThreads(1);
    const n1 = convGflops(nb, s, seconds);
    native!.setThreads(cores);
    const nAll = convGflops(nb, s, seconds);
    const js = convGflops(jsBackend, s, quick ? 0.01 : 0.1);
    const row = [`${s.label} fwd+bwd`, fmt(n1), fmt(nAll), fmt(js, 2), '', '', '', `${(n1 / js).toFixed(0)}×`, '', percent(n1, peak)];
    rows.push(row);
    console.log(row.join('  '));
  }
  // Per-call costs that batch-32 layers (0.1-1 ms of arithmetic) must stay well above.
  const overhead: string[][] = [];
  const oneA = randomArray(1),
    oneB = randomArray(1),
    oneC = new Float32Array(1);
  const a32 = randomArray(32 * 256),
    b256 = randomArray(256 * 256),
    c32 = new Float32Array(32 * 256);
  const us = (fn: () => void): string => (bestTime(fn, { minSeconds: quick ? 0.02 : 0.1 }) * 1e6).toFixed(2);
  native!.setThreads(1);
  overhead.push(['empty call (getThreads)', us(() => native!.getThreads()), '']);
  overhead.push([
    'sgemm 1×1×1 (all argument checks)',
    us(() => nb.sgemm(false, false, 1, 1, 1, 1, oneA, 0, 1, oneB, 0, 1, 0, oneC, 0, 1)),
    us(() => jsBackend.sgemm(false, false, 1, 1, 1, 1, oneA, 0, 1, oneB, 0, 1, 0, oneC, 0, 1)),
  ]);
  overhead.push(['nonFiniteIndex of 1 value', us(() => nb.nonFiniteIndex(oneA, 1)), us(() => jsBackend.nonFiniteIndex(oneA, 1))]);
  const gemm1 = us(() => nb.sgemm(false, false, 32, 256, 256, 1, a32, 0, 256, b256, 0, 256, 0, c32, 0, 256));
  native!.setThreads(cores);
  const gemmAll = us(() => nb.sgemm(false, false, 32, 256, 256, 1, a32, 0, 256, b256, 0, 256, 0, c32, 0, 256));
  overhead.push([`sgemm 32×256×256, 1 thread / ${cores} threads (pool wake-up and join included)`, `${gemm1} / ${gemmAll}`, '']);
  // The GEMM and convolution rows again on every SIMD path this CPU runs, one thread, each
  // beside that path's FMA peak: an AVX2 regression shows on an AVX-512 machine too.
  const simdPaths = native!
    .supportedKernelPaths()
    .filter((p) => p !== 'scalar')
    .reverse();
  const perPath: Record<string, { gflops: number; peak: number | undefined }[]> = {};
  native!.setThreads(1);
  for (const p of simdPaths) {
    native!.setKernelPath(p);
    perPath[p] = [
      ...gemmShapes.map((s) => gemmInterleaved(s, seconds)),
      ...convShapes.map((s) => ({ gflops: convGflops(nb, s, seconds), peak: undefined })),
    ];
    const best = Math.max(...perPath[p].map((r) => r.peak ?? 0)) || undefined;
    for (const r of perPath[p]) r.peak = best;
  }
  native!.setKernelPath(path);
  // On a CPU with AVX-512, OpenBLAS runs its AVX-512 kernels; what it runs on an AVX2-only CPU
  // is its Haswell kernel set, which OPENBLAS_CORETYPE selects: the AVX2 column's rival.
  const npHaswell =
    simdPaths.includes('avx2') && simdPaths.length > 1
      ? runPython('bench_numpy_gemm.py', [JSON.stringify(numpyShapes)], 1, { OPENBLAS_CORETYPE: 'Haswell' })
      : undefined;
  // Off ARM the NEON path still has its column, saying what is known of it: it is tested under
  // qemu (npm run test:arm64), where its speed means nothing. On an arm64 machine it is timed above.
  const neonUntimed = !simdPaths.includes('neon');
  const pathRows = [...gemmShapes.map((s) => `sgemm ${s.label}`), ...convShapes.map((s) => `${s.label} fwd+bwd`)].map((label, i) => {
    const o1 = i < gemmShapes.length && np1.ok ? np1.value.results[i].gflops : undefined;
    const cells = [label];
    for (const p of simdPaths) cells.push(fmt(perPath[p][i].gflops), percent(perPath[p][i].gflops, perPath[p][i].peak));
    const oHaswell = i < gemmShapes.length && npHaswell?.ok ? npHaswell.value.results[i].gflops : undefined;
    cells.push(fmt(o1));
    if (npHaswell) cells.push(fmt(oHaswell));
    for (const p of simdPaths) {
      const rival = p === 'avx2' && npHaswell ? oHaswell : o1;
      cells.push(rival ? `${((100 * perPath[p][i].gflops) / rival).toFixed(0)} %` : '');
    }
    if (neonUntimed) cells.push(NEON_UNTIMED);
    return cells;
  });
  const pathHeader = ['kernel'];
  for (const p of simdPaths) pathHeader.push(`${p} 1T`, `${p} of its FMA peak`);
  pathHeader.push('OpenBLAS 1T');
  if (npHaswell) pathHeader.push('OpenBLAS 1T Haswell kernels');
  for (const p of simdPaths) pathHeader.push(p === 'avx2' && npHaswell ? 'avx2 / OpenBLAS Haswell' : `${p} / OpenBLAS`);
  if (neonUntimed) pathHeader.push('neon 1T');
  const peaks = simdPaths.map((p) => `${p} ${fmt(perPath[p][0].peak)}`).join(', ');
  // The script's description of the library: its build string, or threadpoolctl's list.
  const blas = np1.ok ? (typeof np1.value.config === 'string' ? np1.value.config : JSON.stringify(np1.value.config)) : np1.reason;
  const body = [
    '## Kernels (GFLOP/s)',
    '',
    `Command: \`npx ts-node --transpile-only scripts/bench-kernels.ts\` (npm run bench:kernels), ${new Date().toISOString().slice(0, 10)}.`,
    `Machine: ${machineDescription()}. Native SIMD path: ${path}. "all" = ${cores} threads. GFLOP/s of the best of ${ROUNDS} rounds of 50 ms, for NumPy too.`,
    `One core's FMA peak, measured in the same run: best ${peak ? `${fmt(peak)} GFLOP/s` : 'n/a'} (the addon's \`fmaProbe\`: independent ${path} multiply-add chains). The native 1-thread GEMM column is the best of ${ROUNDS} rounds alternating with rounds of the probe; "of FMA peak (same rounds)" divides it by the best of those probe rounds, "of the run's best peak" by the best probe round of the whole run.`,
    `NumPy/OpenBLAS measured in the same run (\`/usr/bin/python3 scripts/bench_numpy_gemm.py\`, OPENBLAS_CORETYPE unset): ${blas}.`,
    '',
    table(
      [
        'kernel',
        'native 1T',
        `native ${cores}T`,
        'js',
        'OpenBLAS 1T',
        `OpenBLAS ${cores}T`,
        'native/OpenBLAS 1T',
        'native/js 1T',
        'native 1T of FMA peak (same rounds)',
        "native 1T of the run's best peak",
      ],
      rows,
    ),
    '',
    `Per SIMD path, one thread (\`setKernelPath\`; the AVX2 columns are what an AVX2-only CPU of this microarchitecture runs). FMA peak per path in this run, GFLOP/s: ${peaks}. OpenBLAS is the same run's figure, with the kernels it picks for this CPU${simdPaths.length > 1 && simdPaths.includes('avx2') ? ', and again with its AVX2 (Haswell) kernels forced by `OPENBLAS_CORETYPE=Haswell`, the set it runs on an AVX2-only CPU, which the avx2 column is compared with' : ''}.${neonUntimed ? ` The neon column is the AArch64 path: ${NEON_UNTIMED}, by \`npm run test:arm64\` on this machine; its speed on ARM hardware cannot be measured here and is not estimated.` : ''}`,
    '',
    table(pathHeader, pathRows),
    '',
    'Per-call cost (µs, best of repeated calls):',
    '',
    table(['call', 'native', 'js'], overhead),
  ].join('\n');
  if (write) writeSection('kernels', body);
  console.log(write ? 'wrote BENCHMARKS.md (kernels)' : body);
}

main();
