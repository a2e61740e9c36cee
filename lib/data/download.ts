/**
 * Explicit downloads of the standard MNIST / Fashion-MNIST IDX files into a cache folder.
 *
 * Nothing in neurone downloads on its own: a user calls `download('mnist')` (or passes the CLI's
 * download flag), then the loaders find the files in the cache. Every file is checked against its
 * published size and SHA-256 and written with the one atomic writer (`writeFileAtomic`,
 * lib/data/read.ts), so an interrupted download never leaves a file that looks complete.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { defaultCacheDir, ensureDir } from './paths';
import { readDataFile, writeFileAtomic } from './read';
import { withoutCredentials } from '../messages';

/** The most bytes a download takes from a URL that states no size ({@link download} always knows it): 1 GiB. */
export const MAX_DOWNLOAD_BYTES = 2 ** 30;

/** One file of a downloadable dataset. */
export interface RemoteFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** The datasets `download` knows: mirrors (tried in order) and the official files. */
export const REMOTE_DATASETS = {
  mnist: {
    mirrors: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'https://storage.googleapis.com/cvdf-datasets/mnist/'],
    files: [
      { name: 'train-images-idx3-ubyte.gz', bytes: 9912422, sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609' },
      { name: 'train-labels-idx1-ubyte.gz', bytes: 28881, sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c' },
      { name: 't10k-images-idx3-ubyte.gz', bytes: 1648877, sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6' },
      { name: 't10k-labels-idx1-ubyte.gz', bytes: 4542, sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6' },
    ],
  },
  'fashion-mnist': {
    mirrors: ['https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/'],
    files: [
      { name: 'train-images-idx3-ubyte.gz', bytes: 26421880, sha256: '08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc' },
      { name: 'train-labels-idx1-ubyte.gz', bytes: 29515, sha256: 'b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc' },
      { name: 't10k-images-idx3-ubyte.gz', bytes: 4422102, sha256: '78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229' },
      { name: 't10k-labels-idx1-ubyte.gz', bytes: 5148, sha256: '42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf' },
    ],
  },
} as const satisfies Record<string, { mirrors: readonly string[]; files: readonly RemoteFile[] }>;

/** A dataset {@link download} knows: a key of {@link REMOTE_DATASETS}. */
export type RemoteDatasetName = keyof typeof REMOTE_DATASETS;

/**
 * SHA-256 of a file, as lowercase hex.
 * @param file The file hashed.
 */
export function sha256File(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Whether `file` exists and has the given SHA-256 (and size, when given).
 * @param file The file checked.
 * @param expected Its SHA-256 (and size).
 */
export function verifyFile(file: string, expected: { sha256: string; bytes?: number }): boolean {
  try {
    if (expected.bytes !== undefined && fs.statSync(file).size !== expected.bytes) return false;
    return sha256File(file) === expected.sha256.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Puts a finished temporary file in place after checking its size and SHA-256, through
 * {@link writeFileAtomic} (the one writer: flushed, renamed, the folder flushed); the temporary
 * file is deleted either way, and on a mismatch `dest` is left as it was.
 * @param tmp The downloaded temporary file (a regular file of at most MAX_DOWNLOAD_BYTES).
 * @param dest Where it goes once verified.
 * @param expected Its SHA-256 (and size).
 * @param what Its name, for messages.
 */
export function commitVerified(tmp: string, dest: string, expected: { sha256: string; bytes?: number }, what = dest): void {
  try {
    const bytes = readDataFile(tmp, MAX_DOWNLOAD_BYTES, 'a downloaded file');
    writeFileAtomic(dest, bytes, { sha256: expected.sha256, bytes: expected.bytes, who: what });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Fetches a URL (following redirects) and writes it to `dest` with {@link writeFileAtomic} once
 * its size and SHA-256 are checked: a failed or wrong download leaves `dest` as it was. The
 * bytes are held in memory meanwhile (the largest file known here is 26 MB); more than the
 * expected size (or {@link MAX_DOWNLOAD_BYTES} when no size is given) is refused as it arrives.
 * `onData` is told the bytes received so far, as they arrive.
 * @param address The https URL (credentials in it are used, never shown in messages).
 * @param dest Where the verified file is written; its folder is created first when missing.
 * @param expected Its SHA-256 (and size).
 * @param timeoutMs Gives up after this long without data.
 * @param onData Called with each chunk’s size, for progress.
 */
export function downloadFile(
  address: string,
  dest: string,
  expected: { sha256: string; bytes?: number },
  timeoutMs = 60000,
  onData?: (received: number) => void,
): Promise<void> {
  // The folder first: one that cannot be made fails before anything is fetched.
  ensureDir(path.dirname(dest)); // not mkdirSync recursive: it can spin forever (see ensureDir)
  const limit = expected.bytes ?? MAX_DOWNLOAD_BYTES;
  // Messages show the address without its credentials (a mirror may carry user:password@).
  const url = withoutCredentials(address);
  const fetch = (target: string, redirectsLeft: number): Promise<Buffer[]> =>
    new Promise((resolve, reject) => {
      const u = withoutCredentials(target);
      const req = https.get(target, { timeout: timeoutMs }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (redirectsLeft === 0) return reject(new Error(`${url}: too many redirects`));
          return resolve(fetch(new URL(res.headers.location, target).toString(), redirectsLeft - 1));
        }
        if (status !== 200) {
          res.resume();
          return reject(new Error(`${u}: HTTP ${status}`));
        }
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limit) {
            req.destroy(new Error(`${u}: more than the expected ${limit} bytes`));
            return;
          }
          chunks.push(chunk);
          onData?.(received);
        });
        res.on('error', reject);
        res.on('end', () => resolve(chunks));
      });
      req.on('timeout', () => req.destroy(new Error(`${u}: no answer within ${timeoutMs / 1000} s`)));
      req.on('error', reject);
    });
  return fetch(address, 5).then((chunks) => writeFileAtomic(dest, chunks, { sha256: expected.sha256, bytes: expected.bytes, who: url }));
}

/** Options of {@link download}. */
export interface DownloadOptions {
  /** Cache root; the files go to `<cacheDir>/<dataset>/`. Default: `defaultCacheDir()` (`$NEURONE_CACHE_DIR`, else `$XDG_CACHE_HOME/neurone`, else `~/.cache/neurone`). */
  cacheDir?: string;
  /** Download again even when a verified copy exists. */
  force?: boolean;
  /** Base URLs to try instead of the built-in mirrors (e.g. a local mirror); file names are appended. */
  mirrors?: readonly string[];
  /**
   * Called with a line of progress text per file.
   * @param line One line of text, without its newline.
   */
  log?: (line: string) => void;
  /**
   * Called as a file's bytes arrive: the file and the bytes received so far (for a progress bar).
   * @param file The file being downloaded.
   * @param received The bytes received so far.
   */
  progress?: (file: RemoteFile, received: number) => void;
}

/**
 * Downloads the four IDX files of MNIST or Fashion-MNIST into the cache (skipping files already
 * there with the right checksum) and returns the folder, which `loadMNIST` / `loadFashionMNIST`
 * then search by default. Needs internet; never called implicitly.
 *
 * @example
 * await download('fashion-mnist');
 * const train = loadFashionMNIST({ split: 'train' });
 * @param dataset 'mnist' or 'fashion-mnist'.
 * @param options cacheDir, force, mirrors, log, progress.
 */
export async function download(dataset: RemoteDatasetName, options: DownloadOptions = {}): Promise<string> {
  const spec = REMOTE_DATASETS[dataset];
  if (!spec) throw new Error(`download: unknown dataset "${String(dataset)}"; known: ${Object.keys(REMOTE_DATASETS).join(', ')}`);
  const dir = path.join(options.cacheDir ?? defaultCacheDir(), dataset);
  for (const file of spec.files) {
    const dest = path.join(dir, file.name);
    if (!options.force && verifyFile(dest, file)) {
      options.log?.(`${dest}: present, checksum ok`);
      continue;
    }
    const errors: string[] = [];
    let done = false;
    for (const mirror of options.mirrors ?? spec.mirrors) {
      try {
        options.log?.(`${withoutCredentials(mirror + file.name)} → ${dest}`);
        const progress = options.progress;
        await downloadFile(mirror + file.name, dest, file, undefined, progress && ((n) => progress(file, n)));
        done = true;
        break;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (!done) throw new Error(`download ${dataset}: could not fetch ${file.name}:\n  ${errors.join('\n  ')}`);
  }
  return dir;
}
