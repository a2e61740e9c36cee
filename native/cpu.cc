#include "cpu.h"

#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define NEURONE_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif
#endif

namespace neurone {

const char* kernelPathName(KernelPath path) {
  const int i = static_cast<int>(path);
  return i >= 0 && i < kKernelPathCount ? kKernelPathNames[i] : kKernelPathNames[0];
}

bool parseKernelPath(const char* name, KernelPath* out) {
  for (int i = 0; i < kKernelPathCount; i++) {
    if (std::strcmp(name, kKernelPathNames[i]) == 0) {
      *out = static_cast<KernelPath>(i);
      return true;
    }
  }
  return false;
}

#ifdef NEURONE_X86
namespace {

void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; i++) r[i] = static_cast<unsigned>(regs[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

#if defined(__APPLE__)
// Whether macOS says the CPU and the system support `name` (hw.optional.avx512f...).
bool appleSupports(const char* name) {
  int value = 0;
  size_t size = sizeof value;
  return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
}
#endif

struct Features {
  bool avx2 = false;
  bool avx512 = false;
};

Features detect() {
  Features f;
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned maxLeaf = r[0];
  if (maxLeaf < 7) return f;
  cpuid(1, 0, r);
  bool osxsave = (r[2] >> 27) & 1;
  bool fma = (r[2] >> 12) & 1;
  bool avx = (r[2] >> 28) & 1;
  if (!osxsave || !avx) return f;
  unsigned long long xcr0 = xgetbv0();
  // The OS must save the YMM (bits 1-2) and, for AVX-512, opmask/ZMM state (bits 5-7). macOS
  // turns the AVX-512 state on for a thread at its first AVX-512 instruction, so those bits read
  // clear before: there the system says through sysctl whether it supports AVX-512.
  bool ymmState = (xcr0 & 0x6) == 0x6;
#if defined(__APPLE__)
  bool zmmState = appleSupports("hw.optional.avx512f");
#else
  bool zmmState = (xcr0 & 0xe6) == 0xe6;
#endif
  cpuid(7, 0, r);
  bool avx2 = (r[1] >> 5) & 1;
  bool avx512f = (r[1] >> 16) & 1;
  bool avx512dq = (r[1] >> 17) & 1;
  bool avx512bw = (r[1] >> 30) & 1;
  bool avx512vl = (r[1] >> 31) & 1;
  f.avx2 = ymmState && avx2 && fma;
  f.avx512 = f.avx2 && zmmState && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

}  // namespace
#endif

bool kernelPathSupported(KernelPath path) {
  switch (path) {
    case KernelPath::Scalar:
      return true;
#if defined(NEURONE_X86) && defined(NEURONE_HAVE_AVX2)
    case KernelPath::Avx2:
      return features().avx2;
#endif
#if defined(NEURONE_X86) && defined(NEURONE_HAVE_AVX512)
    case KernelPath::Avx512:
      return features().avx512;
#endif
#if defined(__aarch64__) && defined(NEURONE_HAVE_NEON)
    case KernelPath::Neon:
      return true;  // Advanced SIMD is part of every AArch64 core
#endif
    default:
      return false;
  }
}

KernelPath bestKernelPath() { return dispatchPath(static_cast<KernelPath>(kKernelPathCount - 1), ~0u); }

KernelPath dispatchPath(KernelPath requested, unsigned available) {
  for (int p = static_cast<int>(requested); p > 0; p--) {
    const KernelPath path = static_cast<KernelPath>(p);
    if ((available & pathBit(path)) && kernelPathSupported(path)) return path;
  }
  return KernelPath::Scalar;
}

}  // namespace neurone
