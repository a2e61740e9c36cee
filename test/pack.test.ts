/**
 * The package as a user gets it from npm: what the tarball holds, and an install of it into a
 * fresh project with no compiler on PATH (prebuilt native addon used), then without the prebuild
 * (install falls back to compiling when a compiler exists, to the js backend with its warning
 * when none does) — training works in every case, from CommonJS and from an ES module.
 *
 * Slow-ish (a TypeScript build, an offline `npm install`, one addon compile): about a minute.
 * Needs the dependencies in the npm cache (`npm ci` puts them there). Builds the prebuild with
 * `npm run prebuild` first (in a staging copy) when it is missing or older than the native sources.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const platformDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

/** npm's own entry point, run with this node: works with a PATH that has nothing else on it. */
function npmCli(): string {
  const candidates = [
    process.env.npm_execpath,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  const found = candidates.find((c) => c !== undefined && c.endsWith('npm-cli.js') && fs.existsSync(c));
  if (!found) throw new Error(`pack test: cannot find npm-cli.js (tried ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

/** The environment without anything that could compile: PATH holds only `node` and `sh`. */
function noCompilerEnv(binDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Drop compiler and python hints, and the npm_* variables of an enclosing `npm test`.
    if (/^(CC|CXX|CPP|LD|PYTHON.*|npm_.*|NEURONE_.*|JEST_.*|NODE_OPTIONS)$/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = binDir;
  env.npm_config_build_from_source = 'false';
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const npm = npmCli();
const fullEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(npm_.*|NEURONE_.*|JEST_.*|NODE_OPTIONS)$/i.test(k)) delete env[k];
  return env;
};

/**
 * Rebuilds prebuilds/ when it has no binary for this platform or one older than a native source.
 * `npm run prebuild` runs in a staging copy of the build inputs, not in the repository: there
 * node-gyp would delete build/ under the other suites that are loading the addon from it.
 */
function ensurePrebuild(stage: string): void {
  const binaries = fs.existsSync(platformDir) ? fs.readdirSync(platformDir).filter((f) => f.endsWith('.node')) : [];
  const nativeFiles = fs.readdirSync(path.join(root, 'native')).filter((f) => /\.(cc|h)$|^sources\.json$/.test(f));
  const newestSource = Math.max(...['binding.gyp', ...nativeFiles.map((f) => `native/${f}`)].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  const oldest = Math.min(...binaries.map((b) => fs.statSync(path.join(platformDir, b)).mtimeMs));
  if (binaries.length > 0 && oldest >= newestSource) return;

  fs.mkdirSync(path.join(stage, 'native'), { recursive: true });
  for (const f of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(root, f), path.join(stage, f));
  for (const f of nativeFiles) fs.copyFileSync(path.join(root, 'native', f), path.join(stage, 'native', f));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'junction');
  ok(run(process.execPath, [npm, 'run', 'prebuild'], stage, fullEnv()), 'npm run prebuild');
  const built = path.join(stage, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.mkdirSync(platformDir, { recursive: true });
  for (const f of fs.readdirSync(built)) {
    // Copy then rename: a process that has the old binary loaded keeps its (unlinked) file.
    const tmpCopy = path.join(platformDir, `.${f}.${process.pid}.tmp`);
    fs.copyFileSync(path.join(built, f), tmpCopy);
    fs.renameSync(tmpCopy, path.join(platformDir, f));
  }
}

const TRAIN_CJS = `
const n = require('neurone');
const { loadUSPS } = require('neurone/data');
n.seed(0);
const x = n.randn([64, 16, 1]);
const y = n.zeros([64]);
for (let i = 0; i < 64; i++) y.data[i] = i % 2;
const net = new n.Sequential(new n.Conv1D(3, 1, 4), new n.ReLU(), new n.MaxPool1D(2), new n.Flatten(), new n.Linear(28, 2));
n.fit(net, new n.CELogSoftmaxLoss(), new n.Adam({ lr: 1e-2 }), { x, y }, { epochs: 3, batchSize: 16, verbose: 0 }).then((h) => {
  n.save(net, 'model.safetensors');
  const again = n.load('model.safetensors');
  const same = Buffer.compare(Buffer.from(n.predict(net, x).data.buffer), Buffer.from(n.predict(again, x).data.buffer)) === 0;
  const addon = Object.keys(require.cache).filter((f) => f.endsWith('.node')).map((f) => require('path').relative(require('path').dirname(require.resolve('neurone/package.json')), f));
  console.log(JSON.stringify({ backend: n.getBackend(), addon, epochs: h.epochs.length, finite: h.epochs.every((e) => Number.isFinite(e.trainLoss)), same, usps: loadUSPS({ split: 'test' }).x.shape }));
});
`;

const TRAIN_ESM = `
import neurone, { Sequential, Linear, ReLU, MSELoss, SGD, fit, randn, getBackend } from 'neurone';
import * as data from 'neurone/data';
const x = randn([32, 4]);
const y = randn([32, 1]);
const net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 1));
const h = await fit(net, new MSELoss(), new SGD({ lr: 1e-3 }), { x, y }, { epochs: 2, verbose: 0 });
console.log(JSON.stringify({ backend: getBackend(), epochs: h.epochs.length, same: neurone.fit === fit, data: typeof data.loadUSPS }));
`;

// Types from both entry points, checked by the repository's TypeScript with Node's resolution.
const TYPES_MTS = `
import neurone, { Sequential, Linear, save, load, type Module, type FitOptions } from 'neurone';
import { loadUSPS } from 'neurone/data';
const net: Module = new Sequential(new Linear(2, 2));
const opts: FitOptions = { epochs: 1, checkpoint: { path: 'c.ckpt', every: 1 } };
save(net, 'm.safetensors');
const again: Module = load('m.safetensors');
export const all = [neurone.fit, loadUSPS({ split: 'test' }).x.shape, opts, again];
`;
const TYPES_CTS = `
import n = require('neurone');
import d = require('neurone/data');
const net: n.Module = new n.Sequential(new n.Linear(2, 2));
export const all = [net, d.loadUSPS, n.getBackend()];
`;

// POSIX only (a PATH of symlinks, /bin/sh); the Windows CI job covers the package through its own test run.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('the npm package', () => {
  let tmp: string;
  let project: string;
  let binDir: string;
  let tarball: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-pack-'));
    project = path.join(tmp, 'project');
    binDir = path.join(tmp, 'bin');
    fs.mkdirSync(project);
    fs.mkdirSync(binDir);
    // PATH for the no-compiler runs: node, and the shell npm runs scripts with.
    fs.symlinkSync(process.execPath, path.join(binDir, 'node'));
    fs.symlinkSync('/bin/sh', path.join(binDir, 'sh'));
    ensurePrebuild(path.join(tmp, 'stage'));
  }, 300_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('npm pack lists dist, types, prebuilds, native sources, binding.gyp, data, README, LICENSE and nothing else', () => {
    // --ignore-scripts: the listing only; the real pack below builds dist/ first.
    const out = ok(run(process.execPath, [npm, 'pack', '--dry-run', '--json', '--ignore-scripts'], root, fullEnv()), 'npm pack --dry-run');
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    const allowed = [
      /^package\.json$/, /^README\.md$/, /^LICENSE$/, /^binding\.gyp$/,
      /^dist\/.+\.(js|mjs|d\.ts|d\.mts)$/,
      /^prebuilds\/[\w-]+\/[\w.-]+\.node$/,
      /^native\/[\w]+\.(cc|h)$/, /^native\/sources\.json$/,
      /^data\/usps\/(SOURCE\.md|USPS_(train|test)\.txt\.gz)$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
    expect(unexpected).toEqual([]);
    for (const required of [
      'LICENSE', 'README.md', 'binding.gyp', 'native/sources.json', 'native/binding.cc', 'data/usps/USPS_train.txt.gz',
      'dist/index.js', 'dist/index.d.ts', 'dist/index.mjs', 'dist/index.d.mts', 'dist/data/index.mjs', 'dist/serialize.js',
    ]) {
      expect(files).toContain(required);
    }
    expect(files.some((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`))).toBe(true);
    // Every native source the build needs is in the package (the compile fallback).
    const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'));
    for (const group of ['binding', 'kernels', 'avx2', 'avx512']) for (const f of sources[group]) expect(files).toContain(f);
  });

  test('installs with no compiler on PATH and trains on the prebuilt native addon, from CommonJS and ESM, with types', () => {
    const packed = JSON.parse(ok(run(process.execPath, [npm, 'pack', '--json', '--pack-destination', tmp], root, fullEnv()), 'npm pack'));
    tarball = path.join(tmp, packed[0].filename);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const env = noCompilerEnv(binDir);
    // Nothing that compiles is reachable.
    for (const tool of ['g++', 'cc', 'make', 'python3']) expect(run('/bin/sh', ['-c', `command -v ${tool} || true`], project, env).stdout).toBe('');
    ok(run(process.execPath, [npm, 'install', '--offline', '--no-audit', '--no-fund', tarball], project, env), 'npm install of the tarball');

    const installed = path.join(project, 'node_modules', 'neurone');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false); // no compile ran
    expect(fs.readdirSync(path.join(installed, 'prebuilds'))).toContain(`${process.platform}-${process.arch}`);

    fs.writeFileSync(path.join(project, 'train.cjs'), TRAIN_CJS);
    const cjs = run(process.execPath, ['train.cjs'], project, env);
    expect(cjs.stderr).toBe('');
    const trained = JSON.parse(ok(cjs, 'training (CommonJS)'));
    expect(trained).toEqual({ backend: 'native', addon: [expect.any(String)], epochs: 3, finite: true, same: true, usps: [2007, 256] });
    // The binary that loaded is the prebuilt one (neurone.glibc.node, neurone.musl.node or neurone.node).
    expect(trained.addon[0].split(path.sep).join('/')).toMatch(new RegExp(`^prebuilds/${process.platform}-${process.arch}/neurone(\\.\\w+)?\\.node$`));

    fs.writeFileSync(path.join(project, 'train.mjs'), TRAIN_ESM);
    const esm = run(process.execPath, ['train.mjs'], project, env);
    expect(esm.stderr).toBe('');
    expect(JSON.parse(ok(esm, 'training (ESM)'))).toEqual({ backend: 'native', epochs: 2, same: true, data: 'function' });

    fs.writeFileSync(path.join(project, 'types.mts'), TYPES_MTS);
    fs.writeFileSync(path.join(project, 'types.cts'), TYPES_CTS);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const typeArgs = ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node',
      '--typeRoots', path.join(root, 'node_modules', '@types'), 'types.mts', 'types.cts'];
    ok(run(process.execPath, [tsc, ...typeArgs], project, env), 'type-checking the consumer (ESM and CommonJS)');
  }, 240_000);

  test('without a fitting prebuild and without a compiler: install still succeeds, and training runs on js with one warning', () => {
    const installed = path.join(project, 'node_modules', 'neurone');
    fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true, force: true });
    const env = noCompilerEnv(binDir);
    ok(run(process.execPath, [npm, 'rebuild', 'neurone', '--offline'], project, env), 'npm rebuild without a compiler');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'neurone.node'))).toBe(false);
    const r = run(process.execPath, ['train.cjs'], project, env);
    expect(JSON.parse(ok(r, 'training without the addon'))).toEqual({ backend: 'js', addon: [], epochs: 3, finite: true, same: true, usps: [2007, 256] });
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^neurone: native addon unavailable \(.+\); using the js backend$/);
  }, 120_000);

  test('without a fitting prebuild but with a compiler: install compiles the addon, and training runs on it', () => {
    const installed = path.join(project, 'node_modules', 'neurone');
    const env = { ...fullEnv(), npm_config_build_from_source: 'false' };
    ok(run(process.execPath, [npm, 'rebuild', 'neurone', '--offline'], project, env), 'npm rebuild with a compiler');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'neurone.node'))).toBe(true);
    const r = run(process.execPath, ['train.cjs'], project, env);
    expect(r.stderr).toBe('');
    const out = JSON.parse(ok(r, 'training on the compiled addon'));
    expect([out.backend, out.addon]).toEqual(['native', ['build/Release/neurone.node']]);
  }, 300_000);
});
