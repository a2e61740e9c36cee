/**
 * The dataset type shared by every loader and helper of `neurone/data`.
 *
 * A dataset is a feature tensor with one row per example plus one integer label per row.
 * Images are stored channels-last, `(n, height, width, chan)` — MNIST `(n, 28, 28, 1)`, USPS
 * `(n, 16, 16, 1)` — the layout of the whole library; `flatten` views them as `(n, height * width * chan)`
 * for `Linear`, `toSequence` as `(n, height * width, chan)` for Conv1D, both without a copy.
 */
import { Tensor, describe, formatShape, isTensor, numberOrDescribe, sizeOf, wrap } from '../tensor';

/** The most classes a dataset may have (2^24): counts and one-hot rows are dense arrays of that length. @internal */
export const MAX_CLASSES = 2 ** 24;

/** Checks a number of classes: an integer in [1, 2^24]. */
function checkNumClasses(who: string, numClasses: unknown): number {
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1 || numClasses > MAX_CLASSES) {
    throw new RangeError(`${who}: numClasses must be an integer in [1, 2^24], got ${numberOrDescribe(numClasses)}`);
  }
  return numClasses;
}

/** Examples and their class labels. */
export interface Dataset {
  /** A short name for messages and reports: `usps-train`, `mnist-test`, `xor`… */
  readonly name: string;
  /** Features, shape `(n, ...)`; row `i` is example `i`. */
  readonly x: Tensor;
  /** Class of each example, integers in `[0, numClasses)`; `labels.length === x.shape[0]`. */
  readonly labels: Int32Array;
  /** Number of classes (labels may not use all of them, e.g. in a small subset). */
  readonly numClasses: number;
  /**
   * Height and width of one example when it is an image (`[16, 16]` for USPS, `[28, 28]` for MNIST);
   * kept when the dataset is flattened, so its rows can still be drawn.
   */
  readonly imageShape?: readonly number[];
  /** Human-readable class names, when the classes are not just digits. */
  readonly classNames?: readonly string[];
}

/** Optional fields of a dataset, carried over by the helpers that derive one dataset from another. */
export type DatasetExtras = Pick<Dataset, 'imageShape' | 'classNames'>;

/**
 * Builds a dataset, checking that the pieces fit together.
 *
 * Args: `x` features `(n, ...)`; `labels` one integer per row in `[0, numClasses)`.
 *
 * @example
 * const ds = makeDataset('tiny', fromArray([[0, 1], [1, 0]]), Int32Array.of(1, 0), 2);
 * @param name Its name.
 * @param x Inputs, (n, ...).
 * @param labels Class labels, (n,).
 * @param numClasses The number of classes, an integer in [1, 2^24].
 * @param extras classNames, imageShape.
 */
export function makeDataset(name: string, x: Tensor, labels: Int32Array, numClasses: number, extras: DatasetExtras = {}): Dataset {
  checkNumClasses(`dataset ${name}`, numClasses);
  if (!isTensor(x)) {
    throw new TypeError(`dataset ${name}: x must be a Tensor, got ${describe(x)}`);
  }
  if (x.shape.length < 1) throw new RangeError(`dataset ${name}: x must have a batch axis, got shape ()`);
  if (!(labels instanceof Int32Array)) throw new TypeError(`dataset ${name}: labels must be an Int32Array`);
  if (labels.length !== x.shape[0]) {
    throw new RangeError(`dataset ${name}: x has ${x.shape[0]} rows ${formatShape(x.shape)} but there are ${labels.length} labels`);
  }
  const bad = labels.findIndex((l) => l < 0 || l >= numClasses);
  if (bad >= 0) {
    throw new RangeError(`dataset ${name}: label ${labels[bad]} at index ${bad} is outside [0, ${numClasses})`);
  }
  const ds: Dataset = { name, x, labels, numClasses };
  if (extras.imageShape) (ds as { imageShape?: readonly number[] }).imageShape = Object.freeze([...extras.imageShape]);
  if (extras.classNames) (ds as { classNames?: readonly string[] }).classNames = Object.freeze([...extras.classNames]);
  return ds;
}

/** The optional fields of `ds`, for building a derived dataset. */
export function extrasOf(ds: Dataset): DatasetExtras {
  const e: { imageShape?: readonly number[]; classNames?: readonly string[] } = {};
  if (ds.imageShape) e.imageShape = ds.imageShape;
  if (ds.classNames) e.classNames = ds.classNames;
  return e;
}

/**
 * Number of examples of a dataset.
 * @param ds The dataset.
 */
export function numExamples(ds: Dataset): number {
  return ds.labels.length;
}

/**
 * Number of features of one example (the product of `x.shape[1..]`).
 * @param ds The dataset.
 */
export function numFeatures(ds: Dataset): number {
  return ds.x.shape.slice(1).reduce((p, d) => p * d, 1);
}

/**
 * How many examples of each class: `counts[c]` is the number of labels equal to `c`.
 *
 * @example
 * classCounts(Int32Array.of(0, 2, 2), 3) // [1, 0, 2]
 * @param labels Class labels.
 * @param numClasses The number of classes, an integer in [1, 2^24].
 */
export function classCounts(labels: Int32Array, numClasses: number): number[] {
  checkNumClasses('classCounts', numClasses);
  if (!(labels instanceof Int32Array)) throw new TypeError(`classCounts: labels must be an Int32Array, got ${describe(labels)}`);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l < 0 || l >= numClasses || !Number.isInteger(l)) {
      throw new RangeError(`classCounts: label ${l} at index ${i} is outside [0, ${numClasses})`);
    }
    counts[l]++;
  }
  return counts;
}

/**
 * One-hot encoding: row `i` has a 1 in column `labels[i]` and zeros elsewhere (the targets MSE
 * and BCE take for class labels). The same function is exported by `neurone` and `neurone/data`.
 *
 * Shape: `labels` (n) → `(n, numClasses)`.
 *
 * @example
 * oneHot(Int32Array.of(2, 0), 3).data // [0, 0, 1, 1, 0, 0]
 * oneHot([2, 0], 3)                   // [[0, 0, 1], [1, 0, 0]] as a (2, 3) tensor
 * @param labels Class labels: an array, a typed array, or a tensor of shape (n).
 * @param numClasses The number of classes, an integer in [1, 2^24].
 */
export function oneHot(labels: ArrayLike<number> | Tensor, numClasses: number): Tensor {
  checkNumClasses('oneHot', numClasses);
  if (isTensor(labels)) {
    if (!(labels.shape.length === 1 || (labels.shape.length === 2 && labels.shape[1] === 1)))
      throw new RangeError(`oneHot: a tensor of labels must have shape (n) or (n, 1), got ${formatShape(labels.shape)}`);
    labels = labels.data;
  }
  if (labels === null || typeof labels !== 'object' || !Number.isInteger(labels.length)) {
    throw new TypeError(`oneHot: labels must be an array of class indices, got ${describe(labels)}`);
  }
  const n = labels.length;
  const out = new Float32Array(sizeOf([n, numClasses], 'oneHot'));
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) {
      throw new RangeError(`oneHot: label ${l} at index ${i} is not a class index, an integer in [0, ${numClasses})`);
    }
    out[i * numClasses + l] = 1;
  }
  return wrap([n, numClasses], out);
}

/**
 * Smallest and largest value of an array (NaN-aware: a NaN makes both NaN).
 * @param data The values.
 */
export function valueRange(data: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isNaN(v)) return { min: NaN, max: NaN };
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
