/**
 * Colour images as tensors: a PNG file read into `(height, width, 3)` float32 in [0, 1], channels-last
 * (the layout of the whole library), and such a tensor written back as a PNG.
 */
import * as fs from 'fs';
import { PNG } from 'pngjs';
import { Tensor, formatShape, wrap } from '../tensor';
import { writeFileAtomic } from './read';
import { PNG_HEADER_BYTES, checkPng, decodePng, pngSize } from './png';
import { MAX_PNG_FILE_BYTES, openDataFile, readAt, readDataFile } from './read';

/**
 * Reads a PNG file as an RGB image: float32 `(height, width, 3)`, channels-last, each channel byte / 255
 * in [0, 1].
 *
 * Every PNG colour type is read: grey (and grey + alpha) is expanded to three equal channels, a
 * palette is looked up, and the alpha channel is dropped (not blended with any background: a
 * transparent pixel keeps its colour). 16-bit channels are read at 8-bit precision.
 *
 * Refused with an error naming the file: anything but a regular file, files over MAX_PNG_FILE_BYTES,
 * bytes that are not a PNG, a file cut short (a chunk running past its end, or no IEND chunk),
 * images over MAX_PNG_PIXELS pixels or MAX_PNG_SIDE on a side (checked from the header before decoding), and interlaced
 * images (pngjs cannot bound their decompression; save them again without interlacing).
 *
 * @example
 * const photo = readImage('cat.png');      // (300, 451, 3), values in [0, 1]
 * const batch = reshape(photo, [1, ...photo.shape]); // (1, 300, 451, 3) for a Conv2D
 * @param file The PNG file.
 * @returns The image, `(height, width, 3)`.
 */
export function readImage(file: string): Tensor {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`readImage: file must be the path of a PNG file, got ${describe(file)}`);
  }
  const bytes = readDataFile(file, MAX_PNG_FILE_BYTES, 'a PNG image');
  const png = decodePng(bytes, file, checkPng(bytes, file, 'an image'));
  const rgba = png.data;
  const n = png.width * png.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = rgba[4 * i] / 255;
    out[3 * i + 1] = rgba[4 * i + 1] / 255;
    out[3 * i + 2] = rgba[4 * i + 2] / 255;
  }
  return wrap([png.height, png.width, 3], out);
}

/**
 * Writes an image tensor as an 8-bit PNG: `(height, width, 3)` as RGB, `(height, width, 1)` as grey.
 * A leading batch axis of 1, `(1, height, width, chan)`, is accepted too (what a Conv2D net gives).
 * Values are clamped to [0, 1] and stored as round(value × 255), so reading the file back with
 * {@link readImage} gives every value within 0.5 / 255 of the clamped one.
 *
 * The file is written atomically (a reader sees the old file or the complete new one). Refused,
 * before anything is written: a shape other than those above, data whose length does not match the
 * shape, and NaN or infinite values (the error names the first one's position).
 *
 * @example
 * writeImage('out.png', readImage('cat.png'));   // a copy, as RGB
 * @param file Where the PNG is written.
 * @param image The image, `(height, width, 1 | 3)` or `(1, height, width, 1 | 3)`, values in [0, 1].
 */
export function writeImage(file: string, image: Tensor): void {
  if (typeof file !== 'string' || file === '') {
    throw new TypeError(`writeImage: file must be the path of the PNG to write, got ${describe(file)}`);
  }
  const shape = image?.shape;
  const data = image?.data;
  if (!Array.isArray(shape)) {
    throw new TypeError(`writeImage: image must be a tensor { shape, data }, got ${describe(image)}`);
  }
  const dims = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : [...shape];
  const [height, width, chan] = dims;
  const positive = (d: number): boolean => Number.isInteger(d) && d > 0;
  if (dims.length !== 3 || !positive(height) || !positive(width) || (chan !== 1 && chan !== 3)) {
    throw new RangeError(
      `writeImage: image must have shape (height, width, 1 | 3) or (1, height, width, 1 | 3), got ${formatShape(shape)}`,
    );
  }
  const n = height * width;
  if (!data || typeof data.length !== 'number' || data.length !== n * chan) {
    throw new RangeError(
      `writeImage: image data must hold ${n * chan} values for shape ${formatShape(shape)}, got ${data?.length ?? describe(data)}`,
    );
  }
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const k = chan === 3 ? 3 * i + c : i;
      const v = data[k];
      if (!Number.isFinite(v)) {
        const y = Math.floor(i / width);
        const x = i % width;
        throw new RangeError(
          `writeImage: image value at (${y}, ${x}, ${chan === 3 ? c : 0}) is ${v}; expected finite values in [0, 1] (others are clamped)`,
        );
      }
      rgba[4 * i + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    rgba[4 * i + 3] = 255;
  }
  const png = new PNG({ width, height });
  png.data = rgba;
  const bytes = PNG.sync.write(png, { colorType: chan === 3 ? 2 : 0, inputColorType: 6, inputHasAlpha: true });
  writeFileAtomic(file, bytes, { who: 'writeImage', mkdir: true });
}

