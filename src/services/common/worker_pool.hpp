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
  WorkerPool(std::size_t threads, std::size_t max_pending);
  ~WorkerPool();  // joins; pending jobs still run
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs fn on a pool thread; rethrows its exception in the caller.
  Task<void> run(std::function<void()> fn);

  std::size_t threads() const { return threads_; }
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  void stop();  // waits for running jobs; later run() calls throw 503

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::size_t threads_;
  std::size_t max_pending_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace tiketi::common
