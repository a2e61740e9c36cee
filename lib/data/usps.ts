/**
 * USPS handwritten digits: 16×16 grey images, 7,291 for training and 2,007 for testing.
 *
 * Two text formats are read:
 * - the course format (`USPS_train.txt`): a header line `10 256` (classes, features), then per line
 *   a label and 256 grey levels in [0, 2], and a final line `-1`;
 * - the Elements of Statistical Learning format (`zip.train`): no header, the label written as a
 *   float (`6.0000`), grey levels in [-1, 1].
 * Both come out as float32 in [0, 1], as one-channel images `(n, 16, 16, 1)` (channels-last), or
 * flattened `(n, 256)` with `{ flatten: true }`. Files may be gzipped.
 */
import * as path from 'path';
import { wrap } from '../tensor';
import { Dataset, MAX_CLASSES, classCounts, makeDataset, numFeatures } from './dataset';
import { MAX_USPS_TEXT_BYTES, readMaybeGzip } from './read';
import { DataNotFoundError, isFile, packagedDataDir } from './paths';
import { checkFlatten } from './split';
import { checkLoaderOptions, checkOptionsObject } from '../options';

/** `course`: header + values in [0, 2]. `esl`: no header, values in [-1, 1]. `auto`: decided by the first line. */
export type UspsFormat = 'auto' | 'course' | 'esl';

/** Options of {@link parseUSPS} and {@link readUSPS}. */
export interface ParseUspsOptions {
  /** Names the data in error messages (usually the file path). */
  source?: string;
  format?: UspsFormat;
  /** Dataset name; defaults to `usps`. */
  name?: string;
  /**
   * Return `x` flattened, `(n, features)`, instead of images `(n, side, side, 1)` (default false).
   * A feature count that is not a square (a header other than `… 256`) always gives flat rows.
   */
  flatten?: boolean;
}

/** Expected contents of the shipped files (see data/usps/SOURCE.md). */
export const USPS_EXPECTED = {
  train: { rows: 7291, classCounts: [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644] },
  test: { rows: 2007, classCounts: [359, 264, 198, 166, 200, 160, 170, 147, 166, 177] },
} as const;

const USPS_FEATURES = 256;
const USPS_CLASSES = 10;

/**
 * Parses USPS text into images `(n, 16, 16, 1)` (or `(n, features)` with `flatten`, or when the
 * header's feature count is not a square). Every row is checked: token count, integer label in
 * range, finite values in range; an error names the source and the line number.
 *
 * Empty lines and the final `-1` trailer are skipped; any other line with too few tokens is an
 * error rather than silently dropped (the course loaders drop lines of ≤ 2 tokens, which would
 * hide a damaged file).
 *
 * @example
 * const ds = parseUSPS('10 256\n3 ' + '0 '.repeat(256) + '\n-1\n');
 * @param text The text of a USPS file.
 * @param options source, format, name, flatten.
 */
export function parseUSPS(text: string, options: ParseUspsOptions = {}): Dataset {
  checkOptionsObject('parseUSPS', options, ['source', 'format', 'name', 'flatten']);
  const source = options.source ?? 'USPS text';
  const flat = checkFlatten(options.flatten, source);
  // One pass over the lines, without an array of them: a small gzip can inflate to millions of
  // short lines, and the text is already in memory once.
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | undefined => {
    if (pos > text.length) return undefined;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    return line;
  };
  let first = nextLine();
  while (first !== undefined && first.trim() === '') first = nextLine();
  if (first === undefined) throw new Error(`${source}: empty USPS file`);
  const firstTokens = first.trim().split(/\s+/);

  let format = options.format ?? 'auto';
  if (format === 'auto') format = firstTokens.length === 2 ? 'course' : 'esl';

  let numClasses = USPS_CLASSES;
  let features = USPS_FEATURES;
  let pending: string | undefined = first;
  if (format === 'course') {
    const [c, f] = firstTokens.map(Number);
    if (firstTokens.length !== 2 || !Number.isInteger(c) || !Number.isInteger(f) || c < 1 || f < 1) {
      throw new Error(
        `${source}: line ${lineNo}: expected the header "<classes> <features>" (e.g. "10 256"), ` + `found "${truncate(first)}"`,
      );
    }
    if (c > MAX_CLASSES) {
      throw new Error(`${source}: line ${lineNo}: the header declares ${c} classes, more than the 2^24 a dataset may have`);
    }
    if (f > 2 ** 24) {
      throw new Error(`${source}: line ${lineNo}: the header declares ${f} features, more than the 2^24 a row may have`);
    }
    numClasses = c;
    features = f;
    pending = undefined;
  }
  const [lo, hi] = format === 'course' ? [0, 2] : [-1, 1];
  const tokensPerRow = features + 1;
  // A row takes at least two characters a value, the last one's newline included ("0 0\n"): the
  // text bounds the rows it can hold, and a header of many features over a short text none.
  const capacity = Math.floor((text.length + 1) / (2 * tokensPerRow));
  const x = new Float32Array(capacity * features);
  const labels = new Int32Array(capacity);
  let n = 0;
  const tokenError = (at: number, found: number): Error =>
    new Error(`${source}: line ${at}: expected ${tokensPerRow} values (label + ${features} features), found ${found}`);
  // The course's files end with a line "-1": only as the last line that is not blank.
  let trailerAt: number | undefined;
  for (let raw = pending ?? nextLine(); raw !== undefined; raw = nextLine()) {
    const line = raw.trim();
    if (line === '') continue;
    if (trailerAt !== undefined) throw tokenError(trailerAt, 1);
    if (line === '-1') {
      trailerAt = lineNo;
      continue;
    }
    const tokens = line.split(/\s+/);
    if (tokens.length !== tokensPerRow) throw tokenError(lineNo, tokens.length);
    const label = Number(tokens[0]);
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new Error(`${source}: line ${lineNo}: label "${tokens[0]}" is not an integer in [0, ${numClasses - 1}]`);
    }
    labels[n] = label;
    const base = n * features;
    for (let j = 0; j < features; j++) {
      const v = Number(tokens[j + 1]);
      if (!(v >= lo && v <= hi)) {
        throw new Error(`${source}: line ${lineNo}: value ${j + 1} ("${tokens[j + 1]}") is outside [${lo}, ${hi}] (${format} format)`);
      }
      x[base + j] = (v - lo) / (hi - lo);
    }
    n++;
  }
  const side = Math.round(Math.sqrt(features));
  const square = side * side === features;
  const xs = x.slice(0, n * features);
  return makeDataset(
    options.name ?? 'usps',
    wrap(square && !flat ? [n, side, side, 1] : [n, features], xs),
    labels.slice(0, n),
    numClasses,
    {
      imageShape: square ? [side, side] : undefined,
    },
  );
}

