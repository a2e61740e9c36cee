/**
 * A PNG whose header and chunks are sound but whose image data the decoder refuses: the error
 * names the file and says it is not a readable PNG, keeping the decoder's error as `cause`; the
 * predict command prints it as one line and exits 2.
 *
 * Run: npx jest test/predict-png.test.ts
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Sequential, Linear } from '../lib/nn';
import { save } from '../lib/serialize';
import { unreadablePng } from '../lib/data/png';
import { readImage } from '../lib/data/image';
import { runInProcess } from './in-process';
import { predictCommand } from '../lib/cli/predict';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-png-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A 16×16 grey PNG whose every row starts with filter type 9 (there are five, 0 to 4). */
function badFilterPng(file: string): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16, 0);
  ihdr.writeUInt32BE(16, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grey), no interlacing
  const rows = Buffer.alloc(16 * 17, 9);
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', ihdr),
      chunk('IDAT', zlib.deflateSync(rows)),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}

test('unreadablePng: the file named, the decoder quoted, its error kept as cause', () => {
  const original = new Error('have should not go down');
  const e = unreadablePng('a.png', original) as Error & { cause?: unknown };
  expect(e.message).toBe('a.png: not a readable PNG: damaged, or in a form the decoder does not read (pngjs: "have should not go down")');
  expect(e.cause).toBe(original);
});

test('predict on a PNG the decoder refuses: one line naming the file, exit 2', async () => {
  const model = path.join(dir, 'm.safetensors');
  save(new Sequential(new Linear(256, 10)), model);
  const png = path.join(dir, 'bad-filter.png');
  badFilterPng(png);
  const { code, stdout, stderr } = await runInProcess(predictCommand, ['--model', model, png]);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toMatch(
    new RegExp(
      `^neurone: predict: ${png.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable PNG: damaged, or in a form the decoder does not read \\(pngjs: "[^"\\n]+"\\)\\n$`,
    ),
  );
});

/** Grey 8-bit IHDR data of a width × height image. */
function ihdrOf(width: number, height: number, colour = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colour;
  return ihdr;
}

test('a second IHDR chunk (a huge image after a small one) is refused before decoding, in bounded memory', () => {
  // 93 bytes: a 4×4 grey header, then one saying 30000×30000 RGBA, then 4 rows of data. pngjs
  // honours the last header and allocated 3.6 GB for it (10 GB peak, 32 s) before refusing.
  const file = path.join(dir, 'two-headers.png');
  fs.writeFileSync(
    file,
    Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', ihdrOf(4, 4)),
      chunk('IHDR', ihdrOf(30000, 30000, 6)),
      chunk('IDAT', zlib.deflateSync(Buffer.alloc(4 * 5))),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
  const before = process.memoryUsage().rss;
  expect(() => readImage(file)).toThrow(`${file}: damaged PNG: a second IHDR (header) chunk at byte 33; a PNG has one, first`);
  expect(process.memoryUsage().rss - before).toBeLessThan(256 * 2 ** 20);
  // An IHDR of another length than the format's 13 bytes: the sizes read from it would be wrong.
  const long = path.join(dir, 'long-header.png');
  fs.writeFileSync(
    long,
    Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', Buffer.concat([ihdrOf(4, 4), Buffer.alloc(4)])),
      chunk('IDAT', zlib.deflateSync(Buffer.alloc(4 * 5))),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
  expect(() => readImage(long)).toThrow(`${long}: damaged PNG: its IHDR chunk holds 17 bytes, where the format has 13`);
});
