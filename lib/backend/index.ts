/**
 * Backend selection: native when the addon loads, js otherwise (with one
 * warning line saying why). `NEURONE_BACKEND=js|native` or `setBackend()` choose
 * explicitly; asking for native when it cannot load is an error. So is setting
 * `NEURONE_KERNEL` (a SIMD path of the native kernels) when the addon cannot load
 * with it: whoever sets it wants those kernels, and a quiet switch to js would
 * run something else under their name (a test run of one path would pass on js).
 */
import { Backend } from './types';
import { jsBackend } from './js';
import { loadNative, nativeBackend } from './native';
import { KernelPathName } from './ops';
import { firstLine } from '../messages';

/** The two backends: `native` (the C++ addon) and `js` (its TypeScript twin). */
export type BackendName = 'js' | 'native';

let current: Backend | undefined;
let nativeInstance: Backend | undefined;
/** The count the last setThreads set, for a native instance loaded after it. */
let requestedThreads: number | undefined;

function native(): Backend {
  if (nativeInstance) return nativeInstance;
  const { addon, error } = loadNative();
  if (!addon) {
    throw new Error(`neurone: the native backend cannot load: ${error?.message ?? 'unknown reason'}`);
  }
  nativeInstance = nativeBackend(addon);
  // A count set while js ran, before the addon was loaded, is the count asked for.
  if (requestedThreads !== undefined) nativeInstance.setThreads(requestedThreads);
  return nativeInstance;
}

/** What `npm rebuild` needs to compile the addon, per platform (node-gyp's own requirements). */
const BUILD_TOOLS: Record<string, string> = {
  linux: 'a C++17 compiler, make and Python 3',
  darwin: "Xcode's command line tools (xcode-select --install) and Python 3",
  win32: 'Visual Studio Build Tools with "Desktop development with C++", and Python 3',
};

function pickDefault(): Backend {
  const requested = process.env.NEURONE_BACKEND;
  if (requested !== undefined && requested !== '') {
    if (requested !== 'js' && requested !== 'native') {
      throw new Error(`neurone: NEURONE_BACKEND must be 'js' or 'native', got '${requested}'`);
    }
    return requested === 'js' ? jsBackend : native();
  }
  const { addon, error } = loadNative();
  if (addon) return native();
  const kernel = process.env.NEURONE_KERNEL;
  if (kernel !== undefined && kernel !== '') {
    throw new Error(`neurone: NEURONE_KERNEL=${kernel} asks for the native kernels, which cannot load: ${firstLine(error?.message)}`);
  }
  // One line, with the way to the addon: npm may have run no install script (a global install it
  // was not allowed to run scripts for, --ignore-scripts), or the compile failed for want of tools.
  const reason = firstLine(error?.message);
  const deliberate = reason.includes('NEURONE_NATIVE_DISABLE');
  console.warn(
    `neurone: native addon unavailable (${reason}); using the js backend` +
      (deliberate
        ? ''
        : `, many times slower (\`npm rebuild neurone\` compiles the addon: ${BUILD_TOOLS[process.platform] ?? BUILD_TOOLS.linux})`),
  );
  return jsBackend;
}

/** The backend in use (chosen on first call). */
export function backend(): Backend {
  if (!current) current = pickDefault();
  return current;
}

/** Name of the backend in use: 'native' or 'js'. */
export function getBackend(): BackendName {
  return backend().name;
}

/**
 * Switches backend at run time. Modules look the backend up on every call, so
 * an existing network keeps working. Throws if 'native' cannot load. The choice
 * is the calling thread's (a `worker_threads` Worker chooses its own).
 * @param name 'native' (the C++ addon) or 'js' (the TypeScript kernels).
 */
export function setBackend(name: BackendName): void {
  if (name === 'js') current = jsBackend;
  else if (name === 'native') current = native();
  else throw new RangeError(`setBackend: expected 'js' or 'native', got '${String(name)}'`);
}

/**
 * The SIMD path the native kernels run (a name of ops.ts's KERNEL_PATHS, as NEURONE_KERNEL takes
 * it), or undefined on the js backend. Results of the same seed are the same bits on one path;
 * across paths they differ by rounding, which a long training grows. @internal
 */
export function kernelPath(): KernelPathName | undefined {
  const b = backend();
  return b === nativeInstance ? loadNative().addon?.kernelPath() : undefined;
}

/** Whether the native addon can load here (without switching to it). */
export function nativeAvailable(): boolean {
  return loadNative().addon !== undefined;
}

/**
 * Sets the number of threads the native kernels use (default: the cores this process may run on,
 * its affinity mask, as `taskset` or a container's cpuset sets it). Set on the js backend, the
 * count applies to the native kernels whenever they are used, loaded then or later.
 *
 * Like the backend, the kernel path and the random stream, the count is the calling thread's:
 * each `worker_threads` Worker has its own instance of the kernels, whose pool starts at all the
 * cores. A program that trains in several Workers at once should call `setThreads(1)` (or cores
 * ÷ Workers) in each, as `sweep` does.
 * @param n Kernel threads, from 1 to 1024.
 */
export function setThreads(n: number): void {
  backend().setThreads(n);
  if (nativeInstance && current !== nativeInstance) nativeInstance.setThreads(n);
  requestedThreads = n;
}

/** Number of threads the current backend's kernels use. */
export function getThreads(): number {
  return backend().getThreads();
}

export { jsBackend };
export type { Backend };
