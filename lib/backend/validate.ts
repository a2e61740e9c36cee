/**
 * The pieces of the js backend's argument checks; lib/backend/ops.generated.ts puts them
 * together per entry point from the op table (lib/backend/ops.ts), as native/ops_generated.h
 * does for the addon (which must check: nothing from JavaScript may reach memory unchecked).
 * The messages are those of lib/backend/messages.generated.ts, shared with the addon.
 * @internal
 */
import { types } from 'util';
import { msg } from './messages.generated';
import { describe } from '../tensor';

/** Checks a size argument: an integer in [min, 2^31-1]. */
export function checkSize(fn: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number') throw new TypeError(msg.notNumber(fn, name, describe(v)));
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw new RangeError(msg.notSize(fn, name, min, v));
  return v;
}

/** Checks an enumeration code: a size in [0, max]. */
export function checkCode(fn: string, name: string, v: unknown, max: number): void {
  checkSize(fn, name, v);
  if ((v as number) > max) throw new RangeError(msg.notActivation(fn, name, max, v as number));
}

/**
 * Checks a number argument: any value a float32 holds, infinities and NaN included; not a string
 * or undefined. The kernels compute in float32 (the native ones convert the argument), so a
 * finite value too large for a float32 would silently become infinite: refused instead.
 */
export function checkNumber(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(msg.notNumber(fn, name, describe(v)));
  if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) throw new RangeError(msg.notFloat32Range(fn, name, v));
  return v;
}

/** Checks a number argument the kernel reads as a double: any number, infinities and NaN included. */
export function checkFloat64(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(msg.notNumber(fn, name, describe(v)));
  return v;
}

/** Checks a boolean argument. */
export function checkBoolean(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(msg.notBoolean(fn, name, describe(v)));
  return v;
}

/** Checks that an argument is a Float32Array. */
export function checkFloat32Array(fn: string, name: string, v: unknown): void {
  if (!(v instanceof Float32Array)) throw new TypeError(msg.notFloat32Array(fn, name, describe(v)));
}

/** Checks that an argument is an Int32Array. */
export function checkInt32Array(fn: string, name: string, v: unknown): void {
  if (!(v instanceof Int32Array)) throw new TypeError(msg.notInt32Array(fn, name, describe(v)));
}

/** Checks that an array holds at least `needed` elements. */
export function checkLength(fn: string, name: string, arr: ArrayLike<number>, needed: number): void {
  if (arr.length < needed) throw new RangeError(msg.tooShort(fn, name, needed, arr.length));
}

/** Checks a size argument against a minimum derived from the others (sgemm's leading dimensions). */
export function checkAtLeast(fn: string, name: string, v: number, min: number): void {
  if (v < min) throw new RangeError(msg.belowMinimum(fn, name, min, v));
}

/** Checks that a count of positions int32 indices address stays at most 2^31-1. */
export function checkInt32Index(fn: string, what: string, count: number): void {
  if (count > 2 ** 31 - 1) throw new RangeError(msg.notInt32Index(fn, what, count));
}

/** Checks that each of the first n labels is a class index in [0, classes). */
export function checkClassIndices(fn: string, name: string, labels: Int32Array, n: number, classes: number): void {
  for (let r = 0; r < n; r++) {
    if (labels[r] < 0 || labels[r] >= classes) throw new RangeError(msg.notClassIndex(fn, name, r, classes, labels[r]));
  }
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * The product of sizes (each at most 2^31-1), refused when it leaves int64 as the addon's is.
 * Exact below 2^53, where every array length lies; above, only whether it overflows is exact.
 */
export function sizeProduct(fn: string, what: string, ...factors: number[]): number {
  // Factor by factor, as the addon multiplies: a partial product that leaves int64 is refused
  // even when a later factor is 0. Exact in doubles below 2^53, in BigInt beyond.
  let p = 1;
  let big: bigint | null = null;
  for (const f of factors) {
    if (big === null) {
      if (p * f < 2 ** 53) {
        p *= f;
        continue;
      }
      big = BigInt(p);
    }
    big *= BigInt(f);
    if (big > INT64_MAX) throw new RangeError(msg.overflows(fn, what));
    p = Number(big);
  }
  return p;
}

/** Elements a (rows, cols) matrix with row stride `ld` spans from its first element. */
export function matrixSpan(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/**
 * The first n entries of an index array, to check and then use: a copy when the array sits in a
 * SharedArrayBuffer that a Worker may write meanwhile, the array itself otherwise. (A detached
 * array of length 0 cannot be sliced, hence the empty case.)
 */
export function snapshot(a: Int32Array, n: number): Int32Array {
  // A Worker writes a SharedArrayBuffer while this call runs: copied. Plain memory is read in
  // place, without a copy per call: here an index that changes after its check can only read
  // undefined (NaN) or add to the wrong element, never outside an array. Asked as the addon asks
  // it (napi_is_arraybuffer), not by instanceof: a SharedArrayBuffer made in another realm (a vm
  // context) is no instance of this realm's class.
  if (n === 0) return new Int32Array(0);
  return types.isArrayBuffer(a.buffer) ? a.subarray(0, n) : a.slice(0, n);
}

/** The part of an array argument a kernel reads or writes: `count` elements from element `offset`. */
export interface Region {
  name: string;
  array: Float32Array | Int32Array | null;
  count: number;
  /** Whether the kernel writes it. */
  output: boolean;
  offset?: number;
}

/**
 * Refuses an output that shares memory with another array argument (RangeError, after the
 * length checks). The kernels read inputs while writing outputs in orders that differ between
 * the backends, the native SIMD paths and thread splits, so an overlap gives results that depend
 * on all of them; it is never what a caller means. `sameOk` lists the (output, other) pairs the
 * Backend contract documents as usable in place (lib/backend/types.ts): there the two may be
 * exactly the same elements. Inputs may share memory with each other freely.
 *
 * The same pairs, in the same order, with the same message as the native checkDisjoint
 * (native/napi_args.h). One difference: the native addon compares addresses, so it also sees two
 * distinct SharedArrayBuffer objects over the same memory (a structuredClone of one); JavaScript
 * cannot tell that two such objects share memory, and compares buffer identity.
 */
export function checkDisjoint(fn: string, regions: readonly Region[], sameOk: readonly (readonly [string, string])[] = []): void {
  const begin = (r: Region): number => (r.array as Float32Array | Int32Array).byteOffset + 4 * (r.offset ?? 0);
  const end = (r: Region): number => begin(r) + 4 * r.count;
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i],
        b = regions[j];
      if (!a.output && !b.output) continue;
      if (a.count === 0 || b.count === 0 || a.array === null || b.array === null) continue;
      if (a.array.buffer !== b.array.buffer) continue;
      if (!(begin(a) < end(b) && begin(b) < end(a))) continue;
      // Named output first: the later one when both are outputs (sgemm: "c must not overlap a").
      const [o, other] = b.output ? [b, a] : [a, b];
      const allowed = sameOk.some(([x, y]) => x === o.name && y === other.name);
      if (allowed && begin(a) === begin(b) && a.count === b.count) continue;
      throw new RangeError(
        msg.overlap(
          fn,
          o.name,
          other.name,
          allowed ? msg.overlapNoteInPlace() : '',
          allowed ? msg.overlapAllowedInPlace() : msg.overlapAllowed(),
          begin(o),
          end(o),
          begin(other),
          end(other),
        ),
      );
    }
  }
}
