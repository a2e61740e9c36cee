/** Making tensors and reading them back: the one way of issue 20, and the old order's deprecation. */
import {
  tensor,
  fromArray,
  toArray,
  argmaxRows,
  zeros,
  wrap,
  full,
  rand,
  randn,
  reshape,
  sliceRows,
  describe as describeValue,
  sizeOf,
} from '../lib/tensor';
import { Rng } from '../lib/random';
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
  // In the old order with data of another length: said as that (before, "shape must be an array
  // of dimensions, got Float32Array(7)").
  expect(() => tensor([2, 3], new Float32Array(7))).toThrow(
    new RangeError(
      'tensor: shape (2, 3) needs 6 values, its data holds 7 (the former order tensor(shape, data); the arguments are now (values, shape))',
    ),
  );
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

describe('hostile inputs get a clear error, never a hang, a crash or a wrong value', () => {
  test('an array that contains itself, or nested past 64 levels, is refused', () => {
    const cycle: unknown[] = [];
    cycle.push(cycle);
    expect(() => tensor(cycle as never)).toThrow('tensor: values are nested more than 64 arrays deep (does the array contain itself?)');
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = [deep];
    expect(() => fromArray(deep as never)).toThrow(/fromArray: values are nested more than 64 arrays deep/);
    let ok: unknown = 1;
    for (let i = 0; i < 64; i++) ok = [ok];
    expect(tensor(ok as never).shape).toHaveLength(64);
  });

  test('holes in sparse arrays are refused by index, before anything is allocated', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => tensor([1, , 3] as never)).toThrow('tensor: values[1] is a hole (a sparse array), expected a number');
    const ragged: number[][] = [[1, 2], new Array(2)];
    ragged[1][0] = 3;
    expect(() => fromArray(ragged)).toThrow('fromArray: values[1][1] is a hole (a sparse array), expected a number');
    const start = Date.now();
    expect(() => tensor(new Array(2 ** 28))).toThrow('tensor: values[0] is a hole (a sparse array), expected a number');
    expect(Date.now() - start).toBeLessThan(2000);
    // An explicit undefined is no hole, but still not a number.
    expect(() => tensor([1, undefined as never])).toThrow('tensor: values[1] is undefined, expected a number');
  });

  test('argmaxRows checks the data against the shape before looping over it', () => {
    expect(() => argmaxRows({ shape: [5e8, 2], data: new Float32Array(2) })).toThrow(
      'argmaxRows: a tensor of shape (500000000, 2) needs 1000000000 values, its data holds 2',
    );
    expect(() => argmaxRows({ shape: [-1, 2], data: new Float32Array(2) })).toThrow(/argmaxRows: dimensions must be integers/);
    expect(() => argmaxRows(zeros([3, 0]))).toThrow('argmaxRows: rows of 0 columns (3, 0) have no largest value');
    expect(Array.from(argmaxRows(zeros([0, 3])))).toEqual([]);
  });

  test('toArray refuses to build millions of empty arrays for a tensor of no values', () => {
    const start = Date.now();
    expect(() => toArray(zeros([2 ** 26, 0]))).toThrow(
      'toArray: a tensor of shape (67108864, 0) holds no values, but its nested form would need 67108865 empty arrays (at most 2^24)',
    );
    expect(() => toArray(zeros([2 ** 32, 0]))).toThrow(/toArray: a tensor of shape \(4294967296, 0\) holds no values/);
    expect(Date.now() - start).toBeLessThan(2000);
    expect(toArray(zeros([3, 0, 5]))).toEqual([[], [], []]);
    expect(() => toArray(zeros(new Array(65).fill(1)))).toThrow('toArray: a tensor of 65 dimensions would nest arrays more than 64 deep');
  });

  test('sliceRows takes 0 ≤ start ≤ end ≤ rows', () => {
    const t = fromArray([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
    expect(toArray(sliceRows(t, 1, 3))).toEqual([
      [3, 4],
      [5, 6],
    ]);
    expect(sliceRows(t, 4, 4).shape).toEqual([0, 2]);
    const expected = 'sliceRows: expected integers 0 ≤ start ≤ end ≤ 4 (the rows of (4, 2)), got';
    expect(() => sliceRows(t, 3, 1)).toThrow(`${expected} start 3 and end 1`);
    expect(() => sliceRows(t, 2, 10)).toThrow(`${expected} start 2 and end 10`);
    expect(() => sliceRows(t, NaN, 1)).toThrow(`${expected} start NaN and end 1`);
    expect(() => sliceRows(t, -1, 1)).toThrow(`${expected} start -1 and end 1`);
    expect(() => sliceRows(tensor(1), 0, 0)).toThrow('sliceRows: t must have a first axis');
    expect(() => sliceRows(null as never, 0, 0)).toThrow('sliceRows: t must be a Tensor, got null');
  });

  test('full and rand check their numbers', () => {
    expect(() => full([2], 'x' as never)).toThrow('full: value must be a number within the float32 range (±3.4e38), got string x');
    expect(() => full([2], 1e39)).toThrow(/full: value must be a number within the float32 range/);
    expect(Array.from(full([2], -Infinity).data)).toEqual([-Infinity, -Infinity]);
    expect(Number.isNaN(full([1], NaN).data[0])).toBe(true);
    expect(() => rand([3], 5, 1)).toThrow('rand: low must be at most high, got low 5 and high 1');
    expect(() => rand([3], NaN, 1)).toThrow('rand: low must be a finite number within the float32 range (±3.4e38), got number NaN');
    expect(() => rand([3], 0, Infinity)).toThrow(/rand: high must be a finite number/);
    expect(Array.from(rand([2], 2, 2, new Rng(1)).data)).toEqual([2, 2]);
    const r = rand([100], -3, 5, new Rng(1)).data;
    expect(r.every((v) => v >= -3 && v < 5)).toBe(true);
  });

  test('null and junk arguments are named, not left to the engine', () => {
    expect(() => reshape(zeros([2]), null as never)).toThrow('reshape: shape must be an array of dimensions, got null');
    expect(() => reshape(zeros([2]), 2 as never)).toThrow('reshape: shape must be an array of dimensions, got number 2');
    expect(() => reshape(null as never, [2])).toThrow('reshape: t must be a Tensor, got null');
    expect(() => reshape(zeros([4]), [-1, -1])).toThrow('reshape: shape (-1, -1) has more than one -1');
    expect(reshape(zeros([4]), [2, -1]).shape).toEqual([2, 2]);
    expect(() => randn([2], null as never)).toThrow('randn: rng must be an Rng, got null');
    expect(() => randn([2], {} as never)).toThrow('randn: rng must be an Rng, got object');
    expect(() => randn('3' as never)).toThrow('randn: shape must be an array of dimensions, got string 3');
    expect(() => rand([2], 0, 1, 5 as never)).toThrow('rand: rng must be an Rng, got number 5');
    expect(() => zeros(null as never)).toThrow('zeros: shape must be an array of dimensions, got null');
  });
});

