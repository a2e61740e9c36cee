/**
 * Tensors: a shape and a row-major float32 buffer, nothing more.
 *
 * neurone has no autograd, so a tensor carries no graph; modules keep what
 * they need for their backward pass themselves.
 */
import { Rng, globalRng } from './random';

/** A row-major float32 array with a shape. `data.length` equals the product of `shape`. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Number of elements of a shape. Throws on a dimension that is not a non-negative integer. */
export function sizeOf(shape: readonly number[], what: string | (() => string) = 'shape'): number {
  let n = 1;
  for (const d of shape) {
    // A dimension past the element cap is refused even beside a 0: (1e308, 0, 3) holds no
    // values, but a loop over its first axis would never end.
    if (!Number.isInteger(d) || d < 0 || d > 2 ** 32) {
      throw new RangeError(`${nameOf(what)}: dimensions must be integers in [0, 2^32], got [${shape.join(', ')}]`);
    }
    n *= d;
  }
  if (n > 2 ** 32) throw new RangeError(`${nameOf(what)}: [${shape.join(', ')}] has more than 2^32 elements`);
  return n;
}

/** Error-message prefixes may be passed as thunks so hot paths do not build strings they never show. */
function nameOf(who: string | (() => string)): string {
  return typeof who === 'function' ? who() : who;
}

/** Formats a shape the way error messages show it: `(32, 784)`. */
export function formatShape(shape: readonly (number | string)[]): string {
  return `(${shape.join(', ')})`;
}

/** Wraps an existing buffer, checking that its length matches the shape. The buffer is not copied. */
export function tensor(shape: readonly number[], data: Float32Array): Tensor {
  const n = sizeOf(shape);
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`tensor: data must be a Float32Array, got ${describe(data)}`);
  }
  if (data.length !== n) {
    throw new RangeError(`tensor: shape ${formatShape(shape)} needs ${n} values, got ${data.length}`);
  }
  return { shape: Object.freeze([...shape]), data };
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  return tensor(shape, new Float32Array(sizeOf(shape)));
}

/** A tensor filled with one value. */
export function full(shape: readonly number[], value: number): Tensor {
  return tensor(shape, new Float32Array(sizeOf(shape)).fill(value));
}

/** A tensor of the same shape as `t`, filled with zeros. */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape);
}

type Nested = number | readonly Nested[];

/**
 * Builds a tensor from a (nested) array of numbers, or from a flat array plus a shape.
 *
 * @example
 * fromArray([[1, 2], [3, 4]])           // shape (2, 2)
 * fromArray([1, 2, 3, 4, 5, 6], [2, 3]) // shape (2, 3)
 */
export function fromArray(values: Nested | ArrayLike<number>, shape?: readonly number[]): Tensor {
  if (shape !== undefined) {
    const flat = Float32Array.from(values as ArrayLike<number>);
    return tensor(shape, flat);
  }
  const inferred: number[] = [];
  let level: Nested = values as Nested;
  while (Array.isArray(level)) {
    inferred.push(level.length);
    level = (level as readonly Nested[])[0];
  }
  const flat: number[] = [];
  const walk = (v: Nested, depth: number): void => {
    if (depth === inferred.length) {
      if (typeof v !== 'number') throw new TypeError('fromArray: ragged nested array');
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== inferred[depth]) {
      throw new RangeError(`fromArray: ragged nested array at depth ${depth}`);
    }
    for (const x of v as readonly Nested[]) walk(x, depth + 1);
  };
  walk(values as Nested, 0);
  return tensor(inferred, Float32Array.from(flat));
}

/** A tensor of standard normal samples, from `rng` (the global seeded generator by default). */
export function randn(shape: readonly number[], rng: Rng = globalRng()): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal();
  return t;
}

/** A tensor of samples uniform in [low, high). */
export function rand(shape: readonly number[], low = 0, high = 1, rng: Rng = globalRng()): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = low + (high - low) * rng.uniform();
  return t;
}

/**
 * The same buffer seen with another shape (a view: writes through one show in the other).
 * One dimension may be -1 and is then inferred.
 */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const wildcard = shape.indexOf(-1);
  const resolved = [...shape];
  if (wildcard >= 0) {
    const rest = shape.reduce((p, d, i) => (i === wildcard ? p : p * d), 1);
    if (rest === 0 || t.data.length % rest !== 0) {
      throw new RangeError(`reshape: cannot view ${formatShape(t.shape)} as ${formatShape(shape)}`);
    }
    resolved[wildcard] = t.data.length / rest;
  }
  if (sizeOf(resolved) !== t.data.length) {
    throw new RangeError(`reshape: cannot view ${formatShape(t.shape)} (${t.data.length} values) as ${formatShape(shape)}`);
  }
  return { shape: Object.freeze(resolved), data: t.data };
}

/** A deep copy. */
export function clone(t: Tensor): Tensor {
  return { shape: t.shape, data: t.data.slice() };
}

/** Rows `start` to `end` (exclusive) of the first axis, as a view. */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const rowSize = t.shape.length === 0 ? 1 : t.data.length / Math.max(1, t.shape[0]);
  return {
    shape: Object.freeze([end - start, ...t.shape.slice(1)]),
    data: t.data.subarray(start * rowSize, end * rowSize),
  };
}

/** Whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks a tensor against an expected shape, where `null` entries match any size.
 * Throws `RangeError("<who>: expected <what> (batch, 784), got (32, 256)")`.
 */
export function checkShape(t: Tensor, expected: readonly (number | null)[], who: string | (() => string), what = 'input'): void {
  if (t === null || typeof t !== 'object' || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) {
    throw new TypeError(`${nameOf(who)}: expected ${what} to be a Tensor, got ${describe(t)}`);
  }
  let ok = t.shape.length === expected.length;
  for (let i = 0; ok && i < expected.length; i++) ok = expected[i] === null || expected[i] === t.shape[i];
  if (!ok) {
    const exp = expected.map((d, i) => (d === null ? (i === 0 ? 'batch' : '*') : d));
    throw new RangeError(`${nameOf(who)}: expected ${what} ${formatShape(exp)}, got ${formatShape(t.shape)}`);
  }
}

/** Index of the largest value of each row of a (rows, cols) tensor. */
export function argmaxRows(t: Tensor): Int32Array {
  const rows = t.shape[0];
  const cols = rows === 0 ? 0 : t.data.length / rows;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < cols; c++) {
      const v = t.data[r * cols + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (typeof v === 'object') {
    const s = (v as { shape?: unknown }).shape;
    if (Array.isArray(s)) {
      // A tensor-like object is refused for its data more often than for its shape: say which.
      const data = (v as { data?: unknown }).data;
      if (data instanceof Float32Array) return `Tensor${formatShape(s)}`;
      return `an object of shape ${formatShape(s)} whose data is ${describe(data)}, not a Float32Array`;
    }
    const ctor = v.constructor?.name;
    return ctor && ctor !== 'Object' ? ctor : 'object';
  }
  return `${typeof v} ${String(v)}`;
}
