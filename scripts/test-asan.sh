#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run (npm run test:asan).
#
# 1. Builds the native ctest programs and an instrumented addon into build-asan/
#    (cmake-js, -DNEURONE_SANITIZE=address,undefined; build/ and prebuilds/ are not touched).
# 2. Runs ctest there.
# 3. Runs the jest suites that reach native code with the instrumented addon
#    (NEURONE_ADDON_PATH, read by lib/backend/native.ts) and the ASan runtime preloaded
#    into node (an instrumented shared object needs the runtime loaded before anything
#    else: node itself is not instrumented). Child processes the suites spawn (the
#    fuzzer, worker and exit tests) inherit both variables, so they run instrumented too.
#
# ASAN_OPTIONS=detect_leaks=0: V8 keeps its heap, isolates and code space alive until
# exit by design, and LeakSanitizer would report all of it; leaks in the kernels are
# covered by the ctest programs, which run with leak detection on.
# UBSan halts on the first report, so any undefined behaviour fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build-asan
mkdir -p "$BUILD"
LOG="$BUILD/sanitizer-build.log"
# The suites that reach every native entry point (kernels, boundary, fuzz, the hostile ones, the
# modules, losses, optimisers and special values). fit's loop (train, reproducibility) and the
# threaded training (workers) call the same entry points again, many times: left out to keep CI
# within its time (TSan covers the threads in the native tests). So are the rest of test/nn
# (the seed CNN, inference, the joint conv+pool pass, train/eval modes, 2-D shape errors): they
# reach kernels that kernels.test.ts, the gradient checks, the fuzzer and the native tests above
# already run instrumented. The fuzzer gets 6 s per mode here (12 in npm test).
SUITES=${NEURONE_ASAN_SUITES:-"test/kernels.test.ts test/boundary.test.ts test/hostile-native.test.ts test/hostile-modules.test.ts test/nn/gradients.test.ts test/nn/activations.test.ts test/losses.test.ts test/optim.test.ts test/fuzz.test.ts test/numerics.test.ts"}

echo "== building the instrumented addon and native tests into $BUILD"
npx cmake-js compile -O "$BUILD" --CDNEURONE_SANITIZE=address,undefined --CDCMAKE_BUILD_TYPE=RelWithDebInfo > "$LOG" 2>&1 \
  || { tail -50 "$LOG"; exit 1; }

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "== ctest under ASan/UBSan (leak detection on)"
# NEURONE_TEST_QUICK=1: every kind of case, products up to 2e7 multiply-adds (gemm_test 70 -> about
# 25 s instrumented); the full set runs in npm test.
# The programs side by side, one per core: gemm_test and conv_pool_test take most of the time
# (69 -> 47 s on 2 cores).
NEURONE_TEST_QUICK=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  ctest --test-dir "$BUILD" --output-on-failure --parallel "$(nproc)"

echo "== jest under ASan/UBSan with the instrumented addon"
ASAN_RT=$(gcc -print-file-name=libasan.so)
[ -f "$ASAN_RT" ] || { echo "libasan.so not found (gcc -print-file-name=libasan.so gave '$ASAN_RT')"; exit 1; }
# Check the preload really gives the instrumented addon before trusting a green run.
LD_PRELOAD="$ASAN_RT" ASAN_OPTIONS=detect_leaks=0 NEURONE_ADDON_PATH="$BUILD/Release/neurone.node" \
  node -e "const a = require('./$BUILD/Release/neurone.node'); if (typeof a.sgemm !== 'function') process.exit(1); console.log('instrumented addon loads, kernel path', a.kernelPath())"

# The fuzzer gets a fixed budget per child: the instrumented kernels are slower. The suites run
# on jest.config.js's workers (71 -> 57 s on 2 cores against one at a time).
LD_PRELOAD="$ASAN_RT" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
NEURONE_ADDON_PATH="$PWD/$BUILD/Release/neurone.node" \
NEURONE_FUZZ_SECONDS=${NEURONE_FUZZ_SECONDS:-6} \
NEURONE_FUZZ_CASES=${NEURONE_FUZZ_CASES:-1500} \
  npx jest $SUITES
echo "== ASan/UBSan run passed"
