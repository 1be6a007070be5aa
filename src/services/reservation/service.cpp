#include "services/reservation/service.hpp"

#include "services/queue/token/admission_token.hpp"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "services/reservation/handlers/handlers.hpp"
#include "services/reservation/schema/migrations.hpp"
#include "services/reservation/state.hpp"
#include "services/reservation/sweeper.hpp"

namespace tiketi::reservation {
namespace {

namespace asio = boost::asio;

constexpr const char* kSeatsChannel = "reservation:seats-changed";

}  // namespace

Settings load_settings(const Config& config) {
  Settings s;
  s.quota_stripes = config.get_int("reservation.quota_stripes", 32, 1, 256);
  s.sweep_interval_ms = config.get_int("reservation.sweep_interval_ms", 1'000, 10, 600'000);
  s.seat_cache_ms = config.get_int("reservation.seat_cache_ms", 1'000, 0, 60'000);
  s.admission_secret = queue::admission_key_from_config(config);
  s.internal_token = config.get("reservation.internal_token");
  return s;
}

namespace {

Task<void> publish_change(coord::CoordinatorPtr coordinator, std::string event_id) {
  co_await coordinator->publish(kSeatsChannel, std::move(event_id));
}

class ReservationService final : public app::Service {
 public:
  std::string name() const override { return "reservation"; }
  std::vector<store::Migration> migrations() const override { return reservation::migrations(); }

  void routes(net::Router& r) override {
    using namespace handlers;
    add(r, "GET", "/api/v1/events/{id}/seats", &seats_get);
    add(r, "POST", "/api/v1/reservations", &reservations_post);
    add(r, "GET", "/api/v1/reservations", &reservations_list);
    add(r, "GET", "/api/v1/reservations/{id}", &reservation_get);
    add(r, "POST", "/api/v1/reservations/{id}/cancel", &reservation_cancel);
    add(r, "GET", "/api/v1/tickets", &tickets_list);
    add(r, "GET", "/api/v1/tickets/{code}/qr.svg", &ticket_qr);
    add(r, "POST", "/api/v1/admin/checkins", &admin_checkin);
    add(r, "GET", "/api/v1/admin/reservations", &admin_reservations);
    add(r, "GET", "/api/v1/admin/events/{id}/sales", &admin_sales);
    add(r, "GET", "/internal/v1/reservations/{id}", &internal_reservation_get);
  }

  Task<void> start(app::ServiceContext& ctx) override {
    auto s = std::make_shared<State>();
    s->ctx = ctx;
    if (!s->ctx.clock) {
      s->ctx.clock = std::make_shared<SystemClock>();
    }
    static const Config kDefaults{};
    const Config& config = ctx.config != nullptr ? *ctx.config : kDefaults;
    s->settings = load_settings(config);
    s->authenticator = common::Authenticator::from_config(config, s->ctx.clock);
    s->admission = std::make_shared<HmacAdmissionVerifier>(s->settings.admission_secret);
    StoreOptions so;
    so.quota_stripes = s->settings.quota_stripes;
    s->store = std::make_unique<ReservationStore>(ctx.db, s->ctx.clock, ctx.log, so);
    s->seats = std::make_unique<SeatMapCache>(*s->store, s->ctx.clock, s->settings.seat_cache_ms);

    auto& m = ctx.metrics != nullptr ? *ctx.metrics : metrics::global();
    constexpr const char* kHolds = "Seat and quota holds by result";
    s->metrics.registry = &m;
    s->metrics.hold_ok = &m.counter("reservation_holds_total", kHolds, {{"result", "ok"}});
    s->metrics.hold_unavailable =
        &m.counter("reservation_holds_total", kHolds, {{"result", "seat_unavailable"}});
    s->metrics.hold_sold_out = &m.counter("reservation_holds_total", kHolds, {{"result", "sold_out"}});
    s->metrics.hold_limit = &m.counter("reservation_holds_total", kHolds, {{"result", "limit"}});
    s->metrics.hold_admission = &m.counter("reservation_holds_total", kHolds, {{"result", "admission"}});
    s->metrics.hold_invalid = &m.counter("reservation_holds_total", kHolds, {{"result", "invalid"}});
    constexpr const char* kTransitions = "Reservation state changes by new status";
    s->metrics.confirmed = &m.counter("reservation_transitions_total", kTransitions, {{"to", "CONFIRMED"}});
    s->metrics.expired = &m.counter("reservation_transitions_total", kTransitions, {{"to", "EXPIRED"}});
    s->metrics.cancelled = &m.counter("reservation_transitions_total", kTransitions, {{"to", "CANCELLED"}});
    s->metrics.confirmation_failed = &m.counter("reservation_confirmation_failed_total",
                                                "Payments that could not confirm (refund requested)");
    s->metrics.hold_seconds = &m.histogram("reservation_hold_duration_seconds", "Time to decide a hold");

    // Seat changes invalidate this replica's snapshot now and the others' through pub/sub.
    State* raw = s.get();
    auto coordinator = ctx.coord;
    const Executor ex = ctx.executor;
    s->store->set_on_change([raw, coordinator, ex](const std::string& event_id) {
      raw->seats->invalidate(event_id);
      if (coordinator) {
        asio::co_spawn(ex, publish_change(coordinator, event_id), [](std::exception_ptr) {});
      }
    });
    if (coordinator) {
      subscription_ = co_await coordinator->subscribe(
          kSeatsChannel, [raw](const std::string& event_id) { raw->seats->invalidate(event_id); });

      // reservation.background=off (tests): the jobs exist but only run when driven by hand.
      const bool background = config.get("reservation.background").value_or("on") != "off";
      relay_ = std::make_shared<coord::OutboxRelay>(ctx.db, coordinator, s->ctx.clock, ctx.log);
      if (background) {
        asio::co_spawn(ex, relay_->run(), [keep = relay_, s](std::exception_ptr) {});
      }

      std::string instance = ctx.instance_id;
      if (instance.empty()) {
        instance = "reservation";
      }
      consumer_ = std::make_shared<coord::Consumer>(ctx.db, coordinator, "reservation", instance, ctx.log);
      register_handlers(*consumer_, s);
      if (background) {
        asio::co_spawn(ex, consumer_->run(), [keep = consumer_, s](std::exception_ptr) {});
      }

      auto relay = relay_;
      sweeper_ = std::make_shared<Sweeper>(*s->store, coordinator, instance + ":sweeper",
                                           s->settings.sweep_interval_ms, ctx.log, [raw, relay](int n) {
                                             raw->metrics.expired->inc(n);
                                             relay->notify();
                                           });
      if (background) {
        asio::co_spawn(ex, sweeper_->run(), [keep = sweeper_, s](std::exception_ptr) {});
      }
    }
    state_ = std::move(s);
  }

