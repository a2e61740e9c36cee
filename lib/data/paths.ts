/**
 * Where dataset files are looked for.
 *
 * This file sits in `lib/data/` under ts-node and in `dist/data/` once compiled, so the package
 * root is two levels up in both cases.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The package root (the folder holding package.json). */
export function packageRoot(): string {
  return path.resolve(__dirname, '..', '..');
}

/** The fields of neurone's own package.json that the library reads. @internal */
export interface PackageManifest {
  version: string;
  peerDependencies: Record<string, string>;
}

/** neurone's package.json, read from the package root. @internal */
export function packageManifest(): PackageManifest {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as PackageManifest;
}

/** The folder of datasets shipped inside the package (`<package>/data`). */
export function packagedDataDir(): string {
  return path.resolve(packageRoot(), 'data');
}

/**
 * The download cache: `$NEURONE_CACHE_DIR`, else `$XDG_CACHE_HOME/neurone` (an absolute one, as the
 * XDG specification asks), else `~/.cache/neurone`. Throws where there is none of these: a user
 * with no home folder (HOME unset and no entry in the password database, as a container's numeric
 * user often is).
 */
export function defaultCacheDir(): string {
  const dir = knownCacheDir();
  if (dir === undefined)
    throw new Error(
      'no download cache folder: this user has no home folder (HOME is unset and the password database has no entry for it); ' +
        'set NEURONE_CACHE_DIR or XDG_CACHE_HOME, or name the folder (--cache-dir, { cacheDir })',
    );
  return dir;
}

/** defaultCacheDir, or undefined where the user has no home folder to put it in. @internal */
export function knownCacheDir(): string | undefined {
  if (process.env.NEURONE_CACHE_DIR) return path.resolve(process.env.NEURONE_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'neurone');
  let home: string;
  try {
    home = os.homedir();
  } catch {
    return undefined; // libuv's ENOENT: no HOME and no password entry
  }
  return home ? path.join(home, '.cache', 'neurone') : undefined;
}

/**
 * A data set's files are in none of the places searched. `looked` lists them, each with why it
 * was searched, so that a command can say what to do in its own terms (a flag rather than an option).
 */
export class DataNotFoundError extends Error {
  /**
   * @param message The library's account, naming the option and function that fix it.
   * @param looked The folders searched, each as `folder (why)`.
   */
  constructor(
    message: string,
    readonly looked: readonly string[],
  ) {
    super(message);
    this.name = 'DataNotFoundError';
  }
}

/** `dir/base.gz` if it exists, else `dir/base`, else undefined. */
export function findMaybeGz(dir: string, base: string): string | undefined {
  for (const name of [`${base}.gz`, base]) {
    const p = path.join(dir, name);
    if (isFile(p)) return p;
  }
  return undefined;
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Creates folder `dir` and its missing parents, one level at a time, and returns its absolute path.
 *
 * Why not `fs.mkdirSync(dir, { recursive: true })`: on a pseudo file system such as /proc, where
 * `mkdir` answers ENOENT although the parent exists, Node's recursive mkdir retries the parent
 * and the child forever at 100 % CPU (`neurone train --out /proc/x` hung that way). Walking
 * down from the deepest existing ancestor makes every failure final: the error names the level
 * that could not be made and why (ENOENT, ENOTDIR, EACCES, EROFS…).
 */
export function ensureDir(dir: string): string {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let p = target;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: some ancestor is a file; walking up finds it and says so.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`${p}: cannot inspect (${code ?? (e as Error).message})`);
    }
    if (st) {
      if (!st.isDirectory()) throw new Error(`${p} exists and is not a folder`);
      break;
    }
    const parent = path.dirname(p);
    if (parent === p) break; // the root itself is missing: let mkdir below say why
    missing.push(p);
    p = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i]);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // Another process may have made it meanwhile; anything else is final.
      if (err.code === 'EEXIST' && isDir(missing[i])) continue;
      throw new Error(`cannot create folder ${missing[i]} (${err.code ?? err.message})`);
    }
  }
  return target;
}

/**
 * The folders `mkdir -p dir` would make, outermost first (none when `dir` exists): a command
 * takes the list before it makes `dir`, to remove them with {@link removeEmptyFolders} if its
 * work then fails. @internal
 */
export function missingFolders(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
  return missing;
}

/**
 * Until the returned function is called, removes the folders `created` (if still empty) when the
 * process exits: a `process.exit()` during the work (the guard of a standard output that cannot
 * be written) skips the caller's own cleanup, and 'exit' listeners run synchronously. @internal
 */
export function removeEmptyFoldersOnExit(created: readonly string[]): () => void {
  const remove = (): void => removeEmptyFolders(created);
  process.once('exit', remove);
  return () => {
    process.removeListener('exit', remove);
  };
}

/**
 * Removes the folders `created` lists ({@link missingFolders}, outermost first) that are still
 * empty, innermost first: what a command made for work that then failed. One that holds
 * something stays, and so do those around it.
 * @internal
 */
export function removeEmptyFolders(created: readonly string[]): void {
  for (let i = created.length - 1; i >= 0; i--) {
    try {
      fs.rmdirSync(created[i]);
    } catch {
      return; // not empty (or gone, or not ours to remove): the folders around it stay too
    }
  }
}
