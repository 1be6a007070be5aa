#include "services/event/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "services/event/handlers/handlers.hpp"
#include "services/event/scheduler.hpp"
#include "services/event/schema/migrations.hpp"

namespace tiketi::event {
namespace {
namespace asio = boost::asio;

class EventService final : public app::Service {
 public:
  std::string name() const override { return "event"; }
  std::vector<store::Migration> migrations() const override { return event::migrations(); }

  void routes(net::Router& r) override {
    using namespace handlers;
    pub(r, "GET", "/api/v1/events", &events_list);
    pub(r, "GET", "/api/v1/events/{id}", &event_get);
    pub(r, "GET", "/api/v1/events/{id}/seating", &event_seating_get);
    pub(r, "GET", "/api/v1/news", &news_list);
    pub(r, "GET", "/api/v1/news/{id}", &news_get);
    admin(r, "GET", "/api/v1/admin/events", &admin_events_list);
    admin(r, "POST", "/api/v1/admin/events", &admin_event_create);
    admin(r, "GET", "/api/v1/admin/events/{id}", &admin_event_get);
    admin(r, "PATCH", "/api/v1/admin/events/{id}", &admin_event_update);
    admin(r, "DELETE", "/api/v1/admin/events/{id}", &admin_event_delete);
    admin(r, "POST", "/api/v1/admin/events/{id}/publish", &admin_event_publish);
    admin(r, "PUT", "/api/v1/admin/events/{id}/seating", &admin_seating_put);
    admin(r, "GET", "/api/v1/admin/events/{id}/ticket-types", &admin_ticket_types_list);
    admin(r, "POST", "/api/v1/admin/events/{id}/ticket-types", &admin_ticket_type_create);
    admin(r, "PATCH", "/api/v1/admin/events/{id}/ticket-types/{ticket_type_id}", &admin_ticket_type_update);
    admin(r, "DELETE", "/api/v1/admin/events/{id}/ticket-types/{ticket_type_id}", &admin_ticket_type_delete);
    admin(r, "GET", "/api/v1/admin/venues", &admin_venues_list);
    admin(r, "POST", "/api/v1/admin/venues", &admin_venue_create);
    admin(r, "GET", "/api/v1/admin/venues/{id}", &admin_venue_get);
    admin(r, "PATCH", "/api/v1/admin/venues/{id}", &admin_venue_update);
    admin(r, "DELETE", "/api/v1/admin/venues/{id}", &admin_venue_delete);
    admin(r, "POST", "/api/v1/admin/news", &admin_news_create);
    admin(r, "PATCH", "/api/v1/admin/news/{id}", &admin_news_update);
    admin(r, "DELETE", "/api/v1/admin/news/{id}", &admin_news_delete);
    // Routes are registered before start() sees the configuration, so the server's body limit for
    // the upload is the ceiling of event.image_max_bytes plus room for the multipart framing (a
    // larger body is refused with 413 before it is read); the handler enforces the configured
    // limit (413 too).
    admin(r, "POST", "/api/v1/admin/images", &admin_image_upload, kMaxImageBytesCeiling + 64 * 1024);
    pub(r, "GET", "/api/v1/images/{key}", &image_get);
  }

  Task<void> start(app::ServiceContext& ctx) override {
    auto s = std::make_shared<EventState>();
    s->ctx = ctx;
    if (!s->ctx.clock) {
      s->ctx.clock = std::make_shared<SystemClock>();
    }
    if (ctx.config != nullptr) {
      s->authenticator = common::Authenticator::from_config(*ctx.config, s->ctx.clock);
    }
    s->store = std::make_unique<EventStore>(ctx.db, s->ctx.clock);
    s->image_settings = image_settings_from(ctx.config);
    s->images = make_image_storage(s->image_settings);
    co_await s->refresh_version();
    EventState* raw = s.get();
    subscription_ = co_await ctx.coord->subscribe(kCatalogChannel, [raw](const std::string& msg) {
      try {
        raw->cache.observe(std::stoull(msg));
      } catch (const std::exception&) {
      }
    });
    // This service's outbox relay (several replicas may run one: rows are claimed under a lease).
    s->relay = std::make_shared<coord::OutboxRelay>(ctx.db, ctx.coord, s->ctx.clock, ctx.log);
    asio::co_spawn(ctx.executor, s->relay->run(), asio::detached);
    scheduler_ = std::make_unique<Scheduler>(*s, ctx.instance_id.empty() ? "event" : ctx.instance_id);
    asio::co_spawn(ctx.executor, scheduler_->run(), asio::detached);
    // inventory.sold_out from the reservation service closes the sale early (consumer group
    // "event", deduplicated by event id in processed_events like every consumer).
    consumer_ = std::make_shared<coord::Consumer>(ctx.db, ctx.coord, "event",
                                                  ctx.instance_id.empty() ? "event" : ctx.instance_id, ctx.log);
    register_handlers(*consumer_, s);
    asio::co_spawn(ctx.executor, consumer_->run(), [keep = consumer_](std::exception_ptr) {});
    state_ = std::move(s);
  }

