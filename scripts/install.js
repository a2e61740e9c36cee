#!/usr/bin/env node
// npm's install step for neurone (package.json "install"), in a checkout and in a user's project.
//
// node-gyp-build loads a prebuilt binary that fits this platform, or else compiles the addon with
// node-gyp. node-gyp runs make with one job unless told otherwise: the addon's 24 sources took
// 82 s on one core of a 2-core machine and 52 s on both, so the compile gets every core
// (JOBS=max) unless the user set JOBS. When neither a prebuild nor a compile works, the install
// still succeeds and neurone runs on its pure-TypeScript backend: one warning says so.
'use strict';
const { spawnSync } = require('child_process');

const r = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], {
  stdio: 'inherit',
  env: { ...process.env, JOBS: process.env.JOBS || 'max' },
});
if (r.status !== 0) {
  console.warn('neurone: no prebuilt binary loads here and the addon could not be compiled; the js backend will be used');
}
