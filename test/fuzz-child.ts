/**
 * The fuzzer run by test/fuzz.test.ts, in a child process so that a crash is observed instead
 * of taking the test runner down. Run it by hand for a longer campaign:
 *
 *   node -r tsx/cjs test/fuzz-child.ts kernels  --seed 7 --cases 100000 --seconds 600
 *   node -r tsx/cjs test/fuzz-child.ts modules  --seed 7 --cases 20000  --seconds 600
 *
 * `kernels`: random malformed calls at every entry point of the native addon, each call made
 * with identical arguments on the js twin as well. Both must throw (a TypeError or RangeError
 * whose message starts with the entry point's name) or both succeed; a successful call must
 * give the twin's numbers, a throwing call must not have written anything, and no call may
 * write outside its output arrays (every array is a view into a larger buffer whose other
 * bytes are checked after the call).
 *
 * `modules`: random constructor arguments and method calls on every public module, loss,
 * optimiser and on fit / predict / evaluate. Only TypeError, RangeError, NonFiniteError and
 * the documented "backward called before forward" Error may escape, never an engine error
 * such as "Cannot read properties of null"; valid calls are repeated on both backends.
 *
 * Prints one line `FUZZ_SUMMARY <json>` (cases per entry point) and exits 1 when anything
 * failed (the failures are printed as `FUZZ_FAILURE <json>` lines, with the case seed).
 * FUZZ_TRACE=1 prints every case to stderr before it runs, to find the one that crashed.
 */
import { jsBackend } from '../lib/backend/js';
import { ACTIVATION_MAX, ArgSpec, OP_NAMES, OPS, OpName } from '../lib/backend/ops';
import { loadNative, NativeAddon } from '../lib/backend/native';
import { setBackend, nativeAvailable } from '../lib/backend';
import * as nn from '../lib/nn';
import { Module, ModuleConfig } from '../lib/nn/module';
import { ModuleExample, ModuleType, moduleTypes } from '../lib/nn/registry';
import { MSELoss, BCELoss, CrossEntropyLoss, CELogSoftmaxLoss, HingeLoss, Loss } from '../lib/losses';
import { SGD, Adam, Optimizer } from '../lib/optim';
import { fit, predict, evaluate } from '../lib/train';
import { Tensor } from '../lib/tensor';
import { globalRng, seed as seedLib } from '../lib/random';

// ---------------------------------------------------------------------------------------------
// Command line
const argv = process.argv.slice(2);
const mode = argv[0] ?? 'kernels';
function opt(name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
}
const SEED = opt('seed', 1);
const CASES = opt('cases', 1000); // per entry point
const SECONDS = opt('seconds', 10);
const TRACE = process.env.FUZZ_TRACE === '1';
// --replay <entry>:<caseSeed> runs that one case (as printed by a failure or by FUZZ_TRACE).
const REPLAY = argv.includes('--replay') ? argv[argv.indexOf('--replay') + 1] : undefined;
function replayMatches(entry: string, caseSeed: number): boolean {
  return REPLAY === undefined || REPLAY === `${entry}:${caseSeed}`;
}
const deadline = Date.now() + SECONDS * 1000;

// ---------------------------------------------------------------------------------------------
// A small seeded generator (mulberry32), independent of the library's own.
class R {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}

function hash(...xs: (number | string)[]): number {
  let h = 2166136261;
  for (const x of xs) {
    const s = String(x);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    h = Math.imul(h ^ 0x5f, 16777619);
  }
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping
interface Count {
  cases: number;
  valid: number;
  TypeError: number;
  RangeError: number;
  other: number;
  ms?: number;
}
const counts: Record<string, Count> = {};
const failures: unknown[] = [];
function count(entry: string): Count {
  return (counts[entry] ??= { cases: 0, valid: 0, TypeError: 0, RangeError: 0, other: 0 });
}
function fail(entry: string, caseSeed: number, what: string, detail: unknown): void {
  if (failures.length < 50) failures.push({ entry, caseSeed, what, detail });
}

// Engine errors: a TypeError/RangeError V8 throws by itself names no argument of ours.
const ENGINE =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Invalid typed array length|Invalid array length|Array buffer allocation failed|Maximum call stack|Cannot convert|Cannot destructure|Reduce of empty array|Cannot mix BigInt|undefined is not|null is not|Do not know how to serialize|out of bounds|out of memory|Start offset|Invalid time value/;

function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return 'Symbol';
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 20));
  if (ArrayBuffer.isView(v)) {
    const len = (v as unknown as { length?: number }).length;
    return `${v.constructor.name}(${len === undefined ? v.byteLength + 'B' : len})`;
  }
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (typeof v === 'object') {
    const o = v as { shape?: unknown; data?: unknown };
    if ('shape' in o || 'data' in o)
      return `{shape: ${Array.isArray(o.shape) ? `[${o.shape.join(',')}]` : describeValue(o.shape)}, data: ${describeValue(o.data)}}`;
    return v.constructor?.name ?? 'object';
  }
  return typeof v;
}

// ---------------------------------------------------------------------------------------------
// Arrays that are views into larger buffers, so writes outside the view can be seen.
const F32_GUARD = -7777.5;
function f32(r: R, n: number, values: 'rand' | 'extreme' = 'rand'): Float32Array {
  const pre = r.int(0, 3);
  const buf = new Float32Array(pre + n + 3).fill(F32_GUARD);
  const v = buf.subarray(pre, pre + n);
  for (let i = 0; i < n; i++) {
    v[i] = values === 'extreme' && r.bool(0.2) ? r.pick([1e4, -1e4, 0, 88, -88, 1e-30, 3e38, -3e38]) : r.uniform(-2, 2);
  }
  return v;
}
function i32(r: R, n: number, fill: (i: number) => number): Int32Array {
  const pre = r.int(0, 3);
  const buf = new Int32Array(pre + n + 3).fill(0x7eadbeef);
  const v = buf.subarray(pre, pre + n);
  for (let i = 0; i < n; i++) v[i] = fill(i);
  return v;
}
function detached(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  return a;
}

// ---------------------------------------------------------------------------------------------
// Kernel entry points: a generator of valid calls for each, then mutations.
type Kind = 'bool' | 'size' | 'num' | 'f32' | 'f32n' | 'i32' | 'i32n' | 'str';
interface Call {
  args: unknown[];
  kinds: Kind[];
  /** Argument indices the call may write. */
  outputs: number[];
  /** Whether js and native results must agree (false for argument-count changes and the like). */
  compare: boolean;
  desc: string[];
}

const span = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
const winCount = (length: number, k: number, stride: number): number => (length < k ? 0 : Math.floor((length - k) / stride) + 1);
/** A small dimension, sometimes a larger one (SIMD tails, blocking edges), sometimes 0. */
function dim(r: R, small: number, large: number): number {
  const u = r.next();
  if (u < 0.06) return 0;
  if (u < 0.85) return r.int(1, small);
  return r.int(small, large);
}

