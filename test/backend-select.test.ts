// Backend selection in fresh processes: the automatic fallback to js with one
// warning line, the environment variable, and the error when native is
// demanded but cannot load.
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { TS_REGISTER } from './ts-child';

const root = path.resolve(__dirname, '..');

function run(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const script = `${TS_REGISTER} const b = require('./lib/backend'); ${code}`;
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: root,
    env: { ...process.env, NEURONE_BACKEND: '', NEURONE_NATIVE_DISABLE: '', NEURONE_KERNEL: '', ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('without the addon, js takes over with one warning line saying why', () => {
  const r = run('console.log(b.getBackend())', { NEURONE_NATIVE_DISABLE: '1' });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('js');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  // Switched off on purpose: no advice on how to get it.
  expect(lines[0]).toMatch(/^neurone: native addon unavailable \(NEURONE_NATIVE_DISABLE=1 is set\); using the js backend$/);
});

test('NEURONE_BACKEND=js selects js silently', () => {
  const r = run('console.log(b.getBackend())', { NEURONE_BACKEND: 'js' });
  expect(r.stdout.trim()).toBe('js');
  expect(r.stderr).toBe('');
});

test('asking for native when it cannot load is an error that says why', () => {
  const env = { NEURONE_NATIVE_DISABLE: '1', NEURONE_BACKEND: 'native' };
  const r = run('try { b.getBackend(); } catch (e) { console.log(e.message); }', env);
  expect(r.stdout.trim()).toBe('neurone: the native backend cannot load: NEURONE_NATIVE_DISABLE=1 is set');
  const r2 = run("try { b.setBackend('native'); } catch (e) { console.log(e.message); }", {
    NEURONE_NATIVE_DISABLE: '1',
    NEURONE_BACKEND: 'js',
  });
  expect(r2.stdout.trim()).toMatch(/cannot load: NEURONE_NATIVE_DISABLE=1 is set/);
});

test('an unknown NEURONE_BACKEND value is rejected', () => {
  const r = run('try { b.getBackend(); } catch (e) { console.log(e.message); }', { NEURONE_BACKEND: 'gpu' });
  expect(r.stdout.trim()).toBe("neurone: NEURONE_BACKEND must be 'js' or 'native', got 'gpu'");
});

test('NEURONE_KERNEL forces a SIMD path, and an unsupported one is refused with the reason', () => {
  const r = run(
    "const a = require('./lib/backend/native').loadNative(); console.log(a.addon ? a.addon.kernelPath() : 'none: ' + a.error.message)",
    { NEURONE_KERNEL: 'scalar' },
  );
  if (r.stdout.startsWith('none')) return; // no addon here: covered by the js-only run
  expect(r.stdout.trim()).toBe('scalar');
  const bad = run("const a = require('./lib/backend/native').loadNative(); console.log(a.error ? a.error.message : a.addon.kernelPath())", {
    NEURONE_KERNEL: 'sse9',
  });
  expect(bad.stdout.trim()).toBe("NEURONE_KERNEL must be one of scalar, avx2, avx512, neon, got 'sse9'");
});

test('an unusable NEURONE_KERNEL is an error, not a quiet switch to the js backend', () => {
  const probe = run("const a = require('./lib/backend/native').loadNative(); console.log(a.addon ? 'native' : 'none')", {});
  if (probe.stdout.trim() !== 'native') return; // no addon here: covered by the js-only run
  const r = run('try { console.log(b.getBackend()); } catch (e) { console.log(e.message); }', { NEURONE_KERNEL: 'sse9' });
  expect(r.stdout.trim()).toBe(
    "neurone: NEURONE_KERNEL=sse9 asks for the native kernels, which cannot load: NEURONE_KERNEL must be one of scalar, avx2, avx512, neon, got 'sse9'",
  );
  expect(r.stderr).toBe('');
  // Explicitly asking for js still works: the variable only concerns the native kernels.
  expect(run('console.log(b.getBackend())', { NEURONE_KERNEL: 'sse9', NEURONE_BACKEND: 'js' }).stdout.trim()).toBe('js');
});

test("a Worker's own NEURONE_KERNEL picks its addon's path, whatever the process's says", () => {
  // Each thread loads its own addon instance. Before, the addon read the process's environment
  // (getenv) while the JavaScript side read the Worker's: a Worker given NEURONE_KERNEL=scalar
  // still ran the best path, and one given '' under a process's bad value fell back to js.
  const probe = run(
    "const a = require('./lib/backend/native').loadNative(); console.log(a.addon ? a.addon.supportedKernelPaths().join(',') : 'none')",
    {},
  );
  if (probe.stdout.trim() === 'none') return; // no addon here: covered by the js-only run
  const best = probe.stdout.trim().split(',').pop();
  const inWorker = (env: Record<string, string>): string =>
    `const { Worker } = require('worker_threads');` +
    `const w = new Worker(${JSON.stringify(`${TS_REGISTER} const b = require('./lib/backend'); const n = require('./lib/backend/native').loadNative(); require('worker_threads').parentPort.postMessage([b.getBackend(), n.addon ? n.addon.kernelPath() : n.error.message]);`)}, { eval: true, env: { ...process.env, ...${JSON.stringify(env)} } });` +
    `w.on('message', (m) => console.log(JSON.stringify(m))); w.on('error', (e) => console.log('error: ' + e.message));`;
  const forced = run(inWorker({ NEURONE_KERNEL: 'scalar' }), {});
  expect(forced.stderr).toBe('');
  expect(JSON.parse(forced.stdout)).toEqual(['native', 'scalar']);
  const cleared = run(inWorker({ NEURONE_KERNEL: '' }), { NEURONE_KERNEL: 'bogus' });
  expect(cleared.stderr).toBe('');
  expect(JSON.parse(cleared.stdout)).toEqual(['native', best]);
});

test('setThreads before the addon is loaded is the count it runs with; both backends bound it alike', () => {
  // Started on js: the native kernels are loaded only by setBackend('native'), after the count,
  // which is not their default (the cores this process may use).
  const n = os.availableParallelism() === 3 ? 2 : 3;
  const r = run(
    `b.setThreads(${n}); b.setBackend('native'); console.log(b.getThreads());` +
      "b.setBackend('js'); for (const n of [0, 2000]) try { b.setThreads(n); } catch (e) { console.log(e.message); }",
    { NEURONE_BACKEND: 'js' },
  );
  expect(r.stderr).toBe('');
  expect(r.stdout.trim().split('\n')).toEqual([
    String(n),
    'setThreads: n must be an integer in [1, 2^31-1], got 0',
    'setThreads: n must be at most 1024, got 2000',
  ]);
});
