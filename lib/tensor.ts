/**
 * Tensors: a shape and a row-major float32 buffer, nothing more.
 *
 * neurone has no autograd, so a tensor carries no graph; modules keep what
 * they need for their backward pass themselves.
 */
import { Rng, globalRng } from './random';

/** A row-major float32 array with a shape. `data.length` equals the product of `shape`. */
export interface Tensor {
  /** The dimensions, batch first where there is one: `[32, 28, 28, 1]`. */
  readonly shape: readonly number[];
  /** The values, row-major (the last dimension varies fastest), `shape`'s product of them. */
  readonly data: Float32Array;
}

/** The most values a tensor holds (and the largest dimension). */
export const MAX_TENSOR_VALUES = 2 ** 32;

/**
 * The deepest nesting {@link tensor} reads and {@link toArray} writes (PyTorch's limit on
 * dimensions); it also stops an array that contains itself.
 */
export const MAX_NESTING = 64;

/** The most nested arrays {@link toArray} builds for a tensor holding no values, e.g. (2^26, 0). */
const MAX_EMPTY_ARRAYS = 2 ** 24;

/** Number of elements of a shape. Throws on a dimension that is not a non-negative integer. */
export function sizeOf(shape: readonly number[], what: string | (() => string) = 'shape'): number {
  let n = 1;
  for (const d of shape) {
    // A dimension past the element cap is refused even beside a 0: (1e308, 0, 3) holds no
    // values, but a loop over its first axis would never end.
    if (!Number.isInteger(d) || d < 0 || d > MAX_TENSOR_VALUES) {
      throw new RangeError(`${nameOf(what)}: dimensions must be integers in [0, 2^32], got [${listed(shape)}]`);
    }
    n *= d;
  }
  if (n > MAX_TENSOR_VALUES) throw new RangeError(`${nameOf(what)}: [${listed(shape)}] has more than 2^32 elements`);
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

/**
 * Wraps an existing buffer with a shape, checking that its length matches. The buffer is not
 * copied. The library's own constructor; users call {@link tensor}.
 * @internal
 */
export function wrap(shape: readonly number[], data: Float32Array): Tensor {
  return wrapAs('tensor', shape, data);
}

function wrapAs(who: string, shape: readonly number[], data: Float32Array): Tensor {
  if (!Array.isArray(shape)) throw new TypeError(`${who}: shape must be an array of dimensions, got ${describe(shape)}`);
  const n = sizeOf(shape, who);
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`${who}: data must be a Float32Array, got ${describe(data)}`);
  }
  if (data.length !== n) {
    throw new RangeError(`${who}: shape ${formatShape(shape)} needs ${n} values, got ${data.length}`);
  }
  return { shape: Object.freeze([...shape]), data };
}

/** Nested arrays of numbers, as `toArray` returns them and `tensor` takes them. */
export type NestedArray = number | readonly NestedArray[];

/** What {@link tensor} and {@link fromArray} take: nested arrays, or a flat array (plain or typed) with a shape. */
export type TensorValues = NestedArray | ArrayLike<number>;

let warnedLegacyOrder = false;

/**
 * Makes a tensor, as `tf.tensor(values, shape)` does: from nested arrays (the shape is read from
 * them), from a flat array plus a shape, or from a scalar. A `Float32Array` is wrapped, not copied
 * (writes through either show in the other); any other array is copied into a new one.
 *
 * The former argument order `tensor(shape, data: Float32Array)` still works, with a one-time
 * deprecation warning; it will be removed.
 *
 * @param values Nested arrays of numbers, a flat array (plain or typed), or a number.
 * @param shape The dimensions, when `values` is flat (default: its length, as a 1-D tensor).
 * @example
 * tensor([[1, 2], [3, 4]])                 // shape (2, 2)
 * tensor([1, 2, 3, 4, 5, 6], [2, 3])       // shape (2, 3)
 * tensor(new Float32Array(784 * 32), [32, 784])  // wraps the buffer
 * toArray(tensor([[1, 2], [3, 4]]))        // [[1, 2], [3, 4]]
 */
