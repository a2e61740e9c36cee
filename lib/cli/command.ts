/**
 * What the `predict`, `evaluate`, `export` and `data` commands share: their flag parser (with
 * "did you mean" for a mistyped flag), the error for bad input, and how an error reaches the
 * user (the whole message, after `neurone: `, never a stack trace).
 *
 * Exit codes: 0 done; 2 bad input (an argument, a file, a dataset that cannot be used), with
 * nothing written; 1 a failure after the input was accepted (an output that cannot be written,
 * a download that fails).
 */
import * as fs from 'fs';
import * as path from 'path';
import { editDistance } from '../options';
import { fsReason, readOnlyReason, sameFile, strandedBy } from '../data/read';
import { missingFolders } from '../data/paths';

/** Bad input: exit code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * `unknown key "epoch" (did you mean epochs?) (expected one of …)`, the words of every refusal of a
 * key nobody reads in a file's object (a model description, a sweep spec, a job's payload): the
 * key quoted as JSON (escapes shown), cut at 64 characters with its length said.
 */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const quoted = JSON.stringify(key.length > 64 ? key.slice(0, 64) : key);
  const shown = key.length > 64 ? `${quoted}… (${key.length} characters)` : quoted;
  return `unknown key ${shown}${didYouMean(key, known)} (expected one of ${known.join(', ')})`;
}

/** The most edits a suggestion may be from the word typed. */
const MAX_SUGGESTED_EDITS = 3;

/**
 * ` (did you mean --epochs?)` for the candidate closest to `word`, when one is close enough to be
 * a typo (at most a third of its letters off, and at most 3) or starts with it; '' otherwise.
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  const typed = word.toLowerCase();
  for (const c of candidates) {
    const dist = editDistance(typed, c.toLowerCase(), MAX_SUGGESTED_EDITS);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  const strip = (s: string): string => s.replace(/^-+/, '');
  const limit = Math.min(MAX_SUGGESTED_EDITS, Math.max(1, Math.floor(strip(word).length / 3)));
  if (best !== undefined && bestDistance <= limit) return ` (did you mean ${best}?)`;
  const prefixed = candidates.filter((c) => strip(word).length >= 2 && strip(c).startsWith(strip(word)));
  return prefixed.length === 1 ? ` (did you mean ${prefixed[0]}?)` : '';
}

/** One flag of a command. */
export interface FlagSpec {
  /** `--model`. */
  name: string;
  /** The value's placeholder (`FILE`); absent for a flag without value. */
  arg?: string;
  help: string;
  choices?: readonly string[];
  /** May be given several times (values collected in order). */
  repeated?: boolean;
}

/** Parsed arguments: each flag's values (true for a flag without value), and the other arguments in order. */
export interface ParsedArgs {
  flags: Map<string, string[] | true>;
  positional: string[];
}

/**
 * Parses `argv` against `specs`: `--flag value`, `--flag=value`, `--` ending the flags. Refuses an
 * unknown flag (suggesting the closest known one), a flag given twice, a missing value or one
 * outside `choices`, all as {@link InputError} naming the command.
 */
export function parseArgs(command: string, argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const flags = new Map<string, string[] | true>();
  const positional: string[] = [];
  let flagsOver = false;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (flagsOver || !arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      flagsOver = true;
      continue;
    }
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '-h') arg = '--help';
    const spec = byName.get(arg);
    if (!spec) {
      throw new InputError(`${command}: unknown option '${arg}'${didYouMean(arg, [...byName.keys()])} (see neurone ${command} --help)`);
    }
    const earlier = flags.get(arg);
    if (earlier !== undefined && !spec.repeated) throw new InputError(`${command}: option ${arg} given twice`);
    if (spec.arg === undefined) {
      if (value !== undefined) throw new InputError(`${command}: option ${arg} takes no value`);
      flags.set(arg, true);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) {
        throw new InputError(`${command}: option ${arg} needs a value (${spec.arg})`);
      }
    }
    if (value === '') throw new InputError(`${command}: option ${arg} needs a non-empty value (${spec.arg})`);
    if (spec.choices && !spec.choices.includes(value)) {
      throw new InputError(
        `${command}: bad value for ${arg}: '${value}' (expected one of ${spec.choices.join(', ')})${didYouMean(value, spec.choices)}`,
      );
    }
    flags.set(arg, [...(Array.isArray(earlier) ? earlier : []), value]);
  }
  return { flags, positional };
}

