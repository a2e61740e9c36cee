#!/usr/bin/env bash
# The addon on x86-64 CPUs this machine is not (npm run test:cpus). `npm test` runs every SIMD
# path this CPU supports, but always on this CPU: on one with AVX-512, code of the AVX2 or AVX-512
# files that runs before the dispatcher has picked a path (a table built at first use, a static
# initialiser, a template the linker merged across files) goes unnoticed, and stops the process
# with an illegal instruction on a CPU without those instructions. Two checks:
# 1. the built addon's code, read with objdump and nm: no function a baseline file can reach
#    without the dispatcher (external linkage, or a static initialiser) holds a VEX or EVEX
#    instruction, except the SIMD files' table accessors, which KernelTables calls only for a
#    path the CPU runs (native/cpu.h);
# 2. this machine's Node and addon on emulated CPUs (Debian's qemu-user, `qemu-x86_64 -cpu`):
#    one with AVX2 and FMA but no AVX-512 (AMD Zen 2/3, most laptops), and the x86-64 baseline
#    without AVX (older and low-end CPUs), where the addon must run its scalar path. On each, the
#    addon names the paths expected, jest suites pass (without AVX, all the suites that
#    scripts/test-paths.js runs on each path, about a minute, or with NEURONE_CPUS_SUITES=golden,
#    as .ci/run sets to stay within its time, the golden test and the addon's checks only; with
#    AVX2, whose emulation is some ten times slower, those two always), and a short training of one net
#    per module family (scripts/smoke-train.ts) gives the same numbers, to the last bit, as this
#    CPU on the same path (NEURONE_KERNEL).
# Emulated, so correctness only. Needs: objdump and nm (binutils), qemu-x86_64 (qemu-user; .ci/run
# installs it when missing). On a machine that is not x86-64 there is nothing to test.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -c 0 # an emulated process that faults would leave qemu's core file here

[ "$(uname -m)" = x86_64 ] || { echo "test-x64-cpus: not an x86-64 machine ($(uname -m)); nothing to test"; exit 0; }
for tool in objdump nm qemu-x86_64; do
  command -v "$tool" > /dev/null || { echo "test-x64-cpus: $tool not found (apt-get install binutils qemu-user)"; exit 1; }
done
ADDON=$(node -p "require('node-gyp-build').path('.')")
echo "== $ADDON"

# 1. Vector instructions where the dispatcher has not chosen. nm gives each function's linkage
#    (an upper-case type is external); objdump, each instruction under its function's address.
#    Every AVX, AVX2 and AVX-512 mnemonic starts with v, and so do only the virtual-machine
#    instructions (verr, verw, vm*) among the others.
CHECK_LOG=$(mktemp)
trap 'rm -f "$CHECK_LOG"' EXIT
nm "$ADDON" | awk 'NF == 3' > "$CHECK_LOG.nm"
objdump -d --no-show-raw-insn "$ADDON" \
  | awk -F'\t' 'NR == FNR { type[$1] = $2; name[$1] = $3; next }
      /^[0-9a-f]+ <.*>:$/ { addr = substr($0, 1, index($0, " ") - 1); next }
      NF >= 2 { split($2, word, " ")
        if (word[1] ~ /^v/ && word[1] !~ /^(verr|verw|vm)/ && !(addr in seen)) { seen[addr] = 1; print type[addr] "\t" name[addr] } }' \
    FS=' ' "$CHECK_LOG.nm" FS='\t' - \
  | c++filt > "$CHECK_LOG"
rm -f "$CHECK_LOG.nm"
vectorFunctions=$(wc -l < "$CHECK_LOG")
[ "$vectorFunctions" -gt 0 ] || { echo "test-x64-cpus: objdump found no vector instruction in $ADDON: the check reads nothing"; exit 1; }
stray=$(awk -F'\t' '($1 ~ /^[A-Z]$/ && $2 !~ /^neurone::([a-z]+::)?[A-Za-z0-9]*[kK]ernelsAvx(2|512)\(\)$/) || $2 ~ /_GLOBAL__sub_I/' "$CHECK_LOG")
accessors=$(awk -F'\t' '$1 ~ /^[A-Z]$/' "$CHECK_LOG" | wc -l)
if [ -n "$stray" ]; then
  echo "test-x64-cpus: functions reachable without the dispatcher hold vector instructions:"
  echo "$stray"
  exit 1
fi
echo "== $vectorFunctions functions hold vector instructions: all internal to their SIMD file but $accessors table accessors"

# 2. The emulated CPUs: qemu's model, the paths the addon must report (best last), the suites.
#    qemu's TCG has no AVX-512 (to 9.x); max,-avx512f keeps it so should a later one add it.
case "${NEURONE_CPUS_SUITES:-paths}" in
  paths | golden) ;;
  *) echo "test-x64-cpus: NEURONE_CPUS_SUITES must be 'paths' or 'golden', got '$NEURONE_CPUS_SUITES'"; exit 1 ;;
esac
CPUS=("max,-avx512f scalar,avx2 golden" "qemu64 scalar ${NEURONE_CPUS_SUITES:-paths}")
status=0
for entry in "${CPUS[@]}"; do
  read -r model expected suites <<< "$entry"
  best=${expected##*,}
  if [ "$suites" = paths ]; then
    suites=$(node -p "require('./scripts/test-paths.js').SUITES.join(' ')")
  else
    suites="test/golden.test.ts test/native-loads.test.ts"
  fi
  emulated() { qemu-x86_64 -cpu "$model" "$(command -v node)" "$@"; }
  echo "== emulated CPU '$model' (qemu $(qemu-x86_64 --version | head -1 | awk '{print $3}')): expecting the paths $expected"
  paths=$(emulated -p "require('node-gyp-build')('.').supportedKernelPaths().join(',')")
  if [ "$paths" != "$expected" ]; then
    echo "test-x64-cpus: the addon reports the paths $paths on '$model', expected $expected"
    status=1
    continue
  fi
  # shellcheck disable=SC2086 # the suites are separate arguments
  NEURONE_TEST_NATIVE_ONLY=1 NEURONE_REQUIRE_NATIVE=1 emulated node_modules/jest/bin/jest.js --runInBand $suites || status=1
  reference=$(NEURONE_KERNEL=$best npx ts-node --transpile-only scripts/smoke-train.ts)
  got=$(emulated node_modules/ts-node/dist/bin.js --transpile-only scripts/smoke-train.ts) || {
    echo "test-x64-cpus: the training stopped on '$model'"
    status=1
    continue
  }
  if [ "$got" = "$reference" ]; then
    echo "== the training on '$model' ($best) equals this CPU's on $best to the last bit"
  else
    echo "test-x64-cpus: the training on '$model' differs from this CPU's on $best:"
    echo "  here:     $reference"
    echo "  emulated: $got"
    status=1
  fi
done
[ "$status" = 0 ] && echo "== the addon passed on the emulated CPUs" || echo "== the addon FAILED on an emulated CPU"
exit "$status"