const SIZE = 'size' as const;
/** A valid call of a table entry point: its arguments, and the inputs it may also write (in place). */
interface Valid {
  args: unknown[];
  written?: number[];
  desc: string[];
}
/** The Call of a valid table entry point: argument kinds and outputs come from lib/backend/ops.ts. */
function fromTable(entry: OpName, v: Valid): Call {
  const spec: readonly ArgSpec[] = OPS[entry].args;
  const kinds = spec.map((a): Kind => {
    if (a.kind === 'f32' || a.kind === 'i32') return a.nullable ? `${a.kind}n` : a.kind;
    return a.kind === 'number' || a.kind === 'f64' ? 'num' : a.kind === 'bool' ? 'bool' : SIZE;
  });
  const outputs = [...(v.written ?? []), ...spec.flatMap((a, i) => (a.out ? [i] : []))];
  return { args: v.args, kinds, outputs, compare: true, desc: v.desc };
}
const tableSpecs: Record<OpName, (r: R) => Valid> = {
  sgemm(r) {
    const transA = r.bool();
    const transB = r.bool();
    const m = dim(r, 9, 40);
    const n = dim(r, 9, 40);
    const k = dim(r, 9, 40);
    const [aRows, aCols] = transA ? [k, m] : [m, k];
    const [bRows, bCols] = transB ? [n, k] : [k, n];
    const lda = Math.max(1, aCols) + r.int(0, 2);
    const ldb = Math.max(1, bCols) + r.int(0, 2);
    const ldc = Math.max(1, n) + r.int(0, 2);
    const offA = r.int(0, 3);
    const offB = r.int(0, 3);
    const offC = r.int(0, 3);
    const a = f32(r, offA + span(aRows, aCols, lda) + r.int(0, 1));
    const b = f32(r, offB + span(bRows, bCols, ldb) + r.int(0, 1));
    const c = f32(r, offC + span(m, n, ldc) + r.int(0, 1));
    return {
      args: [
        transA,
        transB,
        m,
        n,
        k,
        r.pick([1, -0.5, 2, r.uniform(-2, 2)]),
        a,
        offA,
        lda,
        b,
        offB,
        ldb,
        r.pick([0, 1, 0.5]),
        c,
        offC,
        ldc,
      ],
      desc: [],
    };
  },
  conv1dForward(r) {
    const s = convShape(r);
    const outL = winCount(s.length, s.kSize, s.stride);
    return {
      args: [
        f32(r, s.batch * s.length * s.chanIn),
        f32(r, s.kSize * s.chanIn * s.chanOut),
        r.bool() ? null : f32(r, s.chanOut),
        f32(r, s.batch * outL * s.chanOut),
        s.batch,
        s.length,
        s.chanIn,
        s.chanOut,
        s.kSize,
        s.stride,
      ],
      desc: [],
    };
  },
  conv1dMaxPoolForward(r) {
    const s = convShape(r);
    const convL = winCount(s.length, s.kSize, s.stride);
    const poolSize = r.int(1, 4);
    const poolStride = r.int(1, 3);
    const outL = winCount(convL, poolSize, poolStride);
    return {
      args: [
        f32(r, s.batch * s.length * s.chanIn),
        f32(r, s.kSize * s.chanIn * s.chanOut),
        r.bool() ? null : f32(r, s.chanOut),
        f32(r, s.batch * outL * s.chanOut),
        r.bool() ? null : new Int32Array(s.batch * outL * s.chanOut),
        s.batch,
        s.length,
        s.chanIn,
        s.chanOut,
        s.kSize,
        s.stride,
        poolSize,
        poolStride,
      ],
      desc: [],
    };
  },
  conv1dMaxPoolBackwardWeight(r) {
    const s = convShape(r);
    const convL = winCount(s.length, s.kSize, s.stride);
    const poolSize = r.int(1, 4);
    const poolStride = r.int(1, 3);
    const outL = winCount(convL, poolSize, poolStride);
    // A valid argmax: each window's first position (mutations then move shapes under it).
    const argmax = new Int32Array(s.batch * outL * s.chanOut);
    for (let b = 0; b < s.batch; b++) {
      for (let t = 0; t < outL; t++) {
        for (let c = 0; c < s.chanOut; c++)
          argmax[(b * outL + t) * s.chanOut + c] = (b * convL + t * poolStride + r.int(0, poolSize - 1)) * s.chanOut + c;
      }
    }
    return {
      args: [
        f32(r, s.batch * s.length * s.chanIn),
        f32(r, s.batch * outL * s.chanOut),
        argmax,
        f32(r, s.kSize * s.chanIn * s.chanOut),
        s.batch,
        s.length,
        s.chanIn,
        s.chanOut,
        s.kSize,
        s.stride,
        poolSize,
        poolStride,
      ],
      desc: [],
    };
  },
  conv1dBackwardInput(r) {
    const s = convShape(r);
    const outL = winCount(s.length, s.kSize, s.stride);
    return {
      args: [
        f32(r, s.batch * outL * s.chanOut),
        f32(r, s.kSize * s.chanIn * s.chanOut),
        f32(r, s.batch * s.length * s.chanIn),
        s.batch,
        s.length,
        s.chanIn,
        s.chanOut,
        s.kSize,
        s.stride,
      ],
      desc: [],
    };
  },
  conv1dBackwardWeight(r) {
    const s = convShape(r);
    const outL = winCount(s.length, s.kSize, s.stride);
    return {
      args: [
        f32(r, s.batch * s.length * s.chanIn),
        f32(r, s.batch * outL * s.chanOut),
        f32(r, s.kSize * s.chanIn * s.chanOut),
        s.batch,
        s.length,
        s.chanIn,
        s.chanOut,
        s.kSize,
        s.stride,
      ],
      desc: [],
    };
  },
  maxPool1dForward(r) {
    const s = poolShape(r);
    const nOut = s.batch * winCount(s.length, s.kSize, s.stride) * s.chan;
    return {
      args: [
        f32(r, s.batch * s.length * s.chan),
        f32(r, nOut),
        i32(r, nOut, () => r.int(-5, 5)),
        s.batch,
        s.length,
        s.chan,
        s.kSize,
        s.stride,
      ],
      desc: [],
    };
  },
  maxPool1dBackward(r) {
    const s = poolShape(r);
    const outL = winCount(s.length, s.kSize, s.stride);
    const nOut = s.batch * outL * s.chan;
    // A valid argmax points inside its own window, as the forward pass leaves it.
    const argmax = i32(r, nOut, (i) => {
      const c = i % s.chan;
      const t = Math.floor(i / s.chan) % outL;
      const b = Math.floor(i / (s.chan * outL));
      return (b * s.length + t * s.stride + r.int(0, s.kSize - 1)) * s.chan + c;
    });
    return {
      args: [f32(r, nOut), argmax, f32(r, s.batch * s.length * s.chan), s.batch, s.length, s.chan, s.kSize, s.stride],
      desc: [],
    };
  },
  avgPool1dForward(r) {
    const s = poolShape(r);
    const nOut = s.batch * winCount(s.length, s.kSize, s.stride) * s.chan;
    return {
      args: [f32(r, s.batch * s.length * s.chan), f32(r, nOut), s.batch, s.length, s.chan, s.kSize, s.stride],
      desc: [],
    };
  },
  avgPool1dBackward(r) {
    const s = poolShape(r);
    const nOut = s.batch * winCount(s.length, s.kSize, s.stride) * s.chan;
    return {
      args: [f32(r, nOut), f32(r, s.batch * s.length * s.chan), s.batch, s.length, s.chan, s.kSize, s.stride],
      desc: [],
    };
  },
  conv2dForward(r) {
    const s = conv2dShape(r);
    return {
      args: [
        f32(r, conv2dSizes(s).input),
        f32(r, conv2dSizes(s).weight),
        r.bool() ? null : f32(r, s.chanOut),
        f32(r, conv2dSizes(s).output),
        ...conv2dArgs(s),
      ],
      desc: [],
    };
  },
  conv2dBackwardInput(r) {
    const s = conv2dShape(r);
    const n = conv2dSizes(s);
    return { args: [f32(r, n.output), f32(r, n.weight), f32(r, n.input), ...conv2dArgs(s)], desc: [] };
  },
  conv2dBackwardWeight(r) {
    const s = conv2dShape(r);
    const n = conv2dSizes(s);
    return { args: [f32(r, n.input), f32(r, n.output), f32(r, n.weight), ...conv2dArgs(s)], desc: [] };
  },
  maxPool2dForward(r) {
    const s = pool2dShape(r);
    const n = pool2dSizes(s);
    return { args: [f32(r, n.input), f32(r, n.output), i32(r, n.output, () => r.int(-5, 5)), ...pool2dArgs(s)], desc: [] };
  },
  maxPool2dBackward(r) {
    const s = pool2dShape(r);
    const n = pool2dSizes(s);
    // A valid argmax points inside its own window, as the forward pass leaves it.
    const argmax = i32(r, n.output, (i) => {
      const c = i % s.chan;
      const col = Math.floor(i / s.chan) % n.outWidth;
      const row = Math.floor(i / s.chan / n.outWidth) % n.outHeight;
      const b = Math.floor(i / s.chan / n.outWidth / n.outHeight);
      const y = row * s.strideHeight + r.int(0, s.kHeight - 1);
      const x = col * s.strideWidth + r.int(0, s.kWidth - 1);
      return ((b * s.height + y) * s.width + x) * s.chan + c;
    });
    return { args: [f32(r, n.output), argmax, f32(r, n.input), ...pool2dArgs(s)], desc: [] };
  },
  avgPool2dForward(r) {
    const s = pool2dShape(r);
    const n = pool2dSizes(s);
    return { args: [f32(r, n.input), f32(r, n.output), ...pool2dArgs(s)], desc: [] };
  },
  avgPool2dBackward(r) {
    const s = pool2dShape(r);
    const n = pool2dSizes(s);
    return { args: [f32(r, n.output), f32(r, n.input), ...pool2dArgs(s)], desc: [] };
  },
  upsample2dForward(r) {
    const s = upsample2dShape(r);
    return { args: [f32(r, s.input), f32(r, s.output), ...s.args], desc: [] };
  },
  upsample2dBackward(r) {
    const s = upsample2dShape(r);
    return { args: [f32(r, s.output), f32(r, s.input), ...s.args], desc: [] };
  },
  activationForward(r) {
    const n = dim(r, 40, 300);
    const x = f32(r, n, 'extreme');
    const alias = r.bool(0.2);
    return {
      args: [r.int(0, ACTIVATION_MAX), r.uniform(0, 0.5), x, alias ? x : f32(r, n), n],
      written: alias ? [2] : [],
      desc: alias ? ['y=x'] : [],
    };
  },
  activationBackward(r) {
    const n = dim(r, 40, 300);
    const dy = f32(r, n);
    const alias = r.bool(0.2);
    return {
      args: [r.int(0, ACTIVATION_MAX), r.uniform(0, 0.5), f32(r, n, 'extreme'), f32(r, n), dy, alias ? dy : f32(r, n), n],
      written: alias ? [4] : [],
      desc: alias ? ['dx=dy'] : [],
    };
  },
  addRowVector(r) {
    const rows = dim(r, 8, 40);
    const cols = dim(r, 12, 70);
    return { args: [f32(r, rows * cols), f32(r, cols), rows, cols], desc: [] };
  },
  sumRows(r) {
    const rows = dim(r, 8, 40);
    const cols = dim(r, 12, 70);
    return { args: [f32(r, rows * cols), rows, cols, f32(r, cols)], desc: [] };
  },
  softmaxForward(r) {
    const rows = dim(r, 6, 30);
    const cols = r.int(1, r.bool(0.8) ? 12 : 70);
    const x = f32(r, rows * cols, 'extreme');
    const alias = r.bool(0.2);
    return {
      args: [x, alias ? x : f32(r, rows * cols), rows, cols, r.bool()],
      written: alias ? [0] : [],
      desc: alias ? ['y=x'] : [],
    };
  },
  softmaxBackward(r) {
    const rows = dim(r, 6, 30);
    const cols = r.int(1, r.bool(0.8) ? 12 : 70);
    return {
      args: [f32(r, rows * cols), f32(r, rows * cols), f32(r, rows * cols), rows, cols, r.bool()],
      desc: [],
    };
  },
  crossEntropyLogits(r) {
    const rows = dim(r, 6, 30);
    const cols = r.int(1, r.bool(0.8) ? 12 : 70);
    return {
      args: [
        f32(r, rows * cols, 'extreme'),
        i32(r, rows, () => r.int(0, cols - 1)),
        f32(r, rows),
        r.bool(0.3) ? null : f32(r, rows * cols),
        rows,
        cols,
      ],
      desc: [],
    };
  },
  sgdStep(r) {
    const n = dim(r, 40, 300);
    return {
      args: [
        f32(r, n),
        f32(r, n),
        r.bool() ? null : f32(r, n),
        n,
        r.uniform(0, 0.5),
        r.pick([0, 0.9, r.uniform(0, 1)]),
        r.pick([0, 1e-3, r.uniform(0, 0.1)]),
        r.pick([0, 0.5, r.uniform(0, 1)]),
        r.bool(),
      ],
      desc: [],
    };
  },
  adamStep(r) {
    const n = dim(r, 40, 300);
    const m = f32(r, n);
    const v = f32(r, n);
    for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]);
    return {
      args: [
        f32(r, n),
        f32(r, n),
        m,
        v,
        n,
        r.uniform(1e-4, 0.1),
        r.pick([0.9, r.uniform(0, 0.99)]),
        r.pick([0.999, r.uniform(0.5, 0.999)]),
        r.pick([1e-8, 1e-6, 1e-3]),
        r.pick([0, 1e-2]),
        r.int(1, 50),
      ],
      desc: [],
    };
  },
  dropoutForward(r) {
    const n = dim(r, 40, 300);
    const p = r.pick([0, 0.3, 0.5, r.uniform(0, 1), 1, NaN]);
    // Any state words, all zero included (the kernel draws whatever they give).
    const state = i32(r, 4, () => r.pick([0, 1, -1, r.int(-(2 ** 31), 2 ** 31 - 1)]));
    return {
      args: [f32(r, n, r.bool() ? 'extreme' : 'rand'), f32(r, n), f32(r, n), state, n, p, r.pick([1 / (1 - 0.3), 2, 1, Infinity])],
      desc: [],
    };
  },
  nonFiniteIndex(r) {
    const n = dim(r, 40, 300);
    const x = f32(r, n);
    if (n > 0 && r.bool(0.6)) x[r.int(0, n - 1)] = r.pick([NaN, Infinity, -Infinity]);
    return { args: [x, n], desc: [] };
  },
  sumOfSquares(r) {
    const n = dim(r, 40, 300);
    const x = f32(r, n, r.bool() ? 'extreme' : 'rand');
    if (n > 0 && r.bool(0.3)) x[r.int(0, n - 1)] = r.pick([NaN, Infinity, -Infinity]);
    return { args: [x, n], desc: [] };
  },
  // Not fuzzed before the table listed every entry point.
  binaryCrossEntropy(r) {
    const rows = dim(r, 6, 30);
    const cols = dim(r, 8, 40);
    const p = f32(r, rows * cols);
    const y = f32(r, rows * cols);
    for (let i = 0; i < rows * cols; i++) {
      p[i] = r.bool(0.1) ? r.pick([0, 1]) : Math.abs(p[i]) / 2;
      y[i] = r.bool(0.7) ? r.int(0, 1) : Math.abs(y[i]) / 2;
    }
    return { args: [p, y, f32(r, rows), r.bool(0.3) ? null : f32(r, rows * cols), rows, cols], desc: [] };
  },
  batchNormStatistics(r) {
    const rows = dim(r, 6, 40);
    const chan = Math.max(1, dim(r, 5, 20));
    return { args: [f32(r, rows * chan, 'extreme'), f32(r, chan), f32(r, chan), rows, chan], desc: [] };
  },
  batchNormForward(r) {
    const rows = dim(r, 6, 40);
    const chan = Math.max(1, dim(r, 5, 20));
    // A variance as batchNormStatistics gives one: not negative.
    const variance = f32(r, chan).map(Math.abs);
    const optional = (): Float32Array | null => (r.bool(0.3) ? null : f32(r, chan));
    const x = f32(r, rows * chan);
    const inPlace = r.bool(0.2);
    const args = [
      x,
      f32(r, chan),
      variance,
      optional(),
      optional(),
      r.pick([1e-5, 1e-3, 0.1]),
      inPlace ? x : f32(r, rows * chan),
      rows,
      chan,
    ];
    return { args, written: inPlace ? [0] : [], desc: inPlace ? ['y is x'] : [] };
  },
  batchNormBackward(r) {
    const rows = dim(r, 6, 40);
    const chan = Math.max(1, dim(r, 5, 20));
    const x = f32(r, rows * chan);
    const mean = new Float32Array(chan);
    const variance = new Float32Array(chan);
    // Statistics as the forward pass measured them (the training-mode gradient assumes so).
    for (let c = 0; c < chan; c++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += x[i * chan + c];
      mean[c] = rows > 0 ? sum / rows : 0;
      let squares = 0;
      for (let i = 0; i < rows; i++) squares += (x[i * chan + c] - mean[c]) ** 2;
      variance[c] = rows > 0 ? squares / rows : 0;
    }
    const dy = f32(r, rows * chan);
    const optional = (n: number): Float32Array | null => (r.bool(0.3) ? null : f32(r, n));
    const inPlace = r.bool(0.2);
    const args = [
      x,
      dy,
      mean,
      variance,
      optional(chan),
      r.pick([1e-5, 1e-3]),
      r.bool(),
      inPlace ? dy : optional(rows * chan),
      optional(chan),
      optional(chan),
      rows,
      chan,
    ];
    return { args, written: inPlace ? [1] : [], desc: inPlace ? ['dx is dy'] : [] };
  },
};
const kernelSpecs: Record<string, (r: R) => Call> = {
  ...Object.fromEntries(OP_NAMES.map((entry) => [entry, (r: R): Call => fromTable(entry, tableSpecs[entry](r))])),
  setThreads(r) {
    return { args: [r.int(1, 3)], kinds: [SIZE], outputs: [], compare: false, desc: [] };
  },
  getThreads() {
    return { args: [], kinds: [], outputs: [], compare: false, desc: [] };
  },
  kernelPath() {
    return { args: [], kinds: [], outputs: [], compare: false, desc: [] };
  },
  setKernelPath(r) {
    return { args: [r.pick(supportedPaths)], kinds: ['str'], outputs: [], compare: false, desc: [] };
  },
};
let supportedPaths = ['scalar'];
const NATIVE_ONLY = new Set(['kernelPath', 'setKernelPath']);

