/**
 * IDX files, the format of MNIST and Fashion-MNIST (LeCun's "idx3-ubyte" / "idx1-ubyte").
 *
 * Layout: a 4-byte big-endian magic number `0x00 0x00 <type> <ndims>`, then `ndims` big-endian
 * uint32 dimensions, then the values in row-major order, big-endian. MNIST images have magic 2051
 * (`0x00000803`: ubyte, 3 dims) and labels 2049 (`0x00000801`: ubyte, 1 dim).
 * Files may be gzipped; gzip is recognised by its magic bytes `1f 8b`, not by the file name.
 *
 * A file is judged by its header before its body is read or inflated: the magic number, the
 * dimensions and the caller's expectations (count, image shape) are checked on the first bytes,
 * the declared size against MAX_IDX_PAYLOAD_BYTES, and gzip data is inflated with the exact size
 * the header announces as its bound, so a small gzip file cannot expand into gigabytes.
 */
import * as fs from 'fs';
import { Tensor, wrap } from '../tensor';
import { MAX_IDX_HEADER_BYTES, MAX_IDX_PAYLOAD_BYTES, gunzipBounded, gunzipHead, isGzip, openDataFile, readAt } from './read';

export { isGzip };

/** IDX element types, by their type byte. */
const IDX_TYPES = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'sbyte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
} as const;

/** Element type of an IDX file, by its name in the format (`ubyte`, `float`, ...). */
export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['name'];

