/**
 * Two-dimensional toy problems like the original course's `gen_arti`: two Gaussian blobs
 * (linearly separable), XOR (four blobs) and a checkerboard. Labels are 0 / 1; `x` is `(n, 2)`.
 * Examples come in a random order, so a plain split or batching sees both classes.
 */
import { Rng } from '../random';
import { checkOptionsObject } from '../options';
import { numberOrDescribe, wrap } from '../tensor';
import { Dataset, makeDataset } from './dataset';

/** Options shared by the synthetic datasets: size, noise and seed. */
export interface SyntheticOptions {
  /** Number of points (default 400). Blobs are filled as evenly as `n` allows. */
  n?: number;
  /** Standard deviation of the Gaussian noise added to each point. */
  noise?: number;
  /** Seed of the generator, an integer (taken modulo 2^32); the same seed gives the same data (default 0). */
  seed?: number;
}

/** Options of {@link gaussianBlobs} and {@link xor}. */
export interface BlobOptions extends SyntheticOptions {
  /** Blob centres are at `(±center, ±center)` (default 1), a number in (0, 1e30]. */
  center?: number;
}

/** Options of {@link checkerboard}. */
export interface CheckerboardOptions extends SyntheticOptions {
  /** Points are uniform in `[-extent, extent]²` (default 4, as in the course), a number in (0, 1e30]. */
  extent?: number;
  /** Side of one square (default 1), at least `extent / 2^20`. */
  cell?: number;
}

/**
 * The largest centre, extent, cell or noise taken: far beyond any use, and small enough that
 * every coordinate drawn (normal draws stay within ±7) fits a float32.
 */
const MAX_SCALE = 1e30;

/** Checks option `what`: a finite number in (0, 1e30], or in [0, 1e30] when `zero` is allowed. */
function scaleOption(who: string, what: string, v: unknown, zero: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v > MAX_SCALE || (zero ? v < 0 : v <= 0)) {
    throw new RangeError(`${who}: ${what} must be a finite number ${zero ? '≥ 0' : '> 0'} and at most 1e30, got ${numberOrDescribe(v)}`);
  }
  return v;
}

function checkCommon(
  who: string,
  options: SyntheticOptions | undefined,
  known: readonly string[],
  defaultNoise: number,
): { o: SyntheticOptions; n: number; noise: number; rng: Rng } {
  const o = checkOptionsObject(who, options, ['n', 'noise', 'seed', ...known]);
  const n = o.n ?? 400;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new RangeError(`${who}: n must be a positive integer, got ${numberOrDescribe(n)}`);
  }
  const noise = o.noise ?? defaultNoise;
  if (typeof noise !== 'number' || !(noise >= 0) || !Number.isFinite(noise)) {
    throw new RangeError(`${who}: noise must be a finite number ≥ 0, got ${numberOrDescribe(noise)}`);
  }
  scaleOption(who, 'noise', noise, true);
  const seed = o.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed))
    throw new RangeError(`${who}: seed must be an integer, got ${numberOrDescribe(seed)}`);
  return { o, n, noise, rng: new Rng(seed) };
}

/**
 * Draws `n` points from blobs centred at `centres`, blob `k` getting `floor(n / K)` points plus one
 * for the first `n mod K` blobs, then shuffles. `accept` can reject a draw (it is redrawn).
 */
function blobs(
  name: string,
  n: number,
  noise: number,
  rng: Rng,
  centres: readonly (readonly [number, number, number])[],
  accept: (x: number, y: number, k: number) => boolean,
): Dataset {
  const K = centres.length;
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const x = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  let i = 0;
  for (let k = 0; k < K; k++) {
    const count = Math.floor(n / K) + (k < n % K ? 1 : 0);
    const [cx, cy, label] = centres[k];
    for (let c = 0; c < count; c++, i++) {
      let px: number;
      let py: number;
      let tries = 0;
      do {
        // Rounded to float32 first, so the constraint holds for the stored values.
        px = Math.fround(cx + noise * rng.normal());
        py = Math.fround(cy + noise * rng.normal());
        if (++tries > 10000) throw new RangeError(`${name}: noise ${noise} is too large for the separability constraint`);
      } while (!accept(px, py, k));
      const dst = order[i];
      x[2 * dst] = px;
      x[2 * dst + 1] = py;
      labels[dst] = label;
    }
  }
  return makeDataset(name, wrap([n, 2], x), labels, 2);
}

