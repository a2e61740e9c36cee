/**
 * Reading data files without letting a small or strange file exhaust memory, and writing every
 * file atomically ({@link writeFileAtomic}).
 *
 * Every reader in lib/data goes through here: a file is opened once, `fstat`-ed on that open
 * descriptor (so what is checked is what is read), refused when it is not a regular file (a device
 * such as /dev/zero never ends) or larger than the caller's limit, and only then read. Gzip data is
 * inflated with an output bound: the caller states how many bytes the content may have, from a
 * header it has already checked or from a policy maximum, and inflation stops there.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ensureDir } from './paths';
import { deliverSignal } from '../signals';

/**
 * Most bytes the payload of one IDX file may declare (and so the most a gzipped IDX file may
 * inflate to). 1 GiB: the largest standard IDX set, EMNIST ByClass images (814,255 × 28 × 28),
 * holds 0.64 GB; MNIST's training images hold 47 MB. Decoded to float32 this is 4 GiB already.
 */
export const MAX_IDX_PAYLOAD_BYTES = 2 ** 30;

/** An IDX header is 4 bytes of magic plus 4 per dimension, at most 255 dimensions: 1,024 bytes. */
export const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

/**
 * Most bytes a USPS text file may hold, raw or once inflated. 64 MiB: the official training
 * file is 6.0 MB of text (7,291 rows), so this leaves ten times the room and refuses a file that
 * would take gigabytes once split into lines and tokens.
 */
export const MAX_USPS_TEXT_BYTES = 64 * 2 ** 20;

/**
 * Most pixels (width × height) of one PNG sprite. 2^24 (16.8 M, 64 MiB once pngjs expands it to
 * RGBA): the MNIST sprites are 784 × 3,000 = 2.35 M pixels each. Checked from the IHDR chunk
 * before any decoding.
 */
export const MAX_PNG_PIXELS = 2 ** 24;

/**
 * Most pixels on either side of a PNG: 65,535, as many tools write at most. Within the pixel
 * bound an image 1 pixel wide could still be 2^24 rows tall, and the decoder's cost goes by the
 * row (over 2 GB of memory and 10 s for such a 65 KB file). Checked from the IHDR chunk.
 */
export const MAX_PNG_SIDE = 65535;

/**
 * Most bytes of a PNG sprite file. 64 MiB, room for an uncompressed sprite of MAX_PNG_PIXELS grey
 * pixels; the MNIST sprites are 0.5 MB each.
 */
export const MAX_PNG_FILE_BYTES = 64 * 2 ** 20;

/** A file checked by {@link openDataFile}: its open descriptor and size. Close it with `fs.closeSync(fd)`. */
export interface OpenDataFile {
  fd: number;
  size: number;
}

/**
 * Opens `file` for reading and checks it before anything is read: a regular file (not a
 * folder, device, pipe or socket) of at most `maxBytes` bytes. `what` names the kind of file in
 * errors (e.g. "an IDX file").
 */
