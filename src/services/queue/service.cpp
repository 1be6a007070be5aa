#include "services/queue/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "services/queue/admission.hpp"
#include "services/queue/handlers/handlers.hpp"
#include "services/queue/live.hpp"
#include "services/queue/state.hpp"

namespace tiketi::queue {
namespace {

namespace asio = boost::asio;

}  // namespace

Settings load_settings(const Config& config) {
  Settings s;
  s.prequeue_ms = config.get_int("queue.prequeue_minutes", 30, 0, 7 * 24 * 60) * 60'000;
  s.abandon_ms = config.get_int("queue.abandon_seconds", 60, 5, 3'600) * 1'000;
  s.tick_ms = config.get_int("queue.tick_ms", 200, 10, 5'000);
  s.lease_ms = config.get_int("queue.lease_ms", 3'000, 100, 60'000);
  s.broadcast_ms = config.get_int("queue.broadcast_ms", 1'000, 0, 60'000);
  s.background = config.get("queue.background").value_or("on") != "off";
  s.max_places_per_ip = config.get_int("queue.max_places_per_ip", 0, 0, 1'000'000);
  s.max_renewals = config.get_int("queue.max_renewals", 2, 0, 100);
  s.admission_key = admission_key_from_config(config);
  return s;
}

void Metrics::set_counts(const std::string& event, std::int64_t waiting, std::int64_t active) const {
  if (registry == nullptr) {
    return;
  }
  registry->gauge("queue_waiting", "Users waiting in line", {{"event", event}})
      .set(static_cast<double>(waiting));
  registry->gauge("queue_active_shoppers", "Admitted users with a live shopper session", {{"event", event}})
      .set(static_cast<double>(active));
}

void Metrics::set_rate(const std::string& event, double rate, bool paused) const {
  if (registry == nullptr) {
    return;
  }
  registry->gauge("queue_admission_rate", "Configured admissions per second (0 while paused)", {{"event", event}})
      .set(paused ? 0.0 : rate);
}

class QueueService final : public app::Service {
 public:
  std::string name() const override { return "queue"; }
  // The line lives in the coordination store; the database only keeps the consumer's dedupe table.
  std::vector<store::Migration> migrations() const override { return {coord::outbox_migration(1)}; }

  void routes(net::Router& r) override {
    using namespace handlers;
    add(r, "POST", "/api/v1/events/{id}/queue", &queue_join);
    add(r, "GET", "/api/v1/events/{id}/queue", &queue_status);
    add(r, "DELETE", "/api/v1/events/{id}/queue", &queue_leave);
    add(r, "POST", "/api/v1/events/{id}/queue/renew", &queue_renew);
    add(r, "GET", "/api/v1/events/{id}/queue/stream", &queue_stream);
    add(r, "GET", "/api/v1/admin/queues/{eventId}", &admin_get);
    add(r, "PATCH", "/api/v1/admin/queues/{eventId}", &admin_patch);
    add(r, "POST", "/api/v1/admin/queues/{eventId}/pause", &admin_pause);
    add(r, "POST", "/api/v1/admin/queues/{eventId}/resume", &admin_resume);
    add(r, "DELETE", "/api/v1/admin/queues/{eventId}/users/{userId}", &admin_remove_user);
    r.add_ws(
        "/api/v1/events/{id}/queue/ws",
        [this](net::Request& req, net::WebSocketPtr ws) -> Task<void> {
          auto s = state_;
          if (!s) {
            ws->close(1013, "starting");
            co_return;
          }
          co_await s->live->serve_websocket(req, std::move(ws));
        },
        net::RouteOptions{.service = "queue", .websocket = true});
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
    s->tokens = std::make_shared<AdmissionTokenCodec>(s->settings.admission_key);
    s->line = std::make_shared<Line>(ctx.coord, config.get("queue.key_prefix").value_or(""));
    s->live = std::make_shared<Live>(*s);

    auto& m = ctx.metrics != nullptr ? *ctx.metrics : metrics::global();
    s->metrics.registry = &m;
    s->metrics.admissions = &m.counter("queue_admissions_total", "Users admitted from the waiting room");
    s->metrics.abandonments =
        &m.counter("queue_abandonments_total", "Waiting users removed after missing heartbeats");
    s->metrics.joins = &m.counter("queue_joins_total", "New places taken in a waiting room");
    s->metrics.renewals = &m.counter("queue_session_renewals_total", "Shopper sessions extended while buying");
    s->metrics.ip_refusals =
        &m.counter("queue_ip_refusals_total", "Joins refused by the per-IP cap (queue.max_places_per_ip)");
    s->metrics.broadcast_lag =
        &m.histogram("queue_broadcast_lag_seconds",
                     "From the tick's publication by the leader (ts) to its arrival on this replica",
                     {}, {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
    s->metrics.live_ws = &m.gauge("queue_live_clients", "Live position channels open on this replica",
                                  {{"transport", "websocket"}});
    s->metrics.live_sse =
        &m.gauge("queue_live_clients", "Live position channels open on this replica", {{"transport", "sse"}});

    const std::string instance = ctx.instance_id.empty() ? "queue" : ctx.instance_id;
    AdmitterOptions ao;
    ao.tick_ms = s->settings.tick_ms;
    ao.lease_ms = s->settings.lease_ms;
    ao.abandon_ms = s->settings.abandon_ms;
    State* raw = s.get();
    admitter_ = std::make_shared<Admitter>(
        s->line, s->ctx.clock, instance, ao, ctx.log, [raw](const std::string& event, const TickReport& r) {
          if (!r.leader) {
            return;
          }
          raw->metrics.admissions->inc(static_cast<double>(r.step.admitted.size()));
          raw->metrics.abandonments->inc(static_cast<double>(r.abandoned));
          raw->metrics.set_counts(event, r.step.waiting, r.step.active);
          raw->metrics.set_rate(event, r.rate, r.paused);
        });
    consumer_ = std::make_shared<coord::Consumer>(ctx.db, ctx.coord, "queue", instance, ctx.log);
    register_handlers(*consumer_, s);
    if (s->settings.background) {
      asio::co_spawn(ctx.executor, admitter_->run(), [keep = admitter_, s](std::exception_ptr) {});
      asio::co_spawn(ctx.executor, consumer_->run(), [keep = consumer_, s](std::exception_ptr) {});
    }
    state_ = std::move(s);
    co_return;
  }

  Task<void> stop() override {
    if (admitter_) {
      admitter_->stop();
      try {
        co_await admitter_->release_all();  // hand leadership over now, not after the lease
      } catch (const std::exception&) {
      }
    }
    if (consumer_) {
      consumer_->stop();
    }
    if (state_ && state_->live) {
      state_->live->stop();
    }
  }

  std::vector<app::HealthCheck> health_checks() override {
    return {{"coordination", [this]() -> Task<bool> {
               if (!state_ || !state_->ctx.coord) {
                 co_return false;
               }
               co_return co_await state_->ctx.coord->ping();
             }}};
  }

  State* state() { return state_.get(); }
  Admitter* admitter() { return admitter_.get(); }
  coord::Consumer* consumer() { return consumer_.get(); }

 private:
  static void register_handlers(coord::Consumer& c, const std::shared_ptr<State>& s) {
    State* raw = s.get();
    c.on("event.published", [raw](store::Tx&, const coord::Event& ev) -> Task<void> {
      std::string why;
      auto parsed = settings_from_published(ev.payload, raw->settings.prequeue_ms, why);
      if (!parsed) {
        log::error(raw->ctx.log, "ignoring malformed event.published",
                   {lf("event_id", ev.id), lf("error", why)});
        co_return;
      }
      // Redelivery or a replay of an older publication never overwrites newer settings.
      auto existing = co_await raw->line->raw_settings(parsed->event_id);
      if (existing && existing->updated_at > parsed->updated_at) {
        co_return;
      }
      co_await raw->line->put_settings(*parsed);
    });
    c.on("event.status_changed", [raw](store::Tx&, const coord::Event& ev) -> Task<void> {
      std::string why;
      auto change = parse_status_changed(ev.payload, why);
      if (!change) {
        log::error(raw->ctx.log, "ignoring malformed event.status_changed",
                   {lf("event_id", ev.id), lf("error", why)});
        co_return;
      }
      auto existing = co_await raw->line->raw_settings(change->event_id);
      if (!existing) {
        co_return;  // never published: nothing to wait for
      }
      if (apply_status(*existing, *change)) {
        co_await raw->line->put_settings(*existing);
      }
    });
  }

  void add(net::Router& r, std::string method, std::string path, handlers::Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          auto s = state_;
          if (!s) {
            throw errors::unavailable("The queue service is starting.", 1);
          }
          // Verify the bearer token here too, so the routes work with or without the shared
          // middleware (skipped when a principal is already set).
          common::authenticate_request(*s->authenticator, req);
          std::string coord_error;
          try {
            co_return co_await fn(*s, req);
          } catch (const ApiError&) {
            throw;
          } catch (const std::exception& e) {
            // The line lives only in the coordination store: while it is unreachable the honest
            // answer is 503 + Retry-After (the load balancer and clients retry), not a 500.
            if (std::string_view(e.what()).starts_with("redis ")) {
              coord_error = e.what();
            } else {
              throw;
            }
          }
          log::warn(s->ctx.log, "coordination store unavailable", {lf("error", coord_error)});
          throw errors::unavailable("The waiting room is temporarily unavailable; your place is kept.", 1);
        },
        net::RouteOptions{.service = "queue"});
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<Admitter> admitter_;
  std::shared_ptr<coord::Consumer> consumer_;
};

State* state_of(app::Service& service) {
  auto* s = dynamic_cast<QueueService*>(&service);
  return s != nullptr ? s->state() : nullptr;
}

Admitter* admitter_of(app::Service& service) {
  auto* s = dynamic_cast<QueueService*>(&service);
  return s != nullptr ? s->admitter() : nullptr;
}

Task<int> consume_once(app::Service& service) {
  auto* s = dynamic_cast<QueueService*>(&service);
  if (s == nullptr || s->consumer() == nullptr) {
    co_return 0;
  }
  co_return co_await s->consumer()->poll_once();
}

}  // namespace tiketi::queue

namespace tiketi::app {
ServicePtr make_queue_service() { return std::make_unique<queue::QueueService>(); }
}  // namespace tiketi::app