function convShape(r: R): { batch: number; length: number; chanIn: number; chanOut: number; kSize: number; stride: number } {
  if (r.bool(0.03))
    return {
      batch: r.int(2, 6),
      length: r.int(20, 80),
      chanIn: r.int(1, 16),
      chanOut: r.int(8, 40),
      kSize: r.int(1, 7),
      stride: r.int(1, 3),
    };
  return {
    batch: dim(r, 3, 6),
    length: dim(r, 12, 30),
    chanIn: r.int(1, 4),
    chanOut: r.int(1, 9),
    kSize: r.int(1, 4),
    stride: r.int(1, 3),
  };
}
function poolShape(r: R): { batch: number; length: number; chan: number; kSize: number; stride: number } {
  // Now and then one large enough for the threaded path (batch · length · chan ≥ 2^16).
  if (r.bool(0.02)) return { batch: r.int(2, 4), length: r.int(128, 160), chan: r.int(128, 140), kSize: r.int(1, 4), stride: r.int(1, 4) };
  return { batch: dim(r, 3, 6), length: dim(r, 12, 30), chan: r.int(1, 6), kSize: r.int(1, 4), stride: r.int(1, 4) };
}

interface Conv2dFuzzShape {
  batch: number;
  height: number;
  width: number;
  chanIn: number;
  chanOut: number;
  kHeight: number;
  kWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
}

