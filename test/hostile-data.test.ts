/**
 * The data readers against small files built to exhaust memory or never end: gzip bombs behind an
 * IDX header, headers declaring more than the policy allows, PNG sprites announcing huge images,
 * devices, pipes and oversized files. The readers must refuse them from their first bytes.
 *
 * How "nothing big is ever produced" is checked: zlib.gunzipSync and pngjs's decoder are watched
 * (jest.spyOn) and the size of everything they return is recorded. Cases whose failure mode is an
 * endless read (a device, a pipe) run in a child process under `ulimit -v`, so that a regression
 * fails the test instead of taking the machine's memory.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import {
  encodeIdx,
  readIdx,
  readIdxHeader,
  readIdxImages,
  readUSPS,
  loadMNIST,
  loadUSPS,
  readPngSprites,
  readImage,
  MAX_IDX_PAYLOAD_BYTES,
  MAX_USPS_TEXT_BYTES,
  MAX_PNG_PIXELS,
} from '../lib/data';
import { readMaybeGzip } from '../lib/data/read';
import { tempDir } from './data/helpers';
import { TS_REGISTER } from './ts-child';

const root = path.join(__dirname, '..');
let dir: string;
beforeAll(() => {
  dir = tempDir('neurone-hostile-data-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An IDX ubyte header with these dimensions (no values). */
function idxHeader(dims: readonly number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

const MiB = 2 ** 20;
/** One gzip member of 16 MiB of zeros: ~16 KB. Members concatenate into one valid gzip stream. */
const ZERO_MEMBER = zlib.gzipSync(Buffer.alloc(16 * MiB), { level: 9 });

/** gzip data whose content is `head` followed by about `mib` MiB of zeros, from a file of a few KB per 16 MiB. */
function gzipBomb(head: Buffer, mib: number): Buffer {
  return Buffer.concat([zlib.gzipSync(head), ...Array.from({ length: Math.ceil(mib / 16) }, () => ZERO_MEMBER)]);
}

/**
 * The zlib module object itself: `import * as` gives a wrapper whose properties cannot be spied
 * on, while the readers' own wrappers read through to this object at each call.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const zlibModule: typeof zlib = require('zlib');

/** Records the length of every buffer zlib.gunzipSync returns while `f` runs. */
function gunzipOutputs(f: () => void): number[] {
  const sizes: number[] = [];
  const real = zlibModule.gunzipSync;
  const spy = jest.spyOn(zlibModule, 'gunzipSync').mockImplementation((buf, options) => {
    const out = real(buf, options);
    sizes.push(out.length);
    return out;
  });
  try {
    f();
  } finally {
    spy.mockRestore();
  }
  return sizes;
}

/** What a reader may produce beyond the expected content: the header peek's bound plus one zlib chunk. */
const SLACK = 64 * 1024 + 16 * 1024 + 1024;

describe('gzip IDX files are judged by their header before being inflated', () => {
  test('a gzip bomb behind a small IDX header inflates no further than the header announces', () => {
    const file = path.join(dir, 'bomb-images.gz');
    fs.writeFileSync(file, gzipBomb(idxHeader([10, 28, 28]), 256)); // ~270 KB on disk, 256 MiB inside
    expect(fs.statSync(file).size).toBeLessThan(MiB);
    let err: Error | undefined;
    const sizes = gunzipOutputs(() => {
      try {
        readIdx(file);
      } catch (e) {
        err = e as Error;
      }
    });
    expect(err?.message).toMatch(
      /bomb-images\.gz: gzip content is longer than the 7856 bytes its IDX header announces \(10 × 28 × 28 ubyte values\)/,
    );
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(7856 + SLACK);
  });

  test('a header declaring more than MAX_IDX_PAYLOAD_BYTES is refused before the body is inflated', () => {
    const file = path.join(dir, 'huge-declared.gz');
    fs.writeFileSync(file, gzipBomb(idxHeader([65536, 65536, 1]), 64));
    let err: Error | undefined;
    const sizes = gunzipOutputs(() => {
      try {
        readIdx(file);
      } catch (e) {
        err = e as Error;
      }
    });
    expect(err?.message).toContain(
      `huge-declared.gz: header declares 65536 × 65536 × 1 ubyte values (4294967296 bytes), more than the ${MAX_IDX_PAYLOAD_BYTES} bytes (MAX_IDX_PAYLOAD_BYTES)`,
    );
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(1024 + SLACK);
  });

  test('a raw file declaring more than the policy is refused from its 16 header bytes', () => {
    const file = path.join(dir, 'huge-declared-raw');
    fs.writeFileSync(file, idxHeader([2 ** 31, 2, 2]));
    expect(() => readIdx(file)).toThrow(/header declares 2147483648 × 2 × 2 ubyte values \(8589934592 bytes\), more than/);
    expect(() => readIdxHeader(file)).toThrow(/MAX_IDX_PAYLOAD_BYTES/);
  });

  test('readIdxImages checks count and shape on the header, before inflating', () => {
    const file = path.join(dir, 'wrong-shape.gz');
    fs.writeFileSync(file, gzipBomb(idxHeader([100, 64, 64]), 64));
    let err: Error | undefined;
    const sizes = gunzipOutputs(() => {
      try {
        readIdxImages(file, { imageShape: [28, 28] });
      } catch (e) {
        err = e as Error;
      }
    });
    expect(err?.message).toBe(`${file}: expected 28×28 images, header says 64×64`);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(1024 + SLACK);
  });

  test('loadMNIST compares the images header with the labels before reading the images', () => {
    const sub = path.join(dir, 'mnist-count');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 't10k-labels-idx1-ubyte'), encodeIdx(new Uint8Array(12), [12]));
    fs.writeFileSync(path.join(sub, 't10k-images-idx3-ubyte.gz'), gzipBomb(idxHeader([100000, 28, 28]), 64));
    let err: Error | undefined;
    const sizes = gunzipOutputs(() => {
      try {
        loadMNIST({ dir: sub, split: 'test' });
      } catch (e) {
        err = e as Error;
      }
    });
    expect(err?.message).toMatch(/t10k-images-idx3-ubyte\.gz: 100000 images but .*t10k-labels-idx1-ubyte has 12 labels/);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(1024 + SLACK);
  });

  test('a well-formed gzip file still reads, whatever gzip header fields it carries', () => {
    const file = path.join(dir, 'ok.gz');
    const body = encodeIdx(
      Uint8Array.from({ length: 3 * 4 * 4 }, (_, i) => i),
      [3, 4, 4],
    );
    // A long file-name field in the gzip header: the header peek must look past it.
    const named = zlib.gzipSync(body);
    const withName = Buffer.concat([
      named.subarray(0, 3),
      Buffer.from([named[3] | 0x08]),
      named.subarray(4, 10),
      Buffer.from('x'.repeat(5000) + '\0'),
      named.subarray(10),
    ]);
    fs.writeFileSync(file, withName);
    const idx = readIdx(file);
    expect(idx.dims).toEqual([3, 4, 4]);
    expect(idx.data[47]).toBe(47);
  });
});

