/**
 * Reading data files without letting a small or strange file exhaust memory.
 *
 * Every reader in lib/data goes through here: a file is opened once, `fstat`-ed on that open
 * descriptor (so what is checked is what is read), refused when it is not a regular file (a device
 * such as /dev/zero never ends) or larger than the caller's limit, and only then read. Gzip data is
 * inflated with an output bound: the caller states how many bytes the content may have, from a
 * header it has already checked or from a policy maximum, and inflation stops there.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

/**
 * Most bytes the payload of one IDX file may declare (and so the most a gzipped IDX file may
 * inflate to). 1 GiB: the largest standard IDX set, EMNIST ByClass images (814,255 × 28 × 28),
 * holds 0.64 GB; MNIST's training images hold 47 MB. Decoded to float32 this is 4 GiB already.
 */
export const MAX_IDX_PAYLOAD_BYTES = 2 ** 30;

/** An IDX header is 4 bytes of magic plus 4 per dimension, at most 255 dimensions: 1,024 bytes. */
export const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

/**
 * Most bytes a USPS text file may hold, raw or once inflated. 64 MiB: the official training
 * file is 6.0 MB of text (7,291 rows), so this leaves ten times the room and refuses a file that
 * would take gigabytes once split into lines and tokens.
 */
export const MAX_USPS_TEXT_BYTES = 64 * 2 ** 20;

/**
 * Most pixels (width × height) of one PNG sprite. 2^24 (16.8 M, 64 MiB once pngjs expands it to
 * RGBA): the MNIST sprites are 784 × 3,000 = 2.35 M pixels each. Checked from the IHDR chunk
 * before any decoding.
 */
export const MAX_PNG_PIXELS = 2 ** 24;

/**
 * Most bytes of a PNG sprite file. 64 MiB, room for an uncompressed sprite of MAX_PNG_PIXELS grey
 * pixels; the MNIST sprites are 0.5 MB each.
 */
export const MAX_PNG_FILE_BYTES = 64 * 2 ** 20;

/** A file checked by {@link openDataFile}: its open descriptor and size. Close it with `fs.closeSync(fd)`. */
export interface OpenDataFile {
  fd: number;
  size: number;
}

/**
 * Opens `file` for reading and checks it before anything is read: a regular file (not a
 * folder, device, pipe or socket) of at most `maxBytes` bytes. `what` names the kind of file in
 * errors (e.g. "an IDX file").
 */
export function openDataFile(file: string, maxBytes: number, what: string): OpenDataFile {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; for a
    // regular file the flag changes nothing.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file}: cannot read (${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory()
        ? 'a folder'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : st.isFIFO()
            ? 'a pipe'
            : 'not a regular file';
      throw new Error(`${file}: expected ${what} (a regular file), found ${kind}`);
    }
    if (st.size > maxBytes) {
      throw new Error(`${file}: ${st.size} bytes, more than the ${maxBytes} bytes allowed for ${what}`);
    }
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/**
 * Writes all of `bytes` to an open file, in calls of at most 64 MiB (one call moves at most
 * 2 GiB). A call may write less than it is given (a nearly full disk writes what fits and
 * returns its count; the next call throws ENOSPC): the loop goes on until all is written or a
 * call throws, so a writer never takes a short file for a complete one.
 */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) {
    const wrote = fs.writeSync(fd, bytes, at, Math.min(bytes.length - at, 64 * 2 ** 20));
    if (wrote <= 0) throw new Error(`the file system accepted no more bytes after ${at} of ${bytes.length}`);
    at += wrote;
  }
}

/**
 * Reads `length` bytes from `position` of an open file; fewer when the file ends first (it may
 * have shrunk since it was checked).
 */
export function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Reads a whole regular file of at most `maxBytes` bytes (see {@link openDataFile}). */
export function readDataFile(file: string, maxBytes: number, what: string): Buffer {
  const { fd, size } = openDataFile(file, maxBytes, what);
  try {
    const buf = readAt(fd, size, 0);
    if (buf.length !== size) throw new Error(`${file}: shrank from ${size} to ${buf.length} bytes while being read`);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether a buffer starts with the gzip magic bytes.
 * @param buf The bytes of a file.
 */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function isTooLarge(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * Inflates gzip data to at most `maxBytes` bytes; an error naming `source` when the content is
 * longer (`tooLong` says what the bound was) or the stream is corrupt or truncated. zlib stops
 * at the bound (give or take one 16 KiB output chunk) instead of inflating everything first.
 */
export function gunzipBounded(gz: Uint8Array, maxBytes: number, source: string, tooLong: string): Buffer {
  try {
    return zlib.gunzipSync(gz, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (e) {
    if (isTooLarge(e)) throw new Error(`${source}: gzip content is longer than ${tooLong}`);
    throw new Error(`${source}: corrupt or truncated gzip data (${(e as Error).message}); ${gz.length} compressed bytes`);
  }
}

/**
 * The first bytes of the content of gzip data: at least `need` bytes (fewer only when the
 * whole content is shorter), at most about `need + 64 KiB`, however much the data would inflate
 * to. Inflates prefixes of the compressed bytes with a sync flush (partial input is not an
 * error then), searching for a prefix long enough to give `need` bytes but short enough to stay
 * under the bound: one byte of deflate input yields at most a few KiB, so such a prefix exists.
 */
export function gunzipHead(gz: Uint8Array, need: number, source: string): Buffer {
  const cap = need + 64 * 1024;
  const inflate = (k: number): Buffer | 'too large' => {
    try {
      return zlib.gunzipSync(gz.subarray(0, k), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (e) {
      if (isTooLarge(e)) return 'too large';
      throw new Error(`${source}: corrupt gzip data (${(e as Error).message})`);
    }
  };
  let lo = 0; // a prefix length known to give fewer than `need` bytes
  let hi = Infinity; // a prefix length known to give more than `cap` bytes
  let k = Math.min(gz.length, 4096);
  for (;;) {
    const out = inflate(k);
    if (out === 'too large') hi = k;
    else if (out.length >= need || k === gz.length) return out;
    else lo = k;
    const next = hi === Infinity ? Math.min(gz.length, k * 4) : Math.floor((lo + hi) / 2);
    if (next === lo || next === k) throw new Error(`${source}: gzip data inflates too fast to read its header within ${cap} bytes`);
    k = next;
  }
}