function conv2dShape(r: R): Conv2dFuzzShape {
  const kHeight = r.int(1, 4);
  const kWidth = r.int(1, 4);
  // Now and then one large enough for the threaded and tiled paths.
  const large = r.bool(0.03);
  return {
    batch: large ? r.int(2, 4) : dim(r, 2, 4),
    height: large ? r.int(16, 40) : dim(r, 5, 9),
    width: large ? r.int(16, 40) : dim(r, 5, 9),
    chanIn: r.int(1, large ? 8 : 3),
    chanOut: r.int(1, large ? 24 : 5),
    kHeight,
    kWidth,
    strideHeight: r.int(1, 3),
    strideWidth: r.int(1, 3),
    padHeight: r.int(0, kHeight - 1),
    padWidth: r.int(0, kWidth - 1),
  };
}

function conv2dSizes(s: Conv2dFuzzShape): { input: number; weight: number; output: number } {
  const outH = winCount(s.height + 2 * s.padHeight, s.kHeight, s.strideHeight);
  const outW = winCount(s.width + 2 * s.padWidth, s.kWidth, s.strideWidth);
  return {
    input: s.batch * s.height * s.width * s.chanIn,
    weight: s.kHeight * s.kWidth * s.chanIn * s.chanOut,
    output: s.batch * outH * outW * s.chanOut,
  };
}

function conv2dArgs(s: Conv2dFuzzShape): number[] {
  return [s.batch, s.height, s.width, s.chanIn, s.chanOut, s.kHeight, s.kWidth, s.strideHeight, s.strideWidth, s.padHeight, s.padWidth];
}

interface Pool2dFuzzShape {
  batch: number;
  height: number;
  width: number;
  chan: number;
  kHeight: number;
  kWidth: number;
  strideHeight: number;
  strideWidth: number;
}

function pool2dShape(r: R): Pool2dFuzzShape {
  const large = r.bool(0.02); // batch · height · width · chan ≥ 2^16: the threaded path
  return {
    batch: large ? r.int(2, 4) : dim(r, 2, 4),
    height: large ? r.int(40, 50) : dim(r, 5, 9),
    width: large ? r.int(40, 50) : dim(r, 5, 9),
    chan: large ? r.int(16, 24) : r.int(1, 5),
    kHeight: r.int(1, 3),
    kWidth: r.int(1, 3),
    strideHeight: r.int(1, 3),
    strideWidth: r.int(1, 3),
  };
}

function pool2dSizes(s: Pool2dFuzzShape): { input: number; output: number; outHeight: number; outWidth: number } {
  const outHeight = winCount(s.height, s.kHeight, s.strideHeight);
  const outWidth = winCount(s.width, s.kWidth, s.strideWidth);
  return { input: s.batch * s.height * s.width * s.chan, output: s.batch * outHeight * outWidth * s.chan, outHeight, outWidth };
}

function pool2dArgs(s: Pool2dFuzzShape): number[] {
  return [s.batch, s.height, s.width, s.chan, s.kHeight, s.kWidth, s.strideHeight, s.strideWidth];
}

/** An upsampling's arguments and sizes; sometimes large enough for the threaded path. */
function upsample2dShape(r: R): { args: number[]; input: number; output: number } {
  const large = r.bool(0.02);
  const batch = large ? r.int(2, 4) : dim(r, 2, 4);
  const height = large ? r.int(20, 30) : dim(r, 4, 8);
  const width = large ? r.int(20, 30) : dim(r, 4, 8);
  const chan = large ? r.int(16, 24) : r.int(1, 5);
  const scaleHeight = r.int(1, 3);
  const scaleWidth = r.int(1, 3);
  const input = batch * height * width * chan;
  return { args: [batch, height, width, chan, scaleHeight, scaleWidth], input, output: input * scaleHeight * scaleWidth };
}

// Values that are wrong almost anywhere.
function junk(r: R): unknown {
  return r.pick<() => unknown>([
    () => undefined,
    () => null,
    () => true,
    () => false,
    () => 'x',
    () => '3',
    () => '',
    () => ({}),
    () => [1, 2, 3],
    () => [],
    () => -1,
    () => 1.5,
    () => NaN,
    () => Infinity,
    () => -Infinity,
    () => 2 ** 31,
    () => 2 ** 32,
    () => 2 ** 53,
    () => 2 ** 63,
    () => 1e308,
    () => Number.MIN_VALUE,
    () => -0,
    () => 0,
    () => 1n,
    () => Symbol('s'),
    () => (): number => 1,
    () => new Float64Array(4),
    () => new Int32Array(4),
    () => new Uint8Array(16),
    () => new Float32Array(0),
    () => detached(8),
    () => new DataView(new ArrayBuffer(16)),
    () => new ArrayBuffer(16),
    () => new Date(0),
    () => ({ length: 1e9 }),
    () => new Float32Array(new SharedArrayBuffer(64)),
  ])();
}

