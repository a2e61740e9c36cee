/**
 * readImage / writeImage: PNG files as (h, w, 3) float32 in [0, 1], channels-last, and back. On a
 * photograph and a texture of the shared data when present, and on small PNGs written here.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { readImage, writeImage } from '../../lib/data';
import { SHARED_DATA, tempDir, testIf } from './helpers';

const IMAGES = path.join(SHARED_DATA, 'images');
let dir: string;
beforeAll(() => {
  dir = tempDir('neurone-image-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The value at (y, x, c) of a channels-last (h, w, chan) tensor. */
function at(t: { shape: readonly number[]; data: Float32Array }, y: number, x: number, c: number): number {
  return t.data[(y * t.shape[1] + x) * t.shape[2] + c];
}

/** Writes an 8-bit PNG from raw pixel bytes with pngjs itself, in the given colour type (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA). */
function writeRawPng(file: string, width: number, height: number, colorType: 0 | 2 | 4 | 6, bytes: number[]): void {
  const png = new PNG({ width, height });
  png.data = Buffer.from(bytes);
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: colorType >= 4, bitDepth: 8 }));
}

const haveImages = fs.existsSync(path.join(IMAGES, 'chelsea.png')) && fs.existsSync(path.join(IMAGES, 'brick.png'));

describe('readImage on the shared photographs and textures', () => {
  testIf(haveImages, `${IMAGES} is absent`)('a colour photograph: (height, width, 3) in [0, 1], as its header says', () => {
    const file = path.join(IMAGES, 'chelsea.png');
    // The file SOURCE.md describes (451×300 RGB), byte for byte.
    expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(
      '596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb',
    );
    const img = readImage(file);
    expect(img.shape).toEqual([300, 451, 3]);
    expect(img.data).toBeInstanceOf(Float32Array);
    let min = Infinity;
    let max = -Infinity;
    let greyPixels = 0;
    for (let i = 0; i < img.data.length; i++) {
      min = Math.min(min, img.data[i]);
      max = Math.max(max, img.data[i]);
      if (i % 3 === 0 && img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2]) greyPixels++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.9); // a photograph spans the range
    expect(greyPixels / (300 * 451)).toBeLessThan(0.5); // colour, not three copies of one channel
    // Every value is a byte / 255.
    for (let i = 0; i < img.data.length; i += 997) expect(Math.abs(img.data[i] * 255 - Math.round(img.data[i] * 255))).toBeLessThan(1e-4);
  });

  testIf(haveImages, `${IMAGES} is absent`)('a grey texture is expanded to three equal channels', () => {
    const img = readImage(path.join(IMAGES, 'brick.png'));
    expect(img.shape).toEqual([512, 512, 3]);
    for (let i = 0; i < img.data.length; i += 3) {
      if (img.data[i] !== img.data[i + 1] || img.data[i] !== img.data[i + 2]) throw new Error(`pixel ${i / 3} is not grey`);
    }
  });

  testIf(haveImages, `${IMAGES} is absent`)('written back and read again: the same bytes', () => {
    const img = readImage(path.join(IMAGES, 'chelsea.png'));
    const copy = path.join(dir, 'chelsea-copy.png');
    writeImage(copy, img);
    const back = readImage(copy);
    expect(back.shape).toEqual(img.shape);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(img.data.buffer))).toBe(true);
  });
});