describe('USPS text is bounded too', () => {
  test('a gzipped USPS file inflating beyond MAX_USPS_TEXT_BYTES is refused at the bound', () => {
    const file = path.join(dir, 'USPS_bomb.txt.gz');
    fs.writeFileSync(file, gzipBomb(Buffer.from('10 256\n'), 128));
    let err: Error | undefined;
    const sizes = gunzipOutputs(() => {
      try {
        readUSPS(file);
      } catch (e) {
        err = e as Error;
      }
    });
    expect(err?.message).toBe(`${file}: gzip content is longer than the ${MAX_USPS_TEXT_BYTES} bytes allowed for a data file`);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(MAX_USPS_TEXT_BYTES + SLACK);
  });

  test('a raw file over MAX_USPS_TEXT_BYTES is refused from its size, unread', () => {
    const sub = path.join(dir, 'usps-big');
    fs.mkdirSync(sub);
    const file = path.join(sub, 'USPS_train.txt');
    fs.closeSync(fs.openSync(file, 'w'));
    fs.truncateSync(file, MAX_USPS_TEXT_BYTES + 1); // sparse: no disk used
    expect(() => loadUSPS({ dir: sub })).toThrow(
      `${file}: ${MAX_USPS_TEXT_BYTES + 1} bytes, more than the ${MAX_USPS_TEXT_BYTES} bytes allowed for a data file`,
    );
  });
});

