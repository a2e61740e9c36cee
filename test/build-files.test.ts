// The two native builds (binding.gyp for install, CMakeLists.txt for
// development) must compile the same sources: both read native/sources.json,
// and that list must name every kernel source in native/.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';

const root = path.resolve(__dirname, '..');
const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8')) as Record<string, string[]>;

test('native/sources.json lists every .cc file of native/ exactly once, and nothing missing', () => {
  const listed = Object.values(sources).flat();
  expect(new Set(listed).size).toBe(listed.length);
  for (const f of listed) expect(fs.existsSync(path.join(root, f))).toBe(true);
  const onDisk = fs
    .readdirSync(path.join(root, 'native'))
    .filter((f) => f.endsWith('.cc'))
    .map((f) => `native/${f}`);
  const tests = fs
    .readdirSync(path.join(root, 'native/test'))
    .filter((f) => f.endsWith('_test.cc'))
    .map((f) => `native/test/${f}`);
  expect([...onDisk, ...tests].sort()).toEqual(listed.sort());
});

test('binding.gyp and CMakeLists.txt take their sources from native/sources.json only', () => {
  const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
  const cmake = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
  for (const group of ['binding', 'kernels', 'avx2', 'avx512']) {
    expect(gyp).toContain(`require('./native/sources.json').${group}`);
    expect(cmake).toContain(`read_sources(${group} `);
  }
  // No source file is named directly in either build file.
  expect(gyp).not.toMatch(/native\/\w+\.cc/);
  expect(cmake).not.toMatch(/native\/\w+\.cc/);
});

test("only the SIMD kernel files get SIMD flags, and nothing is built for the build machine's CPU", () => {
  const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
  expect(gyp).not.toContain('-march=native');
  const simdFlagLines = gyp.split('\n').filter((l) => /-mavx/.test(l));
  // The flags appear only inside the two SIMD static libraries.
  const avx2Target = gyp.indexOf('"target_name": "neurone_avx2"');
  expect(avx2Target).toBeGreaterThan(0);
  for (const line of simdFlagLines) expect(gyp.indexOf(line)).toBeGreaterThan(avx2Target);
});

