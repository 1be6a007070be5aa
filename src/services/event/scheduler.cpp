#include "services/event/scheduler.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace tiketi::event {
namespace asio = boost::asio;

namespace {
constexpr coord::Ttl kLeaseTtl{15'000};
}

Scheduler::Scheduler(EventState& state, std::string owner) : state_(state), owner_(std::move(owner)) {}

Task<int> Scheduler::tick() {
  auto& coord = *state_.ctx.coord;
  // acquire_lease renews when we already hold it; a lost lease simply means another replica runs.
  lease_ = co_await coord.acquire_lease(kSchedulerLease, owner_, kLeaseTtl);
  if (!lease_) {
    co_return 0;
  }
  auto applied = co_await state_.store->apply_due_transitions(state_.ctx.clock->now_ms());
  for (const auto& a : applied) {
    log::info(state_.ctx.log, "event status changed",
              {lf("event_id", a.event_id), lf("from", to_string(a.transition.from)),
               lf("to", to_string(a.transition.to))});
  }
  if (!applied.empty()) {
    co_await state_.invalidate();
  }
  co_return static_cast<int>(applied.size());
}

Task<void> Scheduler::run(int interval_ms) {
  running_ = true;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopping_.load()) {
    try {
      co_await state_.refresh_version();
      co_await tick();
    } catch (const std::exception& e) {
      log::warn(state_.ctx.log, "event scheduler pass failed", {lf("error", e.what())});
    }
    // Short sleeps so stop() is noticed quickly without cross-thread timer cancellation.
    for (int waited = 0; waited < interval_ms && !stopping_.load(); waited += 100) {
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
  if (lease_) {
    try {
      co_await state_.ctx.coord->release_lease(*lease_);
    } catch (const std::exception&) {
    }
  }
  running_ = false;
}

void Scheduler::stop() { stopping_ = true; }

}  // namespace tiketi::event
