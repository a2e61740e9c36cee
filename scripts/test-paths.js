#!/usr/bin/env node
// npm run test:paths
//
// The default `jest` run uses the best SIMD path this CPU supports, so a difference that only
// another path has (the AVX2 exp once underflowed to 1.2e-38 where the others gave 0) would pass
// on a machine with AVX-512 and fail on one without. This runs the suites that reach the kernels
// through the modules, losses, optimisers and training loop once more on every other path the
// CPU supports (NEURONE_KERNEL=<path>), native backend only (the js backend ran in the default
// run). test/kernels.test.ts and the special-value test of test/numerics.test.ts already cover
// every path from within one process, and are not repeated.
//
// Extra arguments are passed to jest (e.g. `npm run test:paths -- -t StableSigmoid`).
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const SUITES = [
  'test/nn',
  'test/numerics.test.ts',
  'test/losses.test.ts',
  'test/golden.test.ts',
  'test/optim.test.ts',
  'test/reproducibility.test.ts',
  'test/boundary.test.ts',
  'test/train.test.ts',
  'test/native-loads.test.ts',
];

function loadAddon() {
  const env = process.env;
  if (env.NEURONE_BACKEND === 'js') return null;
  try {
    const load = require('node-gyp-build');
    return env.NEURONE_ADDON_PATH ? require(path.resolve(env.NEURONE_ADDON_PATH)) : load(root);
  } catch (e) {
    // Where CI runs, the addon must load (test/native-loads.test.ts says so too).
    if (env.CI === 'true' || env.NEURONE_REQUIRE_NATIVE === '1') {
      console.error(`test-paths: the native addon does not load: ${e.message}`);
      process.exit(1);
    }
    console.log(`test-paths: no native addon here (${e.message.split('\n')[0]}); nothing to run`);
    return null;
  }
}

// The suite list is also what scripts/test-x64-cpus.sh runs on an emulated CPU without AVX.
module.exports = { SUITES };
if (require.main === module) main();

function main() {
  // The addon as loaded here reads no variable: its supported paths are the CPU's, whatever
  // NEURONE_KERNEL the caller set (each run below sets its own).
  const addon = loadAddon();
  if (!addon) process.exit(0);
  const paths = addon.supportedKernelPaths();
  const best = paths[paths.length - 1];
  const others = paths.filter((p) => p !== best);
  console.log(`test-paths: this CPU supports ${paths.join(', ')}; the default run used ${best}; now: ${others.join(', ') || 'none'}`);

  const jest = require.resolve('jest/bin/jest');
  for (const p of others) {
    console.log(`\n== jest on the ${p} path (NEURONE_KERNEL=${p}, native backend)`);
    const r = spawnSync(process.execPath, [jest, ...SUITES, ...process.argv.slice(2)], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, NEURONE_KERNEL: p, NEURONE_TEST_NATIVE_ONLY: '1', NEURONE_REQUIRE_NATIVE: '1' },
    });
    if (r.status !== 0) {
      console.error(`test-paths: the suites failed on the ${p} path`);
      process.exit(r.status ?? 1);
    }
  }
}
