/** Helpers shared by the data tests: temporary folders and small IDX files. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx } from '../../lib/data';

export function tempDir(prefix = 'neurone-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a small MNIST-style split (`n` images of rows×cols, labels i mod 10) and returns the pixel bytes. */
export function writeIdxSplit(
  dir: string,
  split: 'train' | 'test',
  n: number,
  opts: { gzip?: boolean; rows?: number; cols?: number } = {},
): { pixels: Uint8Array; labels: Uint8Array } {
  const rows = opts.rows ?? 28;
  const cols = opts.cols ?? 28;
  const pixels = Uint8Array.from({ length: n * rows * cols }, (_, i) => (i * 37) % 256);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const prefix = split === 'train' ? 'train' : 't10k';
  const write = (name: string, buf: Buffer): void => {
    if (opts.gzip) fs.writeFileSync(path.join(dir, `${name}.gz`), zlib.gzipSync(buf));
    else fs.writeFileSync(path.join(dir, name), buf);
  };
  write(`${prefix}-images-idx3-ubyte`, encodeIdx(pixels, [n, rows, cols]));
  write(`${prefix}-labels-idx1-ubyte`, encodeIdx(labels, [n]));
  return { pixels, labels };
}

/** Where the development tree keeps the shared datasets (absent in a clone outside it). */
export const SHARED_DATA = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');

/** `test` when `cond`, else `test.skip` after printing why, so a missing data set shows up as skipped, never as passed. */
export function testIf(cond: boolean, why: string): jest.It {
  if (!cond) {
    console.warn(`NOT APPLICABLE (skipped): ${why}`);
    return test.skip;
  }
  return test;
}
