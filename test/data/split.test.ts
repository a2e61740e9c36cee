import { Rng } from '../../lib/random';
import { fromArray } from '../../lib/tensor';
import { oneHot as rootOneHot } from '../../lib';
import {
  Dataset,
  batches,
  classCounts,
  fitMinMaxScaler,
  fitStandardScaler,
  makeDataset,
  normalize,
  numBatches,
  oneHot,
  shuffle,
  standardize,
  subset,
  toSequence,
  flatten,
  trainTestSplit,
} from '../../lib/data';

/** n examples of 3 features; row i is [i, 10 i, -i], label from the given pattern. */
function ramp(n: number, label: (i: number) => number, numClasses: number): Dataset {
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) x.set([i, 10 * i, -i], 3 * i);
  return makeDataset(
    'ramp',
    { shape: [n, 3], data: x },
    Int32Array.from({ length: n }, (_, i) => label(i)),
    numClasses,
  );
}

/** Example ids, recovered from the first feature. */
const ids = (ds: Dataset): number[] => Array.from({ length: ds.labels.length }, (_, i) => ds.x.data[3 * i]);

describe('oneHot and makeDataset', () => {
  test('oneHot', () => {
    const t = oneHot(Int32Array.of(2, 0, 1), 3);
    expect(t.shape).toEqual([3, 3]);
    expect(Array.from(t.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
    expect(() => oneHot([0, 3], 3)).toThrow('oneHot: label 3 at index 1 is not a class index, an integer in [0, 3)');
    expect(() => oneHot([1.5], 3)).toThrow('oneHot: label 1.5 at index 0 is not a class index, an integer in [0, 3)');
    // One function, from both entry points, taking a tensor of labels too.
    expect(rootOneHot).toBe(oneHot);
    expect(Array.from(oneHot(fromArray([2, 0]), 3).data)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => oneHot(fromArray([[2, 0]]), 3)).toThrow('oneHot: a tensor of labels must have shape (n) or (n, 1), got (1, 2)');
    expect(Array.from(oneHot(fromArray([[2], [0]]), 3).data)).toEqual([0, 0, 1, 1, 0, 0]); // a column of labels
  });

  test('makeDataset checks labels against x', () => {
    expect(() => makeDataset('d', fromArray([[1], [2]]), Int32Array.of(0), 2)).toThrow(
      'dataset d: x has 2 rows (2, 1) but there are 1 labels',
    );
    expect(() => makeDataset('d', fromArray([[1], [2]]), Int32Array.of(0, 2), 2)).toThrow('label 2 at index 1 is outside [0, 2)');
  });
});

describe('subset and shuffle', () => {
  test('subset copies the given rows in order', () => {
    const ds = ramp(10, (i) => i % 2, 2);
    const s = subset(ds, [7, 2, 2]);
    expect(ids(s)).toEqual([7, 2, 2]);
    expect(Array.from(s.labels)).toEqual([1, 0, 0]);
    s.x.data[0] = -99;
    expect(ds.x.data[21]).toBe(7);
    expect(() => subset(ds, [10])).toThrow('subset of ramp: index 10 at position 0 is outside [0, 10)');
  });

  test('shuffle is a permutation, reproducible with a seed', () => {
    const ds = ramp(50, (i) => i % 5, 5);
    const a = shuffle(ds, { seed: 1 });
    expect(ids(a).sort((p, q) => p - q)).toEqual(ids(ds));
    expect(ids(a)).not.toEqual(ids(ds));
    expect(ids(shuffle(ds, { seed: 1 }))).toEqual(ids(a));
    for (let i = 0; i < 50; i++) expect(a.labels[i]).toBe(ids(a)[i] % 5);
  });

  test("options a function does not take are refused, other libraries' names pointed to ours", () => {
    const ds = ramp(50, (i) => i % 5, 5);
    const anyOptions = (o: unknown): never => o as never;
    expect(() => trainTestSplit(ds, anyOptions({ test_size: 0.3 }))).toThrow(
      "trainTestSplit: unknown option 'test_size' (did you mean 'testFraction'?); valid options: testFraction, stratify, seed, rng",
    );
    expect(() => shuffle(ds, anyOptions({ random_state: 1 }))).toThrow("shuffle: unknown option 'random_state'; valid options: seed, rng");
    expect(() => batches(ds, 8, anyOptions({ drop_last: true })).next()).toThrow(
      "batches: unknown option 'drop_last' (did you mean 'dropLast'?)",
    );
    expect(() => fitStandardScaler(ds, anyOptions({ axis: 0 }))).toThrow(
      "fitStandardScaler: unknown option 'axis'; valid options: perFeature",
    );
    expect(() => fitMinMaxScaler(ds, anyOptions(0.5))).toThrow('fitMinMaxScaler: options must be an object, got number 0.5');
  });
});

describe('trainTestSplit', () => {
  const ds = ramp(1000, (i) => (i < 700 ? 0 : i < 900 ? 1 : 2), 3);

  test('sizes, no overlap, covers everything, rows follow their labels', () => {
    const { train, test, trainIndices, testIndices } = trainTestSplit(ds, { testFraction: 0.33, seed: 3 });
    expect(test.labels.length).toBe(330);
    expect(train.labels.length).toBe(670);
    const all = [...trainIndices, ...testIndices].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(new Set(ids(train)).size).toBe(670);
    expect(ids(test)).toEqual(Array.from(testIndices));
    for (let k = 0; k < test.labels.length; k++) expect(test.labels[k]).toBe(ds.labels[testIndices[k]]);
  });

  test('reproducible with a seed, different with another', () => {
    const a = trainTestSplit(ds, { seed: 5 }).testIndices;
    expect(Array.from(trainTestSplit(ds, { seed: 5 }).testIndices)).toEqual(Array.from(a));
    expect(Array.from(trainTestSplit(ds, { seed: 6 }).testIndices)).not.toEqual(Array.from(a));
    const r1 = new Rng(9);
    const r2 = new Rng(9);
    expect(Array.from(trainTestSplit(ds, { rng: r1 }).testIndices)).toEqual(Array.from(trainTestSplit(ds, { rng: r2 }).testIndices));
  });

  test('stratified: each class keeps its proportion exactly (largest remainder)', () => {
    const { train, test } = trainTestSplit(ds, { testFraction: 0.25, seed: 1, stratify: true });
    expect(classCounts(test.labels, 3)).toEqual([175, 50, 25]);
    expect(classCounts(train.labels, 3)).toEqual([525, 150, 75]);
    const odd = makeDataset('odd', ramp(11, () => 0, 3).x, Int32Array.of(0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2), 3);
    const s = trainTestSplit(odd, { testFraction: 0.5, seed: 2, stratify: true });
    expect(s.test.labels.length).toBe(6); // round(5.5)
    const counts = classCounts(s.test.labels, 3);
    expect(counts.reduce((p, q) => p + q)).toBe(6);
    counts.forEach((c, k) => expect(Math.abs(c - [5, 3, 3][k] / 2)).toBeLessThanOrEqual(1));
    // Unequal remainders: quotas 2.1, 0.6, 0.3 of round(3.0) = 3; the sample left after the floors
    // goes to the largest remainder, class 1 (not to class 0, which already has its two).
    const skewed = makeDataset('skewed', ramp(10, () => 0, 3).x, Int32Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 2), 3);
    for (const seed of [1, 2, 3])
      expect(classCounts(trainTestSplit(skewed, { testFraction: 0.3, seed, stratify: true }).test.labels, 3)).toEqual([2, 1, 0]);
  });

  test('an unstratified split of a skewed set is not exactly proportional (the option matters)', () => {
    const props = [1, 2, 3, 4, 5].map((seed) => classCounts(trainTestSplit(ds, { testFraction: 0.25, seed }).test.labels, 3)[2]);
    expect(props.some((c) => c !== 25)).toBe(true);
  });

  test('argument checks', () => {
    expect(() => trainTestSplit(ds, { testFraction: 1 })).toThrow('testFraction must be in (0, 1), got 1');
    expect(() =>
      trainTestSplit(
        ramp(3, () => 0, 1),
        { testFraction: 0.1 },
      ),
    ).toThrow('leaves the test part empty');
    expect(() => trainTestSplit(ds, { seed: 1, rng: new Rng(1) })).toThrow('pass seed or rng, not both');
  });
});

describe('batches', () => {
  const ds = ramp(10, (i) => i % 3, 3);

  test('in order: sizes, views, last partial batch', () => {
    const got = [...batches(ds, 4)];
    expect(got.map((b) => b.x.shape)).toEqual([
      [4, 3],
      [4, 3],
      [2, 3],
    ]);
    expect(got.map((b) => Array.from(b.indices))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(got[1].x.data.buffer).toBe(ds.x.data.buffer); // a view, no copy
    expect(Array.from(got[2].labels)).toEqual([2, 0]);
    expect([...batches(ds, 4, { dropLast: true })].length).toBe(2);
    expect(numBatches(10, 4)).toBe(3);
    expect(numBatches(10, 4, true)).toBe(2);
  });

  test('shuffled: covers every example once per epoch, copies, rows match labels, reproducible', () => {
    const epoch = [...batches(ds, 3, { shuffle: true, seed: 11 })];
    const seen = epoch.flatMap((b) => Array.from(b.indices));
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const b of epoch) {
      expect(b.x.data.buffer).not.toBe(ds.x.data.buffer);
      b.indices.forEach((src, k) => {
        expect(b.x.data[3 * k]).toBe(src);
        expect(b.labels[k]).toBe(ds.labels[src]);
      });
    }
    const again = [...batches(ds, 3, { shuffle: true, seed: 11 })].flatMap((b) => Array.from(b.indices));
    expect(again).toEqual(seen);
    const rng = new Rng(4);
    const e1 = [...batches(ds, 10, { shuffle: true, rng })][0].indices;
    const e2 = [...batches(ds, 10, { shuffle: true, rng })][0].indices;
    expect(Array.from(e1)).not.toEqual(Array.from(e2)); // a held generator gives a new order each epoch
  });

  test('keeps trailing axes (sequence data)', () => {
    const seq = toSequence(ds);
    const b = [...batches(seq, 4, { shuffle: true, seed: 1 })][0];
    expect(b.x.shape).toEqual([4, 3, 1]);
  });

  test('batch size must be a positive integer', () => {
    expect(() => [...batches(ds, 0)]).toThrow('batches: batchSize must be a positive integer, got 0');
  });
});

describe('scalers', () => {
  const train = makeDataset(
    'tr',
    fromArray([
      [0, 10, 5],
      [2, 30, 5],
      [4, 50, 5],
    ]),
    Int32Array.of(0, 1, 0),
    2,
  );
  const held = makeDataset('te', fromArray([[6, 10, 5]]), Int32Array.of(1), 2);

  test('standardize fits on train only and applies the same transform to test', () => {
    const { train: tr, test: te, scaler } = standardize(train, held);
    expect(Array.from(scaler.offset)).toEqual([2, 30, 5]);
    const sd = Math.sqrt(8 / 3);
    expect(scaler.scale[0]).toBeCloseTo(sd, 6);
    expect(scaler.scale[2]).toBe(1); // constant feature: only centred
    expect(tr.x.data[0]).toBeCloseTo(-2 / sd, 5);
    expect(te!.x.data[0]).toBeCloseTo(4 / sd, 5); // test mean would give 0 if it leaked into the fit
    expect(te!.x.data[2]).toBe(0);
    expect(train.x.data[0]).toBe(0); // input untouched
  });

  test('normalize (min-max) and global statistics', () => {
    const { train: tr, test: te } = normalize(train, held);
    expect(Array.from(tr.x.data)).toEqual([0, 0, 0, 0.5, 0.5, 0, 1, 1, 0]);
    expect(te!.x.data[0]).toBe(1.5);
    const g = fitMinMaxScaler(train, { perFeature: false });
    expect([g.offset[0], g.scale[0]]).toEqual([0, 50]);
    const s = fitStandardScaler(train.x, { perFeature: false });
    expect(s.offset.length).toBe(1);
    expect(s.offset[0]).toBeCloseTo(111 / 9, 5);
    expect(() => s.transform(fromArray([[1, 2]]))).toThrow('standard scaler: fitted on 3 features, got input (1, 2) with 2');
  });
});

describe('toSequence', () => {
  test('(batch, L) → (batch, L, 1), sharing the buffer', () => {
    const ds = ramp(4, () => 0, 1);
    const seq = toSequence(ds);
    expect(seq.x.shape).toEqual([4, 3, 1]);
    expect(seq.x.data).toBe(ds.x.data);
    expect(seq.labels).toBe(ds.labels);
    expect(() => toSequence(seq.x)).toThrow(
      'toSequence: expected features (batch, length) or images (batch, height, width, chan), got (4, 3, 1)',
    );
  });

  test('images (batch, h, w, c) → the pixels in reading order (batch, h·w, c), sharing the buffer', () => {
    const x = { shape: [2, 2, 3, 2], data: Float32Array.from({ length: 24 }, (_, i) => i) };
    const seq = toSequence(x);
    expect(seq.shape).toEqual([2, 6, 2]);
    expect(seq.data).toBe(x.data);
    // Pixel (row 1, column 2) of image 1 is sequence position 1·3 + 2 = 5, channel 1 at 12 + 5·2 + 1.
    expect(seq.data[1 * 12 + 5 * 2 + 1]).toBe(23);
  });
});

describe('flatten', () => {
  test('(batch, ...) → (batch, features), sharing the buffer, keeping labels and imageShape', () => {
    const x = { shape: [2, 2, 3, 1], data: Float32Array.from({ length: 12 }, (_, i) => i) };
    const ds = makeDataset('img', x, Int32Array.of(0, 1), 2, { imageShape: [2, 3] });
    const flat = flatten(ds);
    expect(flat.x.shape).toEqual([2, 6]);
    expect(flat.x.data).toBe(x.data);
    expect(flat.labels).toBe(ds.labels);
    expect(flat.imageShape).toEqual([2, 3]);
    expect(flatten(flat.x)).toBe(flat.x); // already flat: unchanged
    expect(flatten({ shape: [3], data: new Float32Array(3) }).shape).toEqual([3, 1]);
    expect(() => flatten({ shape: [], data: new Float32Array(1) })).toThrow('flatten: expected a batch axis (batch, ...), got ()');
  });
});
