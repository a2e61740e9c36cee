// Which SIMD path the kernels take, and how a kernel family finds its code for one.
//
// On x86-64 the hardware is read once, by CPUID (and the OS's XSAVE support for the wider
// registers), on first use; on aarch64 Advanced SIMD (NEON) is part of the architecture, so its
// path is always there; NEURONE_KERNEL overrides the choice (the binding). Every kernel family (GEMM,
// elementwise, pooling, the direct convolutions) keeps one table of entry points per path it
// has code for, in a KernelTables, and takes the one the single fallback rule of dispatchPath
// names. A new instruction set is a new name in lib/backend/ops.ts's KERNEL_PATHS (npm run gen
// writes the KernelPath enum from it), a CPUID test in cpu.cc, and a table in the families that
// have code for it; the rest falls back by itself.
#pragma once

// KernelPath { Scalar, Avx2, Avx512, Neon }, kKernelPathCount, kKernelPathNames. In order of
// preference: a path falls back to those below it. A binary runs either the x86 paths or NEON
// (never both), so NEON's place above AVX-512 only makes it the best where it runs.
#include "constants_generated.h"

namespace neurone {

const char* kernelPathName(KernelPath path);
// Parses a name of kKernelPathNames; returns false for anything else.
bool parseKernelPath(const char* name, KernelPath* out);
// Whether this CPU, this OS and this binary can run the path.
bool kernelPathSupported(KernelPath path);
// The best supported path.
KernelPath bestKernelPath();

// The one fallback rule: the highest path at or below `requested` that this CPU, OS and binary
// support and that `available` (a set of pathBit) contains; Scalar when none is. So a request
// for a path the machine lacks runs the best it has below, and a family without code at a path
// runs its next lower one.
constexpr unsigned pathBit(KernelPath path) { return 1u << static_cast<int>(path); }
KernelPath dispatchPath(KernelPath requested, unsigned available);

// A kernel family's tables by path. The baseline table is given by address; each SIMD path's
// table by its file's accessor, null where the family has no code for that path in this binary
// (not written, or its SIMD file not compiled: see NEURONE_IF_AVX2 / NEURONE_IF_AVX512 /
// NEURONE_IF_NEON). An accessor is called only for a path this CPU runs: it is code of its SIMD
// file, compiled for that path's instructions, which the compiler may use anywhere in it (a table
// built at first use is copied with vector stores), so calling it on a CPU without them would
// stop the process with an illegal instruction (found running the scalar path on an emulated CPU
// without AVX: scripts/test-x64-cpus.sh).
// Used by the baseline files only: the SIMD files define tables, they never pick one.
template <typename Table>
class KernelTables {
 public:
  using Accessor = const Table& (*)();

  // simd: one accessor per SIMD path, in enum order after Scalar. The rule is applied here, once
  // per path, so a kernel call pays an array index (families keep their KernelTables in a static).
  KernelTables(const Table* scalar, const Accessor (&simd)[kKernelPathCount - 1]) {
    unsigned available = 0;
    for (int p = 1; p < kKernelPathCount; p++)
      if (simd[p - 1] != nullptr) available |= pathBit(static_cast<KernelPath>(p));
    for (int p = 0; p < kKernelPathCount; p++) {
      // dispatchPath names Scalar or a path this CPU supports and `available` holds.
      const int chosen = static_cast<int>(dispatchPath(static_cast<KernelPath>(p), available));
      resolved_[p] = chosen == 0 ? scalar : &simd[chosen - 1]();
    }
  }

  // The table dispatchPath picks for `path`; null where that is the scalar path and the family
  // has no baseline table.
  const Table* forPath(KernelPath path) const { return resolved_[static_cast<int>(path)]; }

 private:
  const Table* resolved_[kKernelPathCount];
};

// The accessor of a SIMD path's table where its file is compiled into this binary (the x86 ones
// on x86-64, NEON on aarch64), else null.
#if defined(NEURONE_HAVE_AVX2)
#define NEURONE_IF_AVX2(accessor) (&(accessor))
#else
#define NEURONE_IF_AVX2(accessor) nullptr
#endif
#if defined(NEURONE_HAVE_AVX512)
#define NEURONE_IF_AVX512(accessor) (&(accessor))
#else
#define NEURONE_IF_AVX512(accessor) nullptr
#endif
#if defined(NEURONE_HAVE_NEON)
#define NEURONE_IF_NEON(accessor) (&(accessor))
#else
#define NEURONE_IF_NEON(accessor) nullptr
#endif

}  // namespace neurone
