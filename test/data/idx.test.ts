import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx, parseIdx, readIdx, readIdxImages, readIdxLabels } from '../../lib/data';
import { tempDir, writeIdxSplit } from './helpers';

describe('IDX reader', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads raw images and labels, scaled to [0, 1]', () => {
    const { pixels, labels } = writeIdxSplit(dir, 'train', 5, { rows: 3, cols: 4 });
    const { x, imageShape } = readIdxImages(path.join(dir, 'train-images-idx3-ubyte'));
    expect(x.shape).toEqual([5, 3, 4, 1]); // images, channels-last
    expect(imageShape).toEqual([3, 4]);
    for (let i = 0; i < pixels.length; i++) expect(x.data[i]).toBeCloseTo(pixels[i] / 255, 6);
    expect(Array.from(readIdxLabels(path.join(dir, 'train-labels-idx1-ubyte')))).toEqual(Array.from(labels));
  });

  test('detects gzip by its magic bytes, whatever the file name', () => {
    const sub = tempDir();
    const { pixels } = writeIdxSplit(sub, 'test', 3, { gzip: true, rows: 2, cols: 2 });
    const gz = path.join(sub, 't10k-images-idx3-ubyte.gz');
    const renamed = path.join(sub, 'no-extension');
    fs.copyFileSync(gz, renamed);
    const idx = readIdx(renamed);
    expect(idx.magic).toBe(2051);
    expect(idx.dims).toEqual([3, 2, 2]);
    expect(Array.from(idx.data)).toEqual(Array.from(pixels));
    fs.rmSync(sub, { recursive: true });
  });

  test('truncated file: error names the file and expected vs found bytes', () => {
    const buf = encodeIdx(new Uint8Array(2 * 28 * 28).fill(7), [2, 28, 28]);
    const file = path.join(dir, 'truncated-idx3-ubyte');
    fs.writeFileSync(file, buf.subarray(0, buf.length - 100));
    expect(() => readIdx(file)).toThrow(file);
    expect(() => readIdx(file)).toThrow(
      `truncated: header says 2 × 28 × 28 ubyte values, i.e. 1584 bytes with the 16-byte header; found 1484 bytes`,
    );
  });

  test('extra trailing bytes are an error too', () => {
    const buf = Buffer.concat([encodeIdx(Uint8Array.of(1, 2, 3), [3]), Buffer.from([0])]);
    expect(() => parseIdx(buf, 'labels.idx')).toThrow(
      'labels.idx: too long: header says 3 ubyte values, i.e. 11 bytes with the 8-byte header; found 12 bytes',
    );
  });

  test('truncated gzip stream gives a clear error', () => {
    const gz = zlib.gzipSync(encodeIdx(new Uint8Array(1000).fill(3), [1000]));
    const file = path.join(dir, 'cut.gz');
    fs.writeFileSync(file, gz.subarray(0, gz.length - 10));
    expect(() => readIdx(file)).toThrow(/cut\.gz: corrupt or truncated gzip data/);
  });

  test('wrong magic number', () => {
    const buf = encodeIdx(Uint8Array.of(1, 2), [2]);
    buf[0] = 0x12;
    expect(() => parseIdx(buf, 'bad.idx')).toThrow(/bad\.idx: not an IDX file: magic number 301991937 \(0x12000801\)/);
    const badType = encodeIdx(Uint8Array.of(1, 2), [2]);
    badType[2] = 0x07;
    expect(() => parseIdx(badType, 'bad.idx')).toThrow(/not an IDX file/);
    expect(() => parseIdx(Buffer.from('PK'), 'tiny')).toThrow('tiny: not an IDX file: 2 bytes');
  });

  test('truncated header', () => {
    const buf = encodeIdx(new Uint8Array(8), [2, 2, 2]).subarray(0, 10);
    expect(() => parseIdx(buf, 'h')).toThrow('h: truncated IDX header: 3 dimensions need 16 header bytes, file has 10');
  });

  test('labels file given as images (and vice versa) is rejected by magic', () => {
    writeIdxSplit(dir, 'test', 4, { rows: 2, cols: 2 });
    const labels = path.join(dir, 't10k-labels-idx1-ubyte');
    const images = path.join(dir, 't10k-images-idx3-ubyte');
    expect(() => readIdxImages(labels)).toThrow(/expected an IDX images file \(magic 2051.*got magic 2049 \(ubyte, 1 dimensions\)/);
    expect(() => readIdxLabels(images)).toThrow(/expected an IDX labels file \(magic 2049.*got magic 2051 \(ubyte, 3 dimensions\)/);
  });

  test('wrong image dimensions or counts against expectations', () => {
    writeIdxSplit(dir, 'train', 4, { rows: 16, cols: 16 });
    const images = path.join(dir, 'train-images-idx3-ubyte');
    expect(() => readIdxImages(images, { imageShape: [28, 28] })).toThrow(`${images}: expected 28×28 images, header says 16×16`);
    expect(() => readIdxImages(images, { count: 5 })).toThrow('expected 5 images, header says 4');
    expect(() => readIdxLabels(path.join(dir, 'train-labels-idx1-ubyte'), { numClasses: 3 })).toThrow('label 3 at index 3 is not below 3');
  });

  test('generic IDX types: big-endian int32 and float32', () => {
    const ints = Buffer.alloc(4 + 4 + 8);
    ints[2] = 0x0c;
    ints[3] = 1;
    ints.writeUInt32BE(2, 4);
    ints.writeInt32BE(-5, 8);
    ints.writeInt32BE(70000, 12);
    const a = parseIdx(ints);
    expect(a.type).toBe('int');
    expect(Array.from(a.data)).toEqual([-5, 70000]);
    const floats = Buffer.alloc(4 + 8 + 4 * 2);
    floats[2] = 0x0d;
    floats[3] = 2;
    floats.writeUInt32BE(1, 4);
    floats.writeUInt32BE(2, 8);
    floats.writeFloatBE(1.5, 12);
    floats.writeFloatBE(-0.25, 16);
    const b = parseIdx(floats);
    expect(b.dims).toEqual([1, 2]);
    expect(Array.from(b.data)).toEqual([1.5, -0.25]);
  });

  test('missing file', () => {
    expect(() => readIdx(path.join(dir, 'nope'))).toThrow(/nope: cannot read/);
  });
});
