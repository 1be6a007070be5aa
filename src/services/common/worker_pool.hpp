#pragma once
// A small pool of threads for CPU-heavy work (argon2id) so I/O threads never stall. The awaiting
// coroutine is resumed on its own executor once the work is done.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "core/task.hpp"

namespace tiketi::common {

class WorkerPool {
 public:
  // max_pending bounds queued + running jobs; beyond it run() throws ApiError 503 (with
  // Retry-After) instead of letting latency and memory grow without bound under a login flood.
  //
  // nice > 0 lowers the scheduling priority of the pool's threads (Linux per-thread nice, like
  // `nice -n`): on a small machine CPU-bound jobs then yield the cores to the I/O threads instead
  // of sharing them equally, so cheap requests keep their latency while the pool is saturated.
  WorkerPool(std::size_t threads, std::size_t max_pending, int nice = 0);
  ~WorkerPool();  // joins; pending jobs still run
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs fn on a pool thread; rethrows its exception in the caller.
  Task<void> run(std::function<void()> fn);

  std::size_t threads() const { return threads_; }
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  int nice() const { return nice_; }  // what was applied (0 when not requested or not permitted)
  void stop();  // waits for running jobs; later run() calls throw 503

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::size_t threads_;
  std::size_t max_pending_;
  int nice_ = 0;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace tiketi::common