export function tensor(values: TensorValues, shape?: readonly number[]): Tensor;
/**
 * @deprecated The former argument order: use `tensor(data, shape)`.
 * @param shape The dimensions.
 * @param data A buffer of their product's length, wrapped.
 */
export function tensor(shape: readonly number[], data: Float32Array): Tensor;
export function tensor(values: TensorValues, shape?: readonly number[] | Float32Array): Tensor {
  const legacy = legacyOrderShape(values, shape);
  if (legacy) {
    const data = shape as Float32Array;
    const needs = legacy.reduce((p, d) => p * d, 1);
    if (needs === data.length) {
      if (!warnedLegacyOrder) {
        warnedLegacyOrder = true;
        process.emitWarning(
          'tensor(shape, data) is deprecated: the arguments are now (values, shape), as tf.tensor and fromArray take them',
          {
            type: 'DeprecationWarning',
            code: 'NEURONE_TENSOR_ORDER',
          },
        );
      }
      return wrapAs('tensor', legacy, data);
    }
    // The former order with data of another length: said as that, not as a Float32Array shape.
    if (legacy.length > 0) {
      throw new RangeError(
        `tensor: shape ${formatShape(legacy)} needs ${needs} values, its data holds ${data.length} ` +
          '(the former order tensor(shape, data); the arguments are now (values, shape))',
      );
    }
  }
  const dims = shape as readonly number[] | undefined;
  if (values instanceof Float32Array) return wrapAs('tensor', dims ?? [values.length], values);
  return build('tensor', values, dims);
}

/**
 * The dimensions of a call in the order `tensor(shape, data)` had (a plain array of non-negative
 * integers, then a Float32Array), or undefined. The data's length is the caller's to compare.
 */
function legacyOrderShape(values: unknown, shape: unknown): number[] | undefined {
  if (!Array.isArray(values) || !(shape instanceof Float32Array)) return undefined;
  return values.every((d) => Number.isInteger(d) && d >= 0) ? (values as number[]) : undefined;
}

/**
 * The same as {@link tensor}, but always copies: nested arrays, or a flat array (plain or typed)
 * plus a shape.
 *
 * @param values Nested arrays of numbers, or a flat array (plain or typed).
 * @param shape The dimensions, when `values` is flat (default: its length).
 * @example
 * fromArray([[1, 2], [3, 4]])           // shape (2, 2)
 * fromArray([1, 2, 3, 4, 5, 6], [2, 3]) // shape (2, 3)
 * fromArray(new Float32Array(4))        // shape (4), a copy
 */
export function fromArray(values: TensorValues, shape?: readonly number[]): Tensor {
  if (values instanceof Float32Array) return wrapAs('fromArray', shape ?? [values.length], values.slice());
  return build('fromArray', values, shape);
}

