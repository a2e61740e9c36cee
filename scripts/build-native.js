#!/usr/bin/env node
// npm run build:native [-- --native] [-- --debug]
//
// Compiles the addon with node-gyp into build/, as `npm install` does when no prebuilt binary
// fits. With --native, adds -march=native (gcc/clang): a binary tuned for this machine's CPU,
// which may not run on another one; published prebuilds never use it (baseline x86-64, SIMD
// paths picked at run time).
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const args = process.argv.slice(2);
const known = ['--native', '--debug'];
for (const a of args) {
  if (!known.includes(a)) {
    console.error(`build-native: unknown option ${a} (known: ${known.join(', ')})`);
    process.exit(2);
  }
}
// Every core for make (node-gyp's default is one job), as scripts/install.js asks at install.
const env = { ...process.env, JOBS: process.env.JOBS || 'max' };
if (args.includes('--native')) {
  if (process.platform === 'win32') {
    console.error('build-native: --native needs gcc or clang; MSVC has no -march=native');
    process.exit(2);
  }
  // The node-gyp Makefiles append $(CXXFLAGS) after the flags of binding.gyp, so this reaches
  // every source, the SIMD files included.
  env.CXXFLAGS = `${env.CXXFLAGS ?? ''} -march=native`.trim();
  env.CFLAGS = `${env.CFLAGS ?? ''} -march=native`.trim();
  console.log('build-native: compiling with -march=native (this binary is for this machine only)');
}
// npm provides its bundled node-gyp to scripts; fall back to one on PATH.
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? process.execPath : 'node-gyp';
const gypArgs = ['rebuild', ...(args.includes('--debug') ? ['--debug'] : [])];
const r = spawnSync(cmd, gyp ? [gyp, ...gypArgs] : gypArgs, {
  cwd: path.resolve(__dirname, '..'),
  env,
  stdio: 'inherit',
  shell: !gyp && process.platform === 'win32',
});
if (r.error) {
  console.error(`build-native: cannot run node-gyp: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
