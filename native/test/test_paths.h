// Which kernel paths a native test program runs: every path this CPU supports, or, when
// NEURONE_TEST_PATHS names some ("scalar,avx512"), only those of them; "best" names the best
// path this CPU supports (the ThreadSanitizer run: the threading code is the same for every
// path, only the tile sizes differ, and every path runs threaded in the plain and ASan runs).
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu.h"

// Every kernel path, in enum order: the tests loop over these and skip what pathUnderTest refuses.
constexpr neurone::KernelPath kAllPaths[] = {neurone::KernelPath::Scalar, neurone::KernelPath::Avx2,
                                             neurone::KernelPath::Avx512, neurone::KernelPath::Neon};
static_assert(sizeof(kAllPaths) / sizeof(kAllPaths[0]) == neurone::kKernelPathCount, "a path is missing");

inline bool pathUnderTest(neurone::KernelPath path) {
  if (!neurone::kernelPathSupported(path)) return false;
  const char* list = std::getenv("NEURONE_TEST_PATHS");
  if (list == nullptr || *list == '\0') return true;
  if (std::strcmp(list, "best") == 0) return path == neurone::bestKernelPath();
  const std::string wanted = std::string(",") + list + ",";
  const std::string name = std::string(",") + neurone::kernelPathName(path) + ",";
  return wanted.find(name) != std::string::npos;
}