function build(who: string, values: TensorValues, shape?: readonly number[]): Tensor {
  if (shape !== undefined && !Array.isArray(shape)) {
    throw new TypeError(`${who}: shape must be an array of dimensions, got ${describe(shape)}`);
  }
  if (typeof values === 'number') return wrapAs(who, shape ?? [], Float32Array.of(values));
  if (ArrayBuffer.isView(values)) {
    const flat = Float32Array.from(values as unknown as ArrayLike<number>);
    return sized(who, flat, shape);
  }
  if (!Array.isArray(values)) {
    throw new TypeError(`${who}: values must be nested arrays of numbers or a flat array (plain or typed), got ${describe(values)}`);
  }
  // Nested arrays: the shape is read from the first element at each depth, then checked everywhere
  // before the buffer is allocated, so a malformed array fails at once whatever its length.
  const inferred: number[] = [];
  let level: unknown = values;
  while (Array.isArray(level)) {
    if (inferred.length === MAX_NESTING) {
      throw new RangeError(`${who}: values are nested more than ${MAX_NESTING} arrays deep (does the array contain itself?)`);
    }
    inferred.push(level.length);
    level = level[0];
  }
  const n = sizeOf(inferred, () => `${who}: nested arrays of shape ${formatShape(inferred)}`);
  const check = (v: unknown, depth: number, at: string): void => {
    if (depth === inferred.length) {
      if (typeof v !== 'number') throw new TypeError(`${who}: values${at} is ${describe(v)}, expected a number (ragged nested array?)`);
      return;
    }
    if (!Array.isArray(v) || v.length !== inferred[depth]) {
      throw new RangeError(
        `${who}: ragged nested array: values${at} has ${Array.isArray(v) ? `${v.length} entries` : describe(v)}, expected an array of ${inferred[depth]} as at values${'[0]'.repeat(depth)}`,
      );
    }
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      // A hole (`[1, , 3]`, `new Array(5)`) would be skipped by forEach and shift the values after it.
      if (x === undefined && !(i in v)) throw new TypeError(`${who}: values${at}[${i}] is a hole (a sparse array), expected a number`);
      check(x, depth + 1, `${at}[${i}]`);
    }
  };
  check(values, 0, '');
  const flat = new Float32Array(n);
  let k = 0;
  const fill = (v: unknown, depth: number): void => {
    if (depth === inferred.length) flat[k++] = v as number;
    else for (const x of v as unknown[]) fill(x, depth + 1);
  };
  fill(values, 0);
  if (shape === undefined || (inferred.length === shape.length && inferred.every((d, i) => d === shape[i])))
    return wrapAs(who, inferred, flat);
  if (inferred.length > 1) {
    throw new RangeError(
      `${who}: nested arrays of shape ${formatShape(inferred)} given with shape ${formatShape(shape)}; give one or the other`,
    );
  }
  return sized(who, flat, shape);
}

/** A flat buffer with the given shape (default: 1-D), with a hint when the two arguments look swapped. */
function sized(who: string, flat: Float32Array, shape?: readonly number[]): Tensor {
  if (shape === undefined) return wrapAs(who, [flat.length], flat);
  const n = sizeOf(shape, who);
  if (n !== flat.length) {
    const swapped = Array.from(flat).every((d) => Number.isInteger(d) && d >= 0) && flat.reduce((p, d) => p * d, 1) === shape.length;
    throw new RangeError(
      `${who}: shape ${formatShape(shape)} needs ${n} values, got ${flat.length}` +
        (swapped
          ? `; the arguments are (values, shape), as tf.tensor takes them: ${who}([${shape.join(', ')}], [${Array.from(flat).join(', ')}])?`
          : ''),
    );
  }
  return wrapAs(who, shape, flat);
}

/**
 * The values of a tensor as nested arrays (a number for a 0-d tensor), as `tf.Tensor.arraySync`.
 *
 * @param t The tensor to read.
 * @example
 * toArray(fromArray([1, 2, 3, 4], [2, 2]))   // [[1, 2], [3, 4]]
 */
export function toArray(t: Tensor): NestedArray {
  if (!isTensor(t)) {
    throw new TypeError(`toArray: expected a Tensor, got ${describe(t)}`);
  }
  const n = checkDataLength('toArray', 'a tensor', t, 'toArray');
  if (t.shape.length === 0) return t.data[0];
  if (t.shape.length > MAX_NESTING) {
    throw new RangeError(`toArray: a tensor of ${t.shape.length} dimensions would nest arrays more than ${MAX_NESTING} deep`);
  }
  if (n === 0) {
    // No values, but possibly many empty arrays: (2^26, 0) would be 2^26 of them.
    let arrays = 1;
    for (let i = 0, p = 1; i < t.shape.length - 1 && p > 0; i++) arrays += p *= t.shape[i];
    if (arrays > MAX_EMPTY_ARRAYS) {
      throw new RangeError(
        `toArray: a tensor of shape ${formatShape(t.shape)} holds no values, but its nested form would need ${arrays} empty arrays (at most 2^24)`,
      );
    }
  }
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const read = (depth: number, offset: number): NestedArray => {
    if (depth === t.shape.length) return t.data[offset];
    return Array.from({ length: t.shape[depth] }, (_, i) => read(depth + 1, offset + i * strides[depth]));
  };
  return read(0, 0);
}

