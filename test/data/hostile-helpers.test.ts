/** Hostile inputs to the dataset helpers: a clear error naming the function, never a crash or a wrong value. */
import {
  batches,
  classCounts,
  fitMinMaxScaler,
  fitStandardScaler,
  makeDataset,
  numBatches,
  oneHot,
  parseUSPS,
  permutation,
  shuffle,
  subset,
  trainTestSplit,
} from '../../lib/data';
import { Rng } from '../../lib/random';

const four = (numClasses: number) =>
  makeDataset('four', { shape: [4, 1], data: Float32Array.of(0, 1, 2, 3) }, Int32Array.of(0, 1, 0, 1), numClasses);

describe('numClasses is capped at 2^24', () => {
  test('makeDataset, classCounts and oneHot refuse a numClasses the dense arrays could not hold', () => {
    expect(() => four(1e8)).toThrow('dataset four: numClasses must be an integer in [1, 2^24], got 100000000');
    expect(() => four(1e12)).toThrow('dataset four: numClasses must be an integer in [1, 2^24], got 1000000000000');
    expect(() => four('2' as never)).toThrow('dataset four: numClasses must be an integer in [1, 2^24], got string 2');
    expect(() => classCounts(new Int32Array(1), 1e9)).toThrow('classCounts: numClasses must be an integer in [1, 2^24], got 1000000000');
    expect(() => classCounts(new Int32Array(1), 2 ** 32)).toThrow(/classCounts: numClasses must be an integer/);
    expect(() => classCounts([0] as never, 2)).toThrow('classCounts: labels must be an Int32Array, got Array(1)');
    expect(() => oneHot([0], 2 ** 31)).toThrow('oneHot: numClasses must be an integer in [1, 2^24], got 2147483648');
    expect(() => oneHot(new Int32Array(1e5), 1e5)).toThrow('oneHot: [100000, 100000] has more than 2^32 elements');
    expect(() => oneHot(null as never, 2)).toThrow('oneHot: labels must be an array of class indices, got null');
    expect(() => makeDataset('n', null as never, new Int32Array(0), 2)).toThrow('dataset n: x must be a Tensor, got null');
    expect(classCounts(Int32Array.of(0, 2, 2), 3)).toEqual([1, 0, 2]);
    expect(four(2 ** 24).numClasses).toBe(2 ** 24);
  });

  test('a stratified split costs what the examples cost, not what numClasses does', () => {
    const start = Date.now();
    const wide = trainTestSplit(four(2 ** 24), { stratify: true, testFraction: 0.5, seed: 3 });
    expect(Date.now() - start).toBeLessThan(2000);
    const narrow = trainTestSplit(four(2), { stratify: true, testFraction: 0.5, seed: 3 });
    expect(Array.from(wide.testIndices)).toEqual(Array.from(narrow.testIndices));
    expect(Array.from(wide.test.labels).sort()).toEqual([0, 1]);
  });

  test('a USPS course header declaring more classes is refused at the header', () => {
    expect(() => parseUSPS('100000000 1\n0 1\n')).toThrow(
      'USPS text: line 1: the header declares 100000000 classes, more than the 2^24 a dataset may have',
    );
  });
});

describe('split helpers check their arguments', () => {
  test('permutation and numBatches take integers in range', () => {
    expect(() => permutation(2.5)).toThrow('permutation: n must be an integer in [0, 2^31 - 1], got 2.5');
    expect(() => permutation(-5)).toThrow('permutation: n must be an integer in [0, 2^31 - 1], got -5');
    expect(() => permutation(2 ** 31 + 5)).toThrow('permutation: n must be an integer in [0, 2^31 - 1], got 2147483653');
    expect(() => permutation(3, {} as never)).toThrow('permutation: rng must be an Rng, got object');
    expect(Array.from(permutation(5, new Rng(1))).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(() => numBatches(10, 0)).toThrow('numBatches: batchSize must be a positive integer, got 0');
    expect(() => numBatches(10, -3)).toThrow('numBatches: batchSize must be a positive integer, got -3');
    expect(() => numBatches(-1, 3)).toThrow('numBatches: n must be an integer ≥ 0, got -1');
    expect(numBatches(10, 3)).toBe(4);
    expect(numBatches(10, 3, true)).toBe(3);
  });

  test('testFraction, rng and indices are checked before use', () => {
    const ds = four(2);
    expect(() => trainTestSplit(ds, { testFraction: '0.5' as never })).toThrow(
      'trainTestSplit: testFraction must be in (0, 1), got string 0.5',
    );
    expect(() => trainTestSplit(ds, { rng: {} as never })).toThrow('trainTestSplit: rng must be an Rng, got object');
    expect(() => shuffle(ds, { rng: 5 as never })).toThrow('shuffle: rng must be an Rng, got number 5');
    expect(() => [...batches(ds, 2, { shuffle: true, rng: {} as never })]).toThrow('batches: rng must be an Rng, got object');
    expect(() => shuffle(ds, null as never)).toThrow('shuffle: options must be an object, got null');
    const start = Date.now();
    expect(() => subset(ds, { length: 2 ** 28 } as never)).toThrow('subset of four: index undefined at position 0 is outside [0, 4)');
    expect(Date.now() - start).toBeLessThan(1000);
    expect(() => subset(ds, null as never)).toThrow('subset of four: indices must be an array of row indices, got null');
    // Indices that change after their check (shared memory a Worker writes): the values checked are used.
    let reads = 0;
    const changing = {
      length: 1,
      get 0() {
        return reads++ === 0 ? 1 : -2; // -2 would take a row counted from the end
      },
    };
    const taken = subset(ds, changing);
    expect(Array.from(taken.x.data)).toEqual([1]);
    expect(Array.from(taken.labels)).toEqual([1]);
  });

  test('scalers refuse non-finite values by position, and data that does not fill the shape', () => {
    const nan = { shape: [3, 2], data: Float32Array.of(1, 2, NaN, 3, 5, 6) };
    expect(() => fitStandardScaler(nan)).toThrow(
      'fitStandardScaler: x holds NaN at index 2 (row 1, feature 0); the statistics need finite values',
    );
    const inf = { shape: [3, 2], data: Float32Array.of(1, 2, 4, 3, 5, -Infinity) };
    expect(() => fitMinMaxScaler(inf)).toThrow(
      'fitMinMaxScaler: x holds -Infinity at index 5 (row 2, feature 1); the statistics need finite values',
    );
    const start = Date.now();
    expect(() => fitStandardScaler({ shape: [1e9, 2], data: new Float32Array(4) })).toThrow(
      'fitStandardScaler: x of shape (1000000000, 2) needs 2000000000 values, its data holds 4',
    );
    expect(Date.now() - start).toBeLessThan(1000);
    expect(() => fitStandardScaler(null as never)).toThrow('fitStandardScaler: x must be a Tensor or a Dataset, got null');
    expect(() => fitMinMaxScaler(undefined as never)).toThrow('fitMinMaxScaler: x must be a Tensor or a Dataset, got undefined');
    const ok = fitStandardScaler({ shape: [2, 1], data: Float32Array.of(1, 3) });
    expect(() => ok.transform(null as never)).toThrow('standard scaler: x must be a Tensor, got null');
    expect(Array.from(ok.transform({ shape: [2, 1], data: Float32Array.of(1, 3) }).data)).toEqual([-1, 1]);
  });
});
