/**
 * `neurone data download mnist|fashion`: the library's `download()` (published sizes and SHA-256
 * checked, atomic writes, files already there and intact kept) into the cache the loaders search.
 */
import { SingleBar } from 'cli-progress';
import { drawsInPlace } from '../progress';
import { download, REMOTE_DATASETS, RemoteDatasetName, RemoteFile } from '../data/download';
import * as path from 'path';
import { firstLine } from '../messages';
import { defaultCacheDir, ensureDir, missingFolders, removeEmptyFolders, removeEmptyFoldersOnExit } from '../data/paths';
import { FlagSpec, InputError, asInput, didYouMean, flagValue, helpText, parseArgs, probeWritable, runCommand } from './command';

/** The command's names for the datasets, and download()'s. */
const NAMES: Record<string, RemoteDatasetName> = { mnist: 'mnist', fashion: 'fashion-mnist', 'fashion-mnist': 'fashion-mnist' };

const FLAGS: readonly FlagSpec[] = [
  { name: '--cache-dir', arg: 'DIR', help: 'cache root (default $NEURONE_CACHE_DIR, $XDG_CACHE_HOME/neurone or ~/.cache/neurone)' },
  { name: '--mirror', arg: 'URL', repeated: true, help: 'a base URL to fetch from instead of the built-in mirrors (may be repeated)' },
  { name: '--force', help: 'download again even when a verified copy is there' },
  { name: '--help', help: 'show this help' },
];

export function dataUsage(): string {
  return helpText('neurone data download mnist|fashion [options]', FLAGS, [
    `Fetches the four IDX files (${REMOTE_DATASETS.mnist.files.map((f) => f.name).join(', ')}), checks each`,
    'against its published size and SHA-256, and writes it atomically; `neurone train --dataset mnist|fashion`',
    'and loadMNIST() / loadFashionMNIST() then find them in the cache.',
    '',
    'Examples:',
    '  neurone data download mnist',
    '  neurone data download fashion --cache-dir /data/cache',
  ]);
}

/**
 * The bar of one file being downloaded. It changes no terminal mode: cli-progress's default turns
 * line wrapping off until its stop(), which a Ctrl-C or SIGTERM never reaches, and left the
 * shell's long lines cut at the edge. Lines are cut to the terminal's width instead. @internal
 */
export function downloadBar(name: string, stream: NodeJS.WriteStream): SingleBar {
  return new SingleBar({ format: `  ${name} [{bar}] {percentage}% {value}/{total} bytes`, stream, linewrap: true, hideCursor: false });
}

/** The `data` command (`data download NAME`); returns the exit code. */
export function dataCommand(argv: readonly string[], write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  return runCommand(async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      write(`${dataUsage()}\n`);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'download')
      throw new InputError(`data: unknown subcommand '${sub}'${didYouMean(sub, ['download'])} (neurone data download mnist|fashion)`);
    const args = parseArgs('data download', rest, FLAGS);
    if (args.flags.has('--help')) {
      write(`${dataUsage()}\n`);
      return 0;
    }
    if (args.positional.length !== 1) {
      throw new InputError(
        `data download: expected one dataset (mnist or fashion), got ${args.positional.length === 0 ? 'none' : args.positional.join(' ')}`,
      );
    }
    const [asked] = args.positional;
    const dataset = Object.prototype.hasOwnProperty.call(NAMES, asked) ? NAMES[asked] : undefined;
    if (!dataset)
      throw new InputError(`data download: unknown dataset '${asked}'${didYouMean(asked, ['mnist', 'fashion'])} (known: mnist, fashion)`);
    const mirrors = args.flags.get('--mirror');
    for (const m of Array.isArray(mirrors) ? mirrors : []) {
      let url: URL;
      try {
        url = new URL(m);
      } catch {
        throw new InputError(`data download: --mirror '${m}' is not a URL`);
      }
      if (url.protocol !== 'https:') throw new InputError(`data download: --mirror ${m}: only https URLs are fetched, got ${url.protocol}`);
    }
    const given = flagValue(args, '--cache-dir');
    const cacheDir = given ?? asInput('data download: ', defaultCacheDir);
    // Before anything is fetched: a cache nothing can be written in is the flag's fault, or the
    // default's (which the flag replaces).
    // The folders made here are removed again if nothing is downloaded into them.
    const folder = path.join(cacheDir, dataset);
    const made = missingFolders(folder);
    try {
      ensureDir(folder);
      probeWritable(folder);
    } catch (e) {
      removeEmptyFolders(made);
      const which = given === undefined ? `the default cache folder ${cacheDir} (--cache-dir names another)` : `--cache-dir ${cacheDir}`;
      throw new InputError(`data download: ${which}: ${firstLine(e)}`);
    }
    // A bar per file on a terminal; elsewhere (a log, a pipe, a dumb terminal) one line per file when it ends.
    const tty = drawsInPlace(process.stdout);
    let bar: SingleBar | undefined;
    let current: { name: string; received: number; total: number } | undefined;
    const finish = (): void => {
      if (bar) bar.stop();
      else if (current)
        write(
          `  ${current.name}: ${current.received.toLocaleString('en-US')} of ${current.total.toLocaleString('en-US')} bytes received\n`,
        );
      bar = undefined;
      current = undefined;
    };
    const progress = (file: RemoteFile, received: number): void => {
      if (current?.name !== file.name) {
        finish();
        current = { name: file.name, received, total: file.bytes };
        if (tty) {
          bar = downloadBar(file.name, process.stdout);
          bar.start(file.bytes, received);
        }
      }
      current.received = received;
      bar?.update(Math.min(received, file.bytes));
    };
    let dir: string;
    const exitCleanup = removeEmptyFoldersOnExit(made);
    try {
      dir = await download(dataset, {
        cacheDir,
        force: args.flags.has('--force'),
        mirrors: Array.isArray(mirrors) ? mirrors.map((m) => (m.endsWith('/') ? m : `${m}/`)) : undefined,
        log: (line) => {
          finish();
          write(`${line}\n`);
        },
        progress,
      });
    } catch (e) {
      removeEmptyFolders(made);
      throw e;
    } finally {
      exitCleanup();
      finish();
    }
    write(`${asked}: the four files are in ${dir}, sizes and SHA-256 checked\n`);
    return 0;
  });
}
