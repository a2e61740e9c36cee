#!/usr/bin/env bash
# The aarch64 kernels, tested on this x86-64 machine (npm run test:arm64): cross-compiles the
# native kernels and their ctest programs with Debian's g++-aarch64-linux-gnu into build-arm64/
# (cmake/aarch64-linux-gnu.cmake) and runs them under qemu-aarch64 (Debian's qemu-user) on the
# NEON and scalar paths. Emulated, so correctness only: nothing here measures ARM speed.
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
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export NEURONE_TEST_QUICK=1
status=0
for test in gemm_test conv_pool_test elementwise_test; do
  echo "== $test under qemu-aarch64 (neon and scalar)"
  out=$(NEURONE_TEST_PATHS=scalar,neon qemu-aarch64 "$BUILD/$test" 2>&1) || status=1
  echo "$out" | tail -5
  if [ "$test" = gemm_test ] && ! echo "$out" | grep -q '^neon: ok'; then
    echo "test-arm64: the neon path did not run or did not pass"
    status=1
  fi
done
[ "$status" = 0 ] && echo "== aarch64 kernels passed under qemu" || echo "== aarch64 kernels FAILED under qemu"
exit "$status"
