/**
 * `neurone/data`: datasets and the helpers that feed them to a network.
 *
 * - Readers: IDX (MNIST format, raw or gzip), USPS text (course or ESL format), PNG sprites, and
 *   colour images `readImage` / `writeImage` (PNG, `(h, w, 3)` in [0, 1]) and `resizeImage`.
 * - Loaders needing no network: `loadUSPS` (shipped in the package), `loadMNIST`, `loadFashionMNIST`
 *   (from folders on disk; see each for where it looks), and the toy problems `gaussianBlobs`,
 *   `xor`, `checkerboard`.
 * - Images come channels-last, as the whole library takes them: `loadMNIST()` / `loadFashionMNIST()`
 *   give `x` of shape `(n, 28, 28, 1)`, `loadUSPS()` `(n, 16, 16, 1)`. Pass `{ flatten: true }` (or
 *   call `flatten(ds)`) for `(n, 784)` / `(n, 256)` rows for `Linear`; `toSequence(ds)` gives the
 *   `(n, 256, 1)` pixel sequence a Conv1D reads. Neither copies.
 * - `download` fetches MNIST / Fashion-MNIST into a cache, only when called.
 * - Helpers: `trainTestSplit`, `shuffle`, `subset`, `batches`, `oneHot`, `standardize`,
 *   `normalize`, `flatten`, `toSequence`.
 *
 * @packageDocumentation
 * @example
 * import { loadUSPS, trainTestSplit, batches } from 'neurone/data';
 * const { train, test: validation } = trainTestSplit(loadUSPS(), { testFraction: 0.2, seed: 0, stratify: true });
 * for (const { x, labels } of batches(train, 32, { shuffle: true, seed: 1 })) {
 *   // x: (32, 16, 16, 1)
 * }
 */
// The declarations name Node's types (Buffer, streams): the reference brings them into a
// project that has @types/node, whatever its "types" setting says (TypeScript 6 and later list none by
// default); `preserve` keeps it in the emitted declarations.
/// <reference types="node" preserve="true" />
export type { Dataset, DatasetExtras } from './dataset';
export { makeDataset, oneHot, classCounts, numExamples, numFeatures, valueRange } from './dataset';

export type { IdxArray, IdxType, IdxExpectation, IdxHeader } from './idx';
export { readIdx, readIdxHeader, parseIdx, readIdxImages, readIdxLabels, encodeIdx } from './idx';
export { MAX_IDX_PAYLOAD_BYTES, MAX_IDX_HEADER_BYTES, MAX_USPS_TEXT_BYTES, MAX_PNG_PIXELS, MAX_PNG_SIDE, MAX_PNG_FILE_BYTES } from './read';

export type { UspsFormat, ParseUspsOptions, LoadUspsOptions } from './usps';
export { parseUSPS, readUSPS, loadUSPS } from './usps';

export type { Split, LoadIdxDatasetOptions, PngSpriteOptions } from './mnist';
export type { PngSize } from './png';
export { pngSize } from './png';
export { loadMNIST, loadFashionMNIST, readPngSprites, FASHION_MNIST_CLASSES } from './mnist';

export type { RemoteFile, RemoteDatasetName, DownloadOptions } from './download';
export { download, REMOTE_DATASETS, MAX_DOWNLOAD_BYTES } from './download';

export type { SyntheticOptions, BlobOptions, CheckerboardOptions } from './synthetic';
export { gaussianBlobs, xor, checkerboard, checkerboardLabel } from './synthetic';

export type { RandomSource, SplitOptions, SplitResult, Batch, BatchOptions, Scaler, ScalerOptions, ScaledSplit } from './split';
export {
  subset,
  shuffle,
  permutation,
  trainTestSplit,
  batches,
  numBatches,
  fitStandardScaler,
  fitMinMaxScaler,
  standardize,
  normalize,
  toSequence,
  flatten,
} from './split';

export { readImage, writeImage, resizeImage } from './image';

export { packagedDataDir, defaultCacheDir, DataNotFoundError } from './paths';