export function openDataFile(file: string, maxBytes: number, what: string): OpenDataFile {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; for a
    // regular file the flag changes nothing.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // The system's code kept: the file may be fine (see isSystemError).
    throw Object.assign(new Error(`${file}: cannot read (${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)})`), {
      code: err.code,
    });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file}: expected ${what} (a regular file), found ${fileKind(st)}`);
    if (st.size > maxBytes) {
      throw new Error(`${file}: ${st.size} bytes, more than the ${maxBytes} bytes allowed for ${what}`);
    }
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/**
 * Bytes moved by one read or write call of a large file (save, load, every atomic write): one
 * call moves at most 2 GiB, so big tensors go in pieces of 64 MiB. @internal
 */
export const IO_PIECE = 64 * 2 ** 20;

/**
 * Writes all of `bytes` to an open file, in calls of at most 64 MiB (one call moves at most
 * 2 GiB). A call may write less than it is given (a nearly full disk writes what fits and
 * returns its count; the next call throws ENOSPC): the loop goes on until all is written or a
 * call throws, so a writer never takes a short file for a complete one. `onWrite` is told each
 * call's count.
 */
export function writeAll(fd: number, bytes: Uint8Array, onWrite?: (bytes: number) => void): void {
  for (let at = 0; at < bytes.length;) {
    const wrote = fs.writeSync(fd, bytes, at, Math.min(bytes.length - at, IO_PIECE));
    if (wrote <= 0) throw new Error(`the file system accepted no more bytes after ${at} of ${bytes.length}`);
    at += wrote;
    onWrite?.(wrote);
  }
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Prefix of the error messages, naming the operation (`save`, `predict`); none by default. */
  who?: string;
  /** The SHA-256 (hex) the data must have: on a mismatch nothing is written. */
  sha256?: string;
  /** The size the data must have, checked with `sha256` (a download's published size). */
  bytes?: number;
  /** Create the target's missing folders first (default false: a missing folder is an error). */
  mkdir?: boolean;
  /**
   * Replace a file already at the target (default true). With false, a file there when the new
   * one is put in place, even one created while it was being written, is left as it is and the
   * write fails with code `EEXIST`: the file appears through a hard link, which the system
   * refuses to make over an existing name, so no other writer can slip in between a check and
   * the write.
   */
  replace?: boolean;
}

const TEMP_SUFFIX = '.tmp';

/**
 * The part of a temporary file's name that names its target: the target's own name, or, past
 * 160 bytes, its first 100 bytes and a hash of the whole, so that `.<this>.<pid>.<random>.tmp`
 * stays within the 255 bytes a file name may have for every name a target may have.
 */
function tempStem(base: string): string {
  if (Buffer.byteLength(base) <= 160) return base;
  let head = '';
  for (const ch of base) {
    if (Buffer.byteLength(head + ch) > 100) break;
    head += ch;
  }
  return `${head}~${crypto.createHash('sha256').update(base).digest('hex').slice(0, 12)}`;
}

/**
 * How long a temporary file of a process this machine does not know must sit unchanged before
 * it is taken as stranded: a process in another container or on another machine sharing the
 * folder has a pid this one cannot see, and its file grows while it writes.
 */
const STALE_TEMP_MS = 60_000;

/**
 * Whether an error is the system's (it carries an errno code: EACCES, EIO, EMFILE, ENOENT,
 * ECONNREFUSED…; not Node's own ERR_ codes, which say a call was wrong). Refusing to open or read
 * a file, it says nothing against what the file holds: the file may be fine, and a caller must not
 * take it for damaged. @internal
 */
export function isSystemError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** `EACCES: permission denied`: an fs error without the path (which may be a hidden temporary file). @internal */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string') {
    const m = /^[A-Z0-9_]+: ([^,]*)/.exec(err.message);
    return `${err.code}: ${m ? m[1] : err.message}`;
  }
  return (e as Error)?.message ?? String(e);
}

/** What a directory entry that is not a regular file is, for messages. @internal */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Whether process `pid` is known to be gone from this machine: a pid of another process (not
 * this one, whose worker threads may be writing), for which the system answers "no such
 * process". A live process, one of another user (EPERM), or a pid that is no pid is not gone. @internal
 */
export function processGone(pid: number): boolean {
  if (pid === process.pid || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The folders this process holds (lockFolder): a lock naming this pid is not a stale one when listed here. */
const heldHere = new Set<string>();

/** A lock file holds one line of JSON; anything longer was not written by a lock. */
const LOCK_FILE_BYTES = 4096;

/**
 * A lock file's text, read as a data file is (no FIFO, device or link to one, at most
 * LOCK_FILE_BYTES): a FIFO put in its place blocked the command in open() past SIGTERM, and a
 * link to /dev/zero read until memory ran out.
 */
function readLockFile(lock: string): string {
  return readDataFile(lock, LOCK_FILE_BYTES, 'a lock file').toString('utf8');
}

/**
 * Takes the output folder `out` of a command (`what`: 'sweep', 'train run') for this process: a
 * second one writing there at once (a `--resume` started while the first still runs, two
 * trainings given the same --out) would race on its files, the later replacing the earlier's
 * without a word. The lock is the file `.<first word of what>.lock` naming the process and its
 * machine; one left by a process of this machine that is gone (killed) is taken over. Two
 * processes taking over the same dead lock at the same moment may both run (the check and the
 * take-over are two steps); a lock of another machine on a shared folder is never taken over
 * (its pid cannot be checked here): the refusal says to remove it. Errors are made by `fail`.
 * Returns the function that releases the lock. @internal
 */
export function lockFolder(out: string, what: string, fail: (message: string) => Error): () => void {
  let dir: string;
  try {
    // One name for the folder however it was reached (a symlink, a relative path, a chdir later).
    dir = fs.realpathSync(out);
  } catch (e) {
    throw fail(`--out: cannot lock ${out}: ${fsReason(e)}`);
  }
  const lock = path.join(dir, `.${what.split(' ')[0]}.lock`);
  const me = { pid: process.pid, host: os.hostname() };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lock, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      heldHere.add(lock);
      const release = (): void => {
        process.removeListener('exit', release);
        heldHere.delete(lock);
        try {
          const held = JSON.parse(readLockFile(lock)) as { pid?: unknown; host?: unknown };
          if (held.pid === me.pid && held.host === me.host) fs.rmSync(lock, { force: true });
        } catch {
          // Gone already, or not ours: nothing to release.
        }
      };
      // Also when the process exits before the holder's finally runs (process.exit from a failed
      // write to stdout): first among the exit listeners, so that the removal of a folder the
      // command made and left empty finds it empty.
      process.prependListener('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(`--out: cannot lock ${out}: ${fsReason(e)}`);
    }
    let holder: { pid?: unknown; host?: unknown } = {};
    try {
      holder = JSON.parse(readLockFile(lock)) as typeof holder;
    } catch {
      // Unreadable: written by something else; said below.
    }
    const pid = typeof holder.pid === 'number' ? holder.pid : undefined;
    const host = typeof holder.host === 'string' ? holder.host : undefined;
    // Gone: a process of this machine that no longer runs, or this very pid when this process
    // does not hold the folder (a container restarted under the same name reuses small pids).
    const gone = pid !== undefined && host === me.host && (pid === me.pid ? !heldHere.has(lock) : processGone(pid));
    if (attempt === 0 && gone) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    throw fail(
      `--out ${out} is in use by another ${what} (${pid !== undefined ? `pid ${pid}` : 'unknown process'} on ${host ?? 'unknown machine'}); ` +
        `wait for it to end, or, if it is gone, remove ${lock}`,
    );
  }
}

/**
 * Whether `file`, written by process `pid`, is stranded: the process is gone and the file has
 * not changed for STALE_TEMP_MS (a writer in another container or machine sharing the folder has
 * a pid this one cannot see, and its file grows while it writes). @internal
 */
export function strandedBy(file: string, pid: number): boolean {
  if (!processGone(pid)) return false;
  try {
    return Date.now() - fs.statSync(file).mtimeMs >= STALE_TEMP_MS;
  } catch {
    return false;
  }
}

/**
 * Removes the temporary files `.<stem>.<pid>.<random>.tmp` in `dir` (those of the targets named
 * `bases` only, when given) for which `remove(pid, file)` says yes. A file that cannot go is left
 * for a later write's removal: no caller fails over one.
 */
function removeTemps(dir: string, bases: readonly string[] | undefined, remove: (pid: number, file: string) => boolean): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const prefixes = bases === undefined ? ['.'] : bases.map((base) => `.${tempStem(base)}.`);
  // After the prefix: `<pid>.<random>` for one target's files, `<stem>.<pid>.<random>` for any.
  const rest = bases === undefined ? /^.+\.(\d+)\.[a-z0-9]+$/ : /^(\d+)\.[a-z0-9]+$/;
  for (const name of names) {
    if (!name.endsWith(TEMP_SUFFIX)) continue;
    const m = prefixes
      .filter((prefix) => name.startsWith(prefix))
      .map((prefix) => rest.exec(name.slice(prefix.length, -TEMP_SUFFIX.length)))
      .find((match) => match !== null);
    const file = path.join(dir, name);
    if (!m || !remove(Number(m[1]), file)) continue;
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // Left for the next write's removal of stale temporaries.
    }
  }
}

/** Temporary files of target `base` in `dir` that {@link strandedBy} says are stranded: removed. */
function removeStaleTemps(dir: string, base: string): void {
  removeTemps(dir, [base], (pid, file) => strandedBy(file, pid));
}

/**
 * Removes this process's temporary files (`.<name>.<pid>.<random>.tmp`) in `dir`: those of writes
 * that a stop cut short, in worker threads that are gone. Only once no thread of this process
 * writes in `dir` any more (a sweep whose pool was stopped). @internal
 */
export function removeOwnTemps(dir: string): void {
  removeTemps(dir, undefined, (pid) => pid === process.pid);
}

/**
 * Removes the temporary files (`.<name>.<pid>.<random>.tmp`) in `dir` of processes of this
 * machine that are gone, however recent: for a caller that holds `dir` alone (a sweep under its
 * folder's lock, which no other process writes in), where the age rule of {@link strandedBy}
 * would keep a file a killed run left seconds ago until some later write. With `targets`, only
 * the temporary files of those file names (a folder the caller shares with other programs, where
 * it owns only its own files). @internal
 */
export function removeDeadWritersTemps(dir: string, targets?: readonly string[]): void {
  removeTemps(dir, targets, (pid) => processGone(pid));
}

/**
 * While a write runs, SIGINT / SIGTERM (when the program has no handler of its own, so the signal
 * would kill it mid-write and strand the temporary file) are held: the write finishes, then the
 * signal is raised again with its default action. Under onFatalSignal (a command's cleanups) its
 * handler holds them, and runs the cleanups once the writes are done. Returns the function that
 * ends the hold.
 */
function holdSignals(): () => void {
  if (listening) {
    // onFatalSignal's handler listens: it holds the signal while writes run, then ends the process.
    writesRunning++;
    return () =>
      setImmediate(() =>
        setImmediate(() => {
          writesRunning--;
          if (writesRunning === 0 && heldSignal !== undefined) endBySignal(heldSignal, false);
        }),
      );
  }
  const held: NodeJS.Signals[] = [];
  const installed: [NodeJS.Signals, () => void][] = [];
  for (const sig of ['SIGINT', 'SIGTERM'] as NodeJS.Signals[]) {
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = (): void => {
      held.push(sig);
    };
    try {
      process.on(sig, onSignal);
      installed.push([sig, onSignal]);
    } catch {
      // Some platforms cannot watch a signal; then there is nothing to hold.
    }
  }
  if (installed.length === 0) return () => undefined;
  return () => {
    // A signal that arrived during the (synchronous) write reaches the listeners when the event
    // loop next polls. Written from an I/O callback (the poll phase), one immediate runs before
    // that poll, in the same turn, and would drop the signal: keep listening for two immediates,
    // one full turn, then re-raise it with the default action.
    setImmediate(() =>
      setImmediate(() => {
        for (const [sig, fn] of installed) process.removeListener(sig, fn);
        const sig = held[0];
        if (sig !== undefined && process.listenerCount(sig) === 0) deliverSignal(sig);
      }),
    );
  };
}

/** What onFatalSignal runs when SIGINT or SIGTERM ends the process, last registered first. */
const fatalCleanups = new Set<() => void>();
/** Whether fatalSignal listens: from the first cleanup registered to a turn after the last goes. */
let listening = false;
/** Writes in progress (holdSignals) while fatalSignal listens, and the signal they hold. */
let writesRunning = 0;
let heldSignal: NodeJS.Signals | undefined;

function stopListening(): void {
  listening = false;
  process.removeListener('SIGINT', fatalSignal);
  process.removeListener('SIGTERM', fatalSignal);
}

function fatalSignal(signal: NodeJS.Signals): void {
  if (writesRunning > 0) {
    heldSignal ??= signal;
    return;
  }
  endBySignal(signal, true);
}

/**
 * Runs the cleanups, last registered first, then lets `signal` end the process as it would have.
 * From the signal's own event (`inEvent`), another listener of it (the progress bar's) re-raises
 * it itself once it has run; a held signal released later is re-raised here whatever listens now
 * (a listener added since never saw it).
 */
function endBySignal(signal: NodeJS.Signals, inEvent: boolean): void {
  heldSignal = undefined;
  const cleanups = [...fatalCleanups].reverse();
  fatalCleanups.clear();
  stopListening();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // The process is ending: a cleanup that fails leaves what it would have removed.
    }
  }
  if (inEvent && process.listenerCount(signal) > 0) return;
  deliverSignal(signal);
  // With listeners left, the signal reaches them at the next poll; signal watchers do not keep the
  // event loop alive, so this does until then (the listener ends the process; if it does not, the
  // timer lets it go on).
  if (process.listenerCount(signal) > 0) setTimeout(() => undefined, 1000);
}

/**
 * Runs `cleanup` if SIGINT or SIGTERM ends the process while it is registered (a command's lock
 * and the empty folders it made, which the default action would leave), then re-raises the
 * signal with its default action, so the process still dies of it (exit 130 / 143); a write in
 * progress finishes first. For a command without signal handlers of its own (a sweep has its
 * own, and stops gracefully). Returns the function that unregisters it. @internal
 */
export function onFatalSignal(cleanup: () => void): () => void {
  if (!listening) {
    listening = true;
    process.on('SIGINT', fatalSignal);
    process.on('SIGTERM', fatalSignal);
  }
  fatalCleanups.add(cleanup);
  return () => {
    fatalCleanups.delete(cleanup);
    // A signal that reached the process since the event loop last polled reaches JavaScript only
    // at the next poll: listening stops a full turn later (two immediates, as holdSignals'
    // release), or the signal would be dropped and the command end with exit code 0.
    if (fatalCleanups.size === 0)
      setImmediate(() =>
        setImmediate(() => {
          if (listening && fatalCleanups.size === 0 && heldSignal === undefined && writesRunning === 0) stopListening();
        }),
      );
  };
}

/**
 * Writes `data` (one buffer or several, in order) to `file` atomically, the one writer of every
 * file neurone makes (models, checkpoints, exports, the commands' outputs, figures, images, logs,
 * sweep records, downloads): readers see the previous file or the complete new one, never part
 * of it. A temporary file `.<name>.<pid>.<random>.tmp` is written in the same folder (a rename is
 * atomic only within one file system), flushed to disk, renamed over `file`, and the folder is
 * flushed so the rename itself survives a power cut (skipped where folders cannot be opened, as
 * on Windows). An existing file keeps its permissions. Temporary files of the same target left
 * by processes that no longer exist (killed mid-write) are removed first; SIGINT / SIGTERM wait
 * for the write to end, and reach a program without handlers of its own when its event loop next
 * turns (one that runs on synchronously after a save gets them only then; fit yields every epoch).
 * A name too long to take the temporary file's additions has them made from a hash.
 *
 * What `file` names now decides what happens: nothing, or a regular file, is replaced; a
 * symbolic link is replaced by the new file (what it points to is left alone: the write never
 * goes through a link to a device, or to a file outside the folder); a folder, device, FIFO or
 * socket is refused (rename would silently swap a device node or a FIFO for a file).
 *
 * Errors read `[<who>: ]cannot write <file>: <what went wrong>` (the target, never the temporary
 * file), with the system's code (`ENOSPC`, ...) as `code` when there is one.
 *
 * @param file The file written.
 * @param data Its contents: one buffer, or chunks written one after the other.
 * @param options `who` (the errors' prefix), `sha256` and `bytes` (refuse other data), `mkdir`
 * (create missing folders).
 * @example
 * writeFileAtomic('out/result.json', Buffer.from(JSON.stringify(result)), { mkdir: true });
 * @internal
 */
export function writeFileAtomic(file: string, data: Uint8Array | readonly Uint8Array[], options: AtomicWriteOptions = {}): void {
  prepareFileWrite(file, data, options).commit();
}

/**
 * Why a write may not replace the file `lstat` found at its target, or undefined: a file made
 * read-only (no write bit for anyone) is not replaced behind its owner's back, as `>` would not
 * (root may). A link is replaced, what it points to left alone, whatever its mode. The commands
 * ask it before their work, the writer again before writing. @internal
 */
export function readOnlyReason(st: fs.Stats | undefined): string | undefined {
  if (!st?.isFile() || (st.mode & 0o222) !== 0 || process.getuid?.() === 0) return undefined;
  return `it is read-only (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); make it writable or remove it first`;
}

/** A file written in full beside its target, not yet in its place: see {@link prepareFileWrite}. @internal */
export interface PreparedWrite {
  /** Puts the file in place (the rename), replacing the target. */
  commit(): void;
  /** Removes the written file, the target untouched; nothing after a commit. */
  abort(): void;
}

/**
 * Writes several files as one: each is prepared ({@link prepareFileWrite}) before any is put in
 * place, so that a failure while writing (a full disk) leaves every target as it was and no
 * temporary file. A rename that fails after others succeeded (rare once the data is written)
 * aborts the rest; the error says which files were already replaced. @internal
 */
export function writeFilesAtomic(files: readonly { file: string; data: Uint8Array }[], options: AtomicWriteOptions = {}): void {
  const writes: PreparedWrite[] = [];
  try {
    for (const f of files) writes.push(prepareFileWrite(f.file, f.data, options));
  } catch (e) {
    for (const w of writes) w.abort();
    throw e;
  }
  for (let i = 0; i < writes.length; i++) {
    try {
      writes[i].commit();
    } catch (e) {
      for (const w of writes.slice(i + 1)) w.abort();
      if (i > 0 && e instanceof Error)
        e.message += ` (${files
          .slice(0, i)
          .map((f) => f.file)
          .join(', ')} already written)`;
      throw e;
    }
  }
}

/**
 * Puts the written temporary file at `target` only if nothing is there: link() fails with EEXIST
 * over any existing name (a file, a link, a folder), atomically, where a check before a rename
 * would leave a window. A file system without hard links (FAT, some network and FUSE mounts)
 * gets that check and the rename, the window included.
 */
function commitNew(tmp: string, target: string): void {
  try {
    fs.linkSync(tmp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Over NFS a link() whose reply was lost is sent again and answers EEXIST for the link it made:
    // the target is then this very file.
    if (code === 'EEXIST' && sameFile(tmp, target)) return removeLinkedTemp(tmp);
    // Windows answers a link on FAT or exFAT with ERROR_INVALID_FUNCTION, which Node reads as EISDIR.
    const noLinks =
      ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code ?? '') || (code === 'EISDIR' && process.platform === 'win32');
    if (!noLinks) throw e;
    if (fs.existsSync(target) || isLink(target)) throw Object.assign(new Error(`EEXIST: ${target}`), { code: 'EEXIST' });
    renameRetrying(tmp, target);
    return;
  }
  removeLinkedTemp(tmp);
}

/**
 * The text of a file's bytes: UTF-8 without the byte-order mark some editors put first (Windows
 * Notepad, PowerShell's `-Encoding UTF8`), or UTF-16 where the file starts with that encoding's
 * mark (Windows PowerShell 5.1's `>`, a spreadsheet's "Unicode text"): JSON.parse named the
 * invisible mark as an unexpected token, and UTF-16 read as noise. @internal
 */
export function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.toString('utf8', 3);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.toString('utf16le', 2);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const body = Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1))); // a copy: swap16 works in place
    return body.swap16().toString('utf16le');
  }
  return bytes.toString('utf8');
}

/**
 * fs.renameSync, retried on Windows while another program holds the target open for a moment (an
 * antivirus, the search indexer, a sync client, a viewer: EPERM, EACCES or EBUSY there), for about
 * a second in all; elsewhere those errors are not passing. @internal
 */
export function renameRetrying(from: string, to: string): void {
  for (let wait = 10; ; wait *= 2) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || wait > 640 || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

/** The temporary name of a file now linked in place. */
function removeLinkedTemp(tmp: string): void {
  try {
    fs.rmSync(tmp, { force: true });
  } catch {
    // The file is in place; a temporary name left behind is removed as stranded by a later write.
  }
}

/**
 * Whether `a` and `b` name one existing file: the same device and inode, however they are spelt
 * (a link, a hard link, another case of the name on macOS and Windows). @internal
 */
export function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [fs.statSync(a), fs.statSync(b)];
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * The first half of {@link writeFileAtomic}: everything but the rename. The data is written to
 * the temporary file and flushed to disk, so that what can fail (a full disk, a write error)
 * has failed; `commit` then puts it in place, `abort` throws it away. A command writing several
 * files prepares them all, then commits them all: a failure leaves every target as it was.
 * SIGINT / SIGTERM wait until `commit` or `abort`. @internal
 */
export function prepareFileWrite(file: string, data: Uint8Array | readonly Uint8Array[], options: AtomicWriteOptions = {}): PreparedWrite {
  const { who, sha256, bytes, mkdir = false, replace = true } = options;
  const fail = (what: string, cause?: unknown): Error => {
    const err: Error & { code?: string; cause?: unknown } = new Error(`${who ? `${who}: ` : ''}cannot write ${file}: ${what}`);
    if (cause !== undefined) err.cause = cause;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string') err.code = code;
    return err;
  };
  const chunks: readonly Uint8Array[] = data instanceof Uint8Array ? [data] : data;
  const total = chunks.reduce((a, c) => a + c.length, 0);
  if (sha256 !== undefined || bytes !== undefined) {
    const hash = crypto.createHash('sha256');
    for (const c of chunks) hash.update(c);
    const got = hash.digest('hex');
    if ((sha256 !== undefined && got !== sha256.toLowerCase()) || (bytes !== undefined && total !== bytes)) {
      const expected = [bytes === undefined ? '' : `${bytes} bytes`, sha256 === undefined ? '' : `sha256 ${sha256}`].filter(Boolean);
      throw fail(`checksum mismatch: expected ${expected.join(' with ')}, got ${total} bytes with sha256 ${got}; nothing written`);
    }
  }
  const target = path.resolve(file);
  const dir = path.dirname(target);
  if (mkdir) {
    try {
      ensureDir(dir); // not mkdirSync recursive: it can spin forever (see ensureDir)
    } catch (e) {
      throw fail((e as Error).message, e);
    }
  }
  // A new file: 0644 through the umask. A regular file, or a link to one: that file's mode, kept
  // whole (a link to a 0600 model is replaced by a 0600 file).
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(`cannot inspect it (${fsReason(e)})`, e);
  }
  if (st && !st.isFile() && !st.isSymbolicLink()) throw fail(`expected a regular file (or none), found ${fileKind(st)}; not replacing it`);
  let kept = st?.isFile() ? st : undefined;
  if (st?.isSymbolicLink()) {
    try {
      const pointed = fs.statSync(target);
      if (pointed.isFile()) kept = pointed;
    } catch {
      // A dangling link: a new file's mode.
    }
  }
  // Said the same whether the file was there before the write or appeared during it.
  const alreadyThere = 'a file is already there; not replaced (nothing written)';
  if (st && !replace) throw fail(alreadyThere, Object.assign(new Error('EEXIST'), { code: 'EEXIST' }));
  const readOnly = readOnlyReason(st);
  if (readOnly) throw fail(`${readOnly}; nothing written`);
  const mode = kept ? kept.mode & 0o7777 : 0o644;
  removeStaleTemps(dir, path.basename(target));
  const tmp = path.join(dir, `.${tempStem(path.basename(target))}.${process.pid}.${Math.random().toString(36).slice(2, 10)}${TEMP_SUFFIX}`);
  const release = holdSignals();
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', mode);
  } catch (e) {
    release();
    throw fail(`cannot create a file in ${dir} (${fsReason(e)})`, e);
  }
  let written = 0;
  let step = 'setting its permissions';
  try {
    // openSync's mode goes through the umask; the previous file's mode must come back whole.
    if (kept && process.platform !== 'win32') fs.fchmodSync(fd, mode);
    // Root replacing someone's file gives it back to them: a root container writing into a
    // user's folder must not leave files the user cannot read. Where the file system refuses
    // (root squashed on NFS), the file stays root's, as any copy by root would.
    if (kept && process.getuid?.() === 0 && (kept.uid !== 0 || kept.gid !== 0)) {
      try {
        fs.fchownSync(fd, kept.uid, kept.gid);
      } catch {
        // See above.
      }
    }
    step = 'writing';
    // Not one writeSync per chunk: a call may write only part (see writeAll).
    for (const c of chunks) writeAll(fd, c, (n) => (written += n));
    step = 'flushing to disk';
    fs.fsyncSync(fd);
    step = 'closing';
    fs.closeSync(fd);
  } catch (e) {
    if (step !== 'closing') {
      try {
        fs.closeSync(fd);
      } catch {
        // The write's error is the one to report.
      }
    }
    try {
      fs.rmSync(tmp, { force: true });
    } finally {
      release(); // even when the removal fails (a file system turned read-only): signals held for ever otherwise
    }
    const when = step === 'writing' ? `writing failed after ${written} of ${total} bytes` : `${step} failed`;
    throw fail(`${when} (${fsReason(e)}); the previous file, if any, is unchanged`, e);
  }
  let settled = false;
  return {
    commit(): void {
      if (settled) throw new Error(`internal: the write of ${file} was already committed or aborted`);
      settled = true;
      try {
        if (replace) renameRetrying(tmp, target);
        else commitNew(tmp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && !replace) {
          fs.rmSync(tmp, { force: true });
          throw fail(alreadyThere, e);
        }
        // The temporary file gone before the rename: another process removed it (one writing the
        // same file from another container or machine, which took it for stranded).
        const vanished = (e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(tmp) && fs.existsSync(dir);
        fs.rmSync(tmp, { force: true });
        if (vanished)
          throw fail(
            `its temporary file ${path.basename(tmp)} was removed by another process before it could replace it; the previous file, if any, is unchanged`,
            e,
          );
        throw fail(`cannot replace it (${fsReason(e)}); the previous file, if any, is unchanged`, e);
      } finally {
        release();
      }
      let dirFd: number | undefined;
      try {
        dirFd = fs.openSync(dir, 'r');
        fs.fsyncSync(dirFd);
      } catch {
        // Folder fsync is not supported everywhere (Windows, some network file systems).
      } finally {
        if (dirFd !== undefined) fs.closeSync(dirFd);
      }
    },
    abort(): void {
      if (settled) return;
      settled = true;
      try {
        fs.rmSync(tmp, { force: true });
      } finally {
        release();
      }
    },
  };
}

/**
 * Reads `length` bytes from `position` of an open file; fewer when the file ends first (it may
 * have shrunk since it was checked).
 */
export function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Reads a whole regular file of at most `maxBytes` bytes (see {@link openDataFile}). */
export function readDataFile(file: string, maxBytes: number, what: string): Buffer {
  const { fd, size } = openDataFile(file, maxBytes, what);
  try {
    const buf = readAt(fd, size, 0);
    if (buf.length !== size) throw new Error(`${file}: shrank from ${size} to ${buf.length} bytes while being read`);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether a buffer starts with the gzip magic bytes.
 * @param buf The bytes of a file.
 */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function isTooLarge(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * Inflates gzip data to at most `maxBytes` bytes; an error naming `source` when the content is
 * longer (`tooLong` says what the bound was) or the stream is corrupt or truncated. zlib stops
 * at the bound (give or take one 16 KiB output chunk) instead of inflating everything first.
 */
export function gunzipBounded(gz: Uint8Array, maxBytes: number, source: string, tooLong: string): Buffer {
  try {
    return zlib.gunzipSync(gz, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (e) {
    if (isTooLarge(e)) throw new Error(`${source}: gzip content is longer than ${tooLong}`);
    throw new Error(`${source}: corrupt or truncated gzip data (${(e as Error).message}); ${gz.length} compressed bytes`);
  }
}

/**
 * Reads a regular file of at most `maxBytes` bytes (raw, or once gunzipped when it starts with
 * the gzip magic bytes; default: the largest IDX file allowed). Devices, pipes and folders are
 * refused before reading, gzip data is inflated no further than `maxBytes`, and a corrupt or
 * truncated gzip stream gives an error naming the file.
 * @param file The file.
 * @param maxBytes The largest size read (after gunzip).
 * @param what What the file should be, for messages (`a CSV file`).
 */
export function readMaybeGzip(file: string, maxBytes = MAX_IDX_HEADER_BYTES + MAX_IDX_PAYLOAD_BYTES, what = 'a data file'): Buffer {
  const raw = readDataFile(file, maxBytes, what);
  if (!isGzip(raw)) return raw;
  return gunzipBounded(raw, maxBytes, file, `the ${maxBytes} bytes allowed for ${what}`);
}

/**
 * The first bytes of the content of gzip data: at least `need` bytes (fewer only when the
 * whole content is shorter), at most about `need + 64 KiB`, however much the data would inflate
 * to. Inflates prefixes of the compressed bytes with a sync flush (partial input is not an
 * error then), searching for a prefix long enough to give `need` bytes but short enough to stay
 * under the bound: one byte of deflate input yields at most a few KiB, so such a prefix exists.
 */
export function gunzipHead(gz: Uint8Array, need: number, source: string): Buffer {
  const cap = need + 64 * 1024;
  const inflate = (k: number): Buffer | 'too large' => {
    try {
      return zlib.gunzipSync(gz.subarray(0, k), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (e) {
      if (isTooLarge(e)) return 'too large';
      throw new Error(`${source}: corrupt gzip data (${(e as Error).message})`);
    }
  };
  let lo = 0; // a prefix length known to give fewer than `need` bytes
  let hi = Infinity; // a prefix length known to give more than `cap` bytes
  let k = Math.min(gz.length, 4096);
  for (;;) {
    const out = inflate(k);
    if (out === 'too large') hi = k;
    else if (out.length >= need || k === gz.length) return out;
    else lo = k;
    const next = hi === Infinity ? Math.min(gz.length, k * 4) : Math.floor((lo + hi) / 2);
    if (next === lo || next === k) throw new Error(`${source}: gzip data inflates too fast to read its header within ${cap} bytes`);
    k = next;
  }
}