/**
 * Reads a USPS text file (raw or gzipped) in the course or ESL format. Refuses, before reading,
 * anything but a regular file and files (or gzip contents) over MAX_USPS_TEXT_BYTES.
 * @param file The USPS text file.
 * @param options format, name, flatten.
 */
export function readUSPS(file: string, options: Omit<ParseUspsOptions, 'source'> = {}): Dataset {
  checkOptionsObject('readUSPS', options, ['format', 'name', 'flatten']);
  const text = readMaybeGzip(file, MAX_USPS_TEXT_BYTES).toString('latin1');
  return parseUSPS(text, { ...options, source: file, name: options.name ?? path.basename(file) });
}

/** Options of {@link loadUSPS}. */
export interface LoadUspsOptions {
  /** `train` (7,291 digits, the default) or `test` (2,007, the official test set). */
  split?: 'train' | 'test';
  /** A folder holding `USPS_train.txt[.gz]` / `USPS_test.txt[.gz]`; defaults to the copy shipped in the package. */
  dir?: string;
  /** Return `x` flattened, `(n, 256)`, instead of images `(n, 16, 16, 1)` (default false); same values, same order. */
  flatten?: boolean;
}

/**
 * Loads the USPS digits shipped with neurone (no download), normalised to [0, 1], as one-channel
 * 16×16 images, channels-last. Checks row count, feature count, value range and class counts.
 *
 * Shape: `x` is `(7291, 16, 16, 1)` for `train`, `(2007, 16, 16, 1)` for `test`; with
 * `{ flatten: true }`, `(7291, 256)` and `(2007, 256)`, the same values in the same order.
 *
 * @example
 * const train = loadUSPS();                  // 7,291 digits, (7291, 16, 16, 1)
 * const test = loadUSPS({ split: 'test' });  // 2,007 digits
 * const flat = loadUSPS({ flatten: true });  // (7291, 256) for an MLP
 * const seq = toSequence(train);             // (7291, 256, 1) for Conv1D
 * @param options split ('train' default, or 'test'), dir, flatten.
 */
export function loadUSPS(options: LoadUspsOptions = {}): Dataset {
  checkLoaderOptions('loadUSPS', options, ['split', 'dir', 'flatten']);
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadUSPS: split must be "train" or "test", got "${String(split)}"`);
  }
  const flat = checkFlatten(options.flatten, 'loadUSPS');
  const dir = options.dir ?? path.join(packagedDataDir(), 'usps');
  const base = `USPS_${split}.txt`;
  const file = [path.join(dir, `${base}.gz`), path.join(dir, base)].find(isFile);
  if (!file) {
    throw new DataNotFoundError(`loadUSPS: ${base}.gz (or ${base}) not found in ${dir}`, [
      `${dir} (${options.dir === undefined ? 'the copy shipped with neurone' : 'dir'})`,
    ]);
  }
  const ds = readUSPS(file, { format: 'course', name: `usps-${split}`, flatten: flat });
  const expected = USPS_EXPECTED[split];
  const features = numFeatures(ds);
  if (ds.labels.length !== expected.rows || features !== USPS_FEATURES || ds.numClasses !== USPS_CLASSES) {
    throw new Error(
      `${file}: expected ${expected.rows} rows of ${USPS_FEATURES} features and ${USPS_CLASSES} classes, ` +
        `found ${ds.labels.length} rows of ${features} features and ${ds.numClasses} classes`,
    );
  }
  // Only the official files are checked this strictly; a user's own `dir` may hold another version.
  if (options.dir === undefined) {
    const counts = classCounts(ds.labels, ds.numClasses);
    if (counts.some((c, i) => c !== expected.classCounts[i])) {
      throw new Error(`${file}: class counts [${counts.join(', ')}] differ from the official [${expected.classCounts.join(', ')}]`);
    }
  }
  return ds;
}

function truncate(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
