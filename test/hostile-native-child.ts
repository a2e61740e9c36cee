/**
 * Run by test/hostile-native.test.ts in a child process, so that a crash is seen as a signal
 * instead of taking jest down:
 *
 *   node -r tsx/cjs test/hostile-native-child.ts native|js [--calls N]
 *
 * A Worker flips index arrays held in a SharedArrayBuffer (made in another realm, which
 * `instanceof` does not recognise; crossEntropyLogits' labels, the
 * argmax of maxPool1dBackward and conv1dMaxPoolBackwardWeight) between their valid values and
 * far out-of-range ones, in bursts of varying length, while this thread calls the kernels
 * through those arrays. A kernel that checked the indices and then read them again to address
 * memory would read or write far outside its arrays (SIGSEGV) or route values to the wrong rows.
 *
 * Every call must either return exactly the numbers of the same call on a private copy of the
 * valid indices, or throw a RangeError about that argument. Prints `HOSTILE_SUMMARY <json>`
 * (per kernel: calls that returned, calls refused, flips seen) and exits 1 on any other outcome,
 * printing `HOSTILE_FAILURE <json>` lines.
 */
import * as vm from 'vm';
import { Worker } from 'worker_threads';
import { jsBackend } from '../lib/backend/js';
import { loadNative, NativeAddon } from '../lib/backend/native';
import { Backend } from '../lib/backend/types';

const argv = process.argv.slice(2);
const which = argv[0] ?? 'native';
const CALLS = Number(argv.includes('--calls') ? argv[argv.indexOf('--calls') + 1] : 8000);

// The writer. control[0]: 1 = stop; control[1]: how many bursts it has written. Each burst
// writes the bad values over every entry, waits a while, writes the valid ones back and waits
// again; the waits vary so that bursts fall at every point of the calls. Plain stores for the
// entries (as a racing application would do), Atomics only for the control words.
const WRITER = `
const { workerData } = require('worker_threads');
const { control, shared, valid, bad } = workerData;
let seed = 12345;
const rand = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
while (Atomics.load(control, 0) === 0) {
  const b = bad[rand(bad.length)];
  const spread = rand(4);
  for (let i = 0; i < shared.length; i++) {
    // Now all entries at once, now one in a few: a call may see any mixture.
    if (spread === 0 || rand(spread + 1) === 0) shared[i] = b;
  }
  for (let k = rand(3000); k > 0 && Atomics.load(control, 0) === 0; k--);
  for (let i = 0; i < shared.length; i++) shared[i] = valid[i];
  for (let k = rand(3000); k > 0 && Atomics.load(control, 0) === 0; k--);
  Atomics.add(control, 1, 1);
}
`;

interface Kernel {
  name: string;
  /** The index argument's name, as the errors give it. */
  arg: string;
  valid: Int32Array;
  /** Values far out of range (and some just out of range) that the writer puts in. */
  bad: number[];
  /** Calls the kernel with the given indices; returns copies of its outputs. */
  call(b: Backend, idx: Int32Array): Float32Array[];
}

function seeded(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 4 - 2;
  }
  return a;
}

const FAR = [2 ** 30, -(2 ** 30), 2 ** 31 - 1, -(2 ** 31), 0x7ffff000, -0x10000000];

