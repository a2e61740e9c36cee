// A persistent pool of worker threads for the kernels.
//
// Batch-32 layers take 0.1–1 ms, so starting threads per call would cost more
// than it saves: workers live as long as the addon instance, spin briefly
// after a job (the next kernel call usually follows within microseconds; the
// spin yields the core to others after a moment, see spinPause in threadpool.cc),
// then sleep on a condition variable so an idle process uses no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace neurone {

// The system refused to start a worker thread (std::thread threw std::system_error).
struct ThreadStartError {
  int started;      // threads running when it refused, the calling thread included
  int wanted;       // threads asked for
  int kept;         // threads the pool runs now
  std::string why;  // the system's reason
};

class ThreadPool {
 public:
  // A job: called once per task index in [0, tasks), from any thread of the pool
  // (the calling thread included). `worker` is in [0, threads()) and is unique among
  // concurrently running calls, so it can index per-thread scratch space.
  using TaskFn = void (*)(void* context, int64_t task, int worker);

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Total threads used by run(), the calling thread included.
  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Stops the workers and starts `threads - 1` new ones (threads >= 1). When the system
  // refuses a thread (a limit on processes or address space), the pool goes back to its
  // previous size, or to the calling thread alone if even that fails, and ThreadStartError
  // says how far it got; the pool stays usable either way.
  void resize(int threads);

  // Runs fn(context, t, worker) for every t in [0, tasks) and returns when all are done.
  // With one task or one thread it runs inline, paying nothing for the pool.
  //
  // With `contiguous`, worker w starts on the w-th of threads() equal runs of task indices
  // (the calling thread on the first) and only then helps with what is left of the others.
  // Kernels that split an array the same way then find their share of it in their own core's
  // L2, where the previous kernel left it; plain run() hands tasks out in arrival order, which
  // interleaves the threads over the array.
  void run(int64_t tasks, TaskFn fn, void* context, bool contiguous = false);

  // The CPUs this process may run on (its affinity mask, on Linux; else the hardware threads), at
  // least 1: the default thread count.
  static int hardwareThreads();

 private:
  // Starts workerCount workers; on a refused thread, stops those it started, leaves none and
  // throws ThreadStartError (with `kept` 1).
  void start(int workerCount);
  void stop();
  void workerLoop(int worker);
  void drain(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;

  // The current job. `generation_` changes when a new job is posted; workers
  // compare it with the last one they saw.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> nextTask_{0};
  // Contiguous jobs: the next task of each worker's run (runs_ of them, sized by start()).
  bool contiguous_ = false;
  std::unique_ptr<std::atomic<int64_t>[]> runNext_;
  int runs_ = 0;
  // A worker joins a job only while it is open (under mutex_). run() closes the job once its
  // own share is done and waits only for the workers that joined: a worker the OS has not
  // scheduled yet (the other core busy elsewhere) then costs nothing instead of a time slice.
  bool open_ = false;
  int joined_ = 0;
  std::atomic<int> finished_{0};
  int64_t tasks_ = 0;
  TaskFn fn_ = nullptr;
  void* context_ = nullptr;
  bool stopping_ = false;
  std::mutex runMutex_;  // one job at a time per pool
};

// How parallelFor hands out task indices (see ThreadPool::run): Contiguous gives worker w the
// w-th equal run of indices first; Arrival hands them out in the order threads ask.
enum class TaskOrder { Contiguous, Arrival };

// Runs fn(task, worker) for every task in [0, n) and returns when all are done: over `pool`, or
// inline on the calling thread (worker 0, tasks in order) when `pool` is null, as a kernel passes
// it when threads would not pay. `fn` is any callable, taken by reference and called through one
// function pointer per task, as ThreadPool::run calls its TaskFn: no copy, no allocation. A task
// must not throw (a worker's exception ends the process), nor run another job on the same pool;
// it may call a kernel with a null pool. Scratch is the caller's to allocate before the call.
template <typename Fn>
void parallelFor(ThreadPool* pool, int64_t n, Fn&& fn, TaskOrder order = TaskOrder::Contiguous) {
  if (!pool) {
    for (int64_t t = 0; t < n; t++) fn(t, 0);
    return;
  }
  using F = std::remove_reference_t<Fn>;
  pool->run(
      n, [](void* context, int64_t task, int worker) { (*static_cast<F*>(context))(task, worker); },
      const_cast<void*>(static_cast<const void*>(std::addressof(fn))), order == TaskOrder::Contiguous);
}

}  // namespace neurone
