import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { classCounts, loadFashionMNIST, loadMNIST, loadUSPS, parseUSPS, readUSPS, valueRange } from '../../lib/data';
import { sha256File } from '../../lib/data/download';
import { USPS_EXPECTED } from '../../lib/data/usps';
import { SHARED_DATA, tempDir, testIf } from './helpers';

const DATA = path.resolve(__dirname, '..', '..', 'data', 'usps');

function row(label: number | string, value: number | string = 0, n = 256): string {
  return `${label} ${Array.from({ length: n }, () => String(value)).join(' ')}`;
}

describe('embedded USPS', () => {
  test('shipped files are the documented ones, gzipped and small', () => {
    // The checksums in data/usps/SOURCE.md; a changed file must update them.
    expect(sha256File(path.join(DATA, 'USPS_train.txt.gz'))).toBe('5d4e43730b47eda49f12413c768659a3767d904d26d50023845b9c5c20f8a1e5');
    expect(sha256File(path.join(DATA, 'USPS_test.txt.gz'))).toBe('2ecf61f48bd829c0eaed20f1ce07dcaa79a80a64c6262a3df203448e43839f0c');
    const total = ['USPS_train.txt.gz', 'USPS_test.txt.gz'].reduce((s, f) => s + fs.statSync(path.join(DATA, f)).size, 0);
    expect(total).toBeLessThan(2 * 1024 * 1024);
  });

  test.each(['train', 'test'] as const)('%s split: rows, features, class histogram, value range', (split) => {
    const ds = loadUSPS({ split });
    const expected = USPS_EXPECTED[split];
    expect(ds.name).toBe(`usps-${split}`);
    expect(ds.x.shape).toEqual([expected.rows, 16, 16, 1]);
    expect(ds.numClasses).toBe(10);
    // { flatten: true }: the same values, in the same order, one row per digit.
    const flat = loadUSPS({ split, flatten: true });
    expect(flat.x.shape).toEqual([expected.rows, 256]);
    expect(flat.imageShape).toEqual([16, 16]);
    expect(Buffer.from(flat.x.data.buffer).equals(Buffer.from(ds.x.data.buffer))).toBe(true);
    expect(ds.imageShape).toEqual([16, 16]);
    expect(classCounts(ds.labels, 10)).toEqual([...expected.classCounts]);
    const { min, max } = valueRange(ds.x.data);
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  test('first test row matches the text file (label 9, values / 2)', () => {
    const ds = loadUSPS({ split: 'test' });
    expect(ds.labels[0]).toBe(9);
    // "9 0 0 0 0 0 0.052 0.439 1.148 1.384 ..." in USPS_test.txt
    expect(Array.from(ds.x.data.subarray(0, 9))).toEqual([0, 0, 0, 0, 0, 0.026, 0.2195, 0.574, 0.692].map(Math.fround));
  });

  test('loadUSPS rejects an unknown split and a flatten that is not a boolean', () => {
    expect(() => loadUSPS({ split: 'validation' as 'train' })).toThrow('split must be "train" or "test", got "validation"');
    expect(() => loadUSPS({ flatten: 1 as unknown as boolean })).toThrow('loadUSPS: flatten must be true or false, got 1');
  });

  test("the loaders refuse options they do not take: torchvision's train=False, root, a bare string", () => {
    const train =
      "unknown option 'train'; the test set is { split: 'test' } (torchvision's train=False), the training set { split: 'train' }, the default";
    const anyOptions = (o: unknown): never => o as never;
    expect(() => loadUSPS(anyOptions({ train: false }))).toThrow(`loadUSPS: ${train}`);
    expect(() => loadMNIST(anyOptions({ train: false }))).toThrow(`loadMNIST: ${train}`);
    expect(() => loadFashionMNIST(anyOptions({ train: false }))).toThrow(`loadFashionMNIST: ${train}`);
    expect(() => loadMNIST(anyOptions({ root: '/data' }))).toThrow(
      "loadMNIST: unknown option 'root' (did you mean 'dir'?); valid options: split, dir, cacheDir, flatten",
    );
    // The split given as the argument itself: where it goes is said.
    expect(() => loadUSPS(anyOptions('test'))).toThrow(
      "loadUSPS: options must be an object, got string 'test'; the split is an option: loadUSPS({ split: 'test' })",
    );
    expect(() => loadMNIST(anyOptions('train'))).toThrow(
      "loadMNIST: options must be an object, got string 'train'; the split is an option: loadMNIST({ split: 'train' })",
    );
    expect(() => loadUSPS(anyOptions('digits'))).toThrow('loadUSPS: options must be an object, got string digits');
    expect(() => readUSPS('x', anyOptions({ flat: true }))).toThrow("readUSPS: unknown option 'flat' (did you mean 'flatten'?)");
  });

  testIf(fs.existsSync(path.join(SHARED_DATA, 'usps', 'zip.test.gz')), `${SHARED_DATA}/usps/zip.test.gz is absent`)(
    'ESL format (zip.test.gz, values in [-1, 1]) gives the same data as the course file',
    () => {
      const esl = readUSPS(path.join(SHARED_DATA, 'usps', 'zip.test.gz'));
      const course = loadUSPS({ split: 'test' });
      expect(esl.x.shape).toEqual(course.x.shape);
      expect(Array.from(esl.labels)).toEqual(Array.from(course.labels));
      let maxDiff = 0;
      for (let i = 0; i < esl.x.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(esl.x.data[i] - course.x.data[i]));
      expect(maxDiff).toBeLessThan(1e-6);
    },
  );
});

describe('USPS text parser', () => {
  test('valid course text: header, rows, trailer', () => {
    const ds = parseUSPS(['10 256', row(3, 2), row(0, 1), '-1', ''].join('\n'));
    expect(ds.x.shape).toEqual([2, 16, 16, 1]);
    expect(parseUSPS(['10 256', row(3, 2)].join('\n'), { flatten: true }).x.shape).toEqual([1, 256]);
    // A feature count that is not a square has no image shape: flat rows.
    const odd = parseUSPS(['10 3', '1 0 1 2'].join('\n'));
    expect(odd.x.shape).toEqual([1, 3]);
    expect(odd.imageShape).toBeUndefined();
    expect(Array.from(ds.labels)).toEqual([3, 0]);
    expect(ds.x.data[0]).toBe(1);
    expect(ds.x.data[256]).toBe(0.5);
  });

  test('a header of many features over a short text allocates nothing for rows it cannot hold', () => {
    expect(parseUSPS('10 2000000\n').x.shape).toEqual([0, 2000000]);
    expect(() => parseUSPS('10 1099511627776\n')).toThrow(
      'USPS text: line 1: the header declares 1099511627776 features, more than the 2^24 a row may have',
    );
  });

  test('bad header', () => {
    expect(() => parseUSPS([row(3), '-1'].join('\n'), { format: 'course', source: 'f.txt' })).toThrow(
      'f.txt: line 1: expected the header "<classes> <features>" (e.g. "10 256"), found "3 0 0 0',
    );
    expect(() => parseUSPS(['ten 256', row(3)].join('\n'), { source: 'f.txt' })).toThrow('f.txt: line 1: expected the header');
  });

  test('short row, with its line number', () => {
    const text = ['10 256', row(1), row(2, 0, 200), row(3), '-1'].join('\n');
    expect(() => parseUSPS(text, { source: 'u.txt' })).toThrow('u.txt: line 3: expected 257 values (label + 256 features), found 201');
  });

  test('a stray short line is an error, not silently dropped', () => {
    const text = ['10 256', row(1), '5 7', row(3), '-1'].join('\n');
    expect(() => parseUSPS(text)).toThrow('line 3: expected 257 values');
    expect(() => parseUSPS(['10 256', row(1), '-1', row(3), '-1'].join('\n'))).toThrow('line 3: expected 257 values');
  });

  test('value out of range, with line number and position', () => {
    const values = Array.from({ length: 256 }, (_, j) => (j === 41 ? '2.5' : '1'));
    const text = ['10 256', row(1), `7 ${values.join(' ')}`, '-1'].join('\n');
    expect(() => parseUSPS(text, { source: 'u.txt' })).toThrow('u.txt: line 3: value 42 ("2.5") is outside [0, 2] (course format)');
    const neg = ['10 256', row(1, -0.1)].join('\n');
    expect(() => parseUSPS(neg)).toThrow('line 2: value 1 ("-0.1") is outside [0, 2]');
    const nan = ['10 256', row(1, 'abc')].join('\n');
    expect(() => parseUSPS(nan)).toThrow('line 2: value 1 ("abc") is outside [0, 2]');
  });

  test('label out of range or not an integer', () => {
    expect(() => parseUSPS(['10 256', row(0), row(10)].join('\n'), { source: 'u' })).toThrow(
      'u: line 3: label "10" is not an integer in [0, 9]',
    );
    expect(() => parseUSPS(['10 256', row(1.5)].join('\n'))).toThrow('line 2: label "1.5" is not an integer');
  });

  test('ESL format is detected from the first line and rescaled from [-1, 1]', () => {
    const ds = parseUSPS([row('6.0000', -1), row(2, 1), row(0, '0')].join('\n'));
    expect(Array.from(ds.labels)).toEqual([6, 2, 0]);
    expect([ds.x.data[0], ds.x.data[256], ds.x.data[512]]).toEqual([0, 1, 0.5]);
    expect(() => parseUSPS([row(1, 1.5)].join('\n'))).toThrow('outside [-1, 1] (esl format)');
  });

  test('readUSPS reads a gzipped file and names it in errors', () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.txt.gz');
    fs.writeFileSync(file, zlib.gzipSync(['10 256', row(1), row(1, 0, 3)].join('\n')));
    expect(() => readUSPS(file)).toThrow(`${file}: line 3: expected 257 values`);
    fs.rmSync(dir, { recursive: true });
  });

  test('loadUSPS with a dir checks row counts', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'USPS_test.txt'), ['10 256', row(1), '-1'].join('\n'));
    expect(() => loadUSPS({ split: 'test', dir })).toThrow('expected 2007 rows of 256 features and 10 classes, found 1 rows');
    expect(() => loadUSPS({ split: 'train', dir })).toThrow('USPS_train.txt.gz (or USPS_train.txt) not found');
    fs.rmSync(dir, { recursive: true });
  });
});
