#!/usr/bin/env node
// npm run prebuild:all (and prepack, so `npm pack` and `npm publish` ship both binaries)
//
// Builds the two Linux glibc binaries this machine can make, with prebuildify as `npm run
// prebuild` does (`--napi --strip --tag-libc`):
//   prebuilds/linux-x64/neurone.glibc.node     natively;
//   prebuilds/linux-arm64/neurone.glibc.node   cross-compiled with Debian's aarch64-linux-gnu
//                                              toolchain (g++-aarch64-linux-gnu).
// The other platforms' binaries (macOS, Windows, musl) come from the GitHub workflow's matrix;
// any already in prebuilds/ are kept.
//
// Each build runs in a scratch copy of binding.gyp, package.json and native/ (prebuildify runs
// node-gyp rebuild in its folder, which would replace this checkout's build/Release addon), and
// its binary must be an ELF file for the right machine. The binaries are cached in the system's
// temporary folder, keyed by a hash of everything the build reads, so a second run costs nothing
// and needs no toolchain (`npm pack` on a machine without the cross compiler, once built).
//
//   node scripts/prebuild-all.js [--out DIR] [--only linux-x64|linux-arm64]
//
// --out: where prebuilds/ goes (default: this checkout's prebuilds/); --only: one of the two
// (scripts/test-arm64.sh takes the arm64 binary this way, from the same cache). It reports on
// stderr: `npm pack --json` passes prepack's stdout into its own.
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const PREBUILDIFY_FLAGS = ['--napi', '--strip', '--tag-libc'];
const BINARY = 'neurone.glibc.node';

/** ELF e_machine values (the 16-bit field at offset 18 of the header). */
const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 };

/** The two binaries: each one's platform folder, prebuildify's extra flags and environment. */
const TARGETS = {
  'linux-x64': { arch: 'x64', args: [], env: {} },
  'linux-arm64': {
    arch: 'arm64',
    args: ['--arch', 'arm64'],
    env: {
      CC: 'aarch64-linux-gnu-gcc',
      CXX: 'aarch64-linux-gnu-g++',
      LINK: 'aarch64-linux-gnu-g++',
      PREBUILD_STRIP_BIN: 'aarch64-linux-gnu-strip',
    },
  },
};

/** The tools a build runs, with the Debian package that provides each: every build's, then each target's own. */
const HOST_TOOLS = [
  ['g++', 'g++'],
  ['make', 'make'],
  ['python3', 'python3'],
  ['strip', 'binutils'],
];
const TARGET_TOOLS = {
  'linux-x64': [],
  'linux-arm64': [
    ['aarch64-linux-gnu-gcc', 'gcc-aarch64-linux-gnu'],
    ['aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu'],
    ['aarch64-linux-gnu-strip', 'binutils-aarch64-linux-gnu'],
  ],
};

/** The files the native build reads, relative to the repository root. */
function nativeSourceFiles() {
  const native = fs
    .readdirSync(path.join(root, 'native'))
    .filter((f) => /\.(cc|h)$|^sources\.json$/.test(f))
    .sort()
    .map((f) => `native/${f}`);
  return ['binding.gyp', ...native];
}

/**
 * A hash of everything that decides the binaries: the native sources, binding.gyp, the package's
 * name and Node-API versions, and the prebuildify flags. A cached binary is reused only for the
 * same hash.
 */
function nativeSourcesHash() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ name: pkg.name, binary: pkg.binary, flags: PREBUILDIFY_FLAGS, targets: TARGETS }));
  for (const f of nativeSourceFiles())
    h.update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(root, f)));
  return h.digest('hex').slice(0, 16);
}

/** Where the binary for `platformTag` (`linux-x64`, `linux-arm64`) of these sources is cached. */
function cachedBinary(platformTag) {
  return path.join(os.tmpdir(), `neurone-prebuild-${nativeSourcesHash()}`, platformTag, BINARY);
}

/** The ELF e_machine of `file`, or undefined when it is not an ELF file. */
function elfMachine(file) {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    if (fs.readSync(fd, header, 0, 20, 0) < 20) return undefined;
  } finally {
    fs.closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
}

function checkMachine(file, arch) {
  const machine = elfMachine(file);
  if (machine !== ELF_MACHINE[arch]) {
    const got = machine === undefined ? 'not an ELF file' : `e_machine 0x${machine.toString(16)}`;
    throw new Error(`prebuild:all: ${file} must be an ${arch} ELF binary (e_machine 0x${ELF_MACHINE[arch].toString(16)}), got ${got}`);
  }
}

function onPath(tool) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Why this machine cannot build the binaries of `platformTags` (default: both; undefined when it
 * can): it must be linux-x64 with glibc, and have the native toolchain and, for linux-arm64, the
 * cross one. The message names the missing Debian packages.
 */
