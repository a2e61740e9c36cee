/**
 * Reading PNG files, one way for every reader (readImage, the MNIST sprites, `neurone predict`):
 * the header is read and bounded before anything is inflated, a file cut short is named as such,
 * and pngjs's refusals are put in a reader's terms.
 */
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { MAX_PNG_PIXELS, MAX_PNG_SIDE } from './read';

/** The PNG signature, the 8 bytes every PNG file starts with. */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width, height and interlacing of a PNG, from its IHDR chunk (which the format puts first). */
export interface PngSize {
  width: number;
  height: number;
  interlaced: boolean;
}

/** The bytes {@link pngSize} reads: the signature and the IHDR chunk up to its interlace byte. @internal */
export const PNG_HEADER_BYTES = 29;

/**
 * Reads a PNG's size from its IHDR chunk without decoding anything. Throws, naming `source`,
 * when the bytes do not start with a PNG signature and an IHDR chunk.
 * @param buf The PNG file’s bytes.
 * @param source Its name, for messages.
 */
export function pngSize(buf: Uint8Array, source: string): PngSize {
  // signature (8) | IHDR length (4) = 13 | "IHDR" (4) | width (4) | height (4) | depth, colour,
  // compression, filter, interlace (1 each)
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < PNG_HEADER_BYTES || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`${source}: not a PNG file: no PNG signature and IHDR chunk in its first ${PNG_HEADER_BYTES} bytes`);
  }
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), interlaced: b[28] !== 0 };
}

/**
 * The size of a PNG that {@link decodePng} may decode, checked before anything is inflated: at
 * most MAX_PNG_PIXELS pixels (a small file may announce a huge image), not interlaced (pngjs
 * bounds its inflation by the header's size only without interlacing), and whole (every chunk
 * within the file, up to IEND).
 * @param bytes The file's bytes.
 * @param file Its name, for messages.
 * @param what What the file is, for messages: 'an image', 'a sprite'.
 * @internal
 */
export function checkPng(bytes: Buffer, file: string, what: string): PngSize {
  const size = pngSize(bytes, file);
  // The format has no empty image: a zero side would pass the pixel bound with any other side,
  // and the decoder then makes one row for each of up to 2^31 declared lines.
  if (size.width === 0 || size.height === 0) {
    throw new Error(`${file}: ${size.width}×${size.height} pixels: a PNG's width and height are at least 1`);
  }
  if (size.width * size.height > MAX_PNG_PIXELS) {
    throw new Error(`${file}: ${size.width}×${size.height} pixels, more than the ${MAX_PNG_PIXELS} (MAX_PNG_PIXELS) ${what} may have`);
  }
  if (size.width > MAX_PNG_SIDE || size.height > MAX_PNG_SIDE) {
    throw new Error(`${file}: ${size.width}×${size.height} pixels: a side over the ${MAX_PNG_SIDE} (MAX_PNG_SIDE) ${what} may have`);
  }
  if (size.interlaced) {
    throw new Error(`${file}: interlaced PNG (Adam7), which is not read; save it again without interlacing`);
  }
  checkChunks(bytes, file);
  checkImageData(bytes, file, size);
  return size;
}

/** Samples per pixel of each PNG colour type (grey, RGB, palette index, grey + alpha, RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Checks that the image data (the IDAT chunks, inflated) holds exactly the rows the header
 * declares: the decoder fills the rows of a short stream with zeros, so that a file whose data
 * was cut, or whose header claims more rows than it holds, would read as an image with black
 * rows. Inflating stops one byte past the expected length, so a stream that holds more costs
 * no more memory than the image.
 */