/**
 * A tensor of zeros.
 * @param shape The dimensions.
 */
export function zeros(shape: readonly number[]): Tensor {
  return zerosAs('zeros', shape);
}

function zerosAs(who: string, shape: readonly number[]): Tensor {
  if (!Array.isArray(shape)) throw new TypeError(`${who}: shape must be an array of dimensions, got ${describe(shape)}`);
  return wrapAs(who, shape, new Float32Array(sizeOf(shape, who)));
}

/** Checks a number argument that is stored as a float32: NaN and ±Infinity pass, a finite overflow does not. */
function float32Arg(who: string, what: string, v: unknown, finite: boolean): number {
  if (typeof v !== 'number' || (finite && !Number.isFinite(v)) || (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX)) {
    throw new TypeError(
      `${who}: ${what} must be a ${finite ? 'finite ' : ''}number within the float32 range (±3.4e38), got ${describe(v)}`,
    );
  }
  return v;
}

/** Checks that `rng` has the generator's `methods` that `who` draws from. @internal */
export function rngArg(who: string, rng: unknown, ...methods: ('normal' | 'uniform' | 'shuffle')[]): Rng {
  if (rng === null || typeof rng !== 'object' || methods.some((m) => typeof (rng as Rng)[m] !== 'function')) {
    throw new TypeError(`${who}: rng must be an Rng, got ${describe(rng)}`);
  }
  return rng as Rng;
}

/**
 * A tensor filled with one value.
 * @param shape The dimensions.
 * @param value The value of every entry: a number (NaN and ±Infinity included) within the
 * float32 range; a finite value beyond it, which float32 would turn into ±Infinity, is refused.
 */
export function full(shape: readonly number[], value: number): Tensor {
  const v = float32Arg('full', 'value', value, false);
  const t = zerosAs('full', shape);
  t.data.fill(v);
  return t;
}

/**
 * A tensor of the same shape as `t`, filled with zeros.
 * @param t The tensor whose shape is taken.
 */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape);
}

/**
 * A tensor of standard normal samples, from `rng` (the global seeded generator by default).
 * @param shape The dimensions.
 * @param rng The generator (default the global seeded one).
 */
