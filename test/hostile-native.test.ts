// Hostile callers of the kernels, on both backends:
//
// - index arrays (labels, argmax) in a SharedArrayBuffer that a Worker rewrites while a kernel
//   runs: the kernel must use the values it checked (test/hostile-native-child.ts, in a child
//   process so that a crash shows as a signal);
// - NaN through ReLU and LeakyReLU, forward and backward, on every native kernel path;
// - an output sharing memory with another argument: refused with the same RangeError on both
//   backends, except the in-place uses the Backend contract allows (lib/backend/types.ts).
import { spawnSync } from 'child_process';
import * as path from 'path';
import { jsBackend } from '../lib/backend/js';
import { nativeBackend } from '../lib/backend/native';
import { Activation, Backend } from '../lib/backend/types';
import { addon } from './backends';
import { tsFile } from './ts-child';

const root = path.resolve(__dirname, '..');
const native = process.env.NEURONE_BACKEND === 'js' ? undefined : addon();
const nativeTest = native ? test : test.skip;

function seeded(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 4 - 2;
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
describe('index arrays rewritten by another thread during the call', () => {
  function runChild(which: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [...tsFile('test/hostile-native-child.ts'), which], {
      cwd: root,
      env: process.env,
      encoding: 'utf8',
      timeout: 120000,
    });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  function check(which: string): void {
    const r = runChild(which);
    const detail = `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`;
    // A signal (SIGSEGV) is what a kernel following an index it checked earlier does.
    expect({ signal: r.signal, status: r.status }).toEqual({ signal: null, status: 0 });
    if (r.stdout.includes('HOSTILE_SKIP')) return;
    expect(r.stdout.split('\n').filter((l) => l.startsWith('HOSTILE_FAILURE '))).toEqual([]);
    const line = r.stdout.split('\n').find((l) => l.startsWith('HOSTILE_SUMMARY '));
    if (!line) throw new Error(`no summary from the child:\n${detail}`);
    const summary = JSON.parse(line.slice('HOSTILE_SUMMARY '.length)) as {
      summary: Record<string, { returned: number; refused: number; bursts: number }>;
    };
    for (const [kernel, s] of Object.entries(summary.summary)) {
      // Every call either returned the numbers of the valid indices or was refused.
      expect({ kernel, calls: s.returned + s.refused }).toEqual({ kernel, calls: 8000 });
    }
  }

  nativeTest(
    'native: crossEntropyLogits, maxPool1dBackward and conv1dMaxPoolBackwardWeight return the checked values or refuse, never crash',
    () => {
      check('native');
    },
  );

  test('js: the same calls return the numbers of the valid indices or refuse', () => {
    check('js');
  });
});

// ---------------------------------------------------------------------------------------------
// Every SIMD path (and thread count) of the addon, and js.
function variants(): { label: string; backend: Backend; setup: () => void }[] {
  const out = [{ label: 'js', backend: jsBackend, setup: (): void => undefined }];
  if (native) {
    for (const p of native.supportedKernelPaths()) {
      for (const threads of [1, 2]) {
        out.push({
          label: `native ${p} ${threads}T`,
          backend: nativeBackend(native),
          setup: () => {
            native.setKernelPath(p);
            native.setThreads(threads);
          },
        });
      }
    }
  }
  return out;
}

describe('ReLU and LeakyReLU propagate NaN', () => {
  const originalPath = native?.kernelPath();
  const originalThreads = native?.getThreads();
  afterAll(() => {
    if (native && originalPath !== undefined && originalThreads !== undefined) {
      native.setKernelPath(originalPath);
      native.setThreads(originalThreads);
    }
  });

  // NaN at the start, inside SIMD bodies, in the tails; sizes below one vector, off the vector
  // widths, and one large enough for the threaded path (4 chunks of 16384).
  const special = [NaN, 1.5, -1.5, 0, -0, Infinity, -Infinity, -NaN, 3e-39, -3e-39];
  function input(n: number): Float32Array {
    const x = seeded(n, n);
    for (let i = 0; i < n; i++) if (i % 7 === 0 || i === n - 1) x[i] = special[((i / 7) % special.length) | 0];
    return x;
  }
  const sizes = [1, 3, 8, 17, 33, 100, 70001];
  const alpha = 0.25;
  const negZero = (v: number): boolean => v === 0 && 1 / v < 0;

  function forwardWant(code: number, v: number): number {
    if (Number.isNaN(v)) return NaN;
    if (code === Activation.ReLU) return v > 0 ? v : 0;
    return v > 0 ? v : Math.fround(alpha * v);
  }
  function backwardWant(code: number, v: number, g: number): number {
    // Where x is NaN, dx is NaN (the documented choice); elsewhere the usual slopes.
    if (Number.isNaN(v)) return NaN;
    if (v > 0) return g;
    return code === Activation.ReLU ? 0 : Math.fround(alpha * g);
  }

  for (const v of variants()) {
    for (const [name, code] of [
      ['ReLU', Activation.ReLU],
      ['LeakyReLU', Activation.LeakyReLU],
    ] as const) {
      test(`${v.label}: ${name} forward and backward`, () => {
        v.setup();
        for (const n of sizes) {
          const x = input(n);
          const y = new Float32Array(n);
          v.backend.activationForward(code, alpha, x, y, n);
          const dy = seeded(n, n + 1);
          const dx = new Float32Array(n);
          v.backend.activationBackward(code, alpha, x, y, dy, dx, n);
          for (let i = 0; i < n; i++) {
            const f = forwardWant(code, x[i]);
            const b = backwardWant(code, x[i], dy[i]);
            const okF = Number.isNaN(f) ? Number.isNaN(y[i]) : y[i] === f && !(code === Activation.ReLU && negZero(y[i]));
            const okB = Number.isNaN(b) ? Number.isNaN(dx[i]) : dx[i] === b;
            if (!okF || !okB)
              throw new Error(`${v.label} ${name} n=${n} i=${i}: x=${x[i]} gave y=${y[i]} (want ${f}), dx=${dx[i]} (want ${b})`);
          }
          // In place (y = x, dx = dy) gives the same numbers.
          const xi = x.slice();
          v.backend.activationForward(code, alpha, xi, xi, n);
          expect(Buffer.from(xi.buffer).equals(Buffer.from(y.buffer))).toBe(true);
          const gi = dy.slice();
          v.backend.activationBackward(code, alpha, x, y, gi, gi, n);
          expect(Buffer.from(gi.buffer).equals(Buffer.from(dx.buffer))).toBe(true);
        }
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
describe('an output sharing memory with another argument', () => {
  const backends: Backend[] = native ? [jsBackend, nativeBackend(native)] : [jsBackend];
  type Call = (b: Backend) => void;

  /** The error each backend throws (or 'ok'), with the bytes of `bufs` unchanged when refused. */
  function outcome(b: Backend, call: Call, bufs: ArrayBufferLike[]): string {
    const before = bufs.map((x) => new Uint8Array(x).slice());
    try {
      call(b);
      return 'ok';
    } catch (e) {
      const err = e as Error;
      bufs.forEach((x, i) => {
        if (!Buffer.from(new Uint8Array(x)).equals(Buffer.from(before[i])))
          throw new Error(`${b.name}: a refused call wrote to its arrays`);
      });
      return `${err.name}: ${err.message}`;
    }
  }

  /** Refused by both backends with one message, which names `out` and `other`. */
  function refused(fn: string, out: string, other: string, make: () => { call: Call; bufs: ArrayBufferLike[] }): void {
    const got = backends.map((b) => {
      const { call, bufs } = make();
      return outcome(b, call, bufs);
    });
    expect(got[0]).toMatch(
      new RegExp(
        `^RangeError: ${fn}: ${out} must not overlap ${other} \\(they share memory[;)].*expected (identical or )?disjoint byte ranges, got ${out} at bytes \\[\\d+, \\d+\\) and ${other} at bytes \\[\\d+, \\d+\\)`,
      ),
    );
    for (const g of got) expect(g).toBe(got[0]);
  }

  /** Accepted by both backends, with the same outputs as the call without sharing (`plain`). */
  function accepted(make: () => { call: Call; result: () => Float32Array }, plain: () => { call: Call; result: () => Float32Array }): void {
    for (const b of backends) {
      const shared = make();
      shared.call(b);
      const ref = plain();
      ref.call(b);
      expect(Array.from(shared.result())).toEqual(Array.from(ref.result()));
    }
  }

  const F = (buf: ArrayBufferLike, from: number, n: number): Float32Array => new Float32Array(buf, from * 4, n);
  const I = (buf: ArrayBufferLike, from: number, n: number): Int32Array => new Int32Array(buf, from * 4, n);
  const fill = (a: Float32Array, seed: number): Float32Array => {
    a.set(seeded(a.length, seed));
    return a;
  };

  test('sgemm: c over a or b is refused; disjoint views of one buffer and offsets past the spans are not', () => {
    // 4x4 · 4x4: a at elements [0, 16), c at [8, 24) of one buffer.
    refused('sgemm', 'c', 'a', () => {
      const buf = new ArrayBuffer(64 * 4);
      const a = fill(F(buf, 0, 16), 1),
        b = fill(new Float32Array(16), 2),
        c = F(buf, 8, 16);
      return { call: (k) => k.sgemm(false, false, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, c, 0, 4), bufs: [buf, b.buffer] };
    });
    refused('sgemm', 'c', 'b', () => {
      const a = fill(new Float32Array(16), 1),
        b = fill(new Float32Array(16), 2);
      return { call: (k) => k.sgemm(false, true, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 1, b, 0, 4), bufs: [a.buffer, b.buffer] };
    });
    // Through offsets into one array: C's span starts at element 12, A's ends at 16.
    refused('sgemm', 'c', 'a', () => {
      const a = fill(new Float32Array(40), 1),
        b = fill(new Float32Array(16), 2);
      return { call: (k) => k.sgemm(false, false, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, a, 12, 4), bufs: [a.buffer, b.buffer] };
    });
    accepted(
      () => {
        const a = fill(new Float32Array(40), 1),
          b = fill(new Float32Array(16), 2);
        return { call: (k) => k.sgemm(false, false, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, a, 16, 4), result: () => a.slice(16, 32) };
      },
      () => {
        const a = fill(new Float32Array(40), 1),
          b = fill(new Float32Array(16), 2),
          c = new Float32Array(16);
        return { call: (k) => k.sgemm(false, false, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, c, 0, 4), result: () => c };
      },
    );
    // A and B may share memory (both are only read).
    accepted(
      () => {
        const a = fill(new Float32Array(16), 1),
          c = new Float32Array(16);
        return { call: (k) => k.sgemm(false, true, 4, 4, 4, 1, a, 0, 4, a, 0, 4, 0, c, 0, 4), result: () => c };
      },
      () => {
        const a = fill(new Float32Array(16), 1),
          b = a.slice(),
          c = new Float32Array(16);
        return { call: (k) => k.sgemm(false, true, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, c, 0, 4), result: () => c };
      },
    );
  });

  // Conv1D: batch 2, length 8, chanIn 2, chanOut 3, kSize 3, stride 1 -> outLength 6.
  const cs = { batch: 2, length: 8, chanIn: 2, chanOut: 3, kSize: 3, stride: 1 };
  const nx = 2 * 8 * 2,
    nw = 3 * 2 * 3,
    ny = 2 * 6 * 3;
  const conv = [cs.batch, cs.length, cs.chanIn, cs.chanOut, cs.kSize, cs.stride] as const;

  test('conv1d*: an output over an input is refused', () => {
    refused('conv1dForward', 'y', 'x', () => {
      const buf = new ArrayBuffer(100 * 4);
      const x = fill(F(buf, 0, nx), 1),
        w = fill(new Float32Array(nw), 2),
        y = F(buf, 20, ny);
      return { call: (k) => k.conv1dForward(x, w, null, y, ...conv), bufs: [buf, w.buffer] };
    });
    refused('conv1dForward', 'y', 'bias', () => {
      const x = fill(new Float32Array(nx), 1),
        w = fill(new Float32Array(nw), 2),
        y = new Float32Array(ny);
      return { call: (k) => k.conv1dForward(x, w, y.subarray(0, 3), y, ...conv), bufs: [x.buffer, w.buffer, y.buffer] };
    });
    refused('conv1dMaxPoolForward', 'argmax', 'y', () => {
      // Pool 2 by 2 over outLength 6 -> 3: y and argmax 2*3*3 = 18 each, in one buffer.
      const buf = new ArrayBuffer(18 * 4);
      const x = fill(new Float32Array(nx), 1),
        w = fill(new Float32Array(nw), 2);
      return {
        call: (k) => k.conv1dMaxPoolForward(x, w, null, F(buf, 0, 18), I(buf, 0, 18), ...conv, 2, 2),
        bufs: [buf, x.buffer, w.buffer],
      };
    });
    refused('conv1dMaxPoolBackwardWeight', 'dw', 'dy', () => {
      const x = fill(new Float32Array(nx), 1),
        w = fill(new Float32Array(nw), 2);
      const y = new Float32Array(18),
        argmax = new Int32Array(18);
      jsBackend.conv1dMaxPoolForward(x, w, null, y, argmax, ...conv, 2, 2);
      const dy = fill(new Float32Array(40), 3);
      return {
        call: (k) => k.conv1dMaxPoolBackwardWeight(x, dy.subarray(0, 18), argmax, dy.subarray(10, 10 + nw), ...conv, 2, 2),
        bufs: [dy.buffer, x.buffer, argmax.buffer],
      };
    });
    refused('conv1dBackwardInput', 'dx', 'w', () => {
      const dy = fill(new Float32Array(ny), 1),
        w = fill(new Float32Array(nx), 2);
      return { call: (k) => k.conv1dBackwardInput(dy, w.subarray(0, nw), w, ...conv), bufs: [dy.buffer, w.buffer] };
    });
    refused('conv1dBackwardWeight', 'dw', 'x', () => {
      const x = fill(new Float32Array(nx), 1),
        dy = fill(new Float32Array(ny), 2);
      return { call: (k) => k.conv1dBackwardWeight(x, dy, x.subarray(4, 4 + nw), ...conv), bufs: [x.buffer, dy.buffer] };
    });
  });

  test('pooling: an output over an input, or argmax over y, is refused', () => {
    // batch 2, length 6, chan 2, kSize 2, stride 2 -> outLength 3: x 24, y 12.
    const p = [2, 6, 2, 2, 2] as const;
    refused('maxPool1dForward', 'y', 'x', () => {
      const x = fill(new Float32Array(24), 1);
      return { call: (k) => k.maxPool1dForward(x, x.subarray(12), new Int32Array(12), ...p), bufs: [x.buffer] };
    });
    refused('maxPool1dForward', 'argmax', 'x', () => {
      const x = fill(new Float32Array(24), 1);
      return { call: (k) => k.maxPool1dForward(x, new Float32Array(12), new Int32Array(x.buffer, 0, 12), ...p), bufs: [x.buffer] };
    });
    refused('maxPool1dBackward', 'dx', 'argmax', () => {
      const x = fill(new Float32Array(24), 1),
        argmax = new Int32Array(36);
      jsBackend.maxPool1dForward(x, new Float32Array(12), argmax.subarray(0, 12), ...p);
      return {
        call: (k) =>
          k.maxPool1dBackward(fill(new Float32Array(12), 2), argmax.subarray(0, 12), new Float32Array(argmax.buffer, 0, 24), ...p),
        bufs: [argmax.buffer],
      };
    });
    refused('avgPool1dForward', 'y', 'x', () => {
      const x = fill(new Float32Array(24), 1);
      return { call: (k) => k.avgPool1dForward(x, x.subarray(0, 12), ...p), bufs: [x.buffer] };
    });
    refused('avgPool1dBackward', 'dx', 'dy', () => {
      const dx = fill(new Float32Array(24), 1);
      return { call: (k) => k.avgPool1dBackward(dx.subarray(12), dx, ...p), bufs: [dx.buffer] };
    });
  });

  test('activations and softmax: exactly in place is accepted, a partial overlap refused', () => {
    const n = 37;
    for (const code of [Activation.ReLU, Activation.TanH, Activation.SoftPlus]) {
      refused('activationForward', 'y', 'x', () => {
        const buf = fill(new Float32Array(n + 1), 1);
        return { call: (k) => k.activationForward(code, 0, buf.subarray(0, n), buf.subarray(1), n), bufs: [buf.buffer] };
      });
      // Two views of one buffer at the same start are as good as y === x.
      accepted(
        () => {
          const x = fill(new Float32Array(n), 1);
          return { call: (k) => k.activationForward(code, 0, x, new Float32Array(x.buffer), n), result: () => x };
        },
        () => {
          const x = fill(new Float32Array(n), 1),
            y = new Float32Array(n);
          return { call: (k) => k.activationForward(code, 0, x, y, n), result: () => y };
        },
      );
      refused('activationBackward', 'dx', 'dy', () => {
        const g = fill(new Float32Array(n + 3), 3);
        return {
          call: (k) => k.activationBackward(code, 0, fill(new Float32Array(n), 1), fill(new Float32Array(n), 2), g.subarray(3), g, n),
          bufs: [g.buffer],
        };
      });
      // dx may be exactly x, y or dy.
      for (const which of [0, 1, 2]) {
        accepted(
          () => {
            const arrs = [fill(new Float32Array(n), 1), fill(new Float32Array(n), 2), fill(new Float32Array(n), 3)];
            return { call: (k) => k.activationBackward(code, 0, arrs[0], arrs[1], arrs[2], arrs[which], n), result: () => arrs[which] };
          },
          () => {
            const arrs = [fill(new Float32Array(n), 1), fill(new Float32Array(n), 2), fill(new Float32Array(n), 3)];
            const dx = new Float32Array(n);
            return { call: (k) => k.activationBackward(code, 0, arrs[0], arrs[1], arrs[2], dx, n), result: () => dx };
          },
        );
      }
    }
    for (const log of [false, true]) {
      refused('softmaxForward', 'y', 'x', () => {
        const buf = fill(new Float32Array(4 * 10 + 10), 1);
        return { call: (k) => k.softmaxForward(buf.subarray(10), buf, 4, 10, log), bufs: [buf.buffer] };
      });
      refused('softmaxBackward', 'dx', 'y', () => {
        const y = fill(new Float32Array(41), 1);
        return {
          call: (k) => k.softmaxBackward(y.subarray(0, 40), fill(new Float32Array(40), 2), y.subarray(1), 4, 10, log),
          bufs: [y.buffer],
        };
      });
      for (const which of [0, 1]) {
        accepted(
          () => {
            const arrs = [fill(new Float32Array(40), 1), fill(new Float32Array(40), 2)];
            return { call: (k) => k.softmaxBackward(arrs[0], arrs[1], arrs[which], 4, 10, log), result: () => arrs[which] };
          },
          () => {
            const arrs = [fill(new Float32Array(40), 1), fill(new Float32Array(40), 2)];
            const dx = new Float32Array(40);
            return { call: (k) => k.softmaxBackward(arrs[0], arrs[1], dx, 4, 10, log), result: () => dx };
          },
        );
      }
    }
  });

  test('losses, bias and optimiser steps: an output over another argument is refused', () => {
    refused('crossEntropyLogits', 'grad', 'logits', () => {
      const x = fill(new Float32Array(40), 1);
      return { call: (k) => k.crossEntropyLogits(x, new Int32Array([1, 2, 3, 4]), new Float32Array(4), x, 4, 10), bufs: [x.buffer] };
    });
    refused('crossEntropyLogits', 'grad', 'loss', () => {
      const g = new Float32Array(44);
      return {
        call: (k) =>
          k.crossEntropyLogits(fill(new Float32Array(40), 1), new Int32Array([1, 2, 3, 4]), g.subarray(40), g.subarray(4), 4, 10),
        bufs: [g.buffer],
      };
    });
    refused('crossEntropyLogits', 'loss', 'labels', () => {
      const labels = new Int32Array([1, 2, 3, 4]);
      return {
        call: (k) => k.crossEntropyLogits(fill(new Float32Array(40), 1), labels, new Float32Array(labels.buffer), null, 4, 10),
        bufs: [labels.buffer],
      };
    });
    refused('binaryCrossEntropy', 'grad', 'p', () => {
      const p = new Float32Array(12).fill(0.25);
      return { call: (k) => k.binaryCrossEntropy(p, new Float32Array(12).fill(1), new Float32Array(3), p, 3, 4), bufs: [p.buffer] };
    });
    refused('addRowVector', 'y', 'v', () => {
      const y = fill(new Float32Array(12), 1);
      return { call: (k) => k.addRowVector(y, y.subarray(0, 4), 3, 4), bufs: [y.buffer] };
    });
    refused('sumRows', 'out', 'x', () => {
      const x = fill(new Float32Array(12), 1);
      return { call: (k) => k.sumRows(x, 3, 4, x.subarray(8)), bufs: [x.buffer] };
    });
    refused('sgdStep', 'w', 'g', () => {
      const w = fill(new Float32Array(8), 1);
      return { call: (k) => k.sgdStep(w, w, null, 8, 0.1, 0, 0, 0, false), bufs: [w.buffer] };
    });
    refused('sgdStep', 'velocity', 'w', () => {
      const w = fill(new Float32Array(8), 1);
      return { call: (k) => k.sgdStep(w, fill(new Float32Array(8), 2), w, 8, 0.1, 0.9, 0, 0, false), bufs: [w.buffer] };
    });
    refused('adamStep', 'v', 'm', () => {
      const m = new Float32Array(8);
      return {
        call: (k) => k.adamStep(fill(new Float32Array(8), 1), fill(new Float32Array(8), 2), m, m, 8, 0.1, 0.9, 0.999, 1e-8, 0, 1),
        bufs: [m.buffer],
      };
    });
  });

  nativeTest('native: two SharedArrayBuffer objects over the same memory are seen as sharing it', () => {
    // structuredClone of a SharedArrayBuffer is another object over the same memory. The addon
    // compares addresses and refuses; JavaScript cannot see the sharing (documented on
    // checkDisjoint in lib/backend/validate.ts), so the js backend is not asked here.
    const sab = new SharedArrayBuffer(32 * 4);
    const clone = structuredClone(sab);
    const a = fill(new Float32Array(sab, 0, 16), 1),
      b = fill(new Float32Array(16), 2),
      c = new Float32Array(clone, 0, 16);
    expect(() => nativeBackend(native as NonNullable<typeof native>).sgemm(false, false, 4, 4, 4, 1, a, 0, 4, b, 0, 4, 0, c, 0, 4)).toThrow(
      /^sgemm: c must not overlap a \(they share memory\): expected disjoint byte ranges, got c at bytes \[0, 64\) and a at bytes \[0, 64\)/,
    );
  });
});