/** A value wrong in a way specific to the argument's kind, given its valid value. */
function nearMiss(r: R, kind: Kind, v: unknown, desc: string[]): unknown {
  switch (kind) {
    case 'size': {
      const s = typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 40 ? v : 3;
      return r.pick<() => unknown>([
        () => -1,
        () => -s - 1,
        () => s + 1,
        () => s - 1,
        () => s + 0.5,
        () => NaN,
        () => Infinity,
        () => -Infinity,
        () => 2 ** 31,
        () => 2 ** 31 - 1,
        () => 2 ** 32 + s,
        () => 2 ** 53,
        () => 2 ** 64,
        () => s * 65536 + 1,
        () => 2 ** 30,
        () => String(s),
        () => -0,
        () => 1e-300,
        () => BigInt(Math.max(0, s)),
        () => null,
      ])();
    }
    case 'f32':
    case 'f32n': {
      if (!(v instanceof Float32Array)) return r.pick([undefined, 0, new Float32Array(0), new Float64Array(4)]);
      const a = v;
      if (a === null) return r.pick([undefined, 0, new Float32Array(0), new Float64Array(4)]);
      return r.pick<() => unknown>([
        () => (a.length > 0 ? a.subarray(0, a.length - 1) : a), // too short by one
        () => (a.length > 0 ? a.subarray(0, a.length - 1) : a),
        () => new Float32Array(0),
        () => detached(a.length),
        () => new Float64Array(a.length),
        () => new Int32Array(a.length),
        () => new Uint8Array(a.length * 4),
        () => Array.from(a),
        () => new Uint32Array(a.length),
        () => new Int16Array(a.length * 2),
        () => new BigInt64Array(a.length),
        () => new DataView(a.buffer, a.byteOffset, a.byteLength),
        () => a.buffer,
        () => null,
        () => undefined,
        () => new Float32Array(a.length + 1), // longer than needed: valid
      ])();
    }
    case 'i32':
    case 'i32n': {
      if (!(v instanceof Int32Array)) return r.pick([undefined, new Int32Array(0), new Float32Array(4)]);
      const a = v;
      return r.pick<() => unknown>([
        () => (a.length > 0 ? a.subarray(0, a.length - 1) : a),
        () => new Uint32Array(a.length),
        () => new Float32Array(a.length),
        () => Array.from(a),
        () => detached(a.length),
        () => null,
        () => {
          // Out-of-range contents: labels outside [0, cols), argmax outside its sample, or wrapping values.
          const b = a.slice();
          if (b.length > 0) b[r.int(0, b.length - 1)] = r.pick([-1, 2 ** 31 - 1, -(2 ** 31), a.length, 1 << 20, b[0] + 1]);
          desc.push('i32 contents changed');
          return b;
        },
      ])();
    }
    case 'num':
      return r.pick([NaN, Infinity, -Infinity, '1', undefined, null, 1n, true, 1e308, -0]);
    case 'bool':
      return r.pick([0, 1, 'true', null, undefined, {}, NaN]);
    case 'str':
      return r.pick<unknown>([
        '',
        'AVX2',
        'scalar\0',
        ' avx2',
        'avx512 ',
        'neon',
        'x'.repeat(10000),
        0,
        null,
        undefined,
        { toString: () => 'scalar' },
        ['scalar'],
        'sc\u00e1lar',
      ]);
  }
}

/** Applies 1 to 3 random mutations to a valid call (or none, for about a quarter of the cases). */
function mutate(r: R, call: Call): void {
  if (r.bool(0.25)) return;
  const muts = r.int(1, 3);
  for (let t = 0; t < muts; t++) {
    const u = r.next();
    const n = call.args.length;
    if (u < 0.08) {
      // Wrong argument count.
      call.compare = false;
      if (r.bool() && n > 0) {
        const drop = r.int(1, n);
        call.args.length = n - drop;
        call.kinds.length = n - drop;
        call.desc.push(`dropped ${drop} args`);
      } else {
        const extra = r.int(1, 3);
        for (let i = 0; i < extra; i++) call.args.push(junk(r));
        call.desc.push(`added ${extra} args`);
      }
      return;
    }
    if (n === 0) return;
    const i = r.int(0, n - 1);
    if (u < 0.35) {
      call.args[i] = junk(r);
      call.desc.push(`arg ${i} = ${describeValue(call.args[i])}`);
    } else if (u < 0.5 && call.kinds.includes(SIZE)) {
      // Several sizes huge at once: products overflow 32 and 64 bits.
      for (let j = 0; j < n; j++) {
        if (call.kinds[j] === SIZE && r.bool(0.6)) call.args[j] = r.pick([2 ** 31 - 1, 2 ** 30, 65536, 2 ** 31 - 2, 46341]);
      }
      call.desc.push(
        `huge sizes ${call.args
          .filter((_, j) => call.kinds[j] === SIZE)
          .map(describeValue)
          .join(',')}`,
      );
    } else {
      const before = call.args[i];
      try {
        call.args[i] = nearMiss(r, call.kinds[i], before, call.desc);
      } catch {
        call.args[i] = junk(r); // the argument was already mutated into something nearMiss cannot derive from
      }
      call.desc.push(`arg ${i} ${describeValue(before)} -> ${describeValue(call.args[i])}`);
    }
  }
}

function buffersOf(args: unknown[]): ArrayBufferLike[] {
  const out: ArrayBufferLike[] = [];
  for (const a of args) if (ArrayBuffer.isView(a) && a.buffer.byteLength > 0 && !out.includes(a.buffer)) out.push(a.buffer);
  return out;
}

/** Snapshot of every buffer the call can see; `changedOutside` lists bytes that changed outside the output views. */
function snapshot(args: unknown[]): { changedOutside: (outputs: number[]) => string | null } {
  const bufs = buffersOf(args);
  const copies = bufs.map((b) => new Uint8Array(b).slice());
  return {
    changedOutside(outputs) {
      for (let bi = 0; bi < bufs.length; bi++) {
        const now = new Uint8Array(bufs[bi]);
        const before = copies[bi];
        if (now.length !== before.length) return `buffer ${bi} changed length`;
        const allowed = outputs
          .map((o) => args[o])
          .filter((a): a is ArrayBufferView => ArrayBuffer.isView(a) && a.buffer === bufs[bi])
          .map((a) => [a.byteOffset, a.byteOffset + a.byteLength]);
        for (let k = 0; k < now.length; k++) {
          if (now[k] !== before[k] && !allowed.some(([lo, hi]) => k >= lo && k < hi))
            return `byte ${k} of buffer ${bi} (${now.length} bytes) was written`;
        }
      }
      return null;
    },
  };
}

interface Outcome {
  threw: boolean;
  name?: string;
  message?: string;
  value?: unknown;
  outputs?: ArrayLike<number>[];
  badWrite?: string | null;
}

/** The max-pooling backward passes, which clear dx (argument 2) when they refuse an argmax entry. */
const CLEARS_DX_WHEN_REFUSED = new Set(['maxPool1dBackward', 'maxPool2dBackward']);

/**
 * A refused call writes nothing, with one documented exception: the max-pooling backward passes
 * learn that an argmax entry lies outside its window only while routing, and then leave dx
 * (argument 2) cleared. There, dx may change, to zeros only.
 */
function refusedWrite(
  entry: string,
  call: Call,
  message: string | undefined,
  snap: ReturnType<typeof snapshot>,
  dxBefore: Float32Array | null,
): string | null {
  if (!CLEARS_DX_WHEN_REFUSED.has(entry) || !dxBefore || !/outside its window/.test(message ?? '')) return snap.changedOutside([]);
  const dx = call.args[2] as Float32Array;
  for (let i = 0; i < dx.length; i++) {
    if (!Object.is(dx[i], dxBefore[i]) && dx[i] !== 0) return `refused ${entry} wrote ${dx[i]} to dx[${i}]`;
  }
  return snap.changedOutside([2]);
}