export function randn(shape: readonly number[], rng: Rng = globalRng()): Tensor {
  rngArg('randn', rng, 'normal');
  const t = zerosAs('randn', shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal();
  return t;
}

/**
 * A tensor of samples uniform in [low, high).
 * @param shape The dimensions.
 * @param low Lower bound (default 0), a finite number within the float32 range.
 * @param high Upper bound, excluded (default 1), at least `low`.
 * @param rng The generator (default the global seeded one).
 */
export function rand(shape: readonly number[], low = 0, high = 1, rng: Rng = globalRng()): Tensor {
  float32Arg('rand', 'low', low, true);
  float32Arg('rand', 'high', high, true);
  if (low > high) throw new RangeError(`rand: low must be at most high, got low ${low} and high ${high}`);
  rngArg('rand', rng, 'uniform');
  const t = zerosAs('rand', shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = low + (high - low) * rng.uniform();
  return t;
}

/**
 * The same buffer seen with another shape (a view: writes through one show in the other).
 * One dimension may be -1 and is then inferred.
 * @param t The tensor viewed.
 * @param shape The new dimensions, one of them -1 at most.
 */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  tensorArg('reshape', 't', t);
  if (!Array.isArray(shape)) throw new TypeError(`reshape: shape must be an array of dimensions, got ${describe(shape)}`);
  const wildcard = shape.indexOf(-1);
  if (wildcard >= 0 && shape.indexOf(-1, wildcard + 1) >= 0) {
    throw new RangeError(`reshape: shape ${formatShape(shape)} has more than one -1`);
  }
  const resolved = [...shape];
  if (wildcard >= 0) {
    const rest = shape.reduce((p, d, i) => (i === wildcard ? p : p * d), 1);
    if (rest === 0 || t.data.length % rest !== 0) {
      throw new RangeError(`reshape: cannot view ${formatShape(t.shape)} as ${formatShape(shape)}`);
    }
    resolved[wildcard] = t.data.length / rest;
  }
  if (sizeOf(resolved, 'reshape') !== t.data.length) {
    throw new RangeError(`reshape: cannot view ${formatShape(t.shape)} (${t.data.length} values) as ${formatShape(shape)}`);
  }
  return { shape: Object.freeze(resolved), data: t.data };
}

/**
 * A deep copy.
 * @param t The tensor copied.
 */
export function clone(t: Tensor): Tensor {
  return { shape: t.shape, data: t.data.slice() };
}

/**
 * Rows `start` to `end` (exclusive) of the first axis, as a view.
 * @param t The tensor sliced.
 * @param start First row.
 * @param end Row after the last.
 */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  tensorArg('sliceRows', 't', t);
  if (t.shape.length === 0) throw new RangeError('sliceRows: t must have a first axis, got a 0-d tensor ()');
  const rows = t.shape[0];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > rows) {
    throw new RangeError(
      `sliceRows: expected integers 0 ≤ start ≤ end ≤ ${rows} (the rows of ${formatShape(t.shape)}), got start ${numberOrDescribe(start)} and end ${numberOrDescribe(end)}`,
    );
  }
  const rowSize = t.data.length / Math.max(1, rows);
  return {
    shape: Object.freeze([end - start, ...t.shape.slice(1)]),
    data: t.data.subarray(start * rowSize, end * rowSize),
  };
}

/**
 * Whether two shapes are equal.
 * @param a A shape.
 * @param b Another shape.
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The network output each loss gradient was taken at: a built-in loss's `backward(y, yhat)` (and
 * `lossAndGradient`) records `yhat` for the tensor it returns, so that `Sequential.backward` can
 * tell a gradient of an earlier forward pass's output from one of the last. Weak: it keeps neither
 * alive. @internal
 */
export const gradientTakenAt = new WeakMap<Tensor, Tensor>();

/** Whether two tensors hold the same shape and values (NaN equal to NaN). @internal */
export function sameValues(a: Tensor, b: Tensor): boolean {
  if (!sameShape(a.shape, b.shape) || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) {
    const u = a.data[i],
      v = b.data[i];
    if (u !== v && !(u !== u && v !== v)) return false;
  }
  return true;
}

/**
 * For a shape error: `one sample without its batch axis: reshape it to (1, 784)` when `got` is
 * `expected` without its leading 'batch' (PyTorch's layers take one sample so; these do not), else
 * ''. Named sizes in `expected` (strings) match any size; at least one number must match. @internal
 */
export function missingBatchHint(expected: readonly (number | string)[], got: readonly number[]): string {
  // At least one size must match a number: a pooling's (batch, height, width, chan) is all names,
  // and (32, 28, 28) there is more likely 32 images without a channel axis.
  const sizes = expected.slice(1);
  const unbatched =
    expected[0] === 'batch' &&
    got.length === sizes.length &&
    sizes.some((d) => typeof d === 'number') &&
    got.every((d, i) => typeof sizes[i] === 'string' || sizes[i] === d);
  return unbatched ? `one sample without its batch axis: reshape it to ${formatShape([1, ...got])}` : '';
}

