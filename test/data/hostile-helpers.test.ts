/** Hostile inputs to the dataset helpers: a clear error naming the function, never a crash or a wrong value. */
import { classCounts, makeDataset, oneHot, parseUSPS, trainTestSplit } from '../../lib/data';

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