/** Runs f, counting the PNG decodes it makes: a refusal by the header must come with none. */
function decodes(f: () => void): { calls: number; err?: Error } {
  const spy = jest.spyOn(PNG.sync, 'read');
  let err: Error | undefined;
  let calls: number;
  try {
    f();
  } catch (e) {
    err = e as Error;
  } finally {
    calls = spy.mock.calls.length; // before mockRestore, which clears them
    spy.mockRestore();
  }
  return { calls, err };
}

describe('PNG sprites are judged by their IHDR chunk before decoding', () => {
  /** A real grey PNG 784 wide, then its IHDR height and interlace byte rewritten (the CRC no longer matters: nothing may decode it). */
  function sprite(file: string, height: number, patch: { height?: number; interlace?: number } = {}): void {
    const png = new PNG({ width: 784, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
    png.data = Buffer.alloc(784 * height, 7);
    const buf = PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 });
    if (patch.height !== undefined) buf.writeUInt32BE(patch.height, 20);
    if (patch.interlace !== undefined) buf[28] = patch.interlace;
    fs.writeFileSync(file, buf);
  }

  test('a sprite announcing more than MAX_PNG_PIXELS is refused undecoded', () => {
    const file = path.join(dir, 'tall.png');
    sprite(file, 2, { height: 100000 }); // 78.4 M pixels announced, a few hundred bytes on disk
    const r = decodes(() => readPngSprites([file]));
    expect(r.err?.message).toBe(`${file}: 784×100000 pixels, more than the ${MAX_PNG_PIXELS} (MAX_PNG_PIXELS) a sprite may have`);
    expect(r.calls).toBe(0);
  });

  test('an interlaced sprite (which pngjs would inflate without a bound) is refused', () => {
    const file = path.join(dir, 'interlaced.png');
    sprite(file, 2, { interlace: 1 });
    const r = decodes(() => readPngSprites([file]));
    expect(r.err?.message).toBe(`${file}: interlaced PNG (Adam7), which is not read; save it again without interlacing`);
    expect(r.calls).toBe(0);
  });

  test('sprites whose rows do not match the labels are refused before any is decoded', () => {
    const sub = path.join(dir, 'sprites');
    fs.mkdirSync(sub);
    for (let b = 0; b < 20; b++) sprite(path.join(sub, `mnist_batch_${b}.png`), b === 19 ? 200 : 2);
    fs.writeFileSync(path.join(sub, 'train-labels-idx1-ubyte'), encodeIdx(new Uint8Array(40), [40]));
    const r = decodes(() => loadMNIST({ dir: sub }));
    expect(r.err?.message).toMatch(/the 20 PNG sprites hold 238 images but .*train-labels-idx1-ubyte has 40 labels/);
    expect(r.calls).toBe(0);
  });

  test('a file that is not a PNG says so', () => {
    const file = path.join(dir, 'not.png');
    fs.writeFileSync(file, 'GIF89a');
    expect(() => readPngSprites([file])).toThrow(`${file}: not a PNG file: no PNG signature and IHDR chunk in its first 29 bytes`);
  });
});