/** The value of a flag given once, or undefined. */
export function flagValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

/**
 * The integer a flag's text writes in decimal digits (a sign allowed), or undefined: every
 * command reads its integer flags this way, so that `0x10`, `1e3` or `1.0`, which JavaScript's
 * Number() would take, mean the same to all of them (nothing).
 */
export function decimalInteger(raw: string): number | undefined {
  if (!isDecimalInteger(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The number a flag's text writes in decimal notation (`0.01`, `.5`, `1e-3`, a sign allowed), or
 * undefined: every command reads its real-valued flags this way, so that `0x10`, `0b11`, a
 * blank or `Infinity`, which JavaScript's Number() would take, are refused by all of them.
 */
export function decimalNumber(raw: string): number | undefined {
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : undefined;
}

/** Whether a flag's text is an integer in decimal digits (a sign allowed), of any size. */
export function isDecimalInteger(raw: string): boolean {
  return /^[+-]?\d+$/.test(raw);
}

/** A positive integer flag, or its default. */
export function intFlag(args: ParsedArgs, command: string, name: string, fallback: number, min = 1): number {
  const raw = flagValue(args, name);
  if (raw === undefined) return fallback;
  const n = decimalInteger(raw);
  if (n === undefined) throw new InputError(`${command}: ${name} must be an integer >= ${min} in decimal digits, got '${raw}'`);
  if (n < min) throw new InputError(`${command}: ${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

/** The help of a command: its usage line, its flags, then the lines given. */
export function helpText(usageLine: string, specs: readonly FlagSpec[], more: readonly string[]): string {
  const lines = [`Usage: ${usageLine}`, '', 'Options:'];
  for (const s of specs) lines.push(`${`  ${s.name}${s.arg ? ` ${s.arg}` : ''}`.padEnd(26)}${s.help}`);
  return [...lines, ...(more.length > 0 ? ['', ...more] : [])].join('\n');
}

/**
 * Throws when files cannot be created in `dir`. `fs.access(W_OK)` is not enough: it says yes to
 * root on a read-only file system or a pseudo file system, so a real file is created and removed.
 */
export function probeWritable(dir: string): void {
  // A probe a killed process left (between its creation and removal) goes first.
  try {
    for (const name of fs.readdirSync(dir)) {
      const m = /^\.neurone-write-test-(\d+)-\d+$/.exec(name);
      if (m && strandedBy(path.join(dir, name), Number(m[1]))) fs.rmSync(path.join(dir, name), { force: true });
    }
  } catch {
    // An unreadable folder: the probe below says what is wrong.
  }
  const probe = path.join(dir, `.neurone-write-test-${process.pid}-${Date.now()}`);
  let fd: number;
  try {
    fd = fs.openSync(probe, 'wx');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot create files in ${dir} (${err.code ?? err.message})`);
  }
  fs.closeSync(fd);
  fs.rmSync(probe, { force: true });
}

/**
 * Checks, before any work, that the folder `dir` can take `files` (paths inside it): a folder
 * that exists takes them as checkOutputFile says; one that does not is made at the end, so its
 * nearest existing parent must be a folder files can be created in. Nothing is created here: a
 * run refused later leaves no folder behind.
 */
export function checkOutputFolder(
  command: string,
  flag: string,
  dir: string,
  files: readonly string[],
  inputs: readonly string[] = [],
): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    st = undefined;
  }
  if (st !== undefined) {
    if (!st.isDirectory()) throw new InputError(`${command}: ${flag} ${dir} is not a folder`);
    for (const file of files) checkOutputFile(command, flag, file, inputs);
    return;
  }
  // The nearest existing parent: the one above the outermost folder that would be made.
  const missing = missingFolders(dir);
  const parent = path.dirname(missing[0] ?? path.resolve(dir));
  try {
    if (!fs.statSync(parent).isDirectory()) throw new Error(`${parent} is not a folder`);
    probeWritable(parent);
  } catch (e) {
    throw new InputError(`${command}: ${flag} ${dir}: ${(e as Error).message}`);
  }
}

