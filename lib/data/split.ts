/**
 * Splitting, shuffling, batching and rescaling datasets.
 *
 * Randomness always comes from an `Rng`: pass `seed` for a fresh generator (reproducible on its
 * own), `rng` to draw from one you hold, or neither to use the global generator set by `seed()`.
 */
import { Rng, globalRng } from '../random';
import { Tensor, describe, formatShape, numberOrDescribe, reshape, rngArg, sizeOf, tensorArg, wrap } from '../tensor';
import { Dataset, extrasOf, makeDataset, numFeatures } from './dataset';
import { checkOptionsObject } from '../options';

/** Where randomness comes from: a seed (a new generator) or a generator; the global one otherwise. */
export interface RandomSource {
  seed?: number;
  rng?: Rng;
}

function rngFrom(o: RandomSource, who: string): Rng {
  if (o === null || typeof o !== 'object') throw new TypeError(`${who}: options must be an object, got ${describe(o)}`);
  if (o.rng !== undefined) rngArg(who, o.rng, 'shuffle', 'uniform');
  if (o.seed !== undefined && o.rng !== undefined) throw new Error(`${who}: pass seed or rng, not both`);
  if (o.seed !== undefined) {
    if (!Number.isFinite(o.seed)) throw new RangeError(`${who}: seed must be a finite number, got ${o.seed}`);
    return new Rng(o.seed);
  }
  return o.rng ?? globalRng();
}

/** The most indices {@link permutation} draws: they are stored as int32. */
const MAX_INDEX = 2 ** 31 - 1;

/**
 * A random permutation of `0..n-1`.
 * @param n How many indices, an integer in [0, 2^31 - 1].
 * @param rng The generator (default the global seeded one).
 */
export function permutation(n: number, rng: Rng = globalRng()): Int32Array {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_INDEX) {
    throw new RangeError(`permutation: n must be an integer in [0, 2^31 - 1], got ${numberOrDescribe(n)}`);
  }
  rngArg('permutation', rng, 'shuffle', 'uniform');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return rng.shuffle(out);
}

/**
 * The examples at `indices`, in that order, as a new dataset (the rows are copied).
 *
 * @example
 * const firstTen = subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * @param ds The dataset.
 * @param indices The rows taken, in order.
 * @param name The new dataset’s name (default the same).
 */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const n = ds.labels.length;
  const f = numFeatures(ds);
  if (indices === null || typeof indices !== 'object' || !Number.isInteger(indices.length) || indices.length < 0) {
    throw new TypeError(`subset of ${ds.name}: indices must be an array of row indices, got ${describe(indices)}`);
  }
  // Checked before the copy is allocated: {length: 2 ** 28} holds no index at all. The values
  // checked are kept and used: indices in shared memory may change meanwhile (a negative one
  // would then take a row counted from the end).
  const rows: number[] = [];
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i];
    if (!Number.isInteger(src) || src < 0 || src >= n) {
      throw new RangeError(`subset of ${ds.name}: index ${src} at position ${i} is outside [0, ${n})`);
    }
    rows.push(src);
  }
  const x = new Float32Array(sizeOf([rows.length, f], `subset of ${ds.name}`));
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i];
    x.set(ds.x.data.subarray(src * f, (src + 1) * f), i * f);
    labels[i] = ds.labels[src];
  }
  return makeDataset(name, wrap([rows.length, ...ds.x.shape.slice(1)], x), labels, ds.numClasses, extrasOf(ds));
}

/**
 * The same examples in a random order (a copy).
 *
 * @example
 * const mixed = shuffle(ds, { seed: 42 });
 * @param ds The dataset.
 * @param options seed or rng.
 */
export function shuffle(ds: Dataset, options: RandomSource = {}): Dataset {
  checkOptionsObject('shuffle', options, ['seed', 'rng']);
  return subset(ds, permutation(ds.labels.length, rngFrom(options, 'shuffle')));
}

export interface SplitOptions extends RandomSource {
  /** Fraction of the examples that go to the test part, in (0, 1); default 0.2. */
  testFraction?: number;
  /** Keep each class's proportion in both parts (default false). */
  stratify?: boolean;
}

