#include "services/reservation/sweeper.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "services/reservation/storage/reservation_store.hpp"

namespace tiketi::reservation {

namespace asio = boost::asio;

Sweeper::Sweeper(ReservationStore& store, coord::CoordinatorPtr coord, std::string owner, Millis interval_ms,
                 LogContext log, std::function<void(int)> on_expired)
    : store_(store),
      coord_(std::move(coord)),
      owner_(std::move(owner)),
      interval_ms_(interval_ms),
      log_(std::move(log)),
      on_expired_(std::move(on_expired)) {}

Task<int> Sweeper::sweep_once() {
  int total = 0;
  constexpr int kBatch = 200;
  for (;;) {
    const int n = co_await store_.expire_due(kBatch);
    total += n;
    if (n < kBatch) {
      break;
    }
  }
  if (total > 0 && on_expired_) {
    on_expired_(total);
  }
  co_return total;
}

Task<void> Sweeper::run() {
  running_ = true;
  std::optional<coord::Lease> lease;
  const coord::Ttl ttl{std::max<Millis>(interval_ms_ * 5, 5'000)};
  while (!stopped_) {
    try {
      lease = co_await coord_->acquire_lease("reservation:sweeper", owner_, ttl);
      if (lease) {
        co_await sweep_once();
      }
    } catch (const std::exception& e) {
      log::warn(log_, "hold sweeper pass failed", {lf("error", e.what())});
    }
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(interval_ms_));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (lease) {
    try {
      co_await coord_->release_lease(*lease);
    } catch (const std::exception&) {
    }
  }
  running_ = false;
}

void Sweeper::stop() { stopped_ = true; }

}  // namespace tiketi::reservation
