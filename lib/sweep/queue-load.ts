/**
 * Loads lib/sweep/queue.ts, the sweep's BullMQ side, on first use. Its two clients, bullmq and
 * ioredis (16 MB and 21 packages installed), are optional peer dependencies: a plain `npm install neurone`
 * leaves them out, since most users never sweep across machines, and whoever does installs them
 * beside neurone. Without them, or at versions outside neurone's ranges, asking for a queue gets one
 * line saying what to install.
 */
import * as fs from 'fs';
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

/**
 * The last of a range's `||` alternatives, which package.json lists oldest first: what to install
 * (`bullmq@^5.76.11 || ^6.0.0` is not one word to a shell, and a new install takes the newest).
 */
function newestMajor(range: string): string {
  return range.split('||').pop()!.trim();
}

/**
 * Whether `version` satisfies `range`: caret ranges (`^5.76.11`) joined by `||`, the form of
 * neurone's peerDependencies. Caret as npm reads it for a major above 0: that major, at least that
 * version; a pre-release (6.0.0-beta.1) satisfies none, as npm's own check says. @internal
 */
export function satisfiesCaretRange(version: string, range: string): boolean {
  const parts = /^(\d+)\.(\d+)\.(\d+)$/.exec(version)?.slice(1).map(Number);
  if (!parts) return false;
  return range.split('||').some((alternative) => {
    const base = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(alternative.trim())?.slice(1).map(Number);
    if (!base || base[0] === 0 || parts[0] !== base[0]) return false;
    return parts[1] !== base[1] ? parts[1] > base[1] : parts[2] >= base[2];
  });
}

/** The version of `name` that the queue's import would load, or undefined when none is found. */
function installedVersion(name: string): string | undefined {
  try {
    const manifest = JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: unknown };
    const version = manifest.version;
    return typeof version === 'string' ? version : undefined;
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
 * install when bullmq or ioredis is missing.
 * `what` says what asked for the queue, for the message ("sweep: queue", "neurone worker").
 * @internal
 */
export async function loadQueue(what: string): Promise<typeof QueueModule> {
  // The packages the queue needs and their version ranges: package.json's peerDependencies.
  const packages = packageManifest().peerDependencies;
  // Installed at a version outside the range (npm's --force or --legacy-peer-deps, another
  // package manager, a global bullmq beside a global neurone): refused before anything runs on it.
  // BullMQ 5 before 5.76.11 never finished closing a worker that had handed a job back.
  const wrong = Object.keys(packages).flatMap((name) => {
    const version = installedVersion(name);
    return version !== undefined && !satisfiesCaretRange(version, packages[name]) ? [{ name, version }] : [];
  });
  if (wrong.length > 0) {
    const needs = wrong.map(({ name }) => `${name} ${packages[name]}`).join(' and ');
    const finds = wrong.map(({ name, version }) => `${name} ${version}`).join(' and ');
    const install = wrong.map(({ name }) => `${name}@${newestMajor(packages[name])}`).join(' ');
    throw new SpecError(
      `${what} needs ${needs}, and finds ${finds}: run npm install ${install} where neurone is installed (in its project; -g beside a global neurone)`,
    );
  }
  try {
    return await import('./queue');
  } catch (e) {
    const first = missingQueuePackage(e, packages);
    if (first === undefined) throw e;
    // Name every one that is missing, not only the first that queue.ts happened to import.
    const missing = Object.keys(packages).filter((name) => name === first || !resolvable(name));
    const install = missing.map((name) => `${name}@${newestMajor(packages[name])}`).join(' ');
    const which = missing.length === 1 ? `the package ${missing[0]}` : `the packages ${missing.join(' and ')}`;
    throw new SpecError(
      `${what} needs ${which}, which a plain install of neurone leaves out (the queue's clients are optional): run npm install ${install} where neurone is installed (in its project; -g beside a global neurone)`,
    );
  }
}