function invoke(fn: (...a: unknown[]) => unknown, call: Call, thisArg: unknown, entry = ''): Outcome {
  const snap = snapshot(call.args);
  const dx = call.args[2];
  const dxBefore = CLEARS_DX_WHEN_REFUSED.has(entry) && dx instanceof Float32Array && dx.buffer.byteLength > 0 ? dx.slice() : null;
  try {
    const value = fn.apply(thisArg, call.args);
    return {
      threw: false,
      value,
      outputs: call.outputs.map((o) => call.args[o] as ArrayLike<number>),
      badWrite: snap.changedOutside(call.outputs),
    };
  } catch (e) {
    const err = e as Error;
    const message = String(err?.message ?? e);
    return { threw: true, name: err?.name ?? typeof e, message, badWrite: refusedWrite(entry, call, message, snap, dxBefore) };
  }
}

function checkError(entry: string, o: Outcome, caseSeed: number, desc: string[], who: string): void {
  const c = count(entry);
  if (o.name === 'TypeError' || o.name === 'RangeError') c[o.name]++;
  else c.other++;
  if ((o.name !== 'TypeError' && o.name !== 'RangeError') || !o.message?.startsWith(`${entry}: `) || ENGINE.test(o.message)) {
    fail(entry, caseSeed, `${who}: unexpected error`, { desc, error: `${o.name}: ${o.message}` });
  }
}

function close(a: number, b: number, scale: number): boolean {
  // Both non-finite: out-of-range hyper-parameters (beta1 = 1e308) give NaN on one backend and
  // -Infinity on the other; neither is a number to compare, and both are caught by fit's guard.
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b || (!Number.isFinite(a) && !Number.isFinite(b));
  return Math.abs(a - b) <= 1e-4 * scale + 1e-5 * Math.abs(b);
}

/**
 * The scale an output element's difference is measured against, for the entry points whose
 * documented error is relative to something other than the outputs. batchNormStatistics sums in
 * float blocks on the SIMD paths (native/batchnorm_simd.h): mean[c] and variance[c] are a few
 * float roundings off the scalar results relative to channel c's spread and its square, and with
 * ±3e38 in one channel that is far more than the mean itself.
 */
