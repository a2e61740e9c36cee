/**
 * The package as a user gets it from npm: what the tarball holds, and an install of it into a
 * fresh project with no compiler on PATH (prebuilt native addon used), then without the prebuild
 * (install falls back to compiling when a compiler exists, to the js backend with its warning
 * when none does) — training works in every case, from CommonJS and from an ES module. The same
 * installed project also trains under qemu with an arm64 Node on the linux-arm64 binary, and with
 * the oldest Node that `engines` allows.
 *
 * The tarball is made by a plain `npm pack`: its `prepack` (scripts/prebuild-all.js) puts the
 * linux-x64 and linux-arm64 glibc binaries into prebuilds/, built in scratch folders (the
 * checkout's build/ is not touched) or taken from their cache in the system's temporary folder,
 * keyed by a hash of the native sources. So this test needs a linux-x64 glibc machine with
 * Debian's g++-aarch64-linux-gnu and qemu-user (.ci/run installs them); elsewhere it fails with
 * prebuild:all's message naming what is missing.
 *
 * The install needs no network and no warm npm cache of registry documents: the consumer gets a
 * lockfile naming the tarball and the exact versions and integrity hashes of neurone's runtime
 * dependencies, taken from this repository's package-lock.json, and `npm ci --offline` then reads
 * those tarballs from the content cache that this repository's own `npm ci` filled. (A plain
 * `npm install --offline` would also need each dependency's registry document, which `npm ci`
 * does not fetch, so it failed on a machine whose cache was cold.) The arm64 and oldest Nodes come
 * from the npm registry once (scripts/fetch-node.js), then from the temporary folder.
 *
 * Slow-ish (a TypeScript build, one addon compile, a training under qemu): about a minute with the
 * binaries and Nodes cached (68 s on the 2-core machine, the qemu training 5 s of it), a few
 * minutes more when prebuild:all builds them and the Nodes are fetched first.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { NODES, fetchNode } from '../scripts/fetch-node';
import { ELF_MACHINE, cachedBinary, elfMachine, hostProblem, prebuildAll } from '../scripts/prebuild-all';

const root = path.resolve(__dirname, '..');
const X64_BINARY = 'prebuilds/linux-x64/neurone.glibc.node';
const ARM64_BINARY = 'prebuilds/linux-arm64/neurone.glibc.node';
const checkoutAddon = path.join(root, 'build', 'Release', 'neurone.node');

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

/** The sha256 of `file`, or null when there is none. */
function fileHash(file: string): string | null {
  return fs.existsSync(file) ? crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') : null;
}

/**
 * The newest glibc and libstdc++ symbol versions `binary` needs (`GLIBC_2.29`, `GLIBCXX_3.4.30`),
 * from its dynamic symbol table as `objdump -T` prints it: what README's install section promises.
 */
