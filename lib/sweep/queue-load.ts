/**
 * Loads lib/sweep/queue.ts, the sweep's BullMQ side, on first use. Its two clients, bullmq and
 * ioredis (16 MB and 21 packages installed), are optional peer dependencies: a plain `npm install neurone`
 * leaves them out, since most users never sweep across machines, and whoever does installs them
 * beside neurone. Without them, asking for a queue gets one line saying what to install.
 */
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
  try {
    return await import('./queue');
  } catch (e) {
    // The packages the queue needs and their version ranges: package.json's peerDependencies.
    const packages = packageManifest().peerDependencies;
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
