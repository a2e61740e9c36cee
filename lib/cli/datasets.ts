/**
 * The data sets the commands name (`neurone train`, `evaluate`, a sweep's runs), loaded one way
 * for all of them: the three image sets from their files, the three synthetic sets drawn from a
 * seed, the test set from the seed after the training set's.
 */
import * as path from 'path';
import * as data from '../data';
import { Dataset } from '../data';
import { DataNotFoundError, isDir } from '../data/paths';

/** Every data set a command can name. */
export const DATASETS = ['usps', 'mnist', 'fashion', 'xor', 'blobs', 'checkerboard'] as const;
/** A data set a command can name. */
export type DatasetName = (typeof DATASETS)[number];

/** The image sets: their names in messages, and the folder under a data directory that holds them. */
const FILE_SETS = {
  usps: { title: 'USPS', folder: 'usps', download: false },
  mnist: { title: 'MNIST', folder: 'mnist', download: true },
  fashion: { title: 'Fashion-MNIST', folder: 'fashion-mnist', download: true },
} as const;

/**
 * One split of a named data set. `dataDir` (the commands' `--data-dir`) is the folder of the
 * files or the one above it (`DIR/mnist`, `DIR/fashion-mnist`, `DIR/usps`), as NEURONE_DATA_DIR is.
 * @throws An Error of one line when the files are in none of the places searched, saying which
 * flag or command brings them.
 */
export function loadSplit(name: DatasetName, split: 'train' | 'test', seed: number, dataDir?: string): Dataset {
  const s = split === 'test' ? seed + 1 : seed;
  switch (name) {
    case 'xor':
      return data.xor({ n: 800, seed: s });
    case 'blobs':
      return data.gaussianBlobs({ n: 800, seed: s });
    case 'checkerboard':
      return data.checkerboard({ n: split === 'test' ? 2000 : 4000, extent: 2, seed: s });
    default:
      return fromFiles(name, split, dataDir);
  }
}

/** The training and test sets of a named data set, as {@link loadSplit} loads each. */
export function loadTrainTest(name: DatasetName, seed: number, dataDir?: string): { train: Dataset; test: Dataset } {
  return { train: loadSplit(name, 'train', seed, dataDir), test: loadSplit(name, 'test', seed, dataDir) };
}

function fromFiles(name: keyof typeof FILE_SETS, split: 'train' | 'test', dataDir: string | undefined): Dataset {
  const set = FILE_SETS[name];
  const load = (dir: string | undefined): Dataset =>
    name === 'usps'
      ? data.loadUSPS({ split, dir })
      : name === 'mnist'
        ? data.loadMNIST({ split, dir })
        : data.loadFashionMNIST({ split, dir });
  // --data-dir: the folder itself, then the data set's folder inside it when there is one.
  const inner = dataDir === undefined ? undefined : path.join(dataDir, set.folder);
  const dirs = dataDir === undefined ? [undefined] : [dataDir, ...(inner !== undefined && isDir(inner) ? [inner] : [])];
  let looked: readonly string[] = [];
  for (const dir of dirs) {
    try {
      return load(dir);
    } catch (e) {
      if (!(e instanceof DataNotFoundError)) throw e;
      looked = dataDir === undefined ? e.looked : dirs.map((d) => `${d} (--data-dir)`);
    }
  }
  const download = set.download ? `run \`neurone data download ${name}\` once (needs internet)` : undefined;
  const fix =
    dataDir === undefined
      ? `give --data-dir DIR (the folder of its files, or the one above it)${download ? `, set NEURONE_DATA_DIR or ${download}` : ''}`
      : `--data-dir takes the folder of its files or the one above it${download ? `; or ${download}` : ''}`;
  throw new Error(`no ${set.title} ${split} files in ${looked.join(', ')}; ${fix}`);
}