const OUTPUT_SCALES: Record<string, (args: unknown[], arg: number, q: number) => number> = {
  batchNormStatistics(args, arg, c) {
    const [x, , , rows, chan] = args as [Float32Array, Float32Array, Float32Array, number, number];
    let lo = Infinity;
    let hi = -Infinity;
    for (let r = 0; r < rows; r++) {
      const v = x[r * chan + c];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const spread = Math.max(1, Number.isNaN(hi - lo) ? Infinity : hi - lo); // NaN: a column of one infinity
    return arg === 1 ? spread : spread * spread;
  },
};

function runKernels(addon: NativeAddon): void {
  supportedPaths = addon.supportedKernelPaths();
  const entries = Object.keys(kernelSpecs);
  const native = addon as unknown as Record<string, (...a: unknown[]) => unknown>;
  const js = jsBackend as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (let i = 0; i < (REPLAY ? 1 : CASES) && Date.now() < deadline; i++) {
    for (const entry of entries) {
      const caseSeed = REPLAY ? Number(REPLAY.split(':').pop()) : hash(SEED, entry, i);
      if (!replayMatches(entry, caseSeed)) continue;
      const make = (): Call => {
        const r = new R(caseSeed);
        const call = kernelSpecs[entry](r);
        mutate(r, call);
        return call;
      };
      const nCall = make();
      if (TRACE) process.stderr.write(`${entry} ${caseSeed} ${nCall.desc.join('; ')}\n`);
      // Now and then call through an unrelated `this`: the binding must not depend on it.
      const thisArg = new R(caseSeed ^ 0x55).bool(0.05) ? { sgemm: 1 } : addon;
      const n = invoke(native[entry], nCall, thisArg, entry);
      const c = count(entry);
      c.cases++;
      if (n.badWrite) fail(entry, caseSeed, `native: ${n.badWrite}`, { desc: nCall.desc, threw: n.threw });
      if (n.threw) checkError(entry, n, caseSeed, nCall.desc, 'native');
      if (NATIVE_ONLY.has(entry) || !js[entry]) continue;
      const jCall = make();
      const j = invoke(js[entry], jCall, jsBackend, entry);
      if (j.badWrite) fail(entry, caseSeed, `js: ${j.badWrite}`, { desc: jCall.desc });
      if (!nCall.compare) continue;
      if (j.threw !== n.threw) {
        fail(entry, caseSeed, 'js and native disagree on whether the call is valid', {
          desc: nCall.desc,
          native: n.threw ? `${n.name}: ${n.message}` : 'ok',
          js: j.threw ? `${j.name}: ${j.message}` : 'ok',
        });
        continue;
      }
      if (n.threw) continue;
      c.valid++;
      if (n.value !== j.value && !(typeof n.value === 'number' && typeof j.value === 'number' && close(n.value, j.value, 1))) {
        fail(entry, caseSeed, 'return values differ', { desc: nCall.desc, native: n.value, js: j.value });
      }
      (n.outputs ?? []).forEach((out, k) => {
        const ref = (j.outputs ?? [])[k];
        if (!ArrayBuffer.isView(ref) || !ArrayBuffer.isView(out)) return;
        let scale = 1;
        for (let q = 0; q < ref.length; q++) if (Number.isFinite(ref[q])) scale = Math.max(scale, Math.abs(ref[q]));
        const scaleOf = OUTPUT_SCALES[entry];
        for (let q = 0; q < ref.length; q++) {
          if (!close(out[q], ref[q], scaleOf ? scaleOf(nCall.args, nCall.outputs[k], q) : scale)) {
            fail(entry, caseSeed, `output arg ${nCall.outputs[k]}[${q}]: native ${out[q]} vs js ${ref[q]}`, {
              desc: nCall.desc,
              path: addon.kernelPath(),
              threads: addon.getThreads(),
            });
            break;
          }
        }
      });
    }
  }
  addon.setThreads(1);
}

// ---------------------------------------------------------------------------------------------
// Public modules, losses, optimisers and the training functions.
interface Target {
  name: string;
  run: (r: R) => unknown;
}

function t(shape: number[], r: R, n?: number): Tensor {
  const len = n ?? shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(len);
  for (let i = 0; i < len; i++) data[i] = r.uniform(-1, 1);
  return { shape, data };
}

/** A constructor argument: mostly valid, sometimes junk. */
function ctorArg(r: R, valid: () => unknown): unknown {
  const u = r.next();
  if (u < 0.7) return valid();
  if (u < 0.8) return r.pick([0, -1, 1.5, NaN, Infinity, '2', null, undefined, 2 ** 33, 2 ** 40, 2 ** 53, 1e308, -0, 1n, {}]);
  const j = junk(r);
  // Integers in [2^20, 2^32] are valid sizes whose tensors the library would really try to allocate
  // (up to 16 GB; tensor sizes are capped at 2^32 elements): a resource request, not a malformed call.
  return typeof j === 'number' && Number.isInteger(j) && j >= 2 ** 20 && j <= 2 ** 32 ? 2 ** 33 : j;
}
function optionsArg(r: R, valid: () => Record<string, unknown>): unknown {
  const u = r.next();
  if (u < 0.6) return valid();
  if (u < 0.7) return undefined;
  return r.pick<unknown>([
    null,
    [],
    'opts',
    5,
    { bias: 'yes' },
    { padding: -1 },
    { padding: 1.5 },
    { unknown: 1 },
    { init: 'nope' },
    { init: 5 },
    { outputPadding: 7 },
    { padding: 2 ** 40 },
    { bias: null },
    Object.create(null),
  ]);
}

/** The module types of the registry that come with examples: every built-in layer, whatever is added later. */
const registeredTypes = moduleTypes().filter((type) => type.example);

/** A registered type's example, its sizes drawn by `r`. */
function exampleOf(type: ModuleType, r: R): ModuleExample {
  return (type.example as NonNullable<ModuleType['example']>)((lo, hi) => r.int(lo, hi));
}

/** Valid modules with random sizes, and a generator of inputs they accept. */
function validModule(r: R): { m: Module; input: () => Tensor } {
  const batch = r.int(0, 3);
  const kind = r.int(0, 9);
  if (kind < 7) {
    const type = r.pick(registeredTypes);
    const e = exampleOf(type, r);
    const m = type.create({ type: type.type, args: e.args, options: e.options }, () => new nn.Sequential());
    // A batch of 0 too: the example's own batch is at least 1.
    return { m, input: () => t([batch, ...e.input.slice(1)], r) };
  }
  if (kind === 7) {
    const i = r.int(1, 4);
    const h = r.int(1, 5);
    return { m: new nn.Sequential(new nn.Linear(i, h), new nn.TanH(), new nn.Linear(h, r.int(1, 3))), input: () => t([batch, i], r) };
  }
  const L = r.int(4, 10);
  const seq = new nn.Sequential(new nn.Conv1D(3, 1, 2), new nn.ReLU(), new nn.MaxPool1D(2), new nn.Flatten());
  return { m: seq, input: () => t([batch, L, 1], r) };
}

/** A tensor argument: valid for the module, or one of many kinds of wrong. */
function tensorArg(r: R, valid: () => Tensor): unknown {
  const u = r.next();
  if (u < 0.35) return valid();
  const v = valid();
  const n = v.data.length;
  return r.pick<() => unknown>([
    () => ({ shape: v.shape, data: new Float32Array(Math.max(0, n - 1)) }), // data shorter than the shape
    () => ({ shape: v.shape, data: new Float32Array(n + 3) }),
    () => ({ shape: [...v.shape, 1], data: v.data }),
    () => ({ shape: v.shape.slice(1), data: v.data }),
    () => ({ shape: v.shape.map((d, i) => (i === 0 ? d : d + 1)), data: v.data }),
    () => ({ shape: v.shape.map((d) => -d - 1), data: v.data }),
    () => ({ shape: v.shape.map((d, i) => (i === v.shape.length - 1 ? d + 0.5 : d)), data: v.data }),
    () => ({ shape: v.shape.map(() => NaN), data: v.data }),
    () => ({ shape: [r.pick([2 ** 33, 2 ** 40, 1e308, Infinity]), ...v.shape.slice(1)], data: v.data }),
    () => ({ shape: [1 << 16, ...v.shape.slice(1)], data: v.data }),
    () => ({ shape: v.shape, data: new Float64Array(n) }),
    () => ({ shape: v.shape, data: Array.from(v.data) }),
    () => ({ shape: v.shape, data: detached(n) }),
    () => ({ shape: 'abc', data: v.data }),
    () => ({ shape: [], data: new Float32Array(1) }),
    () => ({ data: v.data }),
    () => ({ shape: v.shape }),
    () => v.data,
    () => junk(r),
  ])();
}

// A callback's own failure, which fit passes on as it is.
const ALLOWED_PLAIN_ERROR = /backward called before forward|^callback failed$/;

function checkModuleError(entry: string, e: unknown, caseSeed: number, desc: string): void {
  const c = count(entry);
  const err = e as Error;
  const name = err?.name;
  if (name === 'TypeError' || name === 'RangeError') c[name]++;
  else c.other++;
  const msg = String(err?.message ?? e);
  const ok =
    ((name === 'TypeError' || name === 'RangeError') && !ENGINE.test(msg)) ||
    name === 'NonFiniteError' ||
    (name === 'Error' && ALLOWED_PLAIN_ERROR.test(msg));
  if (!ok)
    fail(entry, caseSeed, 'unexpected error', {
      desc,
      error: `${name}: ${msg}`,
      stack: String(err?.stack ?? '')
        .split('\n')
        .slice(1, 4)
        .join(' | '),
    });
}

const losses = (): Loss[] => [new MSELoss(), new BCELoss(), new CrossEntropyLoss(), new CELogSoftmaxLoss(), new HingeLoss()];

const moduleTargets: Target[] = [
  // Each registered type's constructor, through its config as load builds it: the example's
  // arguments and options, each mostly valid, sometimes junk.
  ...registeredTypes.map((type): Target => ({
    name: `${type.type}()`,
    run: (r) => {
      const e = exampleOf(type, r);
      const args = e.args.map((a) => ctorArg(r, () => a));
      const options =
        e.options === undefined
          ? r.bool(0.9)
            ? undefined
            : optionsArg(r, () => ({}))
          : optionsArg(r, () => e.options as Record<string, unknown>);
      return type.create({ type: type.type, args, options } as ModuleConfig, () => new nn.Sequential());
    },
  })),
  {
    name: 'Sequential()',
    run: (r) => new nn.Sequential(...(Array.from({ length: r.int(0, 3) }, () => (r.bool(0.7) ? validModule(r).m : junk(r))) as Module[])),
  },
  {
    name: 'SGD()',
    run: (r) =>
      new SGD(optionsArg(r, () => ({ lr: ctorArg(r, () => r.uniform(0, 1)), momentum: ctorArg(r, () => r.uniform(0, 0.99)) })) as never),
  },
  {
    name: 'Adam()',
    run: (r) =>
      new Adam(
        optionsArg(r, () => ({
          lr: ctorArg(r, () => 1e-3),
          betas: r.bool(0.8) ? [0.9, 0.999] : junk(r),
          eps: ctorArg(r, () => 1e-8),
        })) as never,
      ),
  },
  ...['forward', 'backwardUpdateGradient', 'backwardDelta'].map((method): Target => ({
    name: `Module.${method}`,
    run: (r) => {
      const { m, input } = validModule(r);
      const x = tensorArg(r, input) as Tensor;
      if (method === 'forward') return compareBackends(m, () => m.forward(x));
      let d: unknown;
      try {
        d = tensorArg(r, () => t(m.outputShape((x as Tensor).shape), r));
      } catch {
        d = tensorArg(r, () => t([1], r));
      }
      if (r.bool(0.7) && !(m instanceof nn.Sequential && r.bool(0.2))) {
        try {
          m.forward(x);
        } catch {
          // the malformed input is the point of the case; the backward call below is what is checked
        }
      }
      return method === 'backwardDelta'
        ? compareBackends(m, () => m.backwardDelta(x, d as Tensor))
        : (m as unknown as Record<string, (a: unknown, b: unknown) => unknown>)[method](x, d);
    },
  })),
  { name: 'Module.updateParameters', run: (r) => validModule(r).m.updateParameters(ctorArg(r, () => r.uniform(0, 0.1)) as number) },
  {
    name: 'Module.outputShape',
    run: (r) =>
      validModule(r).m.outputShape(
        r.pick<() => unknown>([
          () => [r.int(0, 3), r.int(1, 4)],
          () => [1, 2, 3],
          () => [],
          () => [NaN, 1],
          () => [-1, 2, 2],
          () => [2 ** 40, 3, 1],
        ])() as number[],
      ),
  },
  {
    name: 'Loss.forward/backward',
    run: (r) => {
      const batch = r.int(0, 4);
      const classes = r.int(1, 4);
      // A cross-entropy with class weights: of the right length, mostly, or junk.
      const weighted = (): Loss => {
        const weight = r.bool(0.7) ? Array.from({ length: r.bool(0.8) ? classes : r.int(0, 5) }, () => r.pick([0, 0.5, 1, 3])) : junk(r);
        const C = r.bool() ? CrossEntropyLoss : CELogSoftmaxLoss;
        return new C(optionsArg(r, () => ({ weight, reduction: r.pick(['mean', 'sum']) })) as never);
      };
      const l = r.bool(0.8) ? r.pick(losses()) : weighted();
      const yhat = tensorArg(r, () => t([batch, classes], r));
      const y = r.pick<() => unknown>([
        () => tensorArg(r, () => t([batch, classes], r)),
        () => ({ shape: [batch], data: Float32Array.from({ length: batch }, () => r.pick([0, 1, classes - 1, classes, -1, 0.5, NaN])) }),
      ])();
      return r.bool() ? l.forward(y as Tensor, yhat as Tensor) : l.backward(y as Tensor, yhat as Tensor);
    },
  },
  {
    name: 'Optimizer.step',
    run: (r) => {
      const o: Optimizer = r.bool() ? new SGD({ lr: 0.1, momentum: r.pick([0, 0.9]) }) : new Adam();
      const { m } = validModule(r);
      const params = r.pick<() => unknown>([
        () => m.parameters(),
        () => null,
        () => undefined,
        () => [null],
        () => [{}],
        () => 5,
        () => [{ name: 'w', value: t([2], r), grad: t([1], r) }],
        () => [{ name: 'w', value: t([2], r), grad: { shape: [2], data: new Float64Array(2) } }],
        () =>
          m
            .parameters()
            .map((p) => ({ ...p, grad: { shape: p.grad.shape, data: p.grad.data.subarray(0, Math.max(0, p.grad.data.length - 1)) } })),
      ])();
      return o.step(params as never);
    },
  },
  {
    name: 'predict',
    run: (r) => {
      const { m, input } = validModule(r);
      const net = r.bool(0.9) ? m : (junk(r) as Module);
      const x = tensorArg(r, input) as Tensor;
      const options = optionsArg(r, () => ({ batchSize: ctorArg(r, () => r.int(1, 4)) })) as object;
      if (TRACE) process.stderr.write(`  predict(${String(net)}, ${describeValue(x)}, ${describeValue(options)})\n`);
      return predict(net, x, options);
    },
  },
  {
    name: 'evaluate',
    run: (r) => {
      const batch = r.int(0, 5);
      const i = r.int(1, 3);
      const m = new nn.Sequential(new nn.Linear(i, 2));
      const l = r.pick(losses());
      const y = r.bool() ? { shape: [batch], data: Float32Array.from({ length: batch }, () => r.int(0, 1)) } : t([batch, 2], r);
      return evaluate(
        m,
        r.bool(0.9) ? l : (junk(r) as Loss),
        tensorArg(r, () => t([batch, i], r)) as Tensor,
        tensorArg(r, () => y) as Tensor,
        optionsArg(r, () => ({ batchSize: ctorArg(r, () => r.int(1, 4)) })) as object,
      );
    },
  },
  {
    name: 'fit',
    run: (r) => {
      const batch = r.int(0, 6);
      const i = r.int(1, 3);
      const m = new nn.Sequential(new nn.Linear(i, 2));
      const x = t([batch, i], r);
      if (batch > 0 && r.bool(0.15)) x.data[r.int(0, x.data.length - 1)] = r.pick([NaN, Infinity, 3e38]);
      const y = r.bool() ? { shape: [batch], data: Float32Array.from({ length: batch }, () => r.int(0, 1)) } : t([batch, 2], r);
      const data = r.pick<() => unknown>([
        () => ({ x, y }),
        () => ({ x, y }),
        () => ({ x: tensorArg(r, () => x), y: tensorArg(r, () => y) }),
        () => ({
          x,
          labels: r.pick<unknown>([
            new Int32Array(batch),
            new Float32Array(batch),
            Int32Array.from({ length: batch }, () => r.int(-1, 3)),
            null,
          ]),
        }),
        () => junk(r),
        () => ({ x }),
      ])();
      const opts = optionsArg(r, () => ({
        // A huge but valid epoch count is a request to train for ever, not a malformed call.
        epochs: r.bool(0.8) ? r.int(1, 2) : r.pick<unknown>([0, -1, 1.5, NaN, Infinity, '2', null, 1n, {}]),
        batchSize: ctorArg(r, () => r.int(1, 4)),
        verbose: 0,
        ...(r.bool(0.2)
          ? { earlyStopping: r.pick<unknown>([{ patience: 1 }, { patience: 0 }, { patience: 1, monitor: 'valLoss' }, null]) }
          : {}),
        ...(r.bool(0.2) ? { validation: r.pick<unknown>([{ x, y }, null, { x }, 5]) } : {}),
        ...(r.bool(0.1) ? { allowNonFinite: true } : {}),
        ...(r.bool(0.1) ? { signal: r.pick<unknown>([AbortSignal.abort(), new AbortController().signal, {}, 'stop', null]) } : {}),
        ...(r.bool(0.1)
          ? { onBatchEnd: r.pick<unknown>([async () => undefined, () => Promise.reject(new Error('callback failed')), 5]) }
          : {}),
      }));
      const o = r.pick<() => unknown>([() => new SGD({ lr: 0.05 }), () => new Adam(), () => null, () => ({ step: 1 })])();
      if (opts === undefined) return fit(m, r.pick(losses()), o as Optimizer, data as never, { verbose: 0 });
      return fit(
        r.bool(0.95) ? m : (junk(r) as Module),
        r.bool(0.9) ? r.pick(losses()) : (junk(r) as Loss),
        o as Optimizer,
        data as never,
        opts as object,
      );
    },
  },
];

/** Runs a valid-looking call on js and on native; when both succeed the outputs must agree. */
let bothBackends = false;
function compareBackends(m: Module, pass: () => Tensor): unknown {
  if (!bothBackends) return pass();
  // Both backends' calls start from the same state of the random stream: a module drawing from
  // it (Dropout's mask) draws the same values on each.
  const streamState = globalRng().getState();
  const call = (): Tensor => {
    globalRng().setState(streamState);
    return pass();
  };
  setBackend('js');
  let ref: Tensor;
  try {
    ref = call();
  } catch (e) {
    setBackend('native');
    call(); // must throw too, or it is a disagreement
    throw new Error(`${m}: js threw (${(e as Error).message}) but native did not`);
  }
  const refData = ref.data.slice();
  setBackend('native');
  const got = call();
  let scale = 1;
  for (const v of refData) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < refData.length; i++) {
    if (!close(got.data[i], refData[i], scale)) throw new Error(`${m}: native ${got.data[i]} vs js ${refData[i]} at ${i}`);
  }
  count('(valid calls compared js vs native)').valid++;
  return got;
}