function hostProblem(platformTags = Object.keys(TARGETS)) {
  const host = `${process.platform}-${process.arch}`;
  if (host !== 'linux-x64') {
    return `prebuild:all builds the Linux glibc binaries on a linux-x64 host (natively and cross-compiled with Debian's g++-aarch64-linux-gnu); this host is ${host}. The other platforms' binaries are built by .github/workflows/prebuild.yml (or \`npm run prebuild\` on that platform).`;
  }
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  if (!glibc) return 'prebuild:all builds glibc binaries and must run on a glibc Linux; this one has another C library (musl?).';
  const missing = [...HOST_TOOLS, ...platformTags.flatMap((tag) => TARGET_TOOLS[tag])].filter(([tool]) => !onPath(tool));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    return `prebuild:all: ${missing.map(([tool]) => tool).join(', ')} not found on PATH; install them with \`apt-get install ${packages.join(' ')}\``;
  }
  return undefined;
}

/** Copies `from` to `to` through a temporary name, so nobody sees half a file. */
function copyAtomically(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const partial = `${to}.${process.pid}.tmp`;
  fs.copyFileSync(from, partial);
  fs.renameSync(partial, to);
}

/** prebuildify in a scratch copy of the build files; returns the path of the binary it made. */
function build(platformTag, log) {
  const target = TARGETS[platformTag];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `neurone-prebuild-${platformTag}-`));
  try {
    for (const f of ['binding.gyp', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(scratch, f));
    fs.mkdirSync(path.join(scratch, 'native'));
    for (const f of nativeSourceFiles().filter((f) => f.startsWith('native/'))) {
      fs.copyFileSync(path.join(root, f), path.join(scratch, f));
    }
    // node-addon-api's headers and prebuildify itself, from this checkout.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'junction');
    const prebuildify = path.join(root, 'node_modules', 'prebuildify', 'bin.js');
    const started = Date.now();
    const r = spawnSync(process.execPath, [prebuildify, ...PREBUILDIFY_FLAGS, ...target.args], {
      cwd: scratch,
      // JOBS=max: node-gyp runs make on one core unless told otherwise (a JOBS the caller set wins).
      env: { JOBS: 'max', ...process.env, ...target.env },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error || r.status !== 0) {
      const output = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-40).join('\n');
      throw new Error(
        `prebuild:all: prebuildify for ${platformTag} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${output}`,
      );
    }
    const binary = path.join(scratch, 'prebuilds', platformTag, BINARY);
    if (!fs.existsSync(binary)) throw new Error(`prebuild:all: prebuildify for ${platformTag} made no ${binary}`);
    checkMachine(binary, target.arch);
    const cache = cachedBinary(platformTag);
    copyAtomically(binary, cache);
    log(
      `prebuild:all: built ${platformTag}/${BINARY} in ${((Date.now() - started) / 1000).toFixed(0)} s (cached in ${path.dirname(cache)})`,
    );
    return cache;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Puts `<out>/linux-x64/neurone.glibc.node` and `<out>/linux-arm64/neurone.glibc.node` in place
 * (or only `only`), from the cache or built. Returns the paths written, by platform tag.
 */
function prebuildAll({ out = path.join(root, 'prebuilds'), only, log = (line) => console.error(line) } = {}) {
  if (only !== undefined && !Object.prototype.hasOwnProperty.call(TARGETS, only)) {
    throw new Error(`prebuild:all: --only must be one of ${Object.keys(TARGETS).join(', ')}, got ${JSON.stringify(only)}`);
  }
  const tags = only ? [only] : Object.keys(TARGETS);
  // Only what is not cached is built: a binary of these sources in the cache needs no toolchain.
  const toBuild = tags.filter((tag) => !fs.existsSync(cachedBinary(tag)));
  const problem = toBuild.length > 0 ? hostProblem(toBuild) : undefined;
  if (problem) throw new Error(problem);
  const written = {};
  for (const platformTag of tags) {
    const cache = cachedBinary(platformTag);
    let source = cache;
    if (fs.existsSync(cache)) {
      checkMachine(cache, TARGETS[platformTag].arch);
      log(`prebuild:all: ${platformTag}/${BINARY} from the cache (${path.dirname(cache)})`);
    } else {
      source = build(platformTag, log);
    }
    const dest = path.join(out, platformTag, BINARY);
    copyAtomically(source, dest);
    written[platformTag] = dest;
  }
  return written;
}

module.exports = { ELF_MACHINE, TARGETS, cachedBinary, elfMachine, hostProblem, nativeSourcesHash, prebuildAll };

if (require.main === module) {
  const args = process.argv.slice(2);
  const options = {};
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if ((flag !== '--out' && flag !== '--only') || value === undefined) {
      console.error(
        `usage: node scripts/prebuild-all.js [--out DIR] [--only linux-x64|linux-arm64]; got ${JSON.stringify(args.slice(i).join(' '))}`,
      );
      process.exit(2);
    }
    options[flag.slice(2)] = flag === '--out' ? path.resolve(value) : value;
  }
  try {
    const written = prebuildAll(options);
    for (const file of Object.values(written)) console.error(`prebuild:all: wrote ${path.relative(process.cwd(), file) || file}`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
