// The two native builds (binding.gyp for install, CMakeLists.txt for
// development) must compile the same sources: both read native/sources.json,
// and that list must name every kernel source in native/.
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8')) as Record<string, string[]>;

test('native/sources.json lists every .cc file of native/ exactly once, and nothing missing', () => {
  const listed = Object.values(sources).flat();
  expect(new Set(listed).size).toBe(listed.length);
  for (const f of listed) expect(fs.existsSync(path.join(root, f))).toBe(true);
  const onDisk = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc')).map((f) => `native/${f}`);
  const tests = fs.readdirSync(path.join(root, 'native/test')).filter((f) => f.endsWith('_test.cc')).map((f) => `native/test/${f}`);
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

test('only the SIMD kernel files get SIMD flags, and nothing is built for the build machine\'s CPU', () => {
  const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
  expect(gyp).not.toContain('-march=native');
  const simdFlagLines = gyp.split('\n').filter((l) => /-mavx/.test(l));
  // The flags appear only inside the two SIMD static libraries.
  const avx2Target = gyp.indexOf('"target_name": "neurone_avx2"');
  expect(avx2Target).toBeGreaterThan(0);
  for (const line of simdFlagLines) expect(gyp.indexOf(line)).toBeGreaterThan(avx2Target);
});