  Task<void> stop() override {
    if (consumer_) {
      consumer_->stop();
    }
    if (scheduler_) {
      scheduler_->stop();
    }
    if (state_ && state_->relay) {
      state_->relay->stop();
    }
    subscription_.reset();
    co_return;
  }

  std::vector<app::HealthCheck> health_checks() override {
    return {{"scheduler", [this]() -> Task<bool> { co_return scheduler_ && scheduler_->running(); }}};
  }

  // For tests: the state once started.
  EventState* state() { return state_.get(); }
  coord::Consumer* consumer() { return consumer_.get(); }

 private:
  using Fn = handlers::Fn;

  static void register_handlers(coord::Consumer& c, const std::shared_ptr<EventState>& state) {
    std::weak_ptr<EventState> weak = state;
    EventState* raw = state.get();
    c.on("inventory.sold_out", [raw, weak](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      auto doc = nlohmann::json::parse(ev.payload, nullptr, false);
      if (!doc.is_object() || !doc.contains("event_id") || !doc["event_id"].is_string() ||
          doc["event_id"].get_ref<const std::string&>().empty() || doc.value("schema_version", 0) != 1) {
        // Recorded as processed (retrying cannot fix it) and logged for the operator.
        log::error(raw->ctx.log, "ignoring malformed inventory.sold_out", {lf("event_id", ev.id)});
        co_return;
      }
      const std::string event_id = doc["event_id"].get<std::string>();
      const Millis now = raw->ctx.clock->now_ms();
      auto applied = co_await raw->store->mark_sold_out(tx, event_id, now, ev.trace_id);
      if (applied) {
        log::info(raw->ctx.log, "event sold out: sale closed",
                  {lf("event_id", event_id), lf("outbox_event_id", applied->outbox_event_id)});
      }
      // The public cache must drop its pages once this transaction has committed (before the
      // commit a reader could re-cache the old status under the new version).
      if (auto alive = weak.lock()) {
        invalidate_after_commit(std::move(alive), event_id);
      }
    });
  }

  // Waits (bounded) until the sold-out flag is visible to other connections, then bumps the
  // catalogue version; bumps it anyway after ~5 s so a rolled-back handler costs one extra bump.
  static void invalidate_after_commit(std::shared_ptr<EventState> state, std::string event_id) {
    auto job = [](std::shared_ptr<EventState> s, std::string id) -> Task<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < 50; ++i) {
        timer.expires_after(std::chrono::milliseconds(i == 0 ? 5 : 100));
        co_await timer.async_wait(asio::use_awaitable);
        try {
          store::Params params;
          params.push_back(store::p(id));
          auto r = co_await s->ctx.db->exec("SELECT sold_out FROM events WHERE id = $1", std::move(params));
          if (r.empty() || r.rows.front().i64(0) != 0) {
            break;
          }
        } catch (const std::exception&) {
        }
      }
      try {
        co_await s->invalidate();
      } catch (const std::exception& e) {
        log::warn(s->ctx.log, "cache invalidation after sold-out failed", {lf("error", e.what())});
      }
    };
    auto ex = state->ctx.executor;
    asio::co_spawn(ex, job(std::move(state), std::move(event_id)), asio::detached);
  }

  void pub(net::Router& r, std::string method, std::string path, Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> { co_return co_await fn(ready(), req); },
        net::RouteOptions{.service = "event"});
  }

  void admin(net::Router& r, std::string method, std::string path, Fn fn, std::size_t max_body = 0) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          EventState& s = ready();
          // Verify the bearer token here too, so admin routes work whether or not the process
          // installed the shared middleware (skipped when a principal is already set).
          if (s.authenticator) {
            common::authenticate_request(*s.authenticator, req);
          }
          common::require_role(req, "admin");
          co_return co_await fn(s, req);
        },
        net::RouteOptions{.service = "event", .max_body = max_body});
  }

  EventState& ready() {
    if (!state_) {
      throw errors::unavailable("The event service is starting.", 1);
    }
    return *state_;
  }

  std::shared_ptr<EventState> state_;
  std::unique_ptr<Scheduler> scheduler_;
  std::shared_ptr<coord::Consumer> consumer_;
  coord::SubscriptionPtr subscription_;
};

}  // namespace

Task<int> consume_once(app::Service& service) {
  auto* s = dynamic_cast<EventService*>(&service);
  if (s == nullptr || s->consumer() == nullptr) {
    co_return 0;
  }
  co_return co_await s->consumer()->poll_once();
}

namespace {

}  // namespace
}  // namespace tiketi::event

namespace tiketi::app {
ServicePtr make_event_service() { return std::make_unique<event::EventService>(); }
}  // namespace tiketi::app