/**
 * Checks a tensor against an expected shape, where `null` entries match any size.
 * Throws `RangeError("<who>: expected <what> (batch, 784), got (32, 256)")`.
 */
export function checkShape(t: Tensor, expected: readonly (number | null)[], who: string | (() => string), what = 'input'): void {
  if (!isTensor(t)) {
    throw new TypeError(`${nameOf(who)}: expected ${what} to be a Tensor, got ${describe(t)}`);
  }
  let ok = t.shape.length === expected.length;
  for (let i = 0; ok && i < expected.length; i++) ok = expected[i] === null || expected[i] === t.shape[i];
  if (!ok) {
    const exp = expected.map((d, i) => (d === null ? (i === 0 ? 'batch' : '*') : d));
    const hint = missingBatchHint(exp, t.shape);
    throw new RangeError(`${nameOf(who)}: expected ${what} ${formatShape(exp)}, got ${formatShape(t.shape)}${hint ? ` (${hint})` : ''}`);
  }
}

/**
 * Index of the largest value of each row of a (rows, cols) tensor: the predicted class of each
 * sample from scores, probabilities or one-hot rows (the first one on a tie, the first NaN
 * before any number), as `argmax(dim=1)` in PyTorch.
 *
 * Shape: (rows, cols) → Int32Array(rows).
 * @param t Scores, (rows, cols).
 * @example
 * argmaxRows(fromArray([[0.1, 0.7, 0.2], [1, 0, 0]]))  // Int32Array [1, 0]
 */
export function argmaxRows(t: Tensor): Int32Array {
  if (!isTensor(t) || t.shape.length !== 2) {
    throw new RangeError(`argmaxRows: expected a (rows, cols) tensor, got ${describe(t)}`);
  }
  checkDataLength('argmaxRows', 'a tensor', t, 'argmaxRows');
  const [rows, cols] = t.shape;
  if (cols === 0 && rows > 0) throw new RangeError(`argmaxRows: rows of 0 columns ${formatShape(t.shape)} have no largest value`);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = argmaxOfRow(t.data, r * cols, cols);
  return out;
}

/**
 * The index, within the row `data[start .. start + cols)`, of its largest value: the first on a
 * tie, the first NaN before any number (PyTorch's argmax). @internal
 */
export function argmaxOfRow(data: ArrayLike<number>, start: number, cols: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let c = 0; c < cols; c++) {
    const v = data[start + c];
    // The first NaN wins: a row holding one is not read as another class.
    if (Number.isNaN(v)) return c;
    if (v > bestValue) {
      bestValue = v;
      best = c;
    }
  }
  return best;
}

/** The largest finite float32, (2 − 2^-23) · 2^127 ≈ 3.4028235e38. @internal */
export const FLOAT32_MAX = (2 - 2 ** -23) * 2 ** 127;

/**
 * Whether `v` has a tensor's form: a `shape` array and Float32Array `data` (their agreement is
 * {@link tensorArg}'s and the callers' to check). @internal
 */
export function isTensor(v: unknown): v is Tensor {
  return v !== null && typeof v === 'object' && (v as Tensor).data instanceof Float32Array && Array.isArray((v as Tensor).shape);
}

/**
 * Checks that a tensor's data fills its shape, the check every function taking a tensor makes (a
 * hand-built `{ shape: [1e9, 1e9], data }` would send loops over a billion rows): throws a
 * RangeError `who: what of shape S needs n values, its data holds m`, saying when the data's
 * buffer is empty, as one sent to another thread (transferred) leaves it. Returns the size. @internal
 */