/**
 * Two Gaussian blobs: label 1 around `(center, center)`, label 0 around `(-center, -center)`.
 * Points that would fall on the wrong side of the line `x + y = 0` are redrawn, so the classes are
 * always linearly separable (by that line).
 *
 * @example
 * const ds = gaussianBlobs({ n: 200, noise: 0.3, seed: 1 }); // x (200, 2), 100 points per class
 * @param options n, noise, seed, center.
 */
export function gaussianBlobs(options: BlobOptions = {}): Dataset {
  const { o, n, noise, rng } = checkCommon('gaussianBlobs', options, ['center'], 0.3);
  const c = scaleOption('gaussianBlobs', 'center', (o as BlobOptions).center ?? 1, false);
  return blobs(
    'blobs',
    n,
    noise,
    rng,
    [
      [c, c, 1],
      [-c, -c, 0],
    ],
    (x, y, k) => (k === 0 ? x + y > 0 : x + y < 0),
  );
}

/**
 * XOR: four Gaussian blobs at `(±center, ±center)`; label 1 where the centre's coordinates have
 * opposite signs, 0 where they agree. Draws that leave their blob's quadrant are redrawn, so
 * `label === (x * y < 0 ? 1 : 0)` holds for every point and no single line separates the classes.
 *
 * @example
 * const ds = xor({ n: 400, noise: 0.3, seed: 2 }); // 100 points per blob, 200 per class
 * @param options n, noise, seed, center.
 */
export function xor(options: BlobOptions = {}): Dataset {
  const { o, n, noise, rng } = checkCommon('xor', options, ['center'], 0.3);
  const c = scaleOption('xor', 'center', (o as BlobOptions).center ?? 1, false);
  return blobs(
    'xor',
    n,
    noise,
    rng,
    [
      [c, c, 0],
      [-c, c, 1],
      [-c, -c, 0],
      [c, -c, 1],
    ],
    (x, y, k) => Math.sign(x) === Math.sign([c, -c, -c, c][k]) && Math.sign(y) === Math.sign([c, c, -c, -c][k]),
  );
}

/**
 * Checkerboard: points uniform in `[-extent, extent]²`, label `(⌊x / cell⌋ + ⌊y / cell⌋) mod 2`.
 * `noise` (default 0) jitters the points after labelling, blurring the borders.
 *
 * @example
 * const ds = checkerboard({ n: 1000, seed: 3 }); // 8 × 8 squares of side 1
 * @param options n, noise, seed, extent, cell.
 */
export function checkerboard(options: CheckerboardOptions = {}): Dataset {
  const { o, n, noise, rng } = checkCommon('checkerboard', options, ['extent', 'cell'], 0);
  const extent = scaleOption('checkerboard', 'extent', (o as CheckerboardOptions).extent ?? 4, false);
  const cell = scaleOption('checkerboard', 'cell', (o as CheckerboardOptions).cell ?? 1, false);
  // Past about a million squares a side, float32 coordinates no longer tell the squares apart.
  if (extent / cell > 2 ** 20) {
    throw new RangeError(`checkerboard: extent / cell must be at most 2^20 squares, got ${extent} / ${cell} = ${extent / cell}`);
  }
  const x = new Float32Array(2 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const px = (2 * rng.uniform() - 1) * extent;
    const py = (2 * rng.uniform() - 1) * extent;
    labels[i] = checkerboardLabel(px, py, cell);
    x[2 * i] = px + noise * rng.normal();
    x[2 * i + 1] = py + noise * rng.normal();
  }
  return makeDataset('checkerboard', wrap([n, 2], x), labels, 2);
}

/**
 * The checkerboard colour of a point: `(⌊x / cell⌋ + ⌊y / cell⌋) mod 2`, always 0 or 1.
 * @param x First coordinate.
 * @param y Second coordinate.
 * @param cell Side of a square (default 1).
 */
export function checkerboardLabel(x: number, y: number, cell = 1): number {
  const s = Math.floor(x / cell) + Math.floor(y / cell);
  return ((s % 2) + 2) % 2;
}
