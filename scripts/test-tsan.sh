#!/usr/bin/env bash
# ThreadSanitizer run of the native tests (the kernels and the thread pool, several threads).
#
# Builds the ctest programs into build-tsan/ with -DNEURONE_SANITIZE=thread and runs them.
# They run every threaded kernel on pools of 1, 2 and 3 threads (more threads than this
# machine's 2 cores, so workers are preempted mid-job) and start, resize and stop pools.
# No suppressions are needed; halt_on_error makes any report fail the run. The addon itself is not run under TSan: node is not built with it,
# and TSan cannot be preloaded into an uninstrumented process the way ASan can.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-tsan
mkdir -p "$BUILD"
LOG="$BUILD/sanitizer-build.log"
echo "== building the native tests with -fsanitize=thread into $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEURONE_SANITIZE=thread > "$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }
cmake --build "$BUILD" -j 2 >> "$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
# One kernel path, the best this CPU runs (NEURONE_TEST_PATHS=best): the threading code is the
# same for every path (only the tile sizes differ), and every path runs threaded in the plain and
# the ASan ctest runs. Scalar and the best path took CI past its 20-minute budget on an AVX2-only
# machine (ctest 277 s, the scalar path 143 s of it). NEURONE_TEST_PATHS set by the caller wins.
export NEURONE_TEST_PATHS="${NEURONE_TEST_PATHS:-best}"
# The threading code runs on every product over kMnkPerThread (1M multiply-adds); the sampled
# shapes and the products up to 2e7 of NEURONE_TEST_QUICK cover it at a third of the time.
export NEURONE_TEST_QUICK=1
echo "== kernel paths under TSan: $NEURONE_TEST_PATHS (NEURONE_TEST_QUICK=1)"
echo "== ctest under TSan"
ctest --test-dir "$BUILD" --output-on-failure --parallel "$(nproc)"
echo "== TSan run passed"