/** The two parts a split returns. */
export interface SplitResult {
  train: Dataset;
  test: Dataset;
  /** Indices into the original dataset, ascending. Together they cover every example once. */
  trainIndices: Int32Array;
  testIndices: Int32Array;
}

/**
 * Splits a dataset at random into a train and a test part. The test part has `round(n * testFraction)`
 * examples; with `stratify`, each class contributes its share (largest-remainder rounding, so the
 * total is the same). Both parts keep the original order of their examples.
 *
 * @example
 * const usps = loadUSPS();
 * const { train, test: validation } = trainTestSplit(usps, { testFraction: 0.33, seed: 0, stratify: true });
 * @param ds The dataset.
 * @param options testFraction, stratify, seed or rng.
 */
export function trainTestSplit(ds: Dataset, options: SplitOptions = {}): SplitResult {
  checkOptionsObject('trainTestSplit', options, ['testFraction', 'stratify', 'seed', 'rng']);
  const f = options?.testFraction ?? 0.2;
  const n = ds.labels.length;
  if (typeof f !== 'number' || !(f > 0 && f < 1)) {
    throw new RangeError(`trainTestSplit: testFraction must be in (0, 1), got ${numberOrDescribe(f)}`);
  }
  const nTest = Math.round(n * f);
  if (nTest === 0 || nTest === n) {
    throw new RangeError(`trainTestSplit: testFraction ${f} of ${n} examples leaves ${nTest === 0 ? 'the test' : 'the train'} part empty`);
  }
  const rng = rngFrom(options, 'trainTestSplit');
  const isTest = new Uint8Array(n);
  if (options.stratify) {
    // Only the classes present take part (an absent one takes nothing), in increasing order, so
    // the work follows the examples, not numClasses.
    const byClass = new Map<number, number[]>();
    ds.labels.forEach((l, i) => {
      if (!(l >= 0 && l < ds.numClasses)) {
        throw new RangeError(`trainTestSplit: label ${l} at index ${i} is outside [0, ${ds.numClasses})`);
      }
      const idx = byClass.get(l);
      if (idx) idx.push(i);
      else byClass.set(l, [i]);
    });
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    const members = classes.map((c) => byClass.get(c) as number[]);
    const counts = members.map((idx) => idx.length);
    const quota = counts.map((c) => c * f);
    const take = quota.map(Math.floor);
    let remaining = nTest - take.reduce((a, b) => a + b, 0);
    const byRemainder = quota.map((q, c) => c).sort((a, b) => quota[b] - take[b] - (quota[a] - take[a]) || a - b);
    for (const c of byRemainder) {
      if (remaining === 0) break;
      if (take[c] < counts[c]) {
        take[c]++;
        remaining--;
      }
    }
    members.forEach((idx, c) => {
      rng.shuffle(idx);
      for (let k = 0; k < take[c]; k++) isTest[idx[k]] = 1;
    });
  } else {
    const perm = permutation(n, rng);
    for (let k = 0; k < nTest; k++) isTest[perm[k]] = 1;
  }
  const testIndices = new Int32Array(nTest);
  const trainIndices = new Int32Array(n - nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    if (isTest[i]) testIndices[a++] = i;
    else trainIndices[b++] = i;
  }
  return {
    train: subset(ds, trainIndices, `${ds.name}/train`),
    test: subset(ds, testIndices, `${ds.name}/test`),
    trainIndices,
    testIndices,
  };
}

/** One mini-batch. */
export interface Batch {
  /** Features, `(batch, ...)`. */
  x: Tensor;
  labels: Int32Array;
  /** Indices of these examples in the dataset. */
  indices: Int32Array;
}