  Task<void> stop() override {
    if (sweeper_) {
      sweeper_->stop();
    }
    if (consumer_) {
      consumer_->stop();
    }
    if (relay_) {
      relay_->stop();
    }
    subscription_.reset();
    co_return;
  }

  std::vector<app::HealthCheck> health_checks() override {
    return {{"db", [this]() -> Task<bool> {
               if (!state_ || !state_->ctx.db) {
                 co_return false;
               }
               co_return co_await state_->ctx.db->ping();
             }}};
  }

  State* state() { return state_.get(); }
  Sweeper* sweeper() { return sweeper_.get(); }
  coord::Consumer* consumer() { return consumer_.get(); }
  coord::OutboxRelay* relay() { return relay_.get(); }

 private:
  using Fn = handlers::Fn;

  static void register_handlers(coord::Consumer& c, const std::shared_ptr<State>& s) {
    State* raw = s.get();
    c.on("event.published", [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      std::string why;
      auto parsed = parse_published(ev.payload, why);
      if (!parsed) {
        log::error(raw->ctx.log, "ignoring malformed event.published",
                   {lf("event_id", ev.id), lf("error", why)});
        co_return;
      }
      co_await raw->store->apply_published(tx, *parsed);
      raw->store->notify_changed(parsed->info.event_id);
    });
    c.on("event.status_changed", [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      std::string why;
      auto parsed = parse_status_changed(ev.payload, why);
      if (!parsed) {
        log::error(raw->ctx.log, "ignoring malformed event.status_changed",
                   {lf("event_id", ev.id), lf("error", why)});
        co_return;
      }
      co_await raw->store->apply_status_changed(tx, *parsed);
      raw->store->notify_changed(parsed->event_id);
    });
    c.on("payment.completed", [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      std::string why;
      auto parsed = parse_payment_completed(ev.payload, why);
      if (!parsed) {
        log::error(raw->ctx.log, "ignoring malformed payment.completed",
                   {lf("event_id", ev.id), lf("error", why)});
        co_return;
      }
      const auto result = co_await raw->store->confirm(tx, *parsed);
      if (result.outcome == ConfirmOutcome::confirmed) {
        raw->metrics.confirmed->inc();
      } else if (result.outcome == ConfirmOutcome::failed) {
        raw->metrics.confirmation_failed->inc();
      }
      if (!result.event_id.empty()) {
        raw->store->notify_changed(result.event_id);  // seats sold or released
      }
    });
  }

  void add(net::Router& r, std::string method, std::string path, Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          State* s = state_.get();
          if (s == nullptr) {
            throw errors::unavailable("The reservation service is starting.", 1);
          }
          // Verify the bearer token here too, so these routes work whether or not the process
          // installed the shared middleware (skipped when a principal is already set).
          common::authenticate_request(*s->authenticator, req);
          co_return co_await fn(*s, req);
        },
        net::RouteOptions{.service = "reservation"});
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<Sweeper> sweeper_;
  std::shared_ptr<coord::Consumer> consumer_;
  std::shared_ptr<coord::OutboxRelay> relay_;
  coord::SubscriptionPtr subscription_;
};

}  // namespace

State* state_of(app::Service& service) {
  auto* s = dynamic_cast<ReservationService*>(&service);
  return s != nullptr ? s->state() : nullptr;
}

Task<int> sweep_once(app::Service& service) {
  auto* s = dynamic_cast<ReservationService*>(&service);
  if (s == nullptr || s->sweeper() == nullptr) {
    co_return 0;
  }
  co_return co_await s->sweeper()->sweep_once();
}

Task<int> consume_once(app::Service& service) {
  auto* s = dynamic_cast<ReservationService*>(&service);
  if (s == nullptr || s->consumer() == nullptr) {
    co_return 0;
  }
  co_return co_await s->consumer()->poll_once();
}

Task<int> relay_once(app::Service& service) {
  auto* s = dynamic_cast<ReservationService*>(&service);
  if (s == nullptr || s->relay() == nullptr) {
    co_return 0;
  }
  co_return co_await s->relay()->publish_pending();
}

}  // namespace tiketi::reservation

namespace tiketi::app {
ServicePtr make_reservation_service() { return std::make_unique<reservation::ReservationService>(); }
}  // namespace tiketi::app
