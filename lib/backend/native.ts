/**
 * Loads the native addon: a prebuilt binary from `prebuilds/` when one fits
 * this platform, else the one compiled into `build/` at install time.
 * `NEURONE_ADDON_PATH=/path/to/neurone.node` loads that file instead (the
 * sanitizer runs use it to load an instrumented build; see scripts/test-asan.sh).
 */
import * as path from 'path';
import { Backend } from './types';
import { KERNEL_PATHS, KernelPathName, OP_NAMES, OpName } from './ops';

/** What the addon exports beyond the Backend kernels. */
export interface NativeAddon extends Omit<Backend, 'name'> {
  /** The SIMD path the kernels use (one of ops.ts's KERNEL_PATHS). */
  kernelPath(): KernelPathName;
  /** The SIMD paths this CPU and binary support, best last. */
  supportedKernelPaths(): KernelPathName[];
  /** Forces a SIMD path (it must be supported). */
  setKernelPath(path: string): void;
  /** Fused helpers added by later work are optional. */
  [extra: string]: unknown;
}

/** The package root: this file lives in lib/backend (ts-node) or dist/backend (compiled). */
export const packageRoot = path.resolve(__dirname, '..', '..');

let cached: { addon?: NativeAddon; error?: Error } | undefined;

/** Loads the addon once; returns it, or the reason it could not load. */
export function loadNative(): { addon?: NativeAddon; error?: Error } {
  if (cached) return cached;
  try {
    if (process.env.NEURONE_NATIVE_DISABLE === '1') {
      throw new Error('NEURONE_NATIVE_DISABLE=1 is set');
    }
    const override = process.env.NEURONE_ADDON_PATH;
    let addon: NativeAddon;
    if (override !== undefined && override !== '') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(path.resolve(override)) as NativeAddon;
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const load = require('node-gyp-build') as (dir: string) => NativeAddon;
      addon = load(packageRoot);
    }
    applyForcedPath(addon, process.env.NEURONE_KERNEL);
    cached = { addon };
  } catch (e) {
    cached = { error: e instanceof Error ? e : new Error(String(e)) };
  }
  return cached;
}

/**
 * Puts this addon instance on the path NEURONE_KERNEL names, read here from `process.env` (in a
 * Worker, the Worker's own environment: each thread loads its own instance). A name that is no
 * path, or a path this CPU or build lacks, makes the addon unusable with the reason: an error,
 * never a quiet switch (lib/backend/index.ts).
 */
function applyForcedPath(addon: NativeAddon, forced: string | undefined): void {
  if (forced === undefined || forced === '') return;
  const name = KERNEL_PATHS.find((p) => p === forced);
  if (name === undefined) throw new Error(`NEURONE_KERNEL must be one of ${KERNEL_PATHS.join(', ')}, got '${forced}'`);
  const supported = addon.supportedKernelPaths();
  if (!supported.includes(name))
    throw new Error(`NEURONE_KERNEL=${forced} is not supported by this CPU or build (supported: ${supported.join(', ')})`);
  addon.setKernelPath(forced);
}

/** Wraps the addon as a Backend: its functions of the op table's entry points, and the thread count. */
export function nativeBackend(addon: NativeAddon): Backend {
  const kernels = Object.fromEntries(OP_NAMES.map((name) => [name, addon[name]])) as Pick<Backend, OpName>;
  return { name: 'native', ...kernels, getThreads: addon.getThreads, setThreads: addon.setThreads };
}
