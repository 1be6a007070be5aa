#pragma once
// Internal to the store adapters (never include from a public header: it pulls in Asio).
//
// Resumer: a parked, type-erased completion handler. Whoever finishes the work (the SQLite worker
// thread, the pool releasing a connection, the mutex unlocking) calls resume(), which posts the
// handler back to the waiting coroutine's own executor. The handler keeps outstanding work on that
// executor so an io_context does not run out of work while a coroutine is parked here.
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/task.hpp"

namespace tiketi::store::detail {

namespace asio = boost::asio;

template <class Sig>
class Resumer;

template <class... Args>
class Resumer<void(Args...)> {
 public:
  Resumer() = default;
  template <class Handler>
  explicit Resumer(Handler&& h) : impl_(std::make_unique<Impl<std::decay_t<Handler>>>(std::move(h))) {}

  explicit operator bool() const { return impl_ != nullptr; }

  // Posts the completion to the waiter's executor; callable from any thread, once.
  void resume(Args... args) {
    auto impl = std::move(impl_);
    impl->resume(std::move(args)...);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void resume(Args... args) = 0;
  };
  template <class H>
  struct Impl final : Base {
    explicit Impl(H&& h)
        : work(asio::make_work_guard(asio::get_associated_executor(h))), handler(std::move(h)) {}
    void resume(Args... args) override {
      auto ex = work.get_executor();
      asio::post(
          ex, [h = std::move(handler), ... a = std::move(args)]() mutable { std::move(h)(std::move(a)...); });
      work.reset();
    }
    asio::executor_work_guard<asio::associated_executor_t<H>> work;
    H handler;
  };
  std::unique_ptr<Base> impl_;
};

// Suspends the calling coroutine and hands init a Resumer<Sig>; the coroutine continues (on its
// own executor) when the resumer is called. void(std::exception_ptr, T) rethrows a non-null error.
template <class Sig, class Init>
auto park(Init init) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, Sig>(
      [init = std::move(init)](auto handler) mutable { init(Resumer<Sig>(std::move(handler))); },
      asio::use_awaitable);
}

// A FIFO mutex for coroutines: waiting never blocks a thread.
class AsyncMutex {
 public:
  Task<void> lock() {
    {
      std::lock_guard g(mutex_);
      if (!locked_) {
        locked_ = true;
        co_return;
      }
    }
    co_await park<void()>([this](Resumer<void()> r) {
      std::unique_lock g(mutex_);
      if (!locked_) {  // released between the fast path and now
        locked_ = true;
        g.unlock();
        r.resume();
        return;
      }
      waiters_.push_back(std::move(r));
    });
  }

  // Ownership passes directly to the next waiter, so nobody can barge in between.
  void unlock() {
    std::unique_lock g(mutex_);
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    g.unlock();
    next.resume();
  }

  bool locked() const {
    std::lock_guard g(mutex_);
    return locked_;
  }

 private:
  mutable std::mutex mutex_;
  bool locked_ = false;
  std::deque<Resumer<void()>> waiters_;
};

// Releases an AsyncMutex at scope exit (including when the coroutine frame is destroyed).
class AsyncLockGuard {
 public:
  explicit AsyncLockGuard(AsyncMutex& m) : mutex_(&m) {}
  AsyncLockGuard(const AsyncLockGuard&) = delete;
  AsyncLockGuard& operator=(const AsyncLockGuard&) = delete;
  ~AsyncLockGuard() { release(); }
  void release() {
    if (mutex_ != nullptr) {
      mutex_->unlock();
      mutex_ = nullptr;
    }
  }

 private:
  AsyncMutex* mutex_;
};

// Small jittered backoff between transaction attempts: spreads out the retries of transactions
// that just collided so they do not collide again in lock-step.
inline Task<void> retry_backoff(int attempt) {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  const int base_ms = std::min(2 << std::min(attempt, 6), 100);
  std::uniform_int_distribution<int> jitter(base_ms / 2, base_ms);
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(jitter(rng)));
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace tiketi::store::detail
