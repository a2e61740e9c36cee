// Shared helpers for the benchmark scripts: timing, machine description, and
// rewriting one marked section of BENCHMARKS.md so each script owns its table.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const repoRoot = path.resolve(__dirname, '..');

/** Best time per call in seconds: repeats `fn` for at least `minSeconds`, `rounds` times, keeps the fastest round. */
export function bestTime(fn: () => void, { minSeconds = 0.2, rounds = 3, maxReps = 1e6 } = {}): number {
  fn(); // warm-up: first-call allocation, JIT, thread start
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let reps = 0;
    const start = process.hrtime.bigint();
    let elapsed: number;
    do {
      fn();
      reps++;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    } while (elapsed < minSeconds && reps < maxReps);
    best = Math.min(best, elapsed / reps);
  }
  return best;
}

export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const usable = os.availableParallelism();
  const cores = usable === os.cpus().length ? `${usable} cores` : `${usable} of its ${os.cpus().length} cores`;
  return `${cpu}, ${cores}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` in BENCHMARKS.md (appending the section if absent). */
export function writeSection(name: string, body: string): void {
  const file = path.join(repoRoot, 'BENCHMARKS.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let text = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmarks\n\nEvery table below was written by the script named above it; rerun the command to regenerate it.\n';
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
}

/** Runs a Python comparison script with a given thread count; returns its parsed JSON, or the reason it failed. */
export function runPython(
  script: string,
  args: string[],
  threads: number,
  extraEnv: NodeJS.ProcessEnv = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever JSON the script prints; each caller reads its own fields
): { ok: true; value: any } | { ok: false; reason: string } {
  // OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are set on some machines to work around old OpenBLAS
  // bugs and slow a current one: dropped from the inherited environment (a caller's extraEnv
  // may still set them, as the AVX2 comparisons do).
  const { OPENBLAS_CORETYPE: _coretype, OPENBLAS_L2_SIZE: _l2, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    ...extraEnv,
  };
  try {
    const out = execFileSync(process.env.NEURONE_PYTHON ?? '/usr/bin/python3', [path.join(repoRoot, 'scripts', script), ...args], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 24,
    });
    const lastLine = out.trim().split('\n').pop() ?? '';
    return { ok: true, value: JSON.parse(lastLine) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message.split('\n')[0] };
  }
}

/** The environment that holds PyTorch to AVX2 (what it runs on an AVX2-only CPU): ATen's dispatch, oneDNN (both names), OpenBLAS. */
export const TORCH_AVX2_ENV: NodeJS.ProcessEnv = {
  ATEN_CPU_CAPABILITY: 'avx2',
  DNNL_MAX_CPU_ISA: 'AVX2',
  ONEDNN_MAX_CPU_ISA: 'AVX2',
  OPENBLAS_CORETYPE: 'Haswell',
};

/**
 * glibc settings under which PyTorch runs much faster here: its CPU allocator asks malloc for
 * every activation, and above the mmap threshold (128 KiB until glibc raises it on its own,
 * depending on what the process freed before) each of them is a fresh mmap, page faults
 * included, and a munmap. A fixed 32 MiB threshold, and no trimming, keep them in the heap: the
 * effect of the jemalloc/tcmalloc that PyTorch's performance guide recommends.
 */
export const TUNED_MALLOC_ENV: NodeJS.ProcessEnv = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824',
};

export function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** n floats drawn uniformly from [-1, 1). */
export function randomArray(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

/** A stride-1 2-D convolution: (batch, height, width, chanIn, chanOut, k, padding). */
export type Conv2dBenchShape = readonly [number, number, number, number, number, number, number];

/**
 * The arrays of a convolution's three passes (random x, weight and dy; outputs for y, dx and dw),
 * the addon's geometry arguments and the useful work of one pass, 2 · batch · outputs · window.
 */
export function conv2dCase([batch, height, width, chanIn, chanOut, k, pad]: Conv2dBenchShape): {
  x: Float32Array;
  weight: Float32Array;
  y: Float32Array;
  dy: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  geometry: [number, number, number, number, number, number, number, number, number, number, number];
  flops: number;
} {
  const outHeight = height + 2 * pad - k + 1;
  const outWidth = width + 2 * pad - k + 1;
  const x = randomArray(batch * height * width * chanIn);
  const weight = randomArray(k * k * chanIn * chanOut);
  const y = new Float32Array(batch * outHeight * outWidth * chanOut);
  return {
    x,
    weight,
    y,
    dy: randomArray(y.length),
    dx: new Float32Array(x.length),
    dw: new Float32Array(weight.length),
    geometry: [batch, height, width, chanIn, chanOut, k, k, 1, 1, pad, pad],
    flops: 2 * batch * outHeight * outWidth * k * k * chanIn * chanOut,
  };
}
