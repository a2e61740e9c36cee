#include "threadpool.h"

#include <chrono>
#include <system_error>

#if defined(__linux__)
#include <sched.h>
#endif

// The CPU's spin-loop hint where there is one (x86's pause, aarch64's yield: a few cycles, no
// system call); elsewhere a yield of the core. spinPause yields the core itself after a while.
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define NEURONE_PAUSE() _mm_pause()
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define NEURONE_PAUSE() __asm__ __volatile__("yield")
#elif defined(_M_ARM64)
#include <intrin.h>
#define NEURONE_PAUSE() __yield()
#else
#define NEURONE_PAUSE() std::this_thread::yield()
#endif

namespace neurone {

namespace {
// How long a worker spins waiting for the next job before it sleeps. Long
// enough to bridge the gap between the kernels of one training step, short
// enough that an idle process goes quiet almost at once.
constexpr auto kSpinTime = std::chrono::microseconds(200);

// The generation current when the pool started this worker. A worker must not
// read it itself: a job posted before the new thread first runs would then
// look already seen, and run() would wait for that worker forever.
thread_local uint64_t tStartGeneration = 0;

// How long a spin-wait only pauses before each step also yields (see spinPause): on a quiet
// machine, yielding from the start cost net d about 3 % at 2 threads (2T/1T 1.31 against 1.35).
constexpr auto kPureSpin = std::chrono::microseconds(30);

// One step of a spin-wait: a few pauses and, once the wait has lasted kPureSpin (`yieldFrom`),
// the rest of the time slice to any other thread runnable on this core. A spinning thread looks
// busy to the scheduler: with every core taken (other processes, V8's own threads), a worker
// spinning between jobs shares a core with the calling thread and takes half its time, and a
// woken worker preempts it. Measured on a shared 2-core Zen 5 VM (load average 4-5), net d of
// the training benchmark (AVX-512, fit, one process alternating epochs): 2 threads ran
// 0.61-0.69x as fast as one with plain pauses, the calling thread getting 55 % of the wall clock
// (679 involuntary switches in 600 steps), and 0.92-1.04x yielding (87 %, 100 switches). With
// nothing else runnable the yield returns at once (about 450 ns, as long as 16 pauses).
inline void spinPause(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point yieldFrom) {
  for (int i = 0; i < 16; i++) NEURONE_PAUSE();
  if (now >= yieldFrom) std::this_thread::yield();
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  try {
    start(threads < 1 ? 0 : threads - 1);
  } catch (const ThreadStartError&) {
    // Loading the addon must not fail for it: the kernels run on the calling thread alone.
  }
}

ThreadPool::~ThreadPool() { stop(); }

int ThreadPool::hardwareThreads() {
#if defined(__linux__)
  // The CPUs this process may run on: under taskset, a container's cpuset or a batch scheduler
  // that is fewer than the machine has, and a thread for each of the others would only wait
  // for its turn on the same cores (one allowed core of two: 35 % slower with two threads).
  // What Node 20's os.availableParallelism() reports too (later versions also count a CPU
  // quota, such as docker --cpus, which this does not).
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    const int n = CPU_COUNT(&allowed);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void ThreadPool::resize(int threads) {
  std::lock_guard<std::mutex> job(runMutex_);
  const int previous = this->threads();
  stop();
  try {
    start(threads < 1 ? 0 : threads - 1);
  } catch (ThreadStartError& e) {
    try {
      start(previous - 1);
      e.kept = previous;
    } catch (const ThreadStartError&) {
      e.kept = 1;
    }
    throw e;
  }
}

void ThreadPool::start(int workerCount) {
  stopping_ = false;
  runs_ = workerCount + 1;
  runNext_.reset(new std::atomic<int64_t>[static_cast<size_t>(runs_)]);
  workers_.reserve(workerCount);
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  for (int i = 0; i < workerCount; i++) {
    try {
      workers_.emplace_back([this, i, generation] {
        tStartGeneration = generation;
        workerLoop(i + 1);
      });
    } catch (const std::system_error& e) {
      // run() hands contiguous runs to runs_ workers: with some missing it would wait for their
      // share forever. Back to no workers, consistently, before saying so.
      const int started = static_cast<int>(workers_.size()) + 1;
      stop();
      stopping_ = false;
      runs_ = 1;
      runNext_.reset(new std::atomic<int64_t>[1]);
      throw ThreadStartError{started, workerCount + 1, 1, e.what()};
    }
  }
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Run r of a contiguous job covers tasks [r * tasks / runs, (r + 1) * tasks / runs).
void ThreadPool::drain(int worker) {
  if (!contiguous_) {
    for (;;) {
      int64_t t = nextTask_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      fn_(context_, t, worker);
    }
    return;
  }
  for (int i = 0; i < runs_; i++) {
    const int r = (worker + i) % runs_;
    const int64_t end = tasks_ * (r + 1) / runs_;
    for (;;) {
      int64_t t = runNext_[r].fetch_add(1, std::memory_order_relaxed);
      if (t >= end) break;
      fn_(context_, t, worker);
    }
  }
}

void ThreadPool::workerLoop(int worker) {
  uint64_t seen = tStartGeneration;
  for (;;) {
    // Spin for a short while, then sleep until the generation changes.
    const auto spinStart = std::chrono::steady_clock::now();
    auto spinUntil = spinStart + kSpinTime;
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (auto t = spinStart; now == seen && t < spinUntil; t = std::chrono::steady_clock::now()) {
      spinPause(t, spinStart + kPureSpin);
      now = generation_.load(std::memory_order_acquire);
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (now == seen) {
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stopping_) return;
      // Too late for this job (run() already finished it alone): wait for the next one.
      if (!open_) continue;
      joined_++;
    }
    drain(worker);
    finished_.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard<std::mutex> lock(mutex_);
    done_.notify_one();
  }
}

void ThreadPool::run(int64_t tasks, TaskFn fn, void* context, bool contiguous) {
  if (tasks <= 0) return;
  if (tasks == 1 || workers_.empty()) {
    for (int64_t t = 0; t < tasks; t++) fn(context, t, 0);
    return;
  }
  std::lock_guard<std::mutex> job(runMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_ = tasks;
    fn_ = fn;
    context_ = context;
    nextTask_.store(0, std::memory_order_relaxed);
    contiguous_ = contiguous;
    for (int r = 0; r < runs_; r++) runNext_[r].store(tasks * r / runs_, std::memory_order_relaxed);
    open_ = true;
    joined_ = 0;
    finished_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain(0);
  int joined;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
    joined = joined_;
  }
  // Wait for the workers that joined: spin first (they usually finish together with us), then sleep.
  const auto spinStart = std::chrono::steady_clock::now();
  auto spinUntil = spinStart + kSpinTime;
  for (auto t = spinStart; finished_.load(std::memory_order_acquire) != joined && t < spinUntil;
       t = std::chrono::steady_clock::now()) {
    spinPause(t, spinStart + kPureSpin);
  }
  if (finished_.load(std::memory_order_acquire) != joined) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == joined; });
  }
}

}  // namespace neurone
