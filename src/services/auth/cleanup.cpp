#include "services/auth/cleanup.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

namespace tiketi::auth {

namespace asio = boost::asio;

struct TokenCleanup::Timer {
  std::mutex mu;
  asio::steady_timer* current = nullptr;  // the wait in progress, if any
};

TokenCleanup::TokenCleanup(AuthStore& store, coord::CoordinatorPtr coord, ClockPtr clock, std::string lease_name,
                           std::string owner, Millis interval_ms, Millis grace_ms, LogContext log,
                           metrics::Counter* deleted)
    : store_(store),
      coord_(std::move(coord)),
      clock_(std::move(clock)),
      lease_name_(std::move(lease_name)),
      owner_(std::move(owner)),
      interval_ms_(interval_ms),
      grace_ms_(grace_ms),
      log_(std::move(log)),
      deleted_(deleted),
      timer_(std::make_shared<Timer>()) {}

Task<std::int64_t> TokenCleanup::run_once() {
  constexpr std::int64_t kBatch = 1000;
  const Millis cutoff = clock_->now_ms() - grace_ms_;
  std::int64_t total = 0;
  for (;;) {
    const auto n = co_await store_.delete_expired_batch(cutoff, kBatch);
    total += n;
    if (n < kBatch) {
      break;
    }
  }
  if (total > 0) {
    if (deleted_ != nullptr) {
      deleted_->inc(static_cast<double>(total));
    }
    log::info(log_, "expired refresh tokens deleted", {lf("count", static_cast<long long>(total))});
  }
  co_return total;
}

Task<std::optional<std::int64_t>> TokenCleanup::run_if_leader() {
  // Held for a few intervals: a replica that dies hands the job over after the lease lapses.
  const coord::Ttl ttl{interval_ms_ * 3 + 10'000};
  lease_ = co_await coord_->acquire_lease(lease_name_, owner_, ttl);
  if (!lease_) {
    co_return std::nullopt;
  }
  co_return co_await run_once();
}

Task<void> TokenCleanup::run() {
  auto self = shared_from_this();
  auto ex = co_await asio::this_coro::executor;
  while (!stopped_) {
    try {
      co_await run_if_leader();
    } catch (const std::exception& e) {
      log::warn(log_, "refresh token cleanup failed", {lf("error", e.what())});
    }
    if (stopped_) {
      break;
    }
    asio::steady_timer t(ex, std::chrono::milliseconds(interval_ms_));
    {
      std::lock_guard lock(timer_->mu);
      timer_->current = &t;
    }
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    {
      std::lock_guard lock(timer_->mu);
      timer_->current = nullptr;
    }
  }
  if (lease_) {
    try {
      co_await coord_->release_lease(*lease_);
    } catch (const std::exception&) {
    }
  }
}

void TokenCleanup::stop() {
  stopped_ = true;
  std::lock_guard lock(timer_->mu);
  if (timer_->current != nullptr) {
    // Cancel on the timer's own executor (steady_timer is not thread-safe).
    auto* t = timer_->current;
    asio::post(t->get_executor(), [timer = timer_] {
      std::lock_guard inner(timer->mu);
      if (timer->current != nullptr) {
        timer->current->cancel();
      }
    });
  }
}

}  // namespace tiketi::auth
