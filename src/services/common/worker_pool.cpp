#include "services/common/worker_pool.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <latch>
#include <memory>
#include <mutex>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.hpp"

namespace asio = boost::asio;

namespace tiketi::common {

struct WorkerPool::Impl {
  explicit Impl(std::size_t n) : pool(n) {}
  asio::thread_pool pool;
  std::mutex mu;
  bool stopped = false;
};

WorkerPool::WorkerPool(std::size_t threads, std::size_t max_pending, int nice)
    : impl_(std::make_unique<Impl>(threads == 0 ? 1 : threads)),
      threads_(threads == 0 ? 1 : threads),
      max_pending_(max_pending == 0 ? 1 : max_pending) {
  if (nice <= 0) {
    return;
  }
  // One job per thread, each held at the latch until all have started, so every pool thread runs
  // exactly one of them and lowers its own priority (setpriority on a thread id is per thread).
  struct Start {
    explicit Start(std::ptrdiff_t n) : all(n) {}
    std::latch all;
    std::atomic<int> applied{0};
  };
  auto start = std::make_shared<Start>(static_cast<std::ptrdiff_t>(threads_));
  for (std::size_t i = 0; i < threads_; ++i) {
    asio::post(impl_->pool, [start, nice] {
      const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
      if (::setpriority(PRIO_PROCESS, tid, nice) == 0) {
        start->applied.fetch_add(1);
      }
      start->all.arrive_and_wait();
    });
  }
  start->all.wait();
  const int applied = start->applied.load();
  nice_ = applied == static_cast<int>(threads_) ? nice : 0;
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
  }
  impl_->pool.join();
}

Task<void> WorkerPool::run(std::function<void()> fn) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) {
      throw errors::unavailable("The service is shutting down.", 1);
    }
  }
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending_) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    throw errors::unavailable("Too many sign-in requests are in progress; try again shortly.", 1);
  }
  std::exception_ptr failure;
  auto& pool = impl_->pool;
  auto& pending = pending_;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&pool, &pending, &fn, &failure](auto handler) {
        // Keep the caller's io_context alive until the completion is posted back to it.
        auto work =
            asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        asio::post(pool,
                   [handler = std::move(handler), work = std::move(work), &pending, &fn, &failure]() mutable {
                     try {
                       fn();
                     } catch (...) {
                       failure = std::current_exception();
                     }
                     pending.fetch_sub(1, std::memory_order_relaxed);
                     // Resume the coroutine on its own executor, never on the pool thread.
                     asio::post(work, std::move(handler));
                   });
      },
      asio::use_awaitable);
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace tiketi::common