/**
 * Per output index, the source indices and weights that make it: the mean of the source pixels it
 * covers when shrinking (each source pixel counted by the part of it the output pixel covers), a
 * linear interpolation between the two nearest source pixel centres when enlarging.
 */
function resampleWeights(from: number, to: number): { index: Int32Array; weight: Float32Array; start: Int32Array } {
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(to + 1);
  const scale = from / to;
  for (let o = 0; o < to; o++) {
    start[o] = index.length;
    if (scale >= 1) {
      const lo = o * scale;
      const hi = lo + scale;
      for (let s = Math.floor(lo); s < Math.min(from, Math.ceil(hi)); s++) {
        const overlap = Math.min(hi, s + 1) - Math.max(lo, s);
        if (overlap > 0) {
          index.push(s);
          weight.push(overlap / scale);
        }
      }
    } else {
      const centre = Math.min(from - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const s = Math.floor(centre);
      const t = centre - s;
      index.push(s);
      weight.push(1 - t);
      if (t > 0 && s + 1 < from) {
        index.push(s + 1);
        weight.push(t);
      }
    }
  }
  start[to] = index.length;
  return { index: Int32Array.from(index), weight: Float32Array.from(weight), start };
}

/**
 * The sides `[height, width]` of an image of `h`×`w` pixels resized so that its longest side is
 * `size`, its aspect kept (each side at least 1), as {@link resizeImage} makes them. @internal
 */
export function fittedSides(h: number, w: number, size: number): [number, number] {
  const scale = size / Math.max(h, w);
  return [Math.max(1, Math.round(h * scale)), Math.max(1, Math.round(w * scale))];
}

/**
 * The width and height a PNG file's header declares, read from its first bytes (nothing decoded),
 * for a caller that refuses a size before paying for the decoding; throws when the file cannot
 * be read or is not a PNG ({@link readImage} then says why in full). @internal
 */
export function pngFileSize(file: string): { width: number; height: number } {
  const { fd } = openDataFile(file, MAX_PNG_FILE_BYTES, 'a PNG image');
  try {
    return pngSize(readAt(fd, PNG_HEADER_BYTES, 0), file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Resizes a channels-last image `(height, width, chan)`: shrinking averages the source pixels each
 * output pixel covers (no aliasing, as PIL's box filter or PyTorch's `interpolate(mode='area')`),
 * enlarging interpolates linearly (as `mode='bilinear'` with `align_corners=False`).
 *
 * @example
 * resizeImage(readImage('cat.png'), 128);          // (300, 451, 3) → (85, 128, 3): longest side 128
 * resizeImage(readImage('cat.png'), [64, 64]);     // → (64, 64, 3), aspect ratio not kept
 * @param image The image, `(height, width, chan)`.
 * @param size The longest side of the result, the aspect ratio kept (each side at least 1); or `[height, width]`.
 * @returns A new image of the requested size.
 */
export function resizeImage(image: Tensor, size: number | readonly [number, number]): Tensor {
  const shape = image?.shape;
  if (
    !Array.isArray(shape) ||
    !(image.data instanceof Float32Array) ||
    shape.length !== 3 ||
    image.data.length !== shape[0] * shape[1] * shape[2]
  ) {
    throw new TypeError(
      `resizeImage: image must be a tensor (height, width, chan), got ${Array.isArray(shape) ? formatShape(shape) : describe(image)}`,
    );
  }
  const [h, w, chan] = shape;
  const whole = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
  let outH: number;
  let outW: number;
  if (typeof size === 'number' && whole(size)) {
    [outH, outW] = fittedSides(h, w, size);
  } else if (Array.isArray(size) && size.length === 2 && whole(size[0]) && whole(size[1])) {
    [outH, outW] = size;
  } else {
    throw new RangeError(`resizeImage: size must be an integer in [1, 65535] or [height, width], got ${describe(size)}`);
  }
  const rows = resampleWeights(h, outH);
  const cols = resampleWeights(w, outW);
  // Columns first into (h, outW, chan), then rows.
  const mid = new Float32Array(h * outW * chan);
  const src = image.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      const dst = (y * outW + x) * chan;
      for (let k = cols.start[x]; k < cols.start[x + 1]; k++) {
        const from = (y * w + cols.index[k]) * chan;
        const wt = cols.weight[k];
        for (let c = 0; c < chan; c++) mid[dst + c] += wt * src[from + c];
      }
    }
  }
  const out = new Float32Array(outH * outW * chan);
  for (let y = 0; y < outH; y++) {
    for (let k = rows.start[y]; k < rows.start[y + 1]; k++) {
      const from = rows.index[k] * outW * chan;
      const wt = rows.weight[k];
      const dst = y * outW * chan;
      for (let i = 0; i < outW * chan; i++) out[dst + i] += wt * mid[from + i];
    }
  }
  return wrap([outH, outW, chan], out);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : `an object with keys ${Object.keys(v).join(', ') || '(none)'}`;
  return `${typeof v} ${String(v)}`;
}