describe('describe() keeps error messages to one short line', () => {
  test('a class or a function is named, never printed as its source', () => {
    class ReLULike {
      forward(x: number): number {
        return x > 0 ? x : 0;
      }
    }
    function relu(x: number): number {
      return x > 0 ? x : 0;
    }
    expect(describeValue(ReLULike)).toBe('the class ReLULike');
    expect(describeValue(relu)).toBe('the function relu');
    expect(describeValue(class {})).toBe('a class');
    expect(describeValue([() => 1][0])).toBe('a function');
    expect(describeValue(Math.max)).toBe('the function max');
    // What a message built on it shows.
    expect(() => zeros(ReLULike as never)).toThrow(new TypeError('zeros: shape must be an array of dimensions, got the class ReLULike'));
  });

  test('a long or multi-line string, a huge shape, a long number are cut, saying how long they were', () => {
    expect(describeValue('yes')).toBe('string yes');
    expect(describeValue('x'.repeat(40))).toBe(`string ${'x'.repeat(40)}`);
    expect(describeValue('x'.repeat(5000))).toBe(`string ${'x'.repeat(40)}… (5000 characters)`);
    expect(describeValue('first line\nsecond line')).toBe('string first line… (22 characters)');
    expect(describeValue(10n ** 100n)).toBe(`bigint 1${'0'.repeat(39)}… (101 characters)`);
    const longShape = new Array(1000).fill(1);
    expect(describeValue({ shape: longShape, data: new Float32Array(1) })).toBe(`Tensor(${'1, '.repeat(16)}… (1000 entries))`);
    expect(describeValue({ shape: ['x'.repeat(100), {}], data: [1] })).toBe(
      `an object of shape (${'x'.repeat(40)}… (100 characters), object) whose data is Array(1), not a Float32Array`,
    );
    expect(describeValue({ constructor: { name: 'N'.repeat(100) } })).toBe(`${'N'.repeat(40)}… (100 characters)`);
    expect(describeValue(new DataView(new ArrayBuffer(8)))).toBe('DataView(8 bytes)');
    // sizeOf's refusal of a shape lists at most 16 of its entries.
    expect(() => sizeOf(new Array(1000).fill(-1))).toThrow(
      new RangeError(`shape: dimensions must be integers in [0, 2^32], got [${'-1, '.repeat(16)}… (1000 entries)]`),
    );
    expect(() => sizeOf(new Array(20).fill(2 ** 20))).toThrow(/^shape: \[(1048576, ){16}… \(20 entries\)\] has more than 2\^32 elements$/);
    // Short shapes are shown whole, as before.
    expect(describeValue(zeros([2, 3]))).toBe('Tensor(2, 3)');
  });
});