export interface BatchOptions extends RandomSource {
  /** Visit the examples in a new random order (default false: dataset order). */
  shuffle?: boolean;
  /** Skip the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
}

/**
 * Number of batches `batches` yields for `n` examples.
 * @param n Samples.
 * @param batchSize Samples per batch.
 * @param dropLast Whether a last partial batch is left out.
 */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`numBatches: n must be an integer ≥ 0, got ${numberOrDescribe(n)}`);
  }
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`numBatches: batchSize must be a positive integer, got ${numberOrDescribe(batchSize)}`);
  }
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Iterates over mini-batches. Without `shuffle` the batches are views of the dataset's buffers
 * (no copy; do not write to them); with `shuffle` each batch is a fresh copy gathered in the
 * permuted order. Each call draws a new permutation, so call it once per epoch.
 *
 * @example
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for (const { x, labels } of batches(train, 32, { shuffle: true, rng })) {
 *     // forward, backward, step
 *   }
 * }
 * @param ds The dataset.
 * @param batchSize Samples per batch.
 * @param options shuffle, dropLast, seed or rng.
 */
export function* batches(ds: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  checkOptionsObject('batches', options, ['shuffle', 'dropLast', 'seed', 'rng']);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batches: batchSize must be a positive integer, got ${batchSize}`);
  const n = ds.labels.length;
  const f = numFeatures(ds);
  const rest = ds.x.shape.slice(1);
  const count = numBatches(n, batchSize, options.dropLast);
  const order = options.shuffle ? permutation(n, rngFrom(options, 'batches')) : undefined;
  for (let k = 0; k < count; k++) {
    const start = k * batchSize;
    const end = Math.min(n, start + batchSize);
    const m = end - start;
    if (!order) {
      yield {
        x: { shape: Object.freeze([m, ...rest]), data: ds.x.data.subarray(start * f, end * f) },
        labels: ds.labels.subarray(start, end),
        indices: Int32Array.from({ length: m }, (_, i) => start + i),
      };
    } else {
      const indices = order.slice(start, end);
      const x = new Float32Array(m * f);
      const labels = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        const src = indices[i];
        x.set(ds.x.data.subarray(src * f, (src + 1) * f), i * f);
        labels[i] = ds.labels[src];
      }
      yield { x: wrap([m, ...rest], x), labels, indices };
    }
  }
}

/**
 * A feature rescaling fitted on one dataset and applied unchanged to others:
 * `y = (x - offset) / scale`, per feature (or one value for all features).
 */
export interface Scaler {
  readonly kind: 'standard' | 'minmax';
  readonly offset: Float32Array;
  readonly scale: Float32Array;
  /**
   * Rescales a tensor `(n, ...)` with the same features as the data it was fitted on (a copy).
   * @param x Inputs with the fitted features, (n, ...).
   */
  transform(x: Tensor): Tensor;
  /**
   * Rescales a dataset's features (a copy; labels are shared).
   * @param ds The dataset whose x is transformed (labels kept).
   */
  transformDataset(ds: Dataset): Dataset;
}

/** Options of a {@link Scaler}. */
export interface ScalerOptions {
  /** One offset/scale per feature (default true), or one for all features (the usual choice for images). */
  perFeature?: boolean;
}

function makeScaler(kind: Scaler['kind'], offset: Float32Array, scale: Float32Array, features: number): Scaler {
  const transform = (input: Tensor): Tensor => {
    const x = tensorArg(`${kind} scaler`, 'x', input);
    const n = x.shape[0] ?? 0;
    const f = n === 0 ? x.shape.slice(1).reduce((p, d) => p * d, 1) : x.data.length / n;
    if (f !== features) {
      throw new RangeError(`${kind} scaler: fitted on ${features} features, got input ${formatShape(x.shape)} with ${f}`);
    }
    const out = new Float32Array(x.data.length);
    const per = offset.length > 1;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < f; j++) {
        const k = per ? j : 0;
        out[i * f + j] = (x.data[i * f + j] - offset[k]) / scale[k];
      }
    }
    return wrap(x.shape, out);
  };
  return {
    kind,
    offset,
    scale,
    transform,
    transformDataset: (ds) => makeDataset(ds.name, transform(ds.x), ds.labels, ds.numClasses, extrasOf(ds)),
  };
}

function featuresOf(who: string, x: Tensor | Dataset): { t: Tensor; n: number; f: number } {
  const t = tensorArg(who, 'x', x !== null && typeof x === 'object' && 'labels' in x ? x.x : x, 'a Tensor or a Dataset');
  const n = t.shape[0];
  if (!n) throw new RangeError(`${who}: cannot fit on an empty input ${formatShape(t.shape)}`);
  const f = t.data.length / n;
  // One NaN would make its whole column NaN, one Infinity would collapse a min-max range.
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) {
      throw new RangeError(
        `${who}: x holds ${t.data[i]} at index ${i} (row ${Math.floor(i / f)}, feature ${i % f}); the statistics need finite values`,
      );
    }
  }
  return { t, n, f };
}

// A feature that never varies (MNIST's corner pixels) would divide by zero; it is only shifted.
const MIN_SCALE = 1e-8;

/**
 * Fits a standardisation (zero mean, unit variance) on `x`, to apply to it and to held-out data.
 * Features with zero variance are only centred. A NaN or ±Infinity in `x` is refused, naming its
 * position (it would turn its whole feature NaN).
 *
 * @example
 * const scaler = fitStandardScaler(train);
 * const [trainS, testS] = [scaler.transformDataset(train), scaler.transformDataset(test)];
 * @param x The inputs (or a dataset) the means and deviations are taken from.
 * @param options perFeature.
 */
export function fitStandardScaler(x: Tensor | Dataset, options: ScalerOptions = {}): Scaler {
  checkOptionsObject('fitStandardScaler', options, ['perFeature']);
  const { t, n, f } = featuresOf('fitStandardScaler', x);
  const per = options.perFeature ?? true;
  const k = per ? f : 1;
  const sum = new Float64Array(k);
  const sumSq = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      const v = t.data[i * f + j];
      sum[per ? j : 0] += v;
      sumSq[per ? j : 0] += v * v;
    }
  }
  const count = per ? n : n * f;
  const offset = new Float32Array(k);
  const scale = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    const mean = sum[j] / count;
    const std = Math.sqrt(Math.max(0, sumSq[j] / count - mean * mean));
    offset[j] = mean;
    scale[j] = std > MIN_SCALE ? std : 1;
  }
  return makeScaler('standard', offset, scale, f);
}

/**
 * Fits a min-max rescaling to [0, 1] on `x`. Constant features are only shifted to 0. A NaN or
 * ±Infinity in `x` is refused, naming its position (it would collapse its feature's range).
 *
 * @example
 * const scaler = fitMinMaxScaler(train, { perFeature: false });
 * @param x The inputs (or a dataset) the ranges are taken from.
 * @param options perFeature.
 */
export function fitMinMaxScaler(x: Tensor | Dataset, options: ScalerOptions = {}): Scaler {
  checkOptionsObject('fitMinMaxScaler', options, ['perFeature']);
  const { t, n, f } = featuresOf('fitMinMaxScaler', x);
  const per = options.perFeature ?? true;
  const k = per ? f : 1;
  const lo = new Float32Array(k).fill(Infinity);
  const hi = new Float32Array(k).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      const v = t.data[i * f + j];
      const c = per ? j : 0;
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  }
  const scale = new Float32Array(k);
  for (let j = 0; j < k; j++) scale[j] = hi[j] - lo[j] > MIN_SCALE ? hi[j] - lo[j] : 1;
  return makeScaler('minmax', lo, scale, f);
}

/** Result of `standardize` / `normalize`: the rescaled datasets and the fitted scaler. */
export interface ScaledSplit {
  train: Dataset;
  test?: Dataset;
  scaler: Scaler;
}

/**
 * Standardises `train` with statistics fitted on `train` only, and applies the same transform to
 * `test` (which must not influence the fit).
 *
 * @example
 * const { train: tr, test: te } = standardize(train, test, { perFeature: false });
 * @param train The dataset the means and deviations are taken from.
 * @param test Another dataset scaled with them.
 * @param options perFeature.
 */
export function standardize(train: Dataset, test?: Dataset, options: ScalerOptions = {}): ScaledSplit {
  const scaler = fitStandardScaler(train, options);
  return { train: scaler.transformDataset(train), test: test && scaler.transformDataset(test), scaler };
}

/**
 * Min-max rescales `train` to [0, 1] with the range of `train`, and `test` with the same transform
 * (so test values may fall slightly outside [0, 1]).
 *
 * @example
 * const { train: tr, test: te } = normalize(train, test);
 * @param train The dataset the ranges are taken from.
 * @param test Another dataset scaled with them.
 * @param options perFeature.
 */
export function normalize(train: Dataset, test?: Dataset, options: ScalerOptions = {}): ScaledSplit {
  const scaler = fitMinMaxScaler(train, options);
  return { train: scaler.transformDataset(train), test: test && scaler.transformDataset(test), scaler };
}

/**
 * Views flat features `(batch, L)` as a one-channel sequence `(batch, L, 1)`, and images
 * `(batch, height, width, chan)` as the sequence of their pixels in reading order,
 * `(batch, height * width, chan)` — the channels-last input of Conv1D. No copy: a USPS image
 * `(16, 16, 1)` and its flat form `(256)` give the same `(256, 1)` sequence.
 *
 * @example
 * const seq = toSequence(loadUSPS()); // x: (7291, 16, 16, 1) → (7291, 256, 1)
 * @param ds A dataset of flat features `(n, L)` or images `(n, h, w, c)`.
 * @returns The same dataset with `x` viewed as `(n, L, 1)` or `(n, h * w, c)`.
 */
export function toSequence(ds: Dataset): Dataset;
/**
 * Views a `(batch, L)` tensor as `(batch, L, 1)`, or images `(batch, h, w, c)` as
 * `(batch, h * w, c)`, the channels-last input of Conv1D. No copy.
 * @param x A 2-D or 4-D tensor.
 */
export function toSequence(x: Tensor): Tensor;
export function toSequence(input: Dataset | Tensor): Dataset | Tensor {
  if ('labels' in input) {
    return makeDataset(input.name, toSequence(input.x), input.labels, input.numClasses, extrasOf(input));
  }
  const s = input.shape;
  if (s.length === 2) return reshape(input, [s[0], s[1], 1]);
  if (s.length === 4) return reshape(input, [s[0], s[1] * s[2], s[3]]);
  throw new RangeError(
    `toSequence: expected features (batch, length) or images (batch, height, width, chan), got ${formatShape(input.shape)}`,
  );
}

/**
 * Views each example as one row of features: `(batch, ...)` → `(batch, product of the rest)`,
 * e.g. images `(n, 28, 28, 1)` → `(n, 784)`, the input of `Linear`. Pixels stay in reading order
 * with the channels innermost, as the `Flatten` layer orders them. No copy.
 *
 * @example
 * const flat = flatten(loadMNIST()); // x: (60000, 28, 28, 1) → (60000, 784)
 * @param ds A dataset whose examples have any shape.
 * @returns The same dataset with `x` viewed as `(n, features)`.
 */
export function flatten(ds: Dataset): Dataset;
/**
 * Views a `(batch, ...)` tensor as `(batch, product of the rest)`. No copy.
 * @param x A tensor with a batch axis.
 */
export function flatten(x: Tensor): Tensor;
export function flatten(input: Dataset | Tensor): Dataset | Tensor {
  if ('labels' in input) {
    return makeDataset(input.name, flatten(input.x), input.labels, input.numClasses, extrasOf(input));
  }
  if (input.shape.length < 1) throw new RangeError(`flatten: expected a batch axis (batch, ...), got ${formatShape(input.shape)}`);
  if (input.shape.length === 2) return input;
  return reshape(input, [input.shape[0], input.shape.slice(1).reduce((p, d) => p * d, 1)]);
}

/** Checks the `flatten` option of a loader: a boolean, or absent for false. @internal */
export function checkFlatten(value: unknown, who: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${who}: flatten must be true or false, got ${typeof value === 'string' ? `"${value}"` : String(value)}`);
  }
  return value;
}
