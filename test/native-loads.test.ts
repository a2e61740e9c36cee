// In CI (and wherever NEURONE_REQUIRE_NATIVE=1), the native backend must load
// and be the one picked by default: a silent fallback to js would leave the
// native kernels untested.
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';
import { getBackend, nativeAvailable } from '../lib/backend';
import { loadNative } from '../lib/backend/native';

const root = path.resolve(__dirname, '..');
const required = (process.env.CI === 'true' || process.env.NEURONE_REQUIRE_NATIVE === '1') && process.env.NEURONE_BACKEND !== 'js';

test('the native addon loads where it is required, and is the default backend', () => {
  if (!required) {
    // Not required here: report the state instead of asserting it.
    console.log(`native addon available: ${nativeAvailable()} (${loadNative().error?.message ?? 'loaded'})`);
    expect(['js', 'native']).toContain(getBackend());
    return;
  }
  expect(loadNative().error).toBeUndefined();
  expect(getBackend()).toBe('native');
  // A per-path run (scripts/test-paths.js) must really run on the path it names.
  const forced = process.env.NEURONE_KERNEL;
  if (forced) expect(loadNative().addon?.kernelPath()).toBe(forced);
});

test('a thread the system refuses gives an error and keeps the pool usable, not an abort', () => {
  if (!nativeAvailable()) return;
  // Under qemu-user (scripts/test-arm64.sh runs this file on an arm64 Node), bash cannot start the
  // emulated Node binary itself: the x64 runs of the suite cover the pool's code.
  const host = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim();
  const hostArch = host === 'x86_64' ? 'x64' : host === 'aarch64' ? 'arm64' : host;
  if (hostArch !== process.arch) {
    console.log(`not run: this ${process.arch} Node is emulated on a ${host} host, where a shell cannot start it`);
    return;
  }
  // 1024 threads of 16 MiB stacks under a 4 GB address space: the system refuses some of them.
  // Before, std::thread's exception left the addon and ended the process (SIGABRT).
  const script = [
    // The addon the suite runs (NEURONE_ADDON_PATH names a prebuilt one, as lib/backend/native.ts reads it).
    "const a = process.env.NEURONE_ADDON_PATH ? require(process.env.NEURONE_ADDON_PATH) : require('node-gyp-build')(process.argv[1]);",
    'a.setThreads(2);',
    'let message = null;',
    'try { a.setThreads(1024); } catch (e) { message = e.constructor.name + ": " + e.message; }',
    'const after = a.getThreads();',
    // The pool still runs a product with whatever threads it kept.
    'const x = new Float32Array(64 * 64).fill(1), c = new Float32Array(64 * 64);',
    'a.sgemm(false, false, 64, 64, 64, 1, x, 0, 64, x, 0, 64, 0, c, 0, 64);',
    'console.log(JSON.stringify({ message, after, c0: c[0] }));',
  ].join('\n');
  const r = spawnSync('bash', ['-c', 'ulimit -s 16384 && ulimit -v 4000000 && exec "$0" -e "$1" "$2"', process.execPath, script, root], {
    encoding: 'utf8',
    timeout: 60000,
  });
  expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
  const out = JSON.parse(r.stdout) as { message: string | null; after: number; c0: number };
  expect(out.c0).toBe(64);
  if (out.message === null) {
    expect(out.after).toBe(1024); // a system that allows them all
  } else {
    expect(out.message).toMatch(
      /^RangeError: setThreads: the system refused to start thread \d+ of 1024 \(.+\); the kernels run on 2 threads$/,
    );
    expect(out.after).toBe(2);
  }
});

test('the default thread count is the cores this process may run on, not all the machine has', () => {
  if (!nativeAvailable()) return;
  const host = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim();
  if ((host === 'x86_64' ? 'x64' : host === 'aarch64' ? 'arm64' : host) !== process.arch) return; // emulated: see above
  // A fresh process each, as the count is read when the addon loads; taskset (util-linux) pins
  // the child to its first allowed core, as a container's cpuset or a batch scheduler would.
  const script =
    "const a = require('node-gyp-build')(process.argv[1]); console.log(JSON.stringify([a.getThreads(), require('os').availableParallelism()]));";
  const counts = (prefix: string[]): number[] => {
    const [command, ...args] = [...prefix, process.execPath, '-e', script, root];
    const child = spawnSync(command, args, { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout) as number[];
  };
  const [threads, cores] = counts([]);
  expect(threads).toBe(cores);
  if (process.platform !== 'linux') return;
  const taskset = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  if (taskset.error) throw new Error(`taskset (util-linux) is needed for this test: ${taskset.error.message}`);
  expect(counts(['taskset', '-c', firstAllowedCore()])).toEqual([1, 1]);
});

/** The lowest-numbered core this process may run on (its affinity list in /proc). */
function firstAllowedCore(): string {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return list.split(/[,-]/)[0];
}
