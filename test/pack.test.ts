/**
 * The package as a user gets it from npm: what the tarball holds, and an install of it into a
 * fresh project with no compiler on PATH (prebuilt native addon used), then without the prebuild
 * (install falls back to compiling when a compiler exists, to the js backend with its warning
 * when none does) — training works in every case, from CommonJS and from an ES module.
 *
 * Nothing is written into the checkout but the `dist/` that `npm pack` builds: the tarball is
 * unpacked into a temporary folder, the prebuilt binary is built there (or taken from a cache in
 * the system's temporary folder, keyed by a hash of the native sources), and the package is packed
 * again from there, as the publishing job packs it after `npm run prebuild`.
 *
 * The install needs no network and no warm npm cache of registry documents: the consumer gets a
 * lockfile naming the tarball and the exact versions and integrity hashes of neurone's runtime
 * dependencies, taken from this repository's package-lock.json, and `npm ci --offline` then reads
 * those tarballs from the content cache that this repository's own `npm ci` filled. (A plain
 * `npm install --offline` would also need each dependency's registry document, which `npm ci`
 * does not fetch, so it failed on a machine whose cache was cold.)
 *
 * Slow-ish (a TypeScript build, a prebuild unless cached, one addon compile): about a minute.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const platformTag = `${process.platform}-${process.arch}`;
const checkoutPrebuilds = path.join(root, 'prebuilds');
const prebuildsBefore = fs.existsSync(checkoutPrebuilds) ? fs.readdirSync(checkoutPrebuilds, { recursive: true }).sort() : null;

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

/** A hash of everything the native build reads: a cached prebuild is reused only for the same sources. */
function nativeSourcesHash(): string {
  const files = [
    'binding.gyp',
    ...fs
      .readdirSync(path.join(root, 'native'))
      .filter((f) => /\.(cc|h)$|^sources\.json$/.test(f))
      .sort()
      .map((f) => `native/${f}`),
  ];
  const h = crypto.createHash('sha256');
  for (const f of files)
    h.update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(root, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Puts `prebuilds/<platform>-<arch>/` into the unpacked package `pkgDir`: `npm run prebuild` there
 * (with this repository's node_modules for node-addon-api and prebuildify), or a copy of the
 * binaries an earlier run built from the same sources.
 */
function addPrebuild(pkgDir: string): void {
  const cache = path.join(os.tmpdir(), `neurone-prebuild-${nativeSourcesHash()}`, platformTag);
  const target = path.join(pkgDir, 'prebuilds', platformTag);
  if (!fs.existsSync(cache)) {
    const modules = path.join(pkgDir, 'node_modules');
    fs.symlinkSync(path.join(root, 'node_modules'), modules, 'junction');
    try {
      ok(run(process.execPath, [npm, 'run', 'prebuild'], pkgDir, fullEnv()), 'npm run prebuild');
    } finally {
      fs.unlinkSync(modules);
    }
    fs.rmSync(path.join(pkgDir, 'build'), { recursive: true, force: true });
    // Into the cache under a temporary name, then renamed: a concurrent run never sees half of it.
    const partial = `${cache}.${process.pid}.tmp`;
    fs.cpSync(target, partial, { recursive: true });
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    try {
      fs.renameSync(partial, cache);
    } catch {
      fs.rmSync(partial, { recursive: true, force: true }); // another run cached the same sources first
    }
    return;
  }
  fs.cpSync(cache, target, { recursive: true });
}

/**
 * A consumer project whose lockfile installs `tarball` and neurone's runtime dependencies at the
 * versions and integrity hashes of this repository's package-lock.json (its non-dev entries are
 * exactly those dependencies and theirs), so that `npm ci --offline` needs only the content cache.
 */
function writeConsumer(project: string, tarball: string): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const registry = ok(run(process.execPath, [npm, 'config', 'get', 'registry'], project, fullEnv()), 'npm config get registry')
    .trim()
    .replace(/\/$/, '');
  const spec = `file:${path.relative(project, tarball)}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { neurone: spec } },
    'node_modules/neurone': {
      version: pkg.version,
      resolved: spec,
      integrity,
      hasInstallScript: true,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages as Record<string, Record<string, unknown>>)) {
    if (key === '' || entry.dev || entry.devOptional || entry.link) continue;
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const file = `${name.split('/').pop()}-${entry.version}.tgz`;
    packages[key] = { ...entry, resolved: entry.resolved ?? `${registry}/${name}/-/${file}` };
  }
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { neurone: spec } }, null, 2),
  );
  fs.writeFileSync(
    path.join(project, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
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

  let pkgDir: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-pack-'));
    project = path.join(tmp, 'project');
    binDir = path.join(tmp, 'bin');
    fs.mkdirSync(project);
    fs.mkdirSync(binDir);
    // PATH for the no-compiler runs: node, and the shell npm runs scripts with.
    fs.symlinkSync(process.execPath, path.join(binDir, 'node'));
    fs.symlinkSync('/bin/sh', path.join(binDir, 'sh'));
    // Pack (building dist/), unpack, add the prebuilt binary, pack again from there.
    const first = JSON.parse(ok(run(process.execPath, [npm, 'pack', '--json', '--pack-destination', tmp], root, fullEnv()), 'npm pack'));
    const stage = path.join(tmp, 'stage');
    fs.mkdirSync(stage);
    ok(run('tar', ['-xzf', path.join(tmp, first[0].filename), '-C', stage], tmp, fullEnv()), 'unpacking the tarball');
    pkgDir = path.join(stage, 'package');
    addPrebuild(pkgDir);
    const out = path.join(tmp, 'final');
    fs.mkdirSync(out);
    const packed = JSON.parse(
      ok(
        run(process.execPath, [npm, 'pack', '--json', '--ignore-scripts', '--pack-destination', out], pkgDir, fullEnv()),
        'npm pack (with the prebuild)',
      ),
    );
    tarball = path.join(out, packed[0].filename);
  }, 300_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('npm pack lists dist, types, prebuilds, native sources, binding.gyp, data, README, LICENSE and nothing else', () => {
    // The listing of the package as published: the unpacked tarball with its prebuild added.
    const out = ok(
      run(process.execPath, [npm, 'pack', '--dry-run', '--json', '--ignore-scripts'], pkgDir, fullEnv()),
      'npm pack --dry-run',
    );
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^binding\.gyp$/,
      /^dist\/.+\.(js|mjs|d\.ts|d\.mts)$/,
      /^prebuilds\/[\w-]+\/[\w.-]+\.node$/,
      /^native\/[\w]+\.(cc|h)$/,
      /^native\/sources\.json$/,
      /^data\/usps\/(SOURCE\.md|USPS_(train|test)\.txt\.gz)$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
    expect(unexpected).toEqual([]);
    for (const required of [
      'LICENSE',
      'README.md',
      'binding.gyp',
      'native/sources.json',
      'native/binding.cc',
      'data/usps/USPS_train.txt.gz',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.mjs',
      'dist/index.d.mts',
      'dist/data/index.mjs',
      'dist/serialize.js',
    ]) {
      expect(files).toContain(required);
    }
    expect(files.some((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`))).toBe(true);
    // Every native source the build needs is in the package (the compile fallback).
    const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'));
    for (const group of ['binding', 'kernels', 'avx2', 'avx512']) for (const f of sources[group]) expect(files).toContain(f);
  });

  test('installs with no compiler on PATH and trains on the prebuilt native addon, from CommonJS and ESM, with types', () => {
    writeConsumer(project, tarball);
    const env = noCompilerEnv(binDir);
    // Nothing that compiles is reachable.
    for (const tool of ['g++', 'cc', 'make', 'python3'])
      expect(run('/bin/sh', ['-c', `command -v ${tool} || true`], project, env).stdout).toBe('');
    ok(run(process.execPath, [npm, 'ci', '--offline', '--no-audit', '--no-fund'], project, env), 'npm ci of the tarball');

    const installed = path.join(project, 'node_modules', 'neurone');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false); // no compile ran
    expect(fs.readdirSync(path.join(installed, 'prebuilds'))).toContain(`${process.platform}-${process.arch}`);

    fs.writeFileSync(path.join(project, 'train.cjs'), TRAIN_CJS);
    const cjs = run(process.execPath, ['train.cjs'], project, env);
    expect(cjs.stderr).toBe('');
    const trained = JSON.parse(ok(cjs, 'training (CommonJS)'));
    expect(trained).toEqual({ backend: 'native', addon: [expect.any(String)], epochs: 3, finite: true, same: true, usps: [2007, 16, 16, 1] });
    // The binary that loaded is the prebuilt one (neurone.glibc.node, neurone.musl.node or neurone.node).
    expect(trained.addon[0].split(path.sep).join('/')).toMatch(
      new RegExp(`^prebuilds/${process.platform}-${process.arch}/neurone(\\.\\w+)?\\.node$`),
    );

    fs.writeFileSync(path.join(project, 'train.mjs'), TRAIN_ESM);
    const esm = run(process.execPath, ['train.mjs'], project, env);
    expect(esm.stderr).toBe('');
    expect(JSON.parse(ok(esm, 'training (ESM)'))).toEqual({ backend: 'native', epochs: 2, same: true, data: 'function' });

    fs.writeFileSync(path.join(project, 'types.mts'), TYPES_MTS);
    fs.writeFileSync(path.join(project, 'types.cts'), TYPES_CTS);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const typeArgs = [
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      path.join(root, 'node_modules', '@types'),
      'types.mts',
      'types.cts',
    ];
    ok(run(process.execPath, [tsc, ...typeArgs], project, env), 'type-checking the consumer (ESM and CommonJS)');
  }, 240_000);

  test('the checkout is left as it was: no prebuilds/ written into it', () => {
    const now = fs.existsSync(checkoutPrebuilds) ? fs.readdirSync(checkoutPrebuilds, { recursive: true }).sort() : null;
    expect(now).toEqual(prebuildsBefore);
  });

  test('without a fitting prebuild and without a compiler: install still succeeds, and training runs on js with one warning', () => {
    const installed = path.join(project, 'node_modules', 'neurone');
    fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true, force: true });
    const env = noCompilerEnv(binDir);
    ok(run(process.execPath, [npm, 'rebuild', 'neurone', '--offline'], project, env), 'npm rebuild without a compiler');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'neurone.node'))).toBe(false);
    const r = run(process.execPath, ['train.cjs'], project, env);
    expect(JSON.parse(ok(r, 'training without the addon'))).toEqual({
      backend: 'js',
      addon: [],
      epochs: 3,
      finite: true,
      same: true,
      usps: [2007, 16, 16, 1],
    });
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
