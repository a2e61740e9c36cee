/**
 * Argument checks shared by the js backend. The native addon performs the
 * same checks in C++ (it must: nothing from JavaScript may reach memory
 * unchecked); these give the js backend identical errors.
 */
import { windowCount } from './types';
import { describe } from '../tensor';

/** Checks a size argument: a non-negative integer (or positive, when `min` is 1). */
export function checkSize(fn: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) {
    throw new RangeError(`${fn}: ${name} must be an integer in [${min}, 2^31-1], got ${v}`);
  }
  return v;
}

function checkFloat32(fn: string, name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array, got ${describe(v)}`);
  return v;
}

function checkLength(fn: string, name: string, arr: ArrayLike<number>, needed: number): void {
  if (arr.length < needed) {
    throw new RangeError(`${fn}: ${name} is too short: expected at least ${needed} elements, got ${arr.length}`);
  }
}

/** Elements a (rows, cols) matrix with row stride `ld` spans from its first element. */
function matrixSpan(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export function checkGemmArgs(
  transA: unknown, transB: unknown, m: number, n: number, k: number, alpha: unknown,
  a: Float32Array, offsetA: number, lda: number,
  b: Float32Array, offsetB: number, ldb: number,
  beta: unknown, c: Float32Array, offsetC: number, ldc: number,
): void {
  const fn = 'sgemm';
  if (typeof transA !== 'boolean') throw new TypeError(`${fn}: transA must be a boolean, got ${describe(transA)}`);
  if (typeof transB !== 'boolean') throw new TypeError(`${fn}: transB must be a boolean, got ${describe(transB)}`);
  checkSize(fn, 'm', m);
  checkSize(fn, 'n', n);
  checkSize(fn, 'k', k);
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) checkNumber(fn, name, v);
  checkFloat32(fn, 'a', a);
  checkFloat32(fn, 'b', b);
  checkFloat32(fn, 'c', c);
  checkSize(fn, 'offsetA', offsetA);
  checkSize(fn, 'offsetB', offsetB);
  checkSize(fn, 'offsetC', offsetC);
  checkSize(fn, 'lda', lda);
  checkSize(fn, 'ldb', ldb);
  checkSize(fn, 'ldc', ldc);
  const [aRows, aCols] = transA ? [k, m] : [m, k];
  const [bRows, bCols] = transB ? [n, k] : [k, n];
  if (lda < Math.max(1, aCols)) throw new RangeError(`${fn}: lda must be at least ${Math.max(1, aCols)}, got ${lda}`);
  if (ldb < Math.max(1, bCols)) throw new RangeError(`${fn}: ldb must be at least ${Math.max(1, bCols)}, got ${ldb}`);
  if (ldc < Math.max(1, n)) throw new RangeError(`${fn}: ldc must be at least ${Math.max(1, n)}, got ${ldc}`);
  const spanA = matrixSpan(aRows, aCols, lda), spanB = matrixSpan(bRows, bCols, ldb), spanC = matrixSpan(m, n, ldc);
  checkLength(fn, 'a', a, offsetA + spanA);
  checkLength(fn, 'b', b, offsetB + spanB);
  checkLength(fn, 'c', c, offsetC + spanC);
  // Whole spans from the first to the last element: a C interleaved with A in the rows of one
  // buffer is refused too.
  checkDisjoint(fn, [
    { name: 'a', array: a, count: spanA, output: false, offset: offsetA },
    { name: 'b', array: b, count: spanB, output: false, offset: offsetB },
    { name: 'c', array: c, count: spanC, output: true, offset: offsetC },
  ]);
}

type ConvBuffers = Partial<Record<'x' | 'w' | 'y' | 'dx' | 'dy' | 'dw', Float32Array>> & { bias?: Float32Array | null };

export function checkConvArgs(
  fn: string, bufs: ConvBuffers,
  batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
): void {
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'length', length);
  checkSize(fn, 'chanIn', chanIn, 1);
  checkSize(fn, 'chanOut', chanOut, 1);
  checkSize(fn, 'kSize', kSize, 1);
  checkSize(fn, 'stride', stride, 1);
  const outLength = windowCount(length, kSize, stride);
  const need: Record<string, number> = {
    x: batch * length * chanIn,
    dx: batch * length * chanIn,
    w: kSize * chanIn * chanOut,
    dw: kSize * chanIn * chanOut,
    y: batch * outLength * chanOut,
    dy: batch * outLength * chanOut,
    bias: chanOut,
  };
  // Only the bias may be null (no bias); any other null is a bad argument that checkArrays must see.
  checkArrays(fn, Object.fromEntries(Object.entries(bufs).map(([name, arr]) => [name, name === 'bias' && arr === null ? null : [arr, need[name]]])));
}

/**
 * The conv1dMaxPool* calls: the convolution's sizes and buffers, the pooling sizes, then the
 * buffers of the pooled length (y or dy, and argmax). Returns the pooled length.
 */
export function checkConvMaxPoolArgs(
  fn: string, convBufs: ConvBuffers, pooledBufs: { y?: Float32Array; dy?: Float32Array; argmax?: Int32Array | null },
  batch: number, length: number, chanIn: number, chanOut: number, kSize: number, stride: number,
  poolSize: number, poolStride: number, argmaxMayBeNull = false,
): number {
  checkConvArgs(fn, convBufs, batch, length, chanIn, chanOut, kSize, stride);
  checkSize(fn, 'poolSize', poolSize, 1);
  checkSize(fn, 'poolStride', poolStride, 1);
  const convLength = windowCount(length, kSize, stride);
  // argmax holds flat indices into the convolution's output as int32.
  if (batch * convLength * chanOut > 2 ** 31 - 1) {
    throw new RangeError(`${fn}: batch * outLength * chanOut must be at most 2^31-1, got ${batch * convLength * chanOut}`);
  }
  const pooledLength = windowCount(convLength, poolSize, poolStride);
  const need = batch * pooledLength * chanOut;
  // The forward takes a null argmax (inference); the backward needs the one the forward wrote.
  const skip = (name: string, arr: unknown): boolean => name === 'argmax' && arr === null && argmaxMayBeNull;
  checkArrays(fn, Object.fromEntries(Object.entries(pooledBufs).map(([name, arr]) => [name, skip(name, arr) ? null : [arr, need]])), ['argmax']);
  return pooledLength;
}

type PoolBuffers = Partial<Record<'x' | 'y' | 'dx' | 'dy', Float32Array>> & { argmax?: Int32Array };

export function checkPoolArgs(
  fn: string, bufs: PoolBuffers,
  batch: number, length: number, chan: number, kSize: number, stride: number,
): void {
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'length', length);
  checkSize(fn, 'chan', chan, 1);
  checkSize(fn, 'kSize', kSize, 1);
  checkSize(fn, 'stride', stride, 1);
  const outCount = batch * windowCount(length, kSize, stride) * chan;
  const need: Record<string, number> = { x: batch * length * chan, dx: batch * length * chan, y: outCount, dy: outCount, argmax: outCount };
  checkArrays(fn, Object.fromEntries(Object.entries(bufs).map(([name, arr]) => [name, [arr, need[name]]])), ['argmax']);
}

/** Checks that each named array is a Float32Array (Int32Array for names in `ints`) holding at least `needed` values. */
export function checkArrays(
  fn: string, arrays: Record<string, [unknown, number] | null>, ints: readonly string[] = [],
): void {
  for (const [name, entry] of Object.entries(arrays)) {
    if (entry === null) continue;
    const [arr, needed] = entry;
    if (ints.includes(name)) {
      if (!(arr instanceof Int32Array)) throw new TypeError(`${fn}: ${name} must be an Int32Array, got ${describe(arr)}`);
    } else {
      checkFloat32(fn, name, arr);
    }
    checkLength(fn, name, arr as ArrayLike<number>, needed);
  }
}

/**
 * Checks a number argument: any value a float32 holds, infinities and NaN included; not a string
 * or undefined. The kernels compute in float32 (the native ones convert the argument), so a
 * finite value too large for a float32 would silently become infinite: refused instead.
 */
export function checkNumber(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
    throw new RangeError(`${fn}: ${name} must be within the float32 range (magnitude at most 3.4028235e+38), got ${v}`);
  }
  return v;
}

export function checkBoolean(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
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
 * (native/binding.cc). One difference: the native addon compares addresses, so it also sees two
 * distinct SharedArrayBuffer objects over the same memory (a structuredClone of one); JavaScript
 * cannot tell that two such objects share memory, and compares buffer identity.
 */
export function checkDisjoint(fn: string, regions: readonly Region[], sameOk: readonly (readonly [string, string])[] = []): void {
  const begin = (r: Region): number => (r.array as Float32Array | Int32Array).byteOffset + 4 * (r.offset ?? 0);
  const end = (r: Region): number => begin(r) + 4 * r.count;
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i], b = regions[j];
      if (!a.output && !b.output) continue;
      if (a.count === 0 || b.count === 0 || a.array === null || b.array === null) continue;
      if (a.array.buffer !== b.array.buffer) continue;
      if (!(begin(a) < end(b) && begin(b) < end(a))) continue;
      // Named output first: the later one when both are outputs (sgemm: "c must not overlap a").
      const [o, other] = b.output ? [b, a] : [a, b];
      const allowed = sameOk.some(([x, y]) => x === o.name && y === other.name);
      if (allowed && begin(a) === begin(b) && a.count === b.count) continue;
      throw new RangeError(`${fn}: ${o.name} must not overlap ${other.name} (they share memory` +
        `${allowed ? '; only exactly the same elements are allowed' : ''}): expected ${allowed ? 'identical or disjoint' : 'disjoint'} ` +
        `byte ranges, got ${o.name} at bytes [${begin(o)}, ${end(o)}) and ${other.name} at bytes [${begin(other)}, ${end(other)}) of the same memory`);
    }
  }
}