async function runModules(): Promise<void> {
  bothBackends = nativeAvailable() && process.env.NEURONE_BACKEND !== 'js';
  seedLib(SEED);
  for (let i = 0; i < (REPLAY ? 1 : CASES) && Date.now() < deadline; i++) {
    for (const target of moduleTargets) {
      const caseSeed = REPLAY ? Number(REPLAY.split(':').pop()) : hash(SEED, target.name, i);
      if (!replayMatches(target.name, caseSeed)) continue;
      if (TRACE) process.stderr.write(`${target.name} ${caseSeed}\n`);
      const c = count(target.name);
      c.cases++;
      const t0 = Date.now();
      try {
        const result = target.run(new R(caseSeed));
        if (result instanceof Promise) await result;
        c.valid++;
      } catch (e) {
        checkModuleError(target.name, e, caseSeed, target.name);
      }
      c.ms = (c.ms ?? 0) + Date.now() - t0;
    }
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  if (mode === 'kernels') {
    const { addon, error } = loadNative();
    if (!addon) {
      console.log(`FUZZ_SKIP native addon unavailable: ${error?.message}`);
      return;
    }
    runKernels(addon);
  } else {
    // Keep the console quiet: fit logs nothing at verbose 0, but a bad verbose value may reach the logger.
    console.log = (): void => undefined;
    await runModules();
  }
  process.stdout.write(`FUZZ_SUMMARY ${JSON.stringify({ mode, seed: SEED, seconds: (Date.now() - t0) / 1000, counts })}\n`);
  for (const f of failures) process.stdout.write(`FUZZ_FAILURE ${JSON.stringify(f)}\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((e) => {
  process.stdout.write(`FUZZ_FAILURE ${JSON.stringify({ what: 'fuzzer crashed', error: String(e?.stack ?? e) })}\n`);
  process.exitCode = 1;
});
