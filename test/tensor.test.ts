/** Making tensors and reading them back: the one way of issue 20, and the old order's deprecation. */
import { tensor, fromArray, toArray, argmaxRows, zeros, wrap } from '../lib/tensor';
import { fromOneHot } from '../lib/losses';

test("tensor(values, shape?) takes nested arrays, or a flat array plus a shape, in tf.tensor's order", () => {
  const nested = tensor([
    [1, 2],
    [3, 4],
  ]);
  expect(nested.shape).toEqual([2, 2]);
  expect(Array.from(nested.data)).toEqual([1, 2, 3, 4]);
  expect(toArray(tensor([1, 2, 3, 4, 5, 6], [2, 3]))).toEqual([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  expect(tensor([1, 2, 3]).shape).toEqual([3]);
  expect(tensor(7).shape).toEqual([]);
  expect(toArray(tensor(7))).toBe(7);
  // Typed arrays: a Float32Array is wrapped (no copy), others are converted.
  const buffer = new Float32Array(6);
  const wrapped = tensor(buffer, [3, 2]);
  expect(wrapped.data).toBe(buffer);
  expect(toArray(tensor(Int32Array.of(1, 2, 3, 4), [2, 2]))).toEqual([
    [1, 2],
    [3, 4],
  ]);
  // Nested arrays with a matching shape, and a 3-d round trip.
  expect(tensor([[1, 2]], [1, 2]).shape).toEqual([1, 2]);
  const cube = [
    [
      [1, 2],
      [3, 4],
    ],
    [
      [5, 6],
      [7, 8],
    ],
  ];
  expect(toArray(tensor(cube))).toEqual(cube);
});

test('fromArray takes typed arrays too (it always copies); toArray gives nested arrays back', () => {
  const values = new Float32Array(4);
  const t = fromArray(values);
  expect(t.shape).toEqual([4]);
  expect(t.data).not.toBe(values);
  expect(toArray(fromArray(new Float64Array([1, 2, 3, 4]), [2, 2]))).toEqual([
    [1, 2],
    [3, 4],
  ]);
  expect(toArray(zeros([2, 0]))).toEqual([[], []]);
});

test('errors say what was wrong, and a swapped (shape, values) gets the order named', () => {
  expect(() => tensor([2, 2], [1, 2, 3, 4])).toThrow(
    'tensor: shape (1, 2, 3, 4) needs 24 values, got 2; the arguments are (values, shape), as tf.tensor takes them: tensor([1, 2, 3, 4], [2, 2])?',
  );
  expect(() =>
    tensor([
      [1, 2],
      [3, 4, 5],
    ]),
  ).toThrow('tensor: ragged nested array: values[1] has 3 entries, expected an array of 2 as at values[0]');
  expect(() => tensor([[1, 'a' as unknown as number]])).toThrow(
    'tensor: values[0][1] is string a, expected a number (ragged nested array?)',
  );
  expect(() => fromArray([1, 2, 3], [2, 2])).toThrow('fromArray: shape (2, 2) needs 4 values, got 3');
  expect(() => toArray({ shape: [2], data: [1, 2] } as never)).toThrow(/toArray: expected a Tensor/);
});

test('the old tensor(shape, data) order still works, with one deprecation warning', () => {
  const warnings: string[] = [];
  const listen = (w: Error): void => void warnings.push(w.message);
  process.on('warning', listen);
  const emit = jest.spyOn(process, 'emitWarning');
  try {
    const data = Float32Array.of(1, 2, 3, 4);
    const t = tensor([2, 2], data);
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toBe(data);
    tensor([4], data);
    expect(emit).toHaveBeenCalledTimes(1);
    expect(String(emit.mock.calls[0][0])).toMatch(/tensor\(shape, data\) is deprecated/);
  } finally {
    emit.mockRestore();
    process.off('warning', listen);
  }
  expect(wrap([2], Float32Array.of(1, 2)).shape).toEqual([2]);
});

test('argmaxRows is the one name; fromOneHot is its alias', () => {
  const scores = fromArray([
    [0.1, 0.7, 0.2],
    [1, 0, 0],
    [0, 0, 0.5],
  ]);
  expect(Array.from(argmaxRows(scores))).toEqual([1, 0, 2]);
  expect(Array.from(fromOneHot(scores))).toEqual([1, 0, 2]);
  expect(() => argmaxRows(fromArray([1, 2]))).toThrow('argmaxRows: expected a (rows, cols) tensor, got Tensor(2)');
});
