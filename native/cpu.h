// Which SIMD path the kernels take. Detected once by CPUID (and the OS's
// XSAVE support for the wider registers), overridable by NEURONE_KERNEL.
#pragma once

namespace neurone {

enum class KernelPath { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* kernelPathName(KernelPath path);
// Parses "scalar" / "avx2" / "avx512"; returns false for anything else.
bool parseKernelPath(const char* name, KernelPath* out);
// Whether this CPU, this OS and this binary can run the path.
bool kernelPathSupported(KernelPath path);
// The best supported path.
KernelPath bestKernelPath();

}  // namespace neurone