function newestSymbolVersions(objdump: string, binary: string): { GLIBC: number[]; GLIBCXX: number[] } {
  const table = ok(run(objdump, ['-T', binary], root, fullEnv()), `${objdump} -T ${binary}`);
  const newest = { GLIBC: [0], GLIBCXX: [0] };
  for (const [, lib, version] of table.matchAll(/\((GLIBC|GLIBCXX)_([\d.]+)\)/g)) {
    const parts = version.split('.').map(Number);
    if (compareVersions(parts, newest[lib as 'GLIBC' | 'GLIBCXX']) > 0) newest[lib as 'GLIBC' | 'GLIBCXX'] = parts;
  }
  return newest;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The path of `tool` on this machine's PATH, or a failure naming the Debian package to install. */
function findTool(tool: string, debianPackage: string): string {
  const found = run('/bin/sh', ['-c', `command -v ${tool} || true`], root, fullEnv()).stdout.trim();
  if (!found) throw new Error(`pack test: ${tool} not found on PATH (apt-get install ${debianPackage})`);
  return found;
}

/**
 * The keys of package-lock.json's entries that installing the packages `names` brings in: theirs
 * and, recursively, their dependencies', each found as Node finds it (the nearest node_modules
 * folder up from the package that requires it).
 */
function lockClosure(packages: Record<string, { dependencies?: object; optionalDependencies?: object }>, names: string[]): Set<string> {
  const keys = new Set<string>();
  const visit = (from: string, name: string): void => {
    for (let dir = from; ;) {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (packages[key]) {
        if (keys.has(key)) return;
        keys.add(key);
        for (const dep of Object.keys({ ...packages[key].dependencies, ...packages[key].optionalDependencies })) visit(key, dep);
        return;
      }
      if (!dir) return;
      const parent = dir.lastIndexOf('/node_modules/');
      dir = parent < 0 ? '' : dir.slice(0, parent);
    }
  };
  for (const name of names) visit('', name);
  return keys;
}

/**
 * A consumer project whose lockfile installs `tarball` and neurone's runtime dependencies at the
 * versions and integrity hashes of this repository's package-lock.json (its non-dev entries are
 * exactly those dependencies and theirs), so that `npm ci --offline` needs only the content cache.
 * With `queue`, the consumer also depends on the queue's clients, neurone's optional peer
 * dependencies (bullmq and ioredis, dev entries of this repository's lock), at its versions.
 */
function writeConsumer(project: string, tarball: string, queue = false): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const registry = ok(run(process.execPath, [npm, 'config', 'get', 'registry'], project, fullEnv()), 'npm config get registry')
    .trim()
    .replace(/\/$/, '');
  const spec = `file:${path.relative(project, tarball)}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  const dependencies: Record<string, string> = { neurone: spec, ...(queue ? pkg.peerDependencies : {}) };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies },
    'node_modules/neurone': {
      version: pkg.version,
      resolved: spec,
      integrity,
      hasInstallScript: true,
      license: pkg.license,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  const queueEntries = queue ? lockClosure(lock.packages, Object.keys(pkg.peerDependencies)) : new Set<string>();
  for (const [key, entry] of Object.entries(lock.packages as Record<string, Record<string, unknown>>)) {
    if (key === '' || entry.link) continue;
    if ((entry.dev || entry.devOptional) && !queueEntries.has(key)) continue;
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const file = `${name.split('/').pop()}-${entry.version}.tgz`;
    const { dev: _dev, devOptional: _devOptional, ...installed } = entry;
    packages[key] = { ...installed, resolved: entry.resolved ?? `${registry}/${name}/-/${file}` };
  }
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies }, null, 2),
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
import neurone, { Sequential, Linear, save, load, type Module, type FitOptions, type Optimizer } from 'neurone';
import { loadUSPS } from 'neurone/data';
const net: Module = new Sequential(new Linear(2, 2));
const opts: FitOptions = { epochs: 1, checkpoint: { path: 'c.ckpt', every: 1 } };
save(net, 'm.safetensors');
const again: Module = load('m.safetensors');
// An optimiser of one's own needs a rate and a step.
const own: Optimizer = { lr: 0.1, step: () => {} };
// load into a network of one's own gives it back with its type.
const filled: InstanceType<typeof Sequential> = load('m.safetensors', { into: new Sequential(new Linear(2, 2)) });
filled.add(new Linear(2, 2));
// @ts-expect-error a Sequential's list grows through add() alone, which checks what it takes
filled.modules.push(new Linear(2, 2));
// Literal arrays written as const are taken where the options hold them (readonly).
const tuned = new neurone.Adam({ betas: [0.9, 0.99] as const });
const measured: FitOptions = { metrics: ['top5', 'f1'] as const };
// The library's internal members are not in its types (stripInternal): an editor does not offer them.
// @ts-expect-error forwardAt is internal
void net.forwardAt;
// @ts-expect-error setBufferReuse is internal
void net.setBufferReuse;
export const all = [neurone.fit, loadUSPS({ split: 'test' }).x.shape, opts, again, tuned, measured, filled, own];
`;
const TYPES_CTS = `
import n = require('neurone');
import d = require('neurone/data');
const net: n.Module = new n.Sequential(new n.Linear(2, 2));
export const all = [net, d.loadUSPS, n.getBackend()];
`;
// TypeScript's older resolution ("moduleResolution": "node", still the default of many projects)
// reads no "exports": the subpaths' types come from "typesVersions".
const TYPES_NODE10_TS = `
import { Sequential, Linear } from 'neurone';
import { loadUSPS } from 'neurone/data';
import { confusionMatrixSvg } from 'neurone/report';
export const all = [new Sequential(new Linear(2, 2)), loadUSPS, confusionMatrixSvg];
`;

// POSIX only (a PATH of symlinks, /bin/sh); the Windows CI job covers the package through its own test run.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix('the npm package', () => {
  let tmp: string;
  let project: string;
  let binDir: string;
  let tarball: string;
  let files: string[];
  let addonBefore: string | null;
  let addonAfter: string | null;

  beforeAll(() => {
    // The machine prebuild:all needs (linux-x64, glibc, the native and aarch64 toolchains); its
    // message names the missing packages.
    const problem = hostProblem();
    if (problem) throw new Error(problem);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-pack-'));
    project = path.join(tmp, 'project');
    binDir = path.join(tmp, 'bin');
    fs.mkdirSync(project);
    fs.mkdirSync(binDir);
    // PATH for the no-compiler runs: node, and the shell npm runs scripts with.
    fs.symlinkSync(process.execPath, path.join(binDir, 'node'));
    fs.symlinkSync('/bin/sh', path.join(binDir, 'sh'));
    // A plain npm pack, as `npm publish` packs: prepack makes prebuilds/, prepare builds dist/.
    addonBefore = fileHash(checkoutAddon);
    const packed = JSON.parse(ok(run(process.execPath, [npm, 'pack', '--json', '--pack-destination', tmp], root, fullEnv()), 'npm pack'));
    addonAfter = fileHash(checkoutAddon);
    tarball = path.join(tmp, packed[0].filename);
    files = packed[0].files.map((f: { path: string }) => f.path);
  }, 900_000);
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('npm pack lists dist, types, both Linux prebuilds, native sources, binding.gyp, the install script, data, README and the files it links, LICENSE and nothing else', () => {
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^binding\.gyp$/,
      /^dist\/.+\.(js|mjs|d\.ts|d\.mts)$/,
      /^prebuilds\/[\w-]+\/[\w.-]+\.node$/,
      /^native\/[\w]+\.(cc|h)$/,
      /^native\/sources\.json$/,
      /^scripts\/install\.js$/,
      /^data\/usps\/(SOURCE\.md|USPS_(train|test)\.txt\.gz)$/,
      /^docs\/COURSE\.md$/,
      /^BENCHMARKS\.md$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
    expect(unexpected).toEqual([]);
    for (const required of [
      'LICENSE',
      'README.md',
      'binding.gyp',
      'native/sources.json',
      'native/binding.cc',
      'scripts/install.js',
      'data/usps/USPS_train.txt.gz',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.mjs',
      'dist/index.d.mts',
      'dist/data/index.mjs',
      'dist/serialize.js',
      X64_BINARY,
      ARM64_BINARY,
    ]) {
      expect(files).toContain(required);
    }
    // The README's links to files of this repository resolve in the package (docs/COURSE.md,
    // BENCHMARKS.md), but for reports/: the experiments' write-up and its figures (about 7 MB)
    // stay in the repository.
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)].map((m) => m[1]);
    expect(linked.length).toBeGreaterThan(3);
    expect([...new Set(linked.filter((f) => !files.includes(f)))]).toEqual(['reports/README.md']);
    // Every native source the build needs is in the package (the compile fallback).
    const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'));
    for (const group of ['binding', 'kernels', 'avx2', 'avx512', 'neon']) for (const f of sources[group]) expect(files).toContain(f);
  });

  test("the tarball's binaries are an x86-64 and an AArch64 ELF file, the ones prebuild:all cached", () => {
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    ok(
      run('tar', ['-xzf', tarball, '-C', unpacked, `package/${X64_BINARY}`, `package/${ARM64_BINARY}`], tmp, fullEnv()),
      'unpacking the prebuilds',
    );
    const x64 = path.join(unpacked, 'package', X64_BINARY);
    const arm64 = path.join(unpacked, 'package', ARM64_BINARY);
    expect([elfMachine(x64), elfMachine(arm64)]).toEqual([ELF_MACHINE.x64, ELF_MACHINE.arm64]);
    expect([ELF_MACHINE.x64, ELF_MACHINE.arm64]).toEqual([0x3e, 0xb7]);
    expect(fileHash(x64)).toBe(fileHash(cachedBinary('linux-x64')));
    expect(fileHash(arm64)).toBe(fileHash(cachedBinary('linux-arm64')));
    // README: they load with glibc 2.29 and GCC 12's C++ runtime (GLIBCXX_3.4.30) or newer.
    for (const [objdump, debianPackage, binary] of [
      ['objdump', 'binutils', x64],
      ['aarch64-linux-gnu-objdump', 'binutils-aarch64-linux-gnu', arm64],
    ]) {
      const newest = newestSymbolVersions(findTool(objdump, debianPackage), binary);
      expect(compareVersions(newest.GLIBC, [2, 29])).toBeLessThanOrEqual(0);
      expect(compareVersions(newest.GLIBCXX, [3, 4, 30])).toBeLessThanOrEqual(0);
    }
  });

  test("npm pack leaves the checkout's compiled addon alone; prebuild:all again costs nothing and keeps other platforms' binaries", () => {
    // prebuildify runs node-gyp rebuild in its folder: in the checkout it would have replaced
    // build/Release (or made it). It ran in scratch copies.
    expect(addonAfter).toBe(addonBefore);
    // Into a folder that already holds binaries from the other platforms' builds.
    const out = path.join(tmp, 'prebuilds-again');
    const others = ['darwin-arm64/neurone.glibc.node', 'linux-x64/neurone.musl.node'];
    for (const f of others) {
      fs.mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
      fs.writeFileSync(path.join(out, f), `a stand-in for ${f}`);
    }
    const log: string[] = [];
    const written = prebuildAll({ out, log: (line) => log.push(line) });
    expect(written).toEqual({
      'linux-x64': path.join(out, 'linux-x64', 'neurone.glibc.node'),
      'linux-arm64': path.join(out, 'linux-arm64', 'neurone.glibc.node'),
    });
    expect(log).toEqual([
      expect.stringMatching(/^prebuild:all: linux-x64\/neurone\.glibc\.node from the cache/),
      expect.stringMatching(/^prebuild:all: linux-arm64\/neurone\.glibc\.node from the cache/),
    ]);
    for (const f of others) expect(fs.readFileSync(path.join(out, f), 'utf8')).toBe(`a stand-in for ${f}`);
    expect(fs.readdirSync(out, { recursive: true }).map(String).sort()).toEqual(
      ['darwin-arm64', 'linux-arm64', 'linux-x64', ...others, 'linux-x64/neurone.glibc.node', 'linux-arm64/neurone.glibc.node'].sort(),
    );
  });

  test('prebuild:all takes cached binaries without the aarch64 cross compiler; a build without it is refused, naming the Debian packages', () => {
    // A PATH with this machine's own toolchain and nothing for aarch64.
    const hostOnly = path.join(tmp, 'host-tools');
    fs.mkdirSync(hostOnly);
    for (const [tool, debianPackage] of [
      ['node', 'nodejs'],
      ['sh', 'dash'],
      ['g++', 'g++'],
      ['make', 'make'],
      ['python3', 'python3'],
      ['strip', 'binutils'],
    ])
      fs.symlinkSync(tool === 'node' ? process.execPath : findTool(tool, debianPackage), path.join(hostOnly, tool));
    // The binaries npm pack cached serve without any toolchain.
    const fromCache = path.join(tmp, 'prebuilds-cached');
    const cached = run(process.execPath, [path.join(root, 'scripts', 'prebuild-all.js'), '--out', fromCache], root, {
      ...fullEnv(),
      PATH: hostOnly,
    });
    expect(cached.status).toBe(0);
    expect(cached.stderr).toMatch(/linux-arm64\/neurone\.glibc\.node from the cache/);
    expect(fileHash(path.join(fromCache, ARM64_BINARY.replace(/^prebuilds\//, '')))).toBe(fileHash(cachedBinary('linux-arm64')));
    // With nothing cached (another temporary folder), the arm64 build needs the cross compiler.
    const emptyTmp = path.join(tmp, 'empty-tmp');
    fs.mkdirSync(emptyTmp);
    const out = path.join(tmp, 'prebuilds-refused');
    const r = run(process.execPath, [path.join(root, 'scripts', 'prebuild-all.js'), '--out', out, '--only', 'linux-arm64'], root, {
      ...fullEnv(),
      PATH: hostOnly,
      TMPDIR: emptyTmp,
    });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: 1,
      stdout: '',
      stderr:
        'prebuild:all: aarch64-linux-gnu-gcc, aarch64-linux-gnu-g++, aarch64-linux-gnu-strip not found on PATH; ' +
        'install them with `apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu`\n',
    });
    expect(fs.existsSync(out)).toBe(false);
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
    expect(fs.readdirSync(path.join(installed, 'prebuilds'))).toEqual(expect.arrayContaining(['linux-arm64', 'linux-x64']));

    fs.writeFileSync(path.join(project, 'train.cjs'), TRAIN_CJS);
    const cjs = run(process.execPath, ['train.cjs'], project, env);
    expect(cjs.stderr).toBe('');
    const trained = JSON.parse(ok(cjs, 'training (CommonJS)'));
    // The binary that loaded is the prebuilt one.
    expect(trained).toEqual({ backend: 'native', addon: [X64_BINARY], epochs: 3, finite: true, same: true, usps: [2007, 16, 16, 1] });

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
    const checked = ok(
      run(process.execPath, [tsc, ...typeArgs, '--listFiles'], project, env),
      'type-checking the consumer (ESM and CommonJS)',
    );
    // The queue's clients are the sweep's business: their declarations (ioredis's alone are 22
    // files) stay out of every consumer's type check.
    expect(checked.split('\n').filter((f) => /node_modules\/(ioredis|bullmq)\//.test(f))).toEqual([]);
    expect(checked).toMatch(/node_modules\/neurone\/dist\/sweep\/index\.d\.ts/);
    fs.writeFileSync(path.join(project, 'types-node10.ts'), TYPES_NODE10_TS);
    const node10Args = ['--noEmit', '--strict', '--module', 'commonjs', '--moduleResolution', 'node', '--target', 'es2022'];
    const typeRoots = ['--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types')];
    const node10 = run(process.execPath, [tsc, ...node10Args, ...typeRoots, 'types-node10.ts'], project, env);
    ok(node10, 'type-checking a consumer with "moduleResolution": "node"');
    // "types": [] (the default since TypeScript 6: no @types package is included unless listed): the
    // declarations bring Node's types in themselves (before, "Cannot find name 'Buffer'").
    fs.writeFileSync(
      path.join(project, 'tsconfig.no-types.json'),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          strict: true,
          module: 'node16',
          moduleResolution: 'node16',
          target: 'es2022',
          types: [],
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files: ['types.mts', 'types.cts'],
      }),
    );
    ok(run(process.execPath, [tsc, '-p', 'tsconfig.no-types.json'], project, env), 'type-checking a consumer whose "types" lists none');
  }, 240_000);

  test("a plain install leaves out the queue's clients and the queue says what to install; installed beside neurone, they are found", async () => {
    const env = noCompilerEnv(binDir);
    const modules = path.join(project, 'node_modules');
    expect(['bullmq', 'ioredis'].filter((p) => fs.existsSync(path.join(modules, p)))).toEqual([]);
    // Nothing listens on the port: once the clients load, the worker fails to connect instead.
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const worker = (): SpawnSyncReturns<string> =>
      run(path.join(modules, '.bin', 'neurone'), ['worker', '--queue', `redis://127.0.0.1:${closed}`], project, env);
    const without = worker();
    expect([without.status, without.stdout, without.stderr]).toEqual([
      2,
      '',
      `neurone: neurone worker needs the packages bullmq and ioredis, which a plain install of neurone leaves out (the queue's clients are optional): run npm install "bullmq@^5.76.11 || ^6.0.0" "ioredis@^5.0.0 || ^6.0.0" where neurone is installed (in its project; -g beside a global neurone)\n`,
    ]);

    // Within the ranges the message names, at the versions of neurone's lockfile (from the content
    // cache, as above).
    writeConsumer(project, tarball, true);
    ok(run(process.execPath, [npm, 'ci', '--offline', '--no-audit', '--no-fund'], project, env), 'npm ci with bullmq and ioredis');
    expect(['bullmq', 'ioredis'].filter((p) => fs.existsSync(path.join(modules, p)))).toEqual(['bullmq', 'ioredis']);
    const withClients = worker();
    expect(withClients.status).toBe(2);
    expect(withClients.stderr).toMatch(
      new RegExp(`^neurone: cannot reach Redis at redis://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED.*\n$`),
    );
  }, 240_000);

  test('the linux-arm64 binary loads in an arm64 Node under qemu, and the installed project trains on it', () => {
    // Before the tests below compile build/Release (x64) into the installed package: node-gyp-build
    // would try that first.
    const qemu = findTool('qemu-aarch64', 'qemu-user');
    const armNode = fetchNode(NODES.arm64.pkg, NODES.arm64.version);
    const env = { ...noCompilerEnv(binDir), QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' };
    const r = run(qemu, [armNode, '-p', 'process.arch'], project, env);
    expect(ok(r, 'the arm64 Node under qemu').trim()).toBe('arm64');
    const trained = run(qemu, [armNode, 'train.cjs'], project, env);
    expect(trained.stderr).toBe('');
    expect(JSON.parse(ok(trained, 'training under qemu (arm64)'))).toEqual({
      backend: 'native',
      addon: [ARM64_BINARY],
      epochs: 3,
      finite: true,
      same: true,
      usps: [2007, 16, 16, 1],
    });
  }, 300_000);

  test(`the oldest Node that engines allows (${NODES.floor.version}) loads the prebuild and trains on it, from CommonJS and ESM`, () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    // The Node tested here is the floor package.json claims: raising one means raising the other.
    expect(pkg.engines.node).toBe(`>=${NODES.floor.version.replace(/\.0\.0$/, '')}`);
    const oldNode = fetchNode(NODES.floor.pkg, NODES.floor.version);
    const env = noCompilerEnv(binDir);
    expect(ok(run(oldNode, ['--version'], project, env), 'the oldest Node').trim()).toBe(`v${NODES.floor.version}`);
    const cjs = run(oldNode, ['train.cjs'], project, env);
    expect(cjs.stderr).toBe('');
    expect(JSON.parse(ok(cjs, `training on Node ${NODES.floor.version} (CommonJS)`))).toEqual({
      backend: 'native',
      addon: [X64_BINARY],
      epochs: 3,
      finite: true,
      same: true,
      usps: [2007, 16, 16, 1],
    });
    const esm = run(oldNode, ['train.mjs'], project, env);
    expect(esm.stderr).toBe('');
    expect(JSON.parse(ok(esm, `training on Node ${NODES.floor.version} (ESM)`))).toEqual({
      backend: 'native',
      epochs: 2,
      same: true,
      data: 'function',
    });
  }, 300_000);

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
    expect(lines[0]).toMatch(
      /^neurone: native addon unavailable \(.+\); using the js backend, many times slower \(`npm rebuild neurone` compiles the addon: .+\)$/,
    );
  }, 120_000);

  test('without a fitting prebuild but with a compiler: install compiles the addon, and training runs on it', () => {
    const installed = path.join(project, 'node_modules', 'neurone');
    // The compile runs on every core: scripts/install.js sets JOBS=max for node-gyp, as a user's
    // install gets it.
    const env = { ...fullEnv(), npm_config_build_from_source: 'false' };
    ok(run(process.execPath, [npm, 'rebuild', 'neurone', '--offline'], project, env), 'npm rebuild with a compiler');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'neurone.node'))).toBe(true);
    const r = run(process.execPath, ['train.cjs'], project, env);
    expect(r.stderr).toBe('');
    const out = JSON.parse(ok(r, 'training on the compiled addon'));
    expect([out.backend, out.addon]).toEqual(['native', ['build/Release/neurone.node']]);
  }, 300_000);
});
