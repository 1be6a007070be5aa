#include "services/reservation/service.hpp"

#include "services/queue/token/admission_token.hpp"

#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "services/reservation/handlers/handlers.hpp"
#include "services/reservation/schema/migrations.hpp"
#include "services/reservation/state.hpp"
#include "services/reservation/storage/sql.hpp"
#include "services/reservation/sweeper.hpp"

namespace tiketi::reservation {
namespace {

namespace asio = boost::asio;

}  // namespace

Settings load_settings(const Config& config) {
  Settings s;
  s.quota_stripes = config.get_int("reservation.quota_stripes", 32, 1, 256);
  s.sqlite_hold_batch = config.get_int("reservation.sqlite_hold_batch", 64, 1, 1'000);
  s.pg_hold_batch = config.get_int("reservation.pg_hold_batch", 64, 1, 1'000);
  s.pg_hold_inflight = config.get_int("reservation.pg_hold_inflight", 2, 1, 8);
  s.sweep_interval_ms = config.get_int("reservation.sweep_interval_ms", 1'000, 10, 600'000);
  s.seat_cache_ms = config.get_int("reservation.seat_cache_ms", 1'000, 0, 60'000);
  s.seat_feed_tick_ms = config.get_int("reservation.seat_feed_tick_ms", 200, 10, 10'000);
  s.metrics_interval_ms = config.get_int("reservation.metrics_interval_ms", 10'000, 100, 3'600'000);
  s.admission_secret = queue::admission_key_from_config(config);
  s.internal_token = config.get("reservation.internal_token");
  return s;
}

namespace {

constexpr const char* kReservationStatuses[] = {"PENDING", "CONFIRMED", "EXPIRED", "CANCELLED"};
constexpr const char* kSeatStatuses[] = {"available", "held", "sold"};

// reservation_reservations{status} and reservation_seats{event_id,status} (events whose performance
// has not started), read from the database; then the sold-out safety net.
Task<void> refresh_gauges(State& s) {
  auto& m = *s.metrics.registry;
  auto& db = s.store->db();
  std::map<std::string, double> by_status;
  for (const char* st : kReservationStatuses) {
    by_status[st] = 0;
  }
  auto res = co_await db.exec(sql::kReservationsByStatus);
  for (const auto& row : res.rows) {
    by_status[row.str("status")] = static_cast<double>(row.i64("n"));
  }
  for (const auto& [st, n] : by_status) {
    m.gauge("reservation_reservations", "Reservations by status", {{"status", st}}).set(n);
  }
  // Seats by status per event: a map fans are viewing is counted in memory (the seat map cache,
  // kept current by the seat feed); only the others are counted by the database. One scan of every
  // future event's seats every interval stalled holds for 30-40 ms at 3,000 holds/s (bench/reservation
  // timeline) and grew with the catalogue.
  const Millis now = s.ctx.clock->now_ms();
  store::Params ps;
  ps.push_back(store::p(now));
  auto events = co_await db.exec(sql::kGaugeEvents, std::move(ps));
  for (const auto& row : events.rows) {
    const std::string event = row.str("event_id");
    std::map<std::string, double> counts;
    for (const char* st : kSeatStatuses) {
      counts[st] = 0;
    }
    std::optional<std::array<std::int64_t, 3>> cached;
    if (s.seats) {
      cached = s.seats->counts(event);
    }
    if (cached) {
      for (std::size_t i = 0; i < cached->size(); ++i) {
        counts[std::string(to_string(static_cast<SeatStatus>(i)))] = static_cast<double>((*cached)[i]);
      }
    } else {
      auto seats = co_await s.store->seat_counts(event, now);
      for (const auto& [st, n] : seats) {
        counts[st] += static_cast<double>(n);
      }
    }
    double total = 0;
    for (const auto& [st, n] : counts) {
      total += n;
    }
    if (total == 0) {
      continue;  // general admission only
    }
    for (const auto& [st, n] : counts) {
      m.gauge("reservation_seats", "Seats by status per event (performance not started)",
              {{"event_id", event}, {"status", st}})
          .set(n);
    }
  }
  const int marked = co_await s.store->sold_out_scan();
  if (marked > 0) {
    s.metrics.sold_out->inc(marked);
  }
}

Task<void> gauges_loop(std::shared_ptr<State> s, std::shared_ptr<std::atomic<bool>> stopped) {
  while (!*stopped) {
    try {
      co_await refresh_gauges(*s);
    } catch (const std::exception& e) {
      log::warn(s->ctx.log, "reservation gauges refresh failed", {lf("error", e.what())});
    }
    asio::steady_timer t(co_await asio::this_coro::executor,
                         std::chrono::milliseconds(s->settings.metrics_interval_ms));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

class ReservationService final : public app::Service {
 public:
  std::string name() const override { return "reservation"; }
  std::vector<store::Migration> migrations() const override { return reservation::migrations(); }

  void routes(net::Router& r) override {
    using namespace handlers;
    add(r, "GET", "/api/v1/events/{id}/seats", &seats_get);
    // Public: the live seat map needs no login (docs/reservation.md has the protocol).
    r.add_ws(
        "/api/v1/events/{id}/seats/ws",
        [this](net::Request& req, net::WebSocketPtr ws) -> Task<void> {
          auto s = state_;
          if (!s || !s->feed) {
            ws->close(1013, "starting");
            co_return;
          }
          const std::string event_id = req.param("id");
          std::optional<EventInfo> ev;
          if (!event_id.empty() && event_id.size() <= 128) {
            ev = co_await s->store->find_event(event_id);
          }
          if (!ev) {
            ws->send_text(R"({"type":"error","error":{"code":"not_found","message":"Event not found."}})");
            ws->close(4404, "not found");
            co_return;
          }
          auto feed = s->feed;
          co_await feed->serve(std::move(ws), event_id);
        },
        net::RouteOptions{.service = "reservation", .websocket = true});
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
    so.sqlite_hold_batch = static_cast<std::size_t>(s->settings.sqlite_hold_batch);
    so.pg_hold_batch = static_cast<std::size_t>(s->settings.pg_hold_batch);
    so.pg_hold_inflight = static_cast<std::size_t>(s->settings.pg_hold_inflight);
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
    s->metrics.hold_expired_token =
        &m.counter("reservation_holds_total", kHolds, {{"result", "expired_token"}});
    s->metrics.hold_invalid = &m.counter("reservation_holds_total", kHolds, {{"result", "invalid"}});
    constexpr const char* kTransitions = "Reservation state changes by new status";
    s->metrics.confirmed = &m.counter("reservation_transitions_total", kTransitions, {{"to", "CONFIRMED"}});
    s->metrics.expired = &m.counter("reservation_transitions_total", kTransitions, {{"to", "EXPIRED"}});
    s->metrics.cancelled = &m.counter("reservation_transitions_total", kTransitions, {{"to", "CANCELLED"}});
    s->metrics.confirmation_failed = &m.counter("reservation_confirmation_failed_total",
                                                "Payments that could not confirm (refund requested)");
    s->metrics.hold_seconds = &m.histogram("reservation_hold_duration_seconds", "Time to decide a hold");
    s->metrics.sold_out = &m.counter("reservation_sold_out_total", "Events announced sold out (inventory.sold_out)");
    for (const char* st : kReservationStatuses) {
      m.gauge("reservation_reservations", "Reservations by status", {{"status", st}});
    }

    // Seat changes invalidate this replica's snapshot now and reach every replica's live viewers
    // and caches through the event's pub/sub channel (live_seats.hpp).
    State* raw = s.get();
    auto coordinator = ctx.coord;
    const Executor ex = ctx.executor;
    SeatFeedOptions fo;
    fo.tick_ms = s->settings.seat_feed_tick_ms;
    s->feed = std::make_shared<SeatFeed>(coordinator, ctx.hub, s->seats.get(), s->ctx.clock, ctx.log, fo);
    s->store->set_on_change([raw, ex](const InventoryChange& change) { raw->feed->publish(ex, change); });
    asio::co_spawn(ex, s->feed->run(), [keep = s->feed](std::exception_ptr) {});
    if (coordinator) {

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
        asio::co_spawn(ex, gauges_loop(s, gauges_stopped_), [s](std::exception_ptr) {});
      }
    }
    state_ = std::move(s);
    co_return;
  }

  Task<void> stop() override {
    *gauges_stopped_ = true;
    if (state_ && state_->feed) {
      state_->feed->stop();
    }
    if (sweeper_) {
      sweeper_->stop();
    }
    if (consumer_) {
      consumer_->stop();
    }
    if (relay_) {
      relay_->stop();
    }
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
    // payment.completed: one event through confirm(), a batch of them through confirm_batch()
    // (set-based for the common case, same outcomes). Metrics and seat-feed pokes happen before the
    // consumer commits; if the batch rolls back the consumer redoes it one event at a time, and the
    // seat feed invalidates caches again at its next tick.
    auto account = [raw](const std::vector<ConfirmResult>& results) {
      std::map<std::string, InventoryChange> changes;
      for (const auto& result : results) {
        if (result.outcome == ConfirmOutcome::confirmed) {
          raw->metrics.confirmed->inc();
        } else if (result.outcome == ConfirmOutcome::failed) {
          raw->metrics.confirmation_failed->inc();
        }
        if (result.sold_out) {
          raw->metrics.sold_out->inc();
        }
        if (!result.event_id.empty()) {
          InventoryChange& change = changes[result.event_id];
          change.event_id = result.event_id;
          change.seats.insert(change.seats.end(), result.seats.begin(), result.seats.end());
        }
      }
      for (const auto& [event_id, change] : changes) {
        raw->store->notify(change);
      }
    };
    auto parse = [raw](const coord::Event& ev) -> std::optional<PaymentCompleted> {
      std::string why;
      auto parsed = parse_payment_completed(ev.payload, why);
      if (!parsed) {
        log::error(raw->ctx.log, "ignoring malformed payment.completed", {lf("event_id", ev.id), lf("error", why)});
      }
      return parsed;
    };
    c.on(
        "payment.completed",
        [raw, account, parse](store::Tx& tx, const coord::Event& ev) -> Task<void> {
          auto parsed = parse(ev);
          if (!parsed) {
            co_return;
          }
          auto result = co_await raw->store->confirm(tx, *parsed);
          std::vector<ConfirmResult> results;
          results.push_back(std::move(result));
          account(results);
        },
        [raw, account, parse](store::Tx& tx, const std::vector<coord::Event>& evs) -> Task<void> {
          std::vector<PaymentCompleted> pays;
          pays.reserve(evs.size());
          for (const auto& ev : evs) {
            if (auto parsed = parse(ev)) {
              pays.push_back(std::move(*parsed));
            }
          }
          auto results = co_await raw->store->confirm_batch(tx, pays);
          account(results);
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
  std::shared_ptr<std::atomic<bool>> gauges_stopped_ = std::make_shared<std::atomic<bool>>(false);
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

Task<void> refresh_metrics(app::Service& service) {
  auto* s = dynamic_cast<ReservationService*>(&service);
  if (s == nullptr || s->state() == nullptr) {
    co_return;
  }
  co_await refresh_gauges(*s->state());
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