/**
 * `file` with every link resolved, or its absolute path when it cannot be (a name not made yet).
 * On macOS and Windows, whose file systems ignore case, the system's own resolution also gives
 * each existing part the spelling it has on disk, so two spellings of one file compare equal.
 */
export function realPath(file: string): string {
  try {
    return process.platform === 'linux' ? fs.realpathSync(file) : fs.realpathSync.native(file);
  } catch {
    return path.resolve(file);
  }
}

/**
 * Checks, before any work, that `file` can be written: its folder exists, it is not a folder or
 * a device, and it is not one of `inputs` (writing would destroy what is read).
 */
export function checkOutputFile(command: string, flag: string, file: string, inputs: readonly string[] = []): void {
  if (/[\\/]$/.test(file)) throw new InputError(`${command}: ${flag}: ${file} names a folder; expected a file name`);
  const target = path.resolve(file);
  const dir = path.dirname(target);
  let st: fs.Stats | undefined;
  try {
    if (!fs.statSync(dir).isDirectory()) throw new InputError(`${command}: ${flag}: ${dir} is not a folder`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${command}: ${flag}: folder ${dir} does not exist`);
  }
  let link: fs.Stats | undefined;
  try {
    link = fs.lstatSync(target);
  } catch (e) {
    // Nothing there. Anything else (a name too long, a loop of links above it, no permission)
    // would fail the write after the work: said now.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new InputError(`${command}: ${flag}: cannot inspect ${file} (${fsReason(e)})`);
  }
  if (link?.isSymbolicLink()) {
    try {
      st = fs.statSync(target);
    } catch {
      st = undefined; // a dangling link, or a loop: the writer replaces the link as a new file
    }
  } else {
    st = link;
  }
  if (st?.isDirectory()) throw new InputError(`${command}: ${flag}: ${file} is a folder; expected a file name`);
  if (st && !st.isFile()) throw new InputError(`${command}: ${flag}: ${file} exists and is not a regular file`);
  const readOnly = readOnlyReason(link);
  if (readOnly) throw new InputError(`${command}: ${flag}: ${file}: ${readOnly}`);
  // The file the write replaces is the name in its folder as links resolve it (a link at the
  // name itself is replaced, not followed); an input reached by another path, through a link to
  // a folder or to the file, or by another spelling of one file (case, on macOS and Windows) is
  // the same file.
  const replaced = path.join(realPath(dir), path.basename(target));
  if (inputs.some((f) => path.resolve(f) === target || realPath(f) === replaced || (st !== undefined && sameFile(f, target))))
    throw new InputError(`${command}: ${flag}: ${file} is also an input; it would be overwritten`);
  // The writer puts a temporary file beside the target: make one now, so that a folder nothing
  // can be created in (/proc, a read-only mount, no permission) is said before the work, not after.
  try {
    probeWritable(dir);
  } catch (e) {
    throw new InputError(`${command}: ${flag}: ${(e as Error).message}`);
  }
}

/**
 * Runs a command's body: an {@link InputError} prints its whole message and exits 2, any other
 * error prints its whole message and exits 1; no stack trace.
 */
export async function runCommand(body: () => Promise<number> | number): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`neurone: ${msg.replace(/^(neurone:\s*)+/, '')}\n`);
    return e instanceof InputError ? 2 : 1;
  }
}

/** Runs `f`, turning any error into an {@link InputError} that keeps its whole message, prefixed by `what`. */
export function asInput<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw e;
    // A message that already names the library ("neurone: NEURONE_KERNEL=..."): one prefix is enough.
    throw new InputError(`${what}${((e as Error)?.message ?? String(e)).replace(/^(neurone:\s*)+/, '')}`);
  }
}

/**
 * Whether the command goes on when its standard output's reader leaves (`| head`): set by one
 * whose results also go to a file it was asked for (predict --out), which the pipe closing must
 * not cost. The process's guard (main.ts) then stops the printing, not the command.
 */
let stdoutOptional = false;

/** See {@link stdoutOptional}; returns the function that restores the default (exit 141 quietly). */
export function keepRunningWithoutStdout(): () => void {
  stdoutOptional = true;
  return () => {
    stdoutOptional = false;
  };
}

/** Whether a closed standard output ends the process now (see {@link keepRunningWithoutStdout}). */
export function stdoutEndsCommand(): boolean {
  return !stdoutOptional;
}
