#include "services/queue/admission.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

namespace tiketi::queue {

namespace asio = boost::asio;

std::string channel_for(const std::string& event) { return "queue:" + event; }

std::string tick_message(const std::string& event, const AdmitStep& step, const QueueSettings& settings,
                         bool reshuffled, Millis ts, Millis session_expires_at) {
  nlohmann::json admitted = nlohmann::json::array();
  for (const auto& a : step.admitted) {
    admitted.push_back(nlohmann::json::array({a.user_id, a.seq}));
  }
  nlohmann::json j{{"type", "tick"},
                   {"event", event},
                   {"head", step.head},
                   {"admitted", std::move(admitted)},
                   {"count", step.admitted.size()},
                   {"waiting", step.waiting},
                   {"active", step.active},
                   // With active, what clients need to estimate the wait as the server does.
                   {"maxActive", settings.max_active},
                   {"sessionMs", settings.session_ms},
                   {"rate", settings.rate_per_second},
                   {"paused", settings.paused},
                   {"reshuffled", reshuffled},
                   {"ts", ts},
                   {"exp", session_expires_at}};
  return j.dump();
}

struct Admitter::Impl {
  struct PerEvent {
    std::optional<coord::Lease> lease;
    Millis lease_checked_at = 0;
    Millis last_tick = 0;
    Millis last_sweep = 0;
    Millis last_publish = 0;
    double credit = 0;  // admissions owed by the rate (token bucket)
  };

  std::shared_ptr<Line> line;
  ClockPtr clock;
  std::string owner;
  AdmitterOptions opts;
  LogContext log;
  OnTick on_tick;
  std::map<std::string, PerEvent> events;
  std::atomic<bool> stopped{false};
  std::shared_ptr<asio::steady_timer> timer;

  Task<bool> ensure_lease(std::string event, PerEvent& pe, Millis now) {
    // Renew at a third of the lease so one slow round trip never loses leadership.
    if (pe.lease && now - pe.lease_checked_at < opts.lease_ms / 3) {
      co_return true;
    }
    auto lease =
        co_await line->coordinator().acquire_lease("queue:leader:" + event, owner, coord::Ttl{opts.lease_ms});
    pe.lease_checked_at = now;
    if (!lease) {
      if (pe.lease) {
        log::info(log, "queue leadership lost", {lf("event_id", event)});
      }
      pe.lease.reset();
      co_return false;
    }
    if (!pe.lease || pe.lease->fencing_token != lease->fencing_token) {
      log::info(log, "queue leader for event",
                {lf("event_id", event), lf("fencing_token", lease->fencing_token)});
      // A new leader starts with one tick's worth of admissions, never a saved-up burst.
      pe.credit = 0;
      pe.last_tick = now - opts.tick_ms;
    }
    pe.lease = *lease;
    co_return true;
  }