describe('readImage colour types (PNGs written here)', () => {
  test('RGB keeps the pixel order: row by row, channels innermost', () => {
    const file = path.join(dir, 'rgb.png');
    // 3 wide, 2 high: pixel (y, x) has red 10·y + x, green 100, blue 255.
    const bytes: number[] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) bytes.push(10 * y + x, 100, 255);
    writeRawPng(file, 3, 2, 2, bytes);
    const img = readImage(file);
    expect(img.shape).toEqual([2, 3, 3]);
    expect(at(img, 1, 2, 0)).toBeCloseTo(12 / 255, 7);
    expect(at(img, 0, 1, 0)).toBeCloseTo(1 / 255, 7);
    expect(at(img, 1, 0, 1)).toBeCloseTo(100 / 255, 7);
    expect(at(img, 1, 0, 2)).toBe(1);
  });

  test('alpha is dropped, not blended: a transparent pixel keeps its colour', () => {
    const file = path.join(dir, 'rgba.png');
    writeRawPng(file, 2, 1, 6, [255, 0, 0, 0, 0, 51, 102, 255]);
    const img = readImage(file);
    expect(img.shape).toEqual([1, 2, 3]);
    expect(Array.from(img.data)).toEqual([1, 0, 0, 0, 0.2, 0.4].map(Math.fround));
  });

  test('grey + alpha gives three equal channels', () => {
    const file = path.join(dir, 'grey-alpha.png');
    writeRawPng(file, 2, 1, 4, [51, 0, 204, 128]);
    expect(Array.from(readImage(file).data)).toEqual([0.2, 0.2, 0.2, 0.8, 0.8, 0.8].map(Math.fround));
  });
});

