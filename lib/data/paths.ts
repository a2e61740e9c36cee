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

/** The folder of datasets shipped inside the package (`<package>/data`). */
export function packagedDataDir(): string {
  return path.resolve(packageRoot(), 'data');
}

/**
 * The download cache: `$NEURONE_CACHE_DIR`, else `$XDG_CACHE_HOME/neurone`, else `~/.cache/neurone`.
 */
export function defaultCacheDir(): string {
  if (process.env.NEURONE_CACHE_DIR) return path.resolve(process.env.NEURONE_CACHE_DIR);
  if (process.env.XDG_CACHE_HOME) return path.resolve(process.env.XDG_CACHE_HOME, 'neurone');
  return path.join(os.homedir(), '.cache', 'neurone');
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
