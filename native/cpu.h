// Which SIMD path the kernels take, and how a kernel family finds its code for one.
//
// On x86-64 the hardware is read once, by CPUID (and the OS's XSAVE support for the wider
// registers), on first use; on aarch64 Advanced SIMD (NEON) is part of the architecture, so its
// path is always there; NEURONE_KERNEL overrides the choice (the binding). Every kernel family (GEMM,
// elementwise, pooling, the direct convolutions) keeps one table of entry points per path it
// has code for, in a KernelTables, and takes the one the single fallback rule of dispatchPath
// names. A new instruction set is a new KernelPath below or above these, a CPUID test in cpu.cc,
// and a table in the families that have code for it; the rest falls back by itself.
#pragma once

namespace neurone {

// In order of preference: a path falls back to those below it. A binary runs either the x86
// paths or NEON (never both), so NEON's place above AVX-512 only makes it the best where it runs.
enum class KernelPath { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };
constexpr int kKernelPathCount = 4;

const char* kernelPathName(KernelPath path);
// Parses "scalar" / "avx2" / "avx512" / "neon"; returns false for anything else.
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

// A kernel family's tables by path, null where the family has no code for that path in this
// binary (not written, or its SIMD file not compiled: see NEURONE_IF_AVX2 / NEURONE_IF_AVX512 /
// NEURONE_IF_NEON).
// Used by the baseline files only: the SIMD files define tables, they never pick one.
template <typename Table>
class KernelTables {
 public:
  // byPath: one entry per KernelPath, in enum order. The rule is applied here, once per path,
  // so a kernel call pays an array index (families keep their KernelTables in a static).
  explicit KernelTables(const Table* const (&byPath)[kKernelPathCount]) {
    unsigned available = 0;
    for (int p = 0; p < kKernelPathCount; p++)
      if (byPath[p] != nullptr) available |= pathBit(static_cast<KernelPath>(p));
    for (int p = 0; p < kKernelPathCount; p++)
      resolved_[p] = byPath[static_cast<int>(dispatchPath(static_cast<KernelPath>(p), available))];
  }

  // The table dispatchPath picks for `path`; null where that is a path with no table (Scalar).
  const Table* forPath(KernelPath path) const { return resolved_[static_cast<int>(path)]; }

 private:
  const Table* resolved_[kKernelPathCount];
};

// The address of a SIMD table where its file is compiled into this binary (the x86 ones on
// x86-64, NEON on aarch64), else null.
#if defined(NEURONE_HAVE_AVX2)
#define NEURONE_IF_AVX2(table) (&(table))
#else
#define NEURONE_IF_AVX2(table) nullptr
#endif
#if defined(NEURONE_HAVE_AVX512)
#define NEURONE_IF_AVX512(table) (&(table))
#else
#define NEURONE_IF_AVX512(table) nullptr
#endif
#if defined(NEURONE_HAVE_NEON)
#define NEURONE_IF_NEON(table) (&(table))
#else
#define NEURONE_IF_NEON(table) nullptr
#endif

}  // namespace neurone