describe('writeImage', () => {
  test('round trip of (h, w, 3) and (h, w, 1): within 0.5 / 255, exact on multiples of 1 / 255', () => {
    const h = 5;
    const w = 7;
    const rgb = { shape: [h, w, 3], data: Float32Array.from({ length: h * w * 3 }, (_, i) => ((i * 0.37) % 1) as number) };
    const file = path.join(dir, 'rt-rgb.png');
    writeImage(file, rgb);
    const back = readImage(file);
    expect(back.shape).toEqual([h, w, 3]);
    let maxErr = 0;
    for (let i = 0; i < rgb.data.length; i++) maxErr = Math.max(maxErr, Math.abs(back.data[i] - rgb.data[i]));
    expect(maxErr).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    expect(maxErr).toBeGreaterThan(0); // the values were not all bytes: the test saw the rounding
    // A second trip changes nothing: the values are now bytes / 255.
    writeImage(file, back);
    expect(Array.from(readImage(file).data)).toEqual(Array.from(back.data));

    // One channel is written as a grey PNG and read back as three equal channels.
    const grey = { shape: [h, w, 1], data: Float32Array.from({ length: h * w }, (_, i) => i / 255) };
    const greyFile = path.join(dir, 'rt-grey.png');
    writeImage(greyFile, grey);
    expect(fs.readFileSync(greyFile)[25]).toBe(0); // IHDR colour type 0: grey
    const g = readImage(greyFile);
    expect(g.shape).toEqual([h, w, 3]);
    for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) expect(g.data[3 * i + c]).toBe(grey.data[i]);
    expect(fs.readFileSync(file)[25]).toBe(2); // RGB
  });

  test('a leading batch axis of 1 is accepted; values outside [0, 1] are clamped', () => {
    const file = path.join(dir, 'clamped.png');
    writeImage(file, { shape: [1, 1, 3, 1], data: Float32Array.of(-3, 0.5, 7) });
    const back = readImage(file);
    expect(back.shape).toEqual([1, 3, 3]);
    expect([back.data[0], back.data[3], back.data[6]]).toEqual([0, Math.fround(128 / 255), 1]);
  });

  test('bad arguments name the argument and expected vs received, and write nothing', () => {
    const file = path.join(dir, 'never.png');
    expect(() => writeImage(file, { shape: [4, 4], data: new Float32Array(16) })).toThrow(
      'writeImage: image must have shape (height, width, 1 | 3) or (1, height, width, 1 | 3), got (4, 4)',
    );
    expect(() => writeImage(file, { shape: [4, 4, 4], data: new Float32Array(64) })).toThrow('got (4, 4, 4)');
    expect(() => writeImage(file, { shape: [2, 4, 4, 3], data: new Float32Array(96) })).toThrow('got (2, 4, 4, 3)');
    expect(() => writeImage(file, { shape: [0, 4, 3], data: new Float32Array(0) })).toThrow('got (0, 4, 3)');
    expect(() => writeImage(file, { shape: [2, 2, 3], data: new Float32Array(11) })).toThrow(
      'writeImage: image data must hold 12 values for shape (2, 2, 3), got 11',
    );
    const nan = new Float32Array(12);
    nan[3 * 3 + 2] = NaN; // pixel (1, 1), blue
    expect(() => writeImage(file, { shape: [2, 2, 3], data: nan })).toThrow(
      'writeImage: image value at (1, 1, 2) is NaN; expected finite values in [0, 1] (others are clamped)',
    );
    expect(() => writeImage(file, { shape: [1, 1, 1], data: Float32Array.of(Infinity) })).toThrow('value at (0, 0, 0) is Infinity');
    expect(() => writeImage(file, undefined as never)).toThrow('writeImage: image must be a tensor { shape, data }, got undefined');
    expect(() => writeImage(42 as never, { shape: [1, 1, 1], data: new Float32Array(1) })).toThrow(
      'writeImage: file must be the path of the PNG to write, got number 42',
    );
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('readImage refuses what is not a readable PNG', () => {
  test('a missing file, a folder, and a file that is not a PNG', () => {
    expect(() => readImage(path.join(dir, 'absent.png'))).toThrow(/absent\.png/);
    expect(() => readImage(dir)).toThrow(dir);
    const text = path.join(dir, 'text.png');
    fs.writeFileSync(text, 'this is not a PNG, only named like one');
    expect(() => readImage(text)).toThrow(`${text}: not a PNG file: no PNG signature and IHDR chunk in its first 29 bytes`);
    expect(() => readImage('' as string)).toThrow('readImage: file must be the path of a PNG file, got ""');
  });

  test('a truncated file says where it ends', () => {
    const file = path.join(dir, 'whole.png');
    writeRawPng(file, 8, 8, 2, new Array(8 * 8 * 3).fill(90));
    const bytes = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.png');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 20)); // into the IDAT chunk
    expect(() => readImage(cut)).toThrow(
      new RegExp(`^${cut}: truncated PNG: its IDAT chunk at byte \\d+ needs \\d+ bytes, the file has ${bytes.length - 20}$`),
    );
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 12)); // the IEND chunk missing
    expect(() => readImage(cut)).toThrow(`${cut}: truncated PNG: ${bytes.length - 12} bytes and no IEND chunk (the file ends early)`);
    fs.writeFileSync(cut, bytes.subarray(0, 40)); // inside a chunk header
    expect(() => readImage(cut)).toThrow(`${cut}: truncated PNG:`);
  });

  test('a side over MAX_PNG_SIDE is refused from the header: within the pixel bound, a thin image costs by the row', () => {
    const file = path.join(dir, 'side.png');
    writeRawPng(file, 1, 1, 2, [1, 2, 3]);
    const bytes = fs.readFileSync(file);
    for (const [width, height] of [
      [1, 2 ** 24],
      [2 ** 24, 1],
    ]) {
      bytes.writeUInt32BE(width, 16);
      bytes.writeUInt32BE(height, 20);
      bytes.writeUInt32BE(zlib.crc32(bytes.subarray(12, 29)), 29);
      fs.writeFileSync(file, bytes);
      expect(() => readImage(file)).toThrow(`${file}: ${width}×${height} pixels: a side over the 65535 (MAX_PNG_SIDE) an image may have`);
    }
  });

  test('a corrupt image body is reported as a decoding error naming the file', () => {
    const file = path.join(dir, 'corrupt.png');
    writeRawPng(file, 8, 8, 2, new Array(8 * 8 * 3).fill(90));
    const bytes = Buffer.from(fs.readFileSync(file));
    const idat = bytes.indexOf('IDAT', 0, 'latin1');
    bytes.fill(0xff, idat + 6, idat + 14); // scramble the compressed data (the CRC no longer matches either)
    fs.writeFileSync(file, bytes);
    expect(() => readImage(file)).toThrow(`${file}: not a readable PNG: damaged, or in a form the decoder does not read (pngjs: "`);
  });
});
