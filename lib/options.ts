/**
 * The check every options object of the API goes through: a name the callee does not know is
 * refused with the list of the ones it does, since plain JavaScript would otherwise ignore a
 * misspelt option (`learningRate` for `lr`, `batch_size` for `batchSize`) and train with the
 * default without a word.
 */
import { describe } from './tensor';

/**
 * Throws a TypeError naming the first key of `options` not in `known`, with the valid names (and
 * the closest one when the difference is only case, underscores or a near spelling).
 * @internal
 */
export function checkKnownOptions(who: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const hint = closest(key, known);
    throw new TypeError(`${who}: unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; valid options: ${known.join(', ')}`);
  }
}

/** Checks `options` is a plain object (or undefined, giving `{}`), then its keys. @internal */
export function checkOptionsObject<T extends object>(who: string, options: T | undefined, known: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${who}: options must be an object, got ${describe(options)}`);
  }
  checkKnownOptions(who, options, known);
  return options;
}

/** The values fit's early stopping and ReduceLROnPlateau can watch. @internal */
export const MONITORS = ['valLoss', 'valAccuracy', 'trainLoss', 'trainAccuracy'] as const;

/** One of {@link MONITORS}. @internal */
export type Monitor = (typeof MONITORS)[number];

/** Keras's and TF.js's names of the same values, which a port brings along. */
const KERAS_MONITORS = new Map<string, Monitor>([
  ['val_loss', 'valLoss'],
  ['val_acc', 'valAccuracy'],
  ['val_accuracy', 'valAccuracy'],
  ['loss', 'trainLoss'],
  ['acc', 'trainAccuracy'],
  ['accuracy', 'trainAccuracy'],
]);

/**
 * Returns `v` when it names a value fit reports each epoch; a RangeError naming `what` otherwise,
 * with Keras's name translated (`val_loss` is `valLoss`) or the nearest spelling. Checked before
 * the first epoch: an unknown name once surfaced only after it. @internal
 */
export function checkMonitor(what: string, v: unknown): Monitor {
  if ((MONITORS as readonly unknown[]).includes(v)) return v as Monitor;
  let hint = '';
  if (typeof v === 'string') {
    const keras = KERAS_MONITORS.get(v);
    const near = keras === undefined ? closest(v, MONITORS) : undefined;
    hint = keras !== undefined ? ` (Keras's '${v}' is '${keras}' here)` : near !== undefined ? ` (did you mean '${near}'?)` : '';
  }
  throw new RangeError(`${what} must be one of ${MONITORS.join(', ')}, got ${describe(v)}${hint}`);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

const ALIASES: Record<string, string> = { learningrate: 'lr', root: 'dir', testsize: 'testFraction' };

/** The known name equal up to case and underscores, or within two edits; undefined if none. @internal */
export function closest(key: string, known: readonly string[]): string | undefined {
  const k = normalise(key);
  // Other libraries' names for the same thing: the learning rate, torchvision's data folder,
  // scikit-learn's test share.
  const alias = ALIASES[k];
  if (alias !== undefined && known.includes(alias)) return alias;
  const same = known.find((n) => normalise(n) === k);
  if (same) return same;
  const prefixed = known.find((n) => k.length >= 3 && (normalise(n).startsWith(k) || k.startsWith(normalise(n))));
  if (prefixed) return prefixed;
  let best: string | undefined;
  let bestDistance = 3;
  for (const n of known) {
    const d = editDistance(k, normalise(n), bestDistance - 1);
    if (d < bestDistance) {
      bestDistance = d;
      best = n;
    }
  }
  return best;
}

/**
 * Edits (insertions, deletions, substitutions, swaps of two neighbours) from `a` to `b`: how far
 * a misspelt name is from a known one, for every "did you mean" of the library and the command.
 * Past `atMost` only that it is more matters: strings whose lengths differ by more give
 * `atMost + 1` at once, so a huge name is not compared cell by cell (its table would grow with it).
 * @internal
 */
export function editDistance(a: string, b: string, atMost = Infinity): number {
  if (Math.abs(a.length - b.length) > atMost) return atMost + 1;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The options of a data set loader: torchvision's `train=False` is refused with what neurone calls
 * it (a loader ignoring it would hand back the training set where the test set was meant), then
 * as {@link checkOptionsObject}. @internal
 */
export function checkLoaderOptions<T extends object>(who: string, options: T | undefined, known: readonly string[]): T {
  if (options !== null && typeof options === 'object' && 'train' in options)
    throw new TypeError(
      `${who}: unknown option 'train'; the test set is { split: 'test' } (torchvision's train=False), the training set { split: 'train' }, the default`,
    );
  // The split as the argument itself (tfds.load(split='test'), Keras's load_data() pairs): say where it goes.
  const given: unknown = options;
  if (given === 'train' || given === 'test')
    throw new TypeError(`${who}: options must be an object, got string '${given}'; the split is an option: ${who}({ split: '${given}' })`);
  return checkOptionsObject(who, options, known);
}
