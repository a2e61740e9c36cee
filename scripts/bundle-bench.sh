#!/bin/bash
# Packs what the benchmark scripts need into one archive that runs on a machine with Node alone
# (no npm, no compiler, no network): the scripts and the library compiled to JavaScript, the built
# package (dist/, which the sweep's workers load), this machine's addon, the bundled datasets and
# the runtime dependencies. With --with-node, this machine's Node binary goes beside it, xz'd.
# scripts/README-bench.md shows how a lent many-core machine ran it.
#
#   bash scripts/bundle-bench.sh OUT_DIR [--with-node]
#
# Writes OUT_DIR/bench-js.tar.xz (a folder js/: run `node scripts/<name>.js` inside it) and, with
# --with-node, OUT_DIR/node.xz. The scripts spawn their children without ts-node when they run as
# JavaScript, and count the cores the process may use, so `taskset` narrows a run.
set -euo pipefail

out=${1:?usage: bash scripts/bundle-bench.sh OUT_DIR [--with-node]}
withNode=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
npm run build:ts >/dev/null
[ -f build/Release/neurone.node ] || npm run build:native >/dev/null
npx tsc -p tsconfig.json --noEmit false --outDir "$work/js" --declaration false --sourceMap false
rm -rf "$work/js/test"
cp scripts/*.py "$work/js/scripts/"
cp -r dist data package.json "$work/js/"
mkdir -p "$work/js/build/Release"
cp build/Release/neurone.node "$work/js/build/Release/"

# The runtime dependencies alone, as `npm ci` installs them for a user (no build step: the addon
# is the one copied above).
mkdir "$work/deps"
cp package.json package-lock.json "$work/deps/"
(cd "$work/deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
cp -r "$work/deps/node_modules" "$work/js/node_modules"

mkdir -p "$out"
tar -C "$work" -cf - js | xz -T0 -6 >"$out/bench-js.tar.xz"
if [ "$withNode" = --with-node ]; then
  xz -T0 -6 -c "$(command -v node)" >"$out/node.xz"
fi
ls -l "$out"