/** The decoded content of an IDX file. */
export interface IdxArray {
  /** The magic number as read (2051 for MNIST images, 2049 for labels). */
  readonly magic: number;
  readonly type: IdxType;
  /** Dimensions from the header, e.g. `[60000, 28, 28]`. */
  readonly dims: readonly number[];
  /** The values, row-major, in native byte order. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** An IDX header: what the first bytes of a file announce. */
export interface IdxHeader {
  readonly magic: number;
  readonly type: IdxType;
  readonly dims: readonly number[];
  /** Bytes of the header: 4 + 4 per dimension. */
  readonly headerBytes: number;
  /** Bytes of the whole file the header announces: header + values. */
  readonly totalBytes: number;
}

/**
 * Decodes the header at the start of `buf` (which may hold only the first bytes of a file).
 * Checks the magic number and that the header is complete.
 */
function parseIdxHeader(buf: Uint8Array, source: string): IdxHeader {
  if (buf.length < 4) {
    throw new Error(`${source}: not an IDX file: ${buf.length} bytes, the magic number alone needs 4`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  const typeByte = buf[2];
  const ndims = buf[3];
  const type = (IDX_TYPES as Record<number, { name: IdxType; bytes: number }>)[typeByte];
  if (buf[0] !== 0 || buf[1] !== 0 || type === undefined || ndims === 0) {
    throw new Error(
      `${source}: not an IDX file: magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}); ` +
        'expected 0x0000TTDD with a type TT in 08,09,0b,0c,0d,0e and DD ≥ 1 dimensions (2051 for images, 2049 for labels)',
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new Error(`${source}: truncated IDX header: ${ndims} dimensions need ${headerBytes} header bytes, file has ${buf.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // A product of up to 255 uint32 may exceed 2^53 and lose precision; any such value is far
  // beyond MAX_IDX_PAYLOAD_BYTES, which is all the comparisons below need.
  const count = dims.reduce((p, d) => p * d, 1);
  return { magic, type: type.name, dims, headerBytes, totalBytes: headerBytes + count * type.bytes };
}

/** Refuses a header that declares more than MAX_IDX_PAYLOAD_BYTES of values. */
function checkPolicy(h: IdxHeader, source: string): void {
  const payload = h.totalBytes - h.headerBytes;
  if (payload > MAX_IDX_PAYLOAD_BYTES) {
    throw new Error(
      `${source}: header declares ${h.dims.join(' × ')} ${h.type} values (${payload} bytes), ` +
        `more than the ${MAX_IDX_PAYLOAD_BYTES} bytes (MAX_IDX_PAYLOAD_BYTES) an IDX file may hold`,
    );
  }
}

function lengthError(h: IdxHeader, found: number, source: string): Error {
  const what = found < h.totalBytes ? 'truncated' : 'too long';
  return new Error(
    `${source}: ${what}: header says ${h.dims.join(' × ')} ${h.type} values, ` +
      `i.e. ${h.totalBytes} bytes with the ${h.headerBytes}-byte header; found ${found} bytes`,
  );
}

/**
 * Decodes IDX bytes. `source` names the data in error messages (usually the file path).
 * Checks the magic number, the header and that the file holds exactly the values the header announces.
 * @param buf The file’s bytes (after gunzip).
 * @param source The file’s name, for messages.
 */
export function parseIdx(buf: Uint8Array, source = 'IDX data'): IdxArray {
  const h = parseIdxHeader(buf, source);
  const { magic, headerBytes, dims } = h;
  const type = Object.values(IDX_TYPES).find((t) => t.name === h.type)!;
  const count = (h.totalBytes - headerBytes) / type.bytes;
  const expected = h.totalBytes;
  if (buf.length !== expected) {
    throw lengthError(h, buf.length, source);
  }
  const body = buf.subarray(headerBytes);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'ubyte':
      data = new Uint8Array(body); // a copy: the caller may keep it while the file buffer is dropped
      break;
    case 'sbyte':
      data = new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
      break;
    default: {
      // Multi-byte values are big-endian in IDX; DataView converts them whatever the host order.
      const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (type.name === 'short') {
        const a = new Int16Array(count);
        for (let i = 0; i < count; i++) a[i] = bv.getInt16(2 * i, false);
        data = a;
      } else if (type.name === 'int') {
        const a = new Int32Array(count);
        for (let i = 0; i < count; i++) a[i] = bv.getInt32(4 * i, false);
        data = a;
      } else if (type.name === 'float') {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = bv.getFloat32(4 * i, false);
        data = a;
      } else {
        const a = new Float64Array(count);
        for (let i = 0; i < count; i++) a[i] = bv.getFloat64(8 * i, false);
        data = a;
      }
    }
  }
  return { magic, type: type.name, dims: [...dims], data };
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // closing a descriptor we opened for reading cannot lose data
  }
}

/**
 * Opens an IDX file (raw or gzipped) and reads its header: from the first bytes of a raw file,
 * or from the first inflated bytes of a gzipped one (never inflating much more than the header).
 * Returns the header with the compressed bytes (gzip) or the open descriptor (raw) to go on with.
 */
function openIdx(file: string): { header: IdxHeader; gz?: Buffer; fd?: number; size: number } {
  const { fd, size } = openDataFile(file, MAX_IDX_HEADER_BYTES + MAX_IDX_PAYLOAD_BYTES, 'an IDX file');
  try {
    const head = readAt(fd, Math.min(size, MAX_IDX_HEADER_BYTES), 0);
    if (isGzip(head)) {
      const gz = readAt(fd, size, 0);
      closeQuietly(fd);
      const header = parseIdxHeader(gunzipHead(gz, MAX_IDX_HEADER_BYTES, file), file);
      checkPolicy(header, file);
      return { header, gz, size };
    }
    const header = parseIdxHeader(head, file);
    checkPolicy(header, file);
    return { header, fd, size };
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
}

/**
 * Reads only the header of an IDX file (raw or gzipped): magic, type and dimensions, e.g. to
 * check the number of images against the labels before reading the images.
 * @param file The IDX file (gzip or not).
 */
export function readIdxHeader(file: string): IdxHeader {
  const { header, fd } = openIdx(file);
  if (fd !== undefined) closeQuietly(fd);
  return header;
}

/**
 * Reads an IDX file, raw or gzipped. `check`, when given, sees the header before the body is
 * read or inflated and throws to refuse the file.
 * @param file The IDX file (gzip or not).
 * @param check Checks the header before the data is read.
 */
export function readIdx(file: string, check?: (header: IdxHeader) => void): IdxArray {
  const { header, gz, fd, size } = openIdx(file);
  let body: Buffer;
  try {
    check?.(header);
    if (gz) {
      body = gunzipBounded(
        gz,
        header.totalBytes,
        file,
        `the ${header.totalBytes} bytes its IDX header announces (${header.dims.join(' × ')} ${header.type} values)`,
      );
    } else {
      if (size !== header.totalBytes) throw lengthError(header, size, file);
      body = readAt(fd!, size, 0);
    }
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
  return parseIdx(body, file);
}

/** What an images or labels file is expected to hold; unset fields are not checked. */
export interface IdxExpectation {
  /** Number of examples (the first dimension). */
  count?: number;
  /** Image height and width, e.g. `[28, 28]`. */
  imageShape?: readonly number[];
}

/**
 * Reads an IDX images file (magic 2051: ubyte, 3 dims) into a float32 tensor of one-channel images
 * `(n, rows, cols, 1)` (channels-last) scaled to [0, 1] (byte / 255).
 *
 * @example
 * const { x, imageShape } = readIdxImages('t10k-images-idx3-ubyte.gz', { count: 10000, imageShape: [28, 28] });
 * @param file The IDX file of images.
 * @param expect The count and image size expected.
 */
export function readIdxImages(file: string, expect: IdxExpectation = {}): { x: Tensor; imageShape: number[] } {
  const idx = readIdx(file, (h) => checkImagesHeader(h, file, expect));
  const [n, rows, cols] = idx.dims;
  const pixels = bytesToUnitTensor(idx.data as Uint8Array, n, rows * cols);
  return { x: wrap([n, rows, cols, 1], pixels.data), imageShape: [rows, cols] };
}

function checkImagesHeader(idx: IdxHeader, file: string, expect: IdxExpectation): void {
  if (idx.type !== 'ubyte' || idx.dims.length !== 3) {
    throw new Error(
      `${file}: expected an IDX images file (magic 2051: unsigned bytes, 3 dimensions), ` +
        `got magic ${idx.magic} (${idx.type}, ${idx.dims.length} dimensions)`,
    );
  }
  const [n, rows, cols] = idx.dims;
  if (expect.count !== undefined && n !== expect.count) {
    throw new Error(`${file}: expected ${expect.count} images, header says ${n}`);
  }
  if (expect.imageShape && (rows !== expect.imageShape[0] || cols !== expect.imageShape[1])) {
    throw new Error(`${file}: expected ${expect.imageShape.join('×')} images, header says ${rows}×${cols}`);
  }
}

/**
 * Reads an IDX labels file (magic 2049: ubyte, 1 dim) into an Int32Array, checking that every
 * label is below `numClasses`.
 * @param file The IDX file of labels.
 * @param expect The count expected.
 */
export function readIdxLabels(file: string, expect: { count?: number; numClasses?: number } = {}): Int32Array {
  const idx = readIdx(file, (h) => {
    if (h.type !== 'ubyte' || h.dims.length !== 1) {
      throw new Error(
        `${file}: expected an IDX labels file (magic 2049: unsigned bytes, 1 dimension), ` +
          `got magic ${h.magic} (${h.type}, ${h.dims.length} dimensions)`,
      );
    }
    const n = h.dims[0];
    if (expect.count !== undefined && n !== expect.count) {
      throw new Error(`${file}: expected ${expect.count} labels, header says ${n}`);
    }
  });
  const labels = Int32Array.from(idx.data as Uint8Array);
  if (expect.numClasses !== undefined) {
    const bad = labels.findIndex((l) => l >= expect.numClasses!);
    if (bad >= 0) throw new Error(`${file}: label ${labels[bad]} at index ${bad} is not below ${expect.numClasses}`);
  }
  return labels;
}

/** Bytes 0..255 → float32 in [0, 1], as an `(n, features)` tensor. */
export function bytesToUnitTensor(bytes: Uint8Array, n: number, features: number): Tensor {
  const out = new Float32Array(n * features);
  for (let i = 0; i < out.length; i++) out[i] = bytes[i] / 255;
  return wrap([n, features], out);
}

/**
 * Encodes an IDX file (the inverse of `parseIdx`, for ubyte data): handy for tests and for
 * saving a subset in the standard format.
 *
 * @example
 * fs.writeFileSync('labels-idx1-ubyte', encodeIdx(Uint8Array.of(3, 1, 4), [3]));
 * @param data The values, one byte each.
 * @param dims The dimensions.
 */
export function encodeIdx(data: Uint8Array, dims: readonly number[]): Buffer {
  const count = dims.reduce((p, d) => p * d, 1);
  if (count !== data.length) throw new RangeError(`encodeIdx: dims ${dims.join('×')} need ${count} bytes, got ${data.length}`);
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