function checkImageData(bytes: Buffer, file: string, size: PngSize): void {
  const depth = bytes[24];
  const channels = CHANNELS[bytes[25]];
  // An unknown colour type or depth: the decoder names it.
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) return;
  const rowBytes = 1 + Math.ceil((size.width * channels * depth) / 8);
  const expected = size.height * rowBytes;
  const parts: Buffer[] = [];
  for (let offset = 8; offset + 8 <= bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT') parts.push(bytes.subarray(offset + 8, offset + 8 + length));
    if (type === 'IEND') break;
    offset += 12 + length;
  }
  let inflated: Buffer;
  try {
    inflated = zlib.inflateSync(Buffer.concat(parts), { maxOutputLength: expected + 1, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`${file}: its image data holds more than the ${size.height} rows of ${size.width} pixels its header declares`);
    }
    throw unreadablePng(file, e);
  }
  if (inflated.length !== expected) {
    throw new Error(
      `${file}: its image data holds ${inflated.length} bytes where the ${size.height} rows of ${size.width} pixels its header declares take ${expected}: the file is damaged or cut`,
    );
  }
}

/**
 * Walks the chunks of a PNG (length, type, data, CRC) and refuses a file cut short, with the byte
 * where it ends, before pngjs reports it as "read requests waiting on finished stream"; and a
 * header chunk (IHDR) that is not the first one's 13 bytes, or that comes again: the sizes checked
 * are the first IHDR's, and pngjs allocates the image of the last one before reading any data (a
 * 93-byte file whose second IHDR said 30000×30000 took 10 GB).
 */
function checkChunks(bytes: Buffer, file: string): void {
  if (bytes.readUInt32BE(8) !== 13) {
    throw new Error(`${file}: damaged PNG: its IHDR chunk holds ${bytes.readUInt32BE(8)} bytes, where the format has 13`);
  }
  let offset = 8;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) {
      throw new Error(`${file}: truncated PNG: ${bytes.length} bytes, the chunk header at byte ${offset} is cut short`);
    }
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      // A chunk type is four letters; anything else (an escape sequence) is not printed as it is.
      const name = /^[A-Za-z]{4}$/.test(type) ? type : `0x${bytes.toString('hex', offset + 4, offset + 8)}`;
      throw new Error(`${file}: truncated PNG: its ${name} chunk at byte ${offset} needs ${end} bytes, the file has ${bytes.length}`);
    }
    if (type === 'IEND') return;
    if (type === 'IHDR' && offset !== 8) {
      throw new Error(`${file}: damaged PNG: a second IHDR (header) chunk at byte ${offset}; a PNG has one, first`);
    }
    offset = end;
  }
  throw new Error(`${file}: truncated PNG: ${bytes.length} bytes and no IEND chunk (the file ends early)`);
}

/**
 * A decoded PNG: 8-bit RGBA, row after row. Its own type, not pngjs's, so the declarations the
 * package ships do not need pngjs's types. @internal
 */
export interface DecodedPng {
  width: number;
  height: number;
  data: Buffer;
}

/**
 * The error for PNG bytes the decoder (pngjs) refuses. Its own messages ("have should not go
 * down", "unrecognised content at end of stream" for a bad CRC) neither name the file nor say
 * what is wrong in a reader's terms: the message does, quoting the decoder's text, and the
 * decoder's error is kept as `cause`. @internal
 */
export function unreadablePng(file: string, e: unknown): Error {
  const said = e instanceof Error ? e.message : String(e);
  const err: Error & { cause?: unknown } = new Error(
    `${file}: not a readable PNG: damaged, or in a form the decoder does not read (pngjs: "${said}")`,
  );
  err.cause = e;
  return err;
}

/**
 * Decodes a PNG that {@link checkPng} accepted into pngjs's 8-bit RGBA, whatever the file's colour
 * type; refuses, naming `file`, bytes pngjs cannot decode or that decode to another size than the
 * header says. @internal
 */
export function decodePng(bytes: Buffer, file: string, size: PngSize): DecodedPng {
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (e) {
    throw unreadablePng(file, e);
  }
  if (png.width !== size.width || png.height !== size.height) {
    throw new Error(`${file}: decoded as ${png.width}×${png.height}, its header says ${size.width}×${size.height}`);
  }
  return png;
}
