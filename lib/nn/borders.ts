/**
 * Borders around channels-last images, added and taken off in JavaScript for the layers whose
 * kernels do not pad as those layers need: Conv1D (its kernels never pad), Conv2D's `'same'` on
 * an even kernel (one zero more after the image than before it; the conv2d kernels pad both sides
 * alike) and the poolings' padding (−∞ around a maximum, zeros in a mean). A sequence
 * (batch, length, chan) is an image one row high. Each is a copy of the input, the price of
 * keeping the kernels to one geometry.
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

/**
 * `x`, `batch` images of height × width × chan, inside `border` filled with `fill`: new data of
 * (batch, height + top + bottom, width + left + right, chan), or `x` itself when the border is
 * empty.
 * @internal
 */
export function addBorder(x: Float32Array, batch: number, height: number, width: number, chan: number, border: Border, fill = 0): Images {
  const out = { height: height + border.top + border.bottom, width: width + border.left + border.right };
  if (isNone(border)) return { data: x, ...out };
  const data = new Float32Array(batch * out.height * out.width * chan);
  if (fill !== 0) data.fill(fill);
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