describe('colour images (readImage) are judged by their IHDR chunk before decoding', () => {
  /** A real 2×2 RGB PNG, then its IHDR width, height or interlace byte rewritten. */
  function image(file: string, patch: { width?: number; height?: number; interlace?: number } = {}): void {
    const png = new PNG({ width: 2, height: 2 });
    png.data = Buffer.alloc(16, 200);
    const buf = PNG.sync.write(png, { colorType: 2 });
    if (patch.width !== undefined) buf.writeUInt32BE(patch.width, 16);
    if (patch.height !== undefined) buf.writeUInt32BE(patch.height, 20);
    if (patch.interlace !== undefined) buf[28] = patch.interlace;
    fs.writeFileSync(file, buf);
  }

  test('an image announcing more than MAX_PNG_PIXELS is refused undecoded', () => {
    const file = path.join(dir, 'huge-image.png');
    image(file, { width: 100000, height: 100000 }); // 10^10 pixels announced, ~70 bytes on disk
    const r = decodes(() => readImage(file));
    expect(r.err?.message).toBe(`${file}: 100000×100000 pixels, more than the ${MAX_PNG_PIXELS} (MAX_PNG_PIXELS) an image may have`);
    expect(r.calls).toBe(0);
  });

  test('an interlaced image (which pngjs would inflate without a bound) is refused undecoded', () => {
    const file = path.join(dir, 'interlaced-image.png');
    image(file, { interlace: 1 });
    const r = decodes(() => readImage(file));
    expect(r.err?.message).toBe(`${file}: interlaced PNG (Adam7), which is not read; save it again without interlacing`);
    expect(r.calls).toBe(0);
  });

  test('a well-formed small image still reads', () => {
    const file = path.join(dir, 'small-image.png');
    image(file);
    expect(readImage(file).shape).toEqual([2, 2, 3]);
  });

  test('a zero width or height is refused undecoded (0 × 2^31 − 1 passed the pixel bound and ran out of memory)', () => {
    const file = path.join(dir, 'zero-wide.png');
    image(file, { width: 0, height: 2 ** 31 - 1 });
    const r = decodes(() => readImage(file));
    expect(r.err?.message).toBe(`${file}: 0×2147483647 pixels: a PNG's width and height are at least 1`);
    expect(r.calls).toBe(0);
  });

  test('image data holding fewer or more rows than the header declares is refused, not read with black rows', () => {
    const short = path.join(dir, 'short-data.png');
    image(short, { height: 4 }); // the data holds the 2 rows written
    const r = decodes(() => readImage(short));
    expect(r.err?.message).toBe(
      `${short}: its image data holds 14 bytes where the 4 rows of 2 pixels its header declares take 28: the file is damaged or cut`,
    );
    expect(r.calls).toBe(0);
    const wide = path.join(dir, 'claims-wide.png');
    image(wide, { width: 4000, height: 4000 }); // 16 M pixels claimed over 2×2 of data
    expect(() => readImage(wide)).toThrow(
      /its image data holds 14 bytes where the 4000 rows of 4000 pixels its header declares take 48004000: /,
    );
    const long = path.join(dir, 'long-data.png');
    image(long, { height: 1 });
    expect(() => readImage(long)).toThrow(`${long}: its image data holds more than the 1 rows of 2 pixels its header declares`);
  });
});

/**
 * Runs `code` (with `d` = lib/data) in a child process limited to 2 GB of address space; returns
 * what it printed. The limit turns an endless read into a quick failure of the child.
 */
function inLimitedChild(code: string): { stdout: string; stderr: string; status: number | null } {
  const script = `${TS_REGISTER} const d = require(${JSON.stringify(path.join(root, 'lib', 'data'))});
    try { ${code}; console.log('NO ERROR'); } catch (e) { console.log('ERROR ' + e.message); }`;
  const r = spawnSync('sh', ['-c', 'ulimit -v 2000000; exec "$0" -e "$1"', process.execPath, script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000, // the timeout only guards against a hang (a pipe read before the fix)
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('devices, pipes and folders are refused before reading', () => {
  test('/dev/zero as a USPS file: refused as a device, not read until memory runs out', () => {
    const r = inLimitedChild(`d.readUSPS('/dev/zero')`);
    expect(r.stdout.trim()).toBe('ERROR /dev/zero: expected a data file (a regular file), found a character device');
  });

  test('/dev/zero as a PNG image', () => {
    const r = inLimitedChild(`d.readImage('/dev/zero')`);
    expect(r.stdout.trim()).toBe('ERROR /dev/zero: expected a PNG image (a regular file), found a character device');
  });

  test('/dev/zero as an IDX file', () => {
    const r = inLimitedChild(`d.readIdx('/dev/zero')`);
    expect(r.stdout.trim()).toBe('ERROR /dev/zero: expected an IDX file (a regular file), found a character device');
  });

  const haveMkfifo = spawnSync('sh', ['-c', 'command -v mkfifo']).status === 0;
  (haveMkfifo ? test : test.skip)('a named pipe with no writer: refused at once instead of waiting forever', () => {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = inLimitedChild(`d.readIdx(${JSON.stringify(fifo)})`);
    expect(r.stdout.trim()).toBe(`ERROR ${fifo}: expected an IDX file (a regular file), found a FIFO`);
  });

  test('a folder', () => {
    expect(() => readMaybeGzip(dir)).toThrow(`${dir}: expected a data file (a regular file), found a directory`);
  });
});