// The SIMD files are compiled with -mavx2 / -mavx512f, everything else for baseline x86-64. An
// inline function or template instantiated in both kinds of file is emitted in both as a weak
// symbol, and the linker keeps one copy for every caller: if it keeps the SIMD one, baseline code
// runs AVX-512 on a CPU that lacks it. So the SIMD objects may define only strong symbols (their
// table getters; everything else has internal linkage), and the baseline objects may use no
// ymm/zmm register at all. Checked on the objects of whichever native build is present
// (node-gyp's build/, CMake's build-native/), with binutils' nm and objdump.
const simdGroups = ['avx2', 'avx512'];
function objectFiles(): { simd: string[]; baseline: string[] } {
  const byName = new Map<string, string>();
  for (const dir of ['build/Release/obj.target', 'build-native/CMakeFiles/neurone_kernels.dir']) {
    const walk = (d: string): void => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.o')) byName.set(e.name.replace(/(\.cc)?\.o$/, ''), p);
      }
    };
    walk(path.join(root, dir));
    if (byName.size > 0) break;
  }
  const objectOf = (f: string): string | undefined => byName.get(path.basename(f, '.cc'));
  const present = (files: string[]): string[] => files.map(objectOf).filter((o): o is string => o !== undefined);
  return {
    simd: present(simdGroups.flatMap((g) => sources[g])),
    baseline: present(sources.kernels.concat(sources.binding)),
  };
}
const binutils = ['nm', 'objdump'].every((tool) => {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const objects = process.arch === 'x64' && binutils ? objectFiles() : { simd: [], baseline: [] };
const haveObjects = objects.simd.length > 0 && objects.baseline.length > 0;

(haveObjects ? test : test.skip)('no SIMD code can reach the baseline objects (weak symbols, ymm/zmm)', () => {
  for (const o of objects.simd) {
    // nm: an upper-case type is a global symbol; W/V (weak) and u (unique) are what the linker merges.
    const shared = execFileSync('nm', ['--defined-only', '-C', o], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^\S+ [WVui] /.test(l));
    expect({ object: path.relative(root, o), shared }).toEqual({ object: path.relative(root, o), shared: [] });
  }
  for (const o of objects.baseline) {
    const simdLines = execFileSync('objdump', ['-d', '--no-show-raw-insn', o], { encoding: 'utf8', maxBuffer: 1 << 28 })
      .split('\n')
      .filter((l) => /%[yz]mm\d/.test(l));
    expect({ object: path.relative(root, o), simdLines: simdLines.slice(0, 5) }).toEqual({
      object: path.relative(root, o),
      simdLines: [],
    });
  }
});

// MSVC's /arch:AVX2 (binding.gyp's EnableEnhancedInstructionSet 5) defines __AVX2__ but never
// __FMA__, and MSVC has none of GCC's __builtin_ functions: a guard on __FMA__ compiled every
// AVX2 file empty on Windows, and the addon did not link. Checked here with GCC's preprocessor
// given the macros MSVC would define (the per-path files' bodies must survive), and by reading
// the sources for builtins outside a compiler check.
const gpp = (() => {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return process.arch === 'x64';
  } catch {
    return false;
  }
})();
(gpp ? test : test.skip)("every SIMD file keeps its body under MSVC's macros (__AVX2__ without __FMA__)", () => {
  const msvc = ['-E', '-std=c++17', '-U__FMA__', '-D_MSC_VER=1930', '-I', path.join(root, 'native')];
  const flags: Record<string, string[]> = {
    avx2: ['-mavx2', '-mfma'],
    avx512: ['-mavx512f', '-mavx512dq', '-mavx512bw', '-mavx512vl', '-mavx2', '-mfma'],
  };
  for (const group of simdGroups)
    for (const file of sources[group]) {
      const out = execFileSync('g++', [...flags[group], ...msvc, path.join(root, file)], { encoding: 'utf8', maxBuffer: 1 << 28 });
      // Every file defines its table getter (kernelsAvx2(), poolKernelsAvx512()...); an emptied file none.
      const getter = group === 'avx2' ? /\w+Avx2\s*\(\s*\)\s*\{/ : /\w+Avx512\s*\(\s*\)\s*\{/;
      expect({ file, body: getter.test(out) }).toEqual({ file, body: true });
    }
});

test("native sources call GCC's __builtin_ functions only behind a check for a compiler that has them", () => {
  const native = path.join(root, 'native');
  for (const name of fs.readdirSync(native).filter((f) => /\.(cc|h)$/.test(f))) {
    const lines = fs.readFileSync(path.join(native, name), 'utf8').split('\n');
    let guarded = 0; // depth of #if blocks that exclude MSVC (or admit clang, which has the builtins)
    const stack: boolean[] = [];
    lines.forEach((line, i) => {
      const t = line.trim();
      if (/^#\s*if/.test(t)) {
        const excludesMsvc = /!\s*defined\(_MSC_VER\)|defined\(__clang__\)|defined\(__GNUC__\)/.test(t);
        stack.push(excludesMsvc);
        if (excludesMsvc) guarded++;
      } else if (/^#\s*(elif|else)/.test(t)) {
        if (stack[stack.length - 1]) guarded--;
        stack[stack.length - 1] = false;
      } else if (/^#\s*endif/.test(t)) {
        if (stack.pop()) guarded--;
      } else if (/__builtin_\w+\s*\(/.test(t.replace(/\/\/.*$/, ''))) {
        expect({ at: `native/${name}:${i + 1}`, guarded: guarded > 0 }).toEqual({ at: `native/${name}:${i + 1}`, guarded: true });
      }
    });
  }
});

// macOS builds with Xcode's Clang and LLVM's libc++, in .github/workflows/prebuild.yml only, never
// on this project's machines. Here Clang with libc++ parses every source as binding.gyp has Xcode
// compile it (its xcode_settings and defines), for x86-64 and for arm64 (the NEON files): a
// GCC-only construct, or a standard header that libstdc++ includes along the way and libc++ does
// not, fails here first. The lines behind __APPLE__ (cpu.cc's sysctl) need Apple's SDK and are not
// reached. Needs clang and libc++ (Debian's clang-14, libc++-14-dev, libc++abi-14-dev) and the
// aarch64 C library headers (g++-aarch64-linux-gnu): .ci/run installs them and sets
// NEURONE_REQUIRE_CLANG, under which their absence fails instead of skipping.
const clang = (() => {
  const probe = '#include <vector>\n#include <cstdio>\nint main() { return std::vector<int>(1)[0]; }\n';
  for (const name of ['clang++-14', 'clang++', ...[19, 18, 17, 16, 15].map((v) => `clang++-${v}`)]) {
    try {
      for (const target of ['x86_64-linux-gnu', 'aarch64-linux-gnu'])
        execFileSync(name, [`--target=${target}`, '-stdlib=libc++', '-std=c++17', '-fsyntax-only', '-x', 'c++', '-'], {
          input: probe,
          stdio: ['pipe', 'ignore', 'ignore'],
        });
      return name;
    } catch {
      // not this one
    }
  }
  return undefined;
})();
if (!clang && process.env.NEURONE_REQUIRE_CLANG !== '1' && process.arch === 'x64')
  process.stderr.write(
    'NOT APPLICABLE: no clang++ with libc++ for x86-64 and aarch64; the Xcode-like parse of native/ is skipped (apt-get install clang-14 libc++-14-dev libc++abi-14-dev g++-aarch64-linux-gnu)\n',
  );
(clang || process.env.NEURONE_REQUIRE_CLANG === '1' ? test : test.skip)(
  "every native source parses with Clang and libc++ under binding.gyp's Xcode flags, for x86-64 and arm64",
  () => {
    if (!clang) throw new Error('NEURONE_REQUIRE_CLANG=1 but no clang++ with libc++ for x86-64 and aarch64 was found');
    // binding.gyp is a Python literal that JavaScript reads too, once its comment lines are gone.
    const gypText = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, '');
    type Settings = { defines?: string[]; xcode_settings?: { OTHER_CPLUSPLUSFLAGS?: string[]; CLANG_CXX_LANGUAGE_STANDARD?: string } };
    type Target = Settings & { target_name: string; conditions?: [string, Settings][] };
    const gyp = new Function(`return (${gypText});`)() as {
      target_defaults: Settings;
      targets: Target[];
      conditions: [string, { targets: Target[] }][];
    };
    const defaults = gyp.target_defaults;
    expect(defaults.xcode_settings?.CLANG_CXX_LANGUAGE_STANDARD).toBe('c++17');
    expect(defaults.xcode_settings?.OTHER_CPLUSPLUSFLAGS).toContain('-ffp-contract=off');
    const addon = gyp.targets.find((t) => t.target_name === 'neurone') as Target;
    const when = (t: Target, condition: RegExp): Settings => (t.conditions ?? []).find(([c]) => condition.test(c))?.[1] ?? {};
    const x64Libraries = gyp.conditions.find(([c]) => /target_arch=='x64'/.test(c))?.[1].targets ?? [];
    const library = (name: string): Target => x64Libraries.find((t) => t.target_name === name) as Target;
    const includes = [
      path.join(root, 'native'),
      path.dirname(require.resolve('node-addon-api/package.json')),
      path.join(path.dirname(require.resolve('node-api-headers/package.json')), 'include'),
    ].flatMap((dir) => ['-I', dir]);
    const flags = (target: string, ...settings: Settings[]): string[] => [
      `--target=${target}`,
      '-stdlib=libc++',
      '-std=c++17',
      '-fexceptions',
      '-fsyntax-only',
      '-Wall',
      '-Werror',
      ...settings.flatMap((s) => s.xcode_settings?.OTHER_CPLUSPLUSFLAGS ?? []),
      ...settings.flatMap((s) => (s.defines ?? []).map((d) => `-D${d}`)),
      ...includes,
    ];
    const x64 = when(addon, /target_arch=='x64'/);
    const arm64 = when(addon, /target_arch=='arm64'/);
    expect(x64.defines).toContain('NEURONE_HAVE_AVX2');
    expect(arm64.defines).toContain('NEURONE_HAVE_NEON');
    const runs: [string, string[], string[]][] = [
      ['x86-64, addon', flags('x86_64-linux-gnu', defaults, addon, x64), [...sources.binding, ...sources.kernels]],
      ['x86-64, AVX2 files', flags('x86_64-linux-gnu', defaults, library('neurone_avx2')), sources.avx2],
      ['x86-64, AVX-512 files', flags('x86_64-linux-gnu', defaults, library('neurone_avx512')), sources.avx512],
      [
        'arm64, addon with its NEON files',
        flags('aarch64-linux-gnu', defaults, addon, arm64),
        [...sources.binding, ...sources.kernels, ...sources.neon],
      ],
    ];
    for (const [what, args, files] of runs) {
      let errors = '';
      try {
        execFileSync(clang, [...args, ...files.map((f) => path.join(root, f))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        errors = String((e as { stderr?: string }).stderr ?? e).slice(0, 4000);
      }
      expect({ what, errors }).toEqual({ what, errors: '' });
    }
  },
  120_000,
);