export function checkDataLength(
  who: string | (() => string),
  what: string,
  t: Tensor,
  shapeWho: string | (() => string) = typeof who === 'string' ? `${who}: ${what} shape` : () => `${who()}: ${what} shape`,
): number {
  const n = sizeOf(t.shape, shapeWho);
  if (t.data.length !== n) {
    const emptied =
      t.data.length === 0 && n > 0 && t.data.buffer.byteLength === 0
        ? ' (its ArrayBuffer is empty: transferred to another thread, or detached?)'
        : '';
    throw new RangeError(
      `${typeof who === 'string' ? who : who()}: ${what} of shape ${formatShape(t.shape)} needs ${n} values, its data holds ${t.data.length}${emptied}`,
    );
  }
  return n;
}

/**
 * Checks that argument `what` of `who` is a tensor whose data length matches its shape;
 * `expected` says what else it may be, for the message. @internal
 */
export function tensorArg(who: string, what: string, t: unknown, expected = 'a Tensor'): Tensor {
  if (!isTensor(t)) {
    throw new TypeError(`${who}: ${what} must be ${expected}, got ${describe(t)}`);
  }
  checkDataLength(who, what, t as Tensor, who);
  return t as Tensor;
}

/** A number as it is, anything else described (for messages about number arguments). @internal */
export function numberOrDescribe(v: unknown): string {
  return typeof v === 'number' ? String(v) : describe(v);
}

/** The most characters of a string, a name or a number that {@link describe} shows. */
const DESCRIBED_CHARS = 40;
/** The most entries of a shape that {@link describe} and {@link sizeOf}'s errors show. */
const DESCRIBED_ENTRIES = 16;

/** `s` up to its first line break and {@link DESCRIBED_CHARS} characters, saying how long it was when cut. */
function clip(s: string): string {
  const lineEnd = s.search(/[\r\n]/);
  const end = Math.min(DESCRIBED_CHARS, lineEnd < 0 ? s.length : lineEnd);
  return end === s.length ? s : `${s.slice(0, end)}… (${s.length} characters)`;
}

/** A shape's (or any list's) entries for a message: at most {@link DESCRIBED_ENTRIES}, each short. */
function listed(entries: readonly unknown[]): string {
  const shown = entries
    .slice(0, DESCRIBED_ENTRIES)
    .map((e) => (typeof e === 'number' ? String(e) : typeof e === 'string' ? clip(e) : describe(e)));
  if (entries.length > DESCRIBED_ENTRIES) shown.push(`… (${entries.length} entries)`);
  return shown.join(', ');
}

/**
 * A function by what it is and its name, never its source: "the class ReLU", "the function
 * relu", "a function". A class passed where an instance goes (`Sequential(..., ReLU)`) is the
 * usual way one reaches an error message.
 */
function describeFunction(f: (...args: never[]) => unknown): string {
  let source = '';
  try {
    source = Function.prototype.toString.call(f);
  } catch {
    // A revoked proxy: described as a function.
  }
  const name = typeof f.name === 'string' && f.name !== '' ? clip(f.name) : null;
  if (/^class\b/.test(source)) return name ? `the class ${name}` : 'a class';
  return name ? `the function ${name}` : 'a function';
}

/**
 * A short description of a value for error messages: its type and size, never its contents in
 * full (a long string, a function's source, a huge array), so a message stays one short line.
 */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v === '') return 'an empty string';
  if (typeof v === 'function') return describeFunction(v as (...args: never[]) => unknown);
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (v instanceof DataView) return `DataView(${v.byteLength} bytes)`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (typeof v === 'object') {
    const s = (v as { shape?: unknown }).shape;
    if (Array.isArray(s)) {
      // A tensor-like object is refused for its data more often than for its shape: say which.
      const data = (v as { data?: unknown }).data;
      if (data instanceof Float32Array) return `Tensor(${listed(s)})`;
      return `an object of shape (${listed(s)}) whose data is ${describe(data)}, not a Float32Array`;
    }
    const ctor = (v as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' ? clip(ctor) : 'object';
  }
  return `${typeof v} ${clip(String(v))}`;
}
