/**
 * Loads the native addon: a prebuilt binary from `prebuilds/` when one fits
 * this platform, else the one compiled into `build/` at install time.
 * `NEURONE_ADDON_PATH=/path/to/neurone.node` loads that file instead (the
 * sanitizer runs use it to load an instrumented build; see scripts/test-asan.sh).
 */
import * as path from 'path';
import { Backend } from './types';

/** What the addon exports beyond the Backend kernels. */
export interface NativeAddon extends Omit<Backend, 'name'> {
  /** The SIMD path the kernels use: 'scalar', 'avx2' or 'avx512'. */
  kernelPath(): string;
  /** The SIMD paths this CPU and binary support, best last. */
  supportedKernelPaths(): string[];
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
    if (override !== undefined && override !== '') {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      cached = { addon: require(path.resolve(override)) as NativeAddon };
    } else {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const load = require('node-gyp-build') as (dir: string) => NativeAddon;
      cached = { addon: load(packageRoot) };
    }
  } catch (e) {
    cached = { error: e instanceof Error ? e : new Error(String(e)) };
  }
  return cached;
}

/** Wraps the addon as a Backend. */
export function nativeBackend(addon: NativeAddon): Backend {
  return {
    name: 'native',
    sgemm: addon.sgemm,
    conv1dForward: addon.conv1dForward,
    conv1dMaxPoolForward: addon.conv1dMaxPoolForward,
    conv1dMaxPoolBackwardWeight: addon.conv1dMaxPoolBackwardWeight,
    conv1dBackwardInput: addon.conv1dBackwardInput,
    conv1dBackwardWeight: addon.conv1dBackwardWeight,
    maxPool1dForward: addon.maxPool1dForward,
    maxPool1dBackward: addon.maxPool1dBackward,
    avgPool1dForward: addon.avgPool1dForward,
    avgPool1dBackward: addon.avgPool1dBackward,
    activationForward: addon.activationForward,
    activationBackward: addon.activationBackward,
    addRowVector: addon.addRowVector,
    sumRows: addon.sumRows,
    softmaxForward: addon.softmaxForward,
    softmaxBackward: addon.softmaxBackward,
    crossEntropyLogits: addon.crossEntropyLogits,
    sgdStep: addon.sgdStep,
    adamStep: addon.adamStep,
    nonFiniteIndex: addon.nonFiniteIndex,
    binaryCrossEntropy: addon.binaryCrossEntropy,
    getThreads: addon.getThreads,
    setThreads: addon.setThreads,
  };
}
