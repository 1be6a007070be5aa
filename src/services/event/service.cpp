#include "services/event/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

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
  }

  Task<void> start(app::ServiceContext& ctx) override {
    auto s = std::make_unique<EventState>();
    s->ctx = ctx;
    if (!s->ctx.clock) {
      s->ctx.clock = std::make_shared<SystemClock>();
    }
    if (ctx.config != nullptr) {
      s->authenticator = common::Authenticator::from_config(*ctx.config, s->ctx.clock);
    }
    s->store = std::make_unique<EventStore>(ctx.db, s->ctx.clock);
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
    state_ = std::move(s);
  }

  Task<void> stop() override {
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

 private:
  using Fn = handlers::Fn;

  void pub(net::Router& r, std::string method, std::string path, Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> { co_return co_await fn(ready(), req); },
        net::RouteOptions{.service = "event"});
  }

  void admin(net::Router& r, std::string method, std::string path, Fn fn) {
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
        net::RouteOptions{.service = "event"});
  }

  EventState& ready() {
    if (!state_) {
      throw errors::unavailable("The event service is starting.", 1);
    }
    return *state_;
  }

  std::unique_ptr<EventState> state_;
  std::unique_ptr<Scheduler> scheduler_;
  coord::SubscriptionPtr subscription_;
};

}  // namespace
}  // namespace tiketi::event

namespace tiketi::app {
ServicePtr make_event_service() { return std::make_unique<event::EventService>(); }
}  // namespace tiketi::app
