// GFLOP/s of sgemm per kernel path and shape, 1 and 2 threads. Not part of
// ctest; build by hand (see the command below) and run on an idle machine.
// The box is shared, so each measurement is the best of several short runs.
//
//   g++ -O3 -std=c++17 -mavx2 -mfma -c native/gemm_avx2.cc -o /tmp/gemm_avx2.o
//   g++ -O3 -std=c++17 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma -mavx2 \
//       -c native/gemm_avx512.cc -o /tmp/gemm_avx512.o
//   g++ -O3 -std=c++17 -Inative native/test/gemm_bench.cc native/gemm.cc native/cpu.cc \
//       native/threadpool.cc -DNEURONE_HAVE_AVX2 -DNEURONE_HAVE_AVX512 /tmp/gemm_avx2.o \
//       /tmp/gemm_avx512.o -lpthread -o /tmp/gemm_bench
//   /tmp/gemm_bench [path] [shape-filter]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cpu.h"
#include "gemm.h"
#include "threadpool.h"

using neurone::GemmArgs;
using neurone::KernelPath;

namespace {

struct Shape {
  const char* name;
  bool transA, transB;
  int64_t m, n, k;
};

double bench(const Shape& s, KernelPath path, neurone::ThreadPool* pool) {
  const int64_t aElems = s.m * s.k, bElems = s.k * s.n, cElems = s.m * s.n;
  std::vector<float> a(aElems), b(bElems), c(cElems);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  for (auto& x : a) x = d(rng);
  for (auto& x : b) x = d(rng);
  GemmArgs g;
  g.transA = s.transA;
  g.transB = s.transB;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.a = a.data();
  g.lda = s.transA ? s.m : s.k;
  g.b = b.data();
  g.ldb = s.transB ? s.k : s.n;
  g.c = c.data();
  g.ldc = s.n;
  const double flops = 2.0 * s.m * s.n * s.k;
  // Enough calls per timing for ~5 ms, best of 7 timings.
  int reps = std::max<int64_t>(1, static_cast<int64_t>(7.5e8 / flops));
  for (int i = 0; i < 2; i++) neurone::sgemm(g, path, pool);
  double best = 1e30;
  for (int t = 0; t < 7; t++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; r++) neurone::sgemm(g, path, pool);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    best = std::min(best, sec);
  }
  return flops / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const Shape shapes[] = {
      {"32x256x32      (m n k)", false, false, 32, 32, 256},
      {"32x100x4064", false, false, 32, 100, 4064},
      {"fwd  X*W     32x256x784", false, false, 32, 256, 784},
      {"dX   d*W^T   32x784x256", false, true, 32, 784, 256},
      {"dW   X^T*d   784x256x32", true, false, 784, 256, 32},
      {"256^3", false, false, 256, 256, 256},
      {"1024^3", false, false, 1024, 1024, 1024},
  };
  const KernelPath paths[] = {KernelPath::Avx512, KernelPath::Avx2, KernelPath::Scalar};
  neurone::ThreadPool pool2(2);
  std::printf("%-26s %-7s %10s %10s\n", "shape", "path", "1 thread", "2 threads");
  for (const Shape& s : shapes) {
    if (argc > 2 && !std::strstr(s.name, argv[2])) continue;
    for (KernelPath path : paths) {
      if (!neurone::kernelPathSupported(path)) continue;
      if (argc > 1 && std::strcmp(argv[1], "all") != 0 && std::strcmp(argv[1], neurone::kernelPathName(path)) != 0)
        continue;
      double g1 = bench(s, path, nullptr);
      double g2 = bench(s, path, &pool2);
      std::printf("%-26s %-7s %10.1f %10.1f\n", s.name, neurone::kernelPathName(path), g1, g2);
      std::fflush(stdout);
    }
  }
  return 0;
}