  Task<TickReport> tick(std::string event) {
    TickReport report;
    PerEvent& pe = events[event];  // node-based map: the reference stays valid across awaits
    const Millis now = clock->now_ms();
    auto settings = co_await line->settings(event);
    if (!settings || settings->closed(now) || now < settings->opens_at()) {
      if (pe.lease) {
        co_await line->coordinator().release_lease(*pe.lease);
        pe.lease.reset();
      }
      co_return report;
    }
    if (!co_await ensure_lease(event, pe, now)) {
      co_return report;
    }
    report.leader = true;
    const QueueSettings& s = *settings;
    report.rate = s.rate_per_second;
    report.paused = s.paused;

    if (now - pe.last_sweep >= opts.sweep_every_ms) {
      pe.last_sweep = now;
      report.abandoned = co_await line->sweep_abandoned(event, now - opts.abandon_ms);
    }

    std::int64_t n = 0;
    const Millis dt = std::clamp<Millis>(now - pe.last_tick, 0, 1'000);
    pe.last_tick = now;
    if (s.admitting(now)) {
      if (!co_await line->opened(event)) {
        report.opened_now = co_await line->open(event, s.order == Order::random);
      }
      // Token bucket: at most one second of admissions saved up, so a capacity stall never
      // turns into a burst larger than the rate allows.
      pe.credit = std::min(pe.credit + s.rate_per_second * static_cast<double>(dt) / 1000.0,
                           std::max(1.0, s.rate_per_second));
      n = static_cast<std::int64_t>(std::floor(pe.credit));
    } else {
      pe.credit = 0;
    }
    // Runs even with n = 0: ended sessions are dropped and the counts come back for the tick.
    report.step = co_await line->admit(event, now, n, s.max_active, s.session_ms, pe.lease->fencing_token);
    if (report.step.fenced) {
      log::warn(log, "admission fenced: a newer leader exists", {lf("event_id", event)});
      pe.lease.reset();
      report.leader = false;
      co_return report;
    }
    pe.credit -= static_cast<double>(report.step.admitted.size());
    if (static_cast<std::int64_t>(report.step.admitted.size()) < n) {
      pe.credit = std::min(pe.credit, 1.0);  // capacity or line was the limit: do not hoard credit
    }
    const bool moved =
        !report.step.admitted.empty() || report.step.expired > 0 || report.abandoned > 0 || report.opened_now;
    if (moved || now - pe.last_publish >= opts.keepalive_ms) {
      pe.last_publish = now;
      // "ts" is when the tick is sent, not when it started: the fan-out lag that clients measure
      // against it is publish -> delivery (the settings, lease, sweep and admit round trips above
      // are the leader's work, not fan-out). The admission time stays `now` (sessions end at exp).
      const Millis sent_at = clock->now_ms();
      auto msg = tick_message(event, report.step, s, report.opened_now, sent_at, now + s.session_ms);
      co_await line->coordinator().publish(channel_for(event), std::move(msg));
      report.published = true;
    }
    co_return report;
  }
};

Admitter::Admitter(std::shared_ptr<Line> line, ClockPtr clock, std::string owner, AdmitterOptions opts,
                   LogContext log, OnTick on_tick)
    : impl_(std::make_shared<Impl>()) {
  impl_->line = std::move(line);
  impl_->clock = std::move(clock);
  impl_->owner = std::move(owner);
  impl_->opts = opts;
  impl_->log = std::move(log);
  impl_->on_tick = std::move(on_tick);
}

Admitter::~Admitter() { stop(); }

Task<TickReport> Admitter::tick(std::string event) {
  auto impl = impl_;
  auto report = co_await impl->tick(event);
  if (impl->on_tick) {
    impl->on_tick(event, report);
  }
  co_return report;
}

Task<void> Admitter::tick_all() {
  auto impl = impl_;
  auto events = co_await impl->line->events();
  for (const auto& e : events) {
    if (impl->stopped) {
      break;
    }
    try {
      co_await tick(e);
    } catch (const std::exception& ex) {
      // One event's trouble (or a Redis blip) must not stop the others.
      log::warn(impl->log, "queue tick failed", {lf("event_id", e), lf("error", ex.what())});
    }
  }
}

Task<void> Admitter::run() {
  auto impl = impl_;
  auto ex = co_await asio::this_coro::executor;
  impl->timer = std::make_shared<asio::steady_timer>(ex);
  auto timer = impl->timer;
  while (!impl->stopped) {
    try {
      co_await tick_all();
    } catch (const std::exception& e) {
      log::warn(impl->log, "queue admission pass failed", {lf("error", e.what())});
    }
    timer->expires_after(std::chrono::milliseconds(impl->opts.tick_ms));
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  try {
    co_await release_all();
  } catch (const std::exception&) {
    // The leases expire on their own.
  }
}

Task<void> Admitter::release_all() {
  auto impl = impl_;
  for (auto& [event, pe] : impl->events) {
    if (pe.lease) {
      auto lease = *pe.lease;
      pe.lease.reset();
      co_await impl->line->coordinator().release_lease(lease);
    }
  }
}

void Admitter::stop() {
  impl_->stopped = true;
  if (auto t = impl_->timer) {
    asio::post(t->get_executor(), [t] { t->cancel(); });
  }
}

}  // namespace tiketi::queue