function kernels(b: Backend): Kernel[] {
  // crossEntropyLogits: labels index the logits row and the gradient row.
  const rows = 256,
    cols = 10;
  const logits = seeded(rows * cols, 1);
  const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7) % cols);
  const ce = (withGrad: boolean): Kernel => ({
    name: withGrad ? 'crossEntropyLogits' : 'crossEntropyLogits (no grad)',
    arg: 'labels',
    valid: labels,
    bad: [...FAR, -1, cols, cols + 1],
    call(k, idx) {
      const loss = new Float32Array(rows);
      const grad = withGrad ? new Float32Array(rows * cols) : null;
      k.crossEntropyLogits(logits, idx, loss, grad, rows, cols);
      return grad ? [loss, grad] : [loss];
    },
  });

  // maxPool1dBackward: argmax as the forward pass records it.
  const batch = 4,
    length = 33,
    chan = 5,
    kSize = 3,
    stride = 2;
  const outLength = Math.floor((length - kSize) / stride) + 1;
  const x = seeded(batch * length * chan, 2);
  const argmax = new Int32Array(batch * outLength * chan);
  b.maxPool1dForward(x, new Float32Array(argmax.length), argmax, batch, length, chan, kSize, stride);
  const dy = seeded(argmax.length, 3);
  // Only values outside every window: one inside another window of the same output would be a
  // valid argmax, giving other (legitimate) numbers.
  const pool: Kernel = {
    name: 'maxPool1dBackward',
    arg: 'argmax',
    valid: argmax,
    bad: [...FAR, -1, batch * length * chan, batch * length * chan + 7],
    call(k, idx) {
      const dx = new Float32Array(batch * length * chan);
      k.maxPool1dBackward(dy, idx, dx, batch, length, chan, kSize, stride);
      return [dx];
    },
  };

  // conv1dMaxPoolBackwardWeight: argmax into the convolution's output.
  const cb = 3,
    cl = 20,
    ci = 2,
    co = 4,
    ck = 3,
    cs = 1,
    ps = 2,
    pst = 2;
  const convLength = cl - ck + 1;
  const pooledLength = Math.floor((convLength - ps) / pst) + 1;
  const cx = seeded(cb * cl * ci, 4);
  const cw = seeded(ck * ci * co, 5);
  const cArgmax = new Int32Array(cb * pooledLength * co);
  b.conv1dMaxPoolForward(cx, cw, null, new Float32Array(cArgmax.length), cArgmax, cb, cl, ci, co, ck, cs, ps, pst);
  const cdy = seeded(cArgmax.length, 6);
  const conv: Kernel = {
    name: 'conv1dMaxPoolBackwardWeight',
    arg: 'argmax',
    valid: cArgmax,
    bad: [...FAR, -1, cb * convLength * co],
    call(k, idx) {
      const dw = new Float32Array(ck * ci * co);
      k.conv1dMaxPoolBackwardWeight(cx, cdy, idx, dw, cb, cl, ci, co, ck, cs, ps, pst);
      return [dw];
    },
  };
  return [ce(true), ce(false), pool, conv];
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)))
  );
}

async function main(): Promise<void> {
  let backend: Backend;
  let addon: NativeAddon | undefined;
  if (which === 'native') {
    addon = loadNative().addon;
    if (!addon) {
      console.log('HOSTILE_SKIP the native addon does not load');
      return;
    }
    backend = addon as unknown as Backend;
  } else {
    backend = jsBackend;
  }
  const paths = addon ? addon.supportedKernelPaths() : ['js'];
  const failures: unknown[] = [];
  const summary: Record<string, { returned: number; refused: number; bursts: number }> = {};

  for (const k of kernels(backend)) {
    // Made in another realm (a vm context), as a library loaded there would make it: no
    // instance of this realm's SharedArrayBuffer, and as shared.
    const shared = new Int32Array(vm.runInNewContext(`new SharedArrayBuffer(${k.valid.byteLength})`) as SharedArrayBuffer);
    shared.set(k.valid);
    const control = new Int32Array(new SharedArrayBuffer(8));
    const reference = new Map<string, Float32Array[]>();
    for (const p of paths) {
      if (addon) addon.setKernelPath(p);
      reference.set(p, k.call(backend, k.valid.slice()));
    }
    const worker = new Worker(WRITER, { eval: true, workerData: { control, shared, valid: k.valid, bad: k.bad } });
    // Calls start once the writer is running, so they do meet its bursts.
    while (Atomics.load(control, 1) < 3) await new Promise((r) => setTimeout(r, 1));
    const first = Atomics.load(control, 1);
    const s = (summary[k.name] = { returned: 0, refused: 0, bursts: 0 });
    for (let i = 0; i < CALLS; i++) {
      const p = paths[i % paths.length];
      if (addon) addon.setKernelPath(p);
      try {
        const out = k.call(backend, shared);
        if (!sameBits(out, reference.get(p) as Float32Array[])) {
          if (failures.length < 20)
            failures.push({ kernel: k.name, path: p, call: i, what: 'returned numbers other than those of the valid indices' });
        } else {
          s.returned++;
        }
      } catch (e) {
        const err = e as Error;
        const fn = k.name.split(' ')[0];
        if (err instanceof RangeError && err.message.startsWith(`${fn}: ${k.arg}`)) s.refused++;
        else if (failures.length < 20)
          failures.push({ kernel: k.name, path: p, call: i, what: `unexpected error ${err?.name}: ${err?.message}` });
      }
    }
    s.bursts = Atomics.load(control, 1) - first;
    Atomics.store(control, 0, 1);
    await worker.terminate();
  }
  for (const f of failures) console.log(`HOSTILE_FAILURE ${JSON.stringify(f)}`);
  console.log(`HOSTILE_SUMMARY ${JSON.stringify({ backend: which, paths, summary })}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((e) => {
  console.log(`HOSTILE_FAILURE ${JSON.stringify({ what: String(e?.stack ?? e) })}`);
  process.exitCode = 1;
});
