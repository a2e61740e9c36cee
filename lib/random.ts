/** The state of an {@link Rng}, as plain JSON: four 32-bit words and the cached second normal. */
export interface RngState {
  s: [number, number, number, number];
  spareNormal: number | null;
}

/**
 * Seedable random numbers, so initialisation and shuffling are reproducible.
 *
 * The generator is xoshiro128**: 128 bits of state, 32-bit output, fast in
 * JavaScript because it needs only 32-bit integer operations.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  /**
   * A generator started from `seed`.
   * @param seed The initial state (any integer).
   */
  constructor(seed = 0x9e3779b9) {
    this.reseed(seed);
  }

  /**
   * Resets the state from a seed (any number; integers are the usual choice).
   * @param seed The new initial state (any integer).
   */
  reseed(seed: number): void {
    // splitmix32 spreads a small seed over the four state words, so seeds 0, 1, 2 give unrelated streams.
    let x = (Math.floor(seed) ^ 0x6d2b79f5) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next() | 0;
    this.s1 = next() | 0;
    this.s2 = next() | 0;
    this.s3 = next() | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spareNormal = null;
  }

  /**
   * The generator's full state (for checkpoints): restoring it with {@link setState}
   * continues the exact same stream.
   *
   * @example
   * const saved = rng.getState();
   * const a = rng.uniform();
   * rng.setState(saved);
   * rng.uniform() === a  // true
   */
  getState(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spareNormal: this.spareNormal };
  }

  /**
   * Puts back a state from {@link getState}; throws a RangeError naming the bad field.
   * @param state What `getState()` returned.
   */
  setState(state: RngState): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RangeError(`Rng.setState: expected s to be four unsigned 32-bit integers, got ${JSON.stringify(s)}`);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new RangeError('Rng.setState: the state words cannot all be zero');
    const spare = state.spareNormal;
    if (spare !== null && (typeof spare !== 'number' || !Number.isFinite(spare))) {
      throw new RangeError(`Rng.setState: spareNormal must be null or a finite number, got ${JSON.stringify(spare)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = s.map((w) => w | 0);
    this.spareNormal = spare;
  }

  /**
   * Copies the four state words into `words`, for a kernel that draws from the same stream in
   * bulk (Dropout's mask); {@link readWords} takes them back. The cached normal stays here.
   * @internal
   */
  writeWords(words: Int32Array): void {
    words[0] = this.s0;
    words[1] = this.s1;
    words[2] = this.s2;
    words[3] = this.s3;
  }

  /**
   * Takes back the state words a bulk kernel advanced (see {@link writeWords}).
   * @internal
   */
  readWords(words: Int32Array): void {
    this.s0 = words[0] | 0;
    this.s1 = words[1] | 0;
    this.s2 = words[2] | 0;
    this.s3 = words[3] | 0;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal, by the Box–Muller transform (the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * An integer uniform in [0, n).
   * @param n The exclusive upper bound, a positive integer.
   */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /**
   * Shuffles an array in place (Fisher–Yates) and returns it.
   * @param a The array shuffled in place.
   */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

let shared = new Rng();

/** The generator used when none is passed: initialisation, shuffling, randn. */
export function globalRng(): Rng {
  return shared;
}

/** The largest seed the generator tells apart: seeds are folded to 32 bits. @internal */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * Seeds the global generator, making initialisation and shuffling reproducible. The generator is
 * the calling thread's: a `worker_threads` Worker has its own, seeded apart.
 * @param n An integer in [0, 2^32 − 1]; the same seed gives the same weights, shuffles and
 * samples. Other numbers are refused: the generator folds seeds to 32 bits, so that -1 or 2^32,
 * or 1.5, would silently give the stream of another seed.
 */
export function seed(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_SEED)
    throw new RangeError(`seed: expected an integer in [0, ${MAX_SEED}], got ${typeof n === 'number' ? n : typeof n}`);
  shared = new Rng(n);
}
