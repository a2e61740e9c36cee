/**
 * Borders around channels-last images, added and taken off in JavaScript for the layers whose
 * kernels do not pad as those layers need: Conv1D (its kernels never pad), Conv2D's `'same'` on
 * an even kernel (one zero more after the image than before it; the conv2d kernels pad both sides
 * alike) and the poolings' padding (−∞ around a maximum, zeros in a mean). A sequence
 * (batch, length, chan) is an image one row high. Each is a copy of the input, the price of
 * keeping the kernels to one geometry. Also the poolings' window arithmetic that goes with it:
 * PyTorch's count of windows (floor or ceiling), the border a ceiling's last window needs, and
 * the rescaling that gives a mean PyTorch's divisor.
 * @internal
 */

/** A batch of channels-last images (batch, height, width, chan): their data and size. @internal */
export interface Images {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** Pixels of border on each side of an image. @internal */
export interface Border {
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
  readonly right: number;
}

/** No border: the input itself. @internal */
export const NO_BORDER: Border = Object.freeze({ top: 0, bottom: 0, left: 0, right: 0 });

const isNone = (b: Border): boolean => b.top === 0 && b.bottom === 0 && b.left === 0 && b.right === 0;

/**
 * Copies the `height` × `width` block at (fromTop, fromLeft) of each of `batch` images of `from`
 * to (toTop, toLeft) of the same image of `to`, `chan` floats a pixel; the rest of `to` keeps
 * its values.
 */
function copyBlock(
  from: Images,
  fromTop: number,
  fromLeft: number,
  to: Images,
  toTop: number,
  toLeft: number,
  batch: number,
  height: number,
  width: number,
  chan: number,
): void {
  const row = width * chan;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < height; i++) {
      const src = ((b * from.height + fromTop + i) * from.width + fromLeft) * chan;
      to.data.set(from.data.subarray(src, src + row), ((b * to.height + toTop + i) * to.width + toLeft) * chan);
    }
  }
}

/** Writes `fill` over the border of each of `batch` images (height + top + bottom) × (width + left + right) in `data`. */
function fillBorder(data: Float32Array, batch: number, height: number, width: number, chan: number, border: Border, fill: number): void {
  const rows = height + border.top + border.bottom;
  const row = (width + border.left + border.right) * chan;
  for (let b = 0; b < batch; b++) {
    const image = b * rows * row;
    data.fill(fill, image, image + border.top * row);
    data.fill(fill, image + (border.top + height) * row, image + rows * row);
    for (let i = border.top; i < border.top + height; i++) {
      const start = image + i * row;
      data.fill(fill, start, start + border.left * chan);
      data.fill(fill, start + (border.left + width) * chan, start + row);
    }
  }
}

/**
 * `x`, `batch` images of height × width × chan, inside `border` filled with `fill`: data of
 * (batch, height + top + bottom, width + left + right, chan), written into `into` where given (a
 * module's reused buffer of that size: every value is written) or new; `x` itself when the
 * border is empty.
 * @internal
 */
export function addBorder(
  x: Float32Array,
  batch: number,
  height: number,
  width: number,
  chan: number,
  border: Border,
  fill = 0,
  into?: Float32Array,
): Images {
  const out = { height: height + border.top + border.bottom, width: width + border.left + border.right };
  if (isNone(border)) return { data: x, ...out };
  const data = into ?? new Float32Array(batch * out.height * out.width * chan);
  // A new array is zeros already.
  if (into || fill !== 0) fillBorder(data, batch, height, width, chan, border, fill);
  copyBlock({ data: x, height, width }, 0, 0, { data, ...out }, border.top, border.left, batch, height, width, chan);
  return { data, ...out };
}

/**
 * What {@link addBorder} added, taken off again: the images inside `border` of `bordered`
 * written to `out` (batch, height, width, chan). A gradient with respect to a border is dropped:
 * the border is a constant, not an input.
 * @internal
 */
export function removeBorder(
  bordered: Images,
  out: Float32Array,
  batch: number,
  height: number,
  width: number,
  chan: number,
  border: Border,
): void {
  copyBlock(bordered, border.top, border.left, { data: out, height, width }, 0, 0, batch, height, width, chan);
}

/** One axis of a pooling: its window, stride and padding. @internal */
export interface PoolAxis {
  readonly kSize: number;
  readonly stride: number;
  readonly padding: number;
}

/**
 * PyTorch's count of a pooling's windows on an axis of `n` values, and how many cells its last
 * window reaches past the padding after the input (`overhang`, which the kernels need as more
 * border). Without `ceil` the windows that fit: ⌊(n + 2p − k) / s⌋ + 1. With it, ⌈(n + 2p − k) / s⌉
 * + 1, less one where that last window would start past the input, in the padding after it
 * (it would pool padding alone); only then can a window overhang.
 * @internal
 */
export function poolWindows(n: number, axis: PoolAxis, ceil: boolean): { windows: number; overhang: number } {
  const { kSize: k, stride: s, padding: p } = axis;
  const span = n + 2 * p - k;
  if (span < 0) return { windows: 0, overhang: 0 };
  let windows = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (windows - 1) * s >= n + p) windows--;
  return { windows, overhang: Math.max(0, (windows - 1) * s + k - (n + 2 * p)) };
}

/**
 * For a mean over the windows of an axis: k / (the cells of the window that the mean counts) per
 * window, the factor that turns the kernels' sum / k into PyTorch's mean. It counts the padding
 * with `countPadding` (PyTorch's default `count_include_pad`) and never what a ceiling's last
 * window overhangs past it. Null where every window counts k cells (all factors 1).
 * @internal
 */
export function meanFactors(n: number, axis: PoolAxis, windows: number, countPadding: boolean): Float32Array | null {
  const { kSize: k, stride: s, padding: p } = axis;
  // Padded coordinates: the input is [p, p + n), the padding around it.
  const [first, end] = countPadding ? [0, n + 2 * p] : [p, n + p];
  const counted = (o: number): number => Math.min(o * s + k, end) - Math.max(o * s, first);
  let all = true;
  for (let o = 0; o < windows && all; o++) all = counted(o) === k;
  return all ? null : Float32Array.from({ length: windows }, (_, o) => k / counted(o));
}

/**
 * Multiplies the outputs (batch, rows, cols, chan) at window (i, j) by rowFactors[i] ·
 * colFactors[j] (a null list: all 1), in place: {@link overhangFactors} applied to a mean's
 * outputs, or to the gradient that flows back through them.
 * @internal
 */
export function scaleWindows(
  y: Float32Array,
  batch: number,
  rows: number,
  cols: number,
  chan: number,
  rowFactors: Float32Array | null,
  colFactors: Float32Array | null,
): void {
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      const fi = rowFactors ? rowFactors[i] : 1;
      for (let j = 0; j < cols; j++) {
        const f = fi * (colFactors ? colFactors[j] : 1);
        if (f === 1) continue;
        const at = ((b * rows + i) * cols + j) * chan;
        for (let c = 0; c < chan; c++) y[at + c] *= f;
      }
    }
  }
}
