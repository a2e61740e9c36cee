/**
 * Loads lib/sweep/queue.ts, the sweep's BullMQ side, on first use. Its two clients, bullmq and
 * ioredis (16 MB and 21 packages installed), are optional peer dependencies: a plain `npm install neurone`
 * leaves them out, since most users never sweep across machines, and whoever does installs them
 * beside neurone. Without them, or at versions outside neurone's ranges, asking for a queue gets one
 * line saying what to install.
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageManifest } from '../data/paths';
import { SpecError } from './spec';
import type * as QueueModule from './queue';

/**
 * The package `error` says cannot be found, when it is one of `packages` (the queue's, by name);
 * undefined otherwise.
 */
function missingQueuePackage(error: unknown, packages: Record<string, string>): string | undefined {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') return undefined;
  // Node's message: "Cannot find module 'bullmq'" (then the require stack). A module missing inside
  // one of them (a broken install of bullmq itself) names another package and is left as it is.
  const name = /^Cannot find module '([^']+)'/.exec(error.message)?.[1];
  return name !== undefined && Object.prototype.hasOwnProperty.call(packages, name) ? name : undefined;
}

type Version = [major: number, minor: number, patch: number];

/**
 * A package.json version as npm reads it (a leading `v` or `=`, build metadata after `+`
 * ignored); undefined for a pre-release or anything else.
 */
function parseVersion(text: string): Version | undefined {
  const m = /^[v=]?(\d+)\.(\d+)\.(\d+)(\+[0-9A-Za-z.-]*)?$/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * The alternatives of `range`, caret ranges of a major above 0 (`^5.76.11`) joined by `||`, the
 * form of neurone's peerDependencies, each as its own text and base version. Throws for any other
 * form: a change to package.json that this reader would misread fails the tests, not installs.
 * @internal
 */
export function caretAlternatives(range: string): { text: string; base: Version }[] {
  return range.split('||').map((alternative) => {
    const text = alternative.trim();
    const m = /^\^([1-9]\d*)\.(\d+)\.(\d+)$/.exec(text);
    if (!m) throw new Error(`peerDependencies: expected caret ranges such as ^6.0.0 joined by ||, got '${range}'`);
    return { text, base: [Number(m[1]), Number(m[2]), Number(m[3])] };
  });
}

/**
 * How `version` stands against `range` (see caretAlternatives), read as npm reads a caret range:
 * that major, at least that version, no pre-releases. 'newer' is a major past every alternative's
 * (a BullMQ that did not exist when the range was written); 'outside' anything else not within.
 * @internal
 */
export function versionAgainstRange(version: string, range: string): 'within' | 'newer' | 'outside' {
  const v = parseVersion(version);
  const alternatives = caretAlternatives(range).map((a) => a.base);
  if (!v) return 'outside';
  if (alternatives.some((b) => v[0] === b[0] && (v[1] !== b[1] ? v[1] > b[1] : v[2] >= b[2]))) return 'within';
  return alternatives.every((b) => v[0] > b[0]) ? 'newer' : 'outside';
}

/**
 * What to ask npm for: the alternative of `range` in the major `found` is in (a project keeps its
 * major), else the whole range as one quoted shell word, from which npm takes the newest version
 * that runs on this Node (ioredis 6 asks for Node 20; neurone runs on 18).
 */
function installWord(name: string, range: string, found?: string): string {
  const major = found === undefined ? undefined : parseVersion(found)?.[0];
  const same = caretAlternatives(range).find((a) => a.base[0] === major);
  return same ? `${name}@${same.text}` : `"${name}@${range}"`;
}

/** The package.json of `name` above its entry point as resolved from here, if one names it. */
function manifestAboveEntry(name: string): string | undefined {
  for (let dir = path.dirname(require.resolve(name)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown }).name === name) return file;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The version of `name` that the queue's import would load, or undefined when none is found: its
 * package.json, or, should the package stop exporting that file, the one above its entry point.
 */
function installedVersion(name: string): string | undefined {
  const versionIn = (file: string): string | undefined => {
    const version: unknown = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  };
  try {
    return versionIn(require.resolve(`${name}/package.json`));
  } catch {
    // Not installed, the file not exported, or not readable: the one above the entry point.
  }
  try {
    const file = manifestAboveEntry(name);
    return file === undefined ? undefined : versionIn(file);
  } catch {
    return undefined;
  }
}

function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * The queue module, or a SpecError (a command's exit 2, as an unreachable Redis) naming what to
 * install when bullmq or ioredis is missing or at a version outside its range.
 * `what` says what asked for the queue, for the message ("sweep: queue", "neurone worker").
 * @internal
 */
export async function loadQueue(what: string): Promise<typeof QueueModule> {
  // The packages the queue needs and their version ranges: package.json's peerDependencies.
  const packages = packageManifest().peerDependencies;
  const found = Object.entries(packages).map(([name, range]) => {
    const version = installedVersion(name);
    return { name, range, version, standing: version === undefined ? undefined : versionAgainstRange(version, range) };
  });
  // Installed at a version outside the range (npm's --force or --legacy-peer-deps, another
  // package manager, a global bullmq beside a global neurone): refused before anything runs on it.
  // BullMQ 5 before 5.76.11 never finished closing a worker that had handed a job back. A major
  // newer than the range's gets a warning: it may work, and npm would have refused it anyway.
  const wrong = found.filter((p) => p.standing === 'outside');
  if (wrong.length > 0) {
    const missing = found.filter((p) => p.version === undefined && !resolvable(p.name));
    const needs = wrong.map((p) => `${p.name} ${p.range}`).join(' and ');
    const finds = wrong.map((p) => `${p.name} ${p.version}`).join(' and ');
    const none = missing.length > 0 ? ` and no ${missing.map((p) => p.name).join(' or ')}` : '';
    const install = [...wrong, ...missing].map((p) => installWord(p.name, p.range, p.version)).join(' ');
    throw new SpecError(
      `${what} needs ${needs}, and finds ${finds}${none}: run npm install ${install} where neurone is installed (in its project; -g beside a global neurone)`,
    );
  }
  for (const p of found.filter((q) => q.standing === 'newer'))
    process.emitWarning(
      `${what}: ${p.name} ${p.version} is newer than the versions neurone's queue was tested with (${p.range}); going on`,
      {
        code: 'NEURONE_QUEUE_VERSION',
      },
    );
  try {
    return await import('./queue');
  } catch (e) {
    const first = missingQueuePackage(e, packages);
    if (first === undefined) throw e;
    // Name every one that is missing, not only the first that queue.ts happened to import.
    const missing = Object.keys(packages).filter((name) => name === first || !resolvable(name));
    const install = missing.map((name) => installWord(name, packages[name])).join(' ');
    const which = missing.length === 1 ? `the package ${missing[0]}` : `the packages ${missing.join(' and ')}`;
    throw new SpecError(
      `${what} needs ${which}, which a plain install of neurone leaves out (the queue's clients are optional): run npm install ${install} where neurone is installed (in its project; -g beside a global neurone)`,
    );
  }
}
