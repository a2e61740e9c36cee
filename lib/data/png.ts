/**
 * Reading PNG files, one way for every reader (readImage, the MNIST sprites, `neurone predict`):
 * the header is read and bounded before anything is inflated, a file cut short is named as such,
 * and pngjs's refusals are put in a reader's terms.
 */
import { PNG } from 'pngjs';
import { MAX_PNG_PIXELS } from './read';

/** The PNG signature, the 8 bytes every PNG file starts with. */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width, height and interlacing of a PNG, from its IHDR chunk (which the format puts first). */
export interface PngSize {
  width: number;
  height: number;
  interlaced: boolean;
}

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
  if (b.length < 29 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`${source}: not a PNG file: no PNG signature and IHDR chunk in its first 29 bytes`);
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
  if (size.width * size.height > MAX_PNG_PIXELS) {
    throw new Error(`${file}: ${size.width}×${size.height} pixels, more than the ${MAX_PNG_PIXELS} (MAX_PNG_PIXELS) ${what} may have`);
  }
  if (size.interlaced) {
    throw new Error(`${file}: interlaced PNG (Adam7), which is not read; save it again without interlacing`);
  }
  checkChunks(bytes, file);
  return size;
}

/**
 * Walks the chunks of a PNG (length, type, data, CRC) and refuses a file cut short, with the byte
 * where it ends, before pngjs reports it as "read requests waiting on finished stream".
 */
function checkChunks(bytes: Buffer, file: string): void {
  let offset = 8;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) {
      throw new Error(`${file}: truncated PNG: ${bytes.length} bytes, the chunk header at byte ${offset} is cut short`);
    }
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      throw new Error(`${file}: truncated PNG: its ${type} chunk at byte ${offset} needs ${end} bytes, the file has ${bytes.length}`);
    }
    if (type === 'IEND') return;
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
