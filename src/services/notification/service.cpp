#include "services/notification/service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/notification/handlers/handlers.hpp"
#include "services/notification/schema/migrations.hpp"
#include "services/notification/sender.hpp"

namespace tiketi::notification {
namespace {
namespace asio = boost::asio;
using nlohmann::json;

constexpr const char* kGroup = "notification";

// The production lookup: the auth service's internal API (in-process when auth runs here).
RecipientDirectory::Lookup auth_lookup(NotificationState* s) {
  return [s](const std::string& user_id) -> Task<std::optional<Recipient>> {
    if (s->ctx.client == nullptr) {
      throw LookupError("no HTTP client to reach the auth service");
    }
    net::ClientRequest req;
    req.method = "GET";
    req.path = "/internal/v1/users/" + user_id;
    if (s->settings.internal_token) {
      req.headers.emplace_back("x-internal-token", *s->settings.internal_token);
    }
    auto res = co_await s->ctx.client->call("auth", std::move(req), s->ctx.log);
    if (res.status == 404) {
      co_return std::nullopt;
    }
    if (res.status != 200) {
      throw LookupError("auth answered " + std::to_string(res.status));
    }
    const json j = json::parse(res.body, nullptr, false);
    if (!j.is_object()) {
      throw LookupError("auth answered with a body that is not JSON");
    }
    co_return Recipient{user_id, j.value("email", ""), j.value("name", ""), j.value("language", "ko")};
  };
}

// What one mailed event queues: nothing (logged) when the payload is not JSON or names no user.
std::optional<NewDelivery> delivery_of(NotificationState* s, const coord::Event& ev) {
  const json payload = json::parse(ev.payload, nullptr, false);
  if (!payload.is_object()) {
    log::error(s->ctx.log, "ignoring an event whose payload is not JSON",
               {lf("event_id", ev.id), lf("topic", ev.topic)});
    return std::nullopt;
  }
  auto user = recipient_of(payload);
  if (!user) {
    log::warn(s->ctx.log, "event has no user_id; nothing to mail",
              {lf("event_id", ev.id), lf("topic", ev.topic)});
    return std::nullopt;
  }
  return NewDelivery{ev.id, std::move(*user), ev.topic, ev.payload, ev.created_at_ms};
}

// Inside the consumer's transaction (processed_events dedupes by event id; the deliveries UNIQUE
// key dedupes by (event, recipient) as a second line).
Task<void> on_mail_event(NotificationState* s, store::Tx& tx, const coord::Event& ev) {
  auto d = delivery_of(s, ev);
  if (!d) {
    co_return;
  }
  const bool queued =
      co_await s->store->enqueue(tx, d->event_id, d->recipient, d->topic, d->payload, d->event_created_at);
  if (queued && s->sender != nullptr) {
    // Not committed yet: after a wake-up the sender waits wake_delay_ms and re-checks a few times.
    s->sender->wake();
  }
}

// The batch form: the new events of one read (one topic), queued with one statement instead of one
// INSERT per event. Same rules as on_mail_event, which still takes single events and the consumer's
// one-by-one fallback.
Task<void> on_mail_events(NotificationState* s, store::Tx& tx, const std::vector<coord::Event>& events) {
  std::vector<NewDelivery> rows;
  rows.reserve(events.size());
  for (const auto& ev : events) {
    if (auto d = delivery_of(s, ev)) {
      rows.push_back(std::move(*d));
    }
  }
  const int queued = co_await s->store->enqueue_many(tx, rows);
  if (queued > 0 && s->sender != nullptr) {
    s->sender->wake();
  }
}

Task<void> on_event_published(NotificationState* s, store::Tx& tx, const coord::Event& ev) {
  const json payload = json::parse(ev.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("event_id")) {
    co_return;
  }
  EventInfo info{payload.value("event_id", ""), payload.value("title", ""),
                 payload.value("performance_start", std::int64_t{0})};
  co_await s->store->remember_event(tx, info);
}

class NotificationService final : public app::Service {
 public:
  std::string name() const override { return "notification"; }
  std::vector<store::Migration> migrations() const override { return notification::migrations(); }

  void routes(net::Router& r) override {
    admin(r, "GET", "/api/v1/admin/notifications", &handlers::admin_list);
    admin(r, "GET", "/api/v1/admin/notifications/{id}", &handlers::admin_get);
    admin(r, "POST", "/api/v1/admin/notifications/{id}/resend", &handlers::admin_resend);
  }

  Task<void> start(app::ServiceContext& ctx) override {
    auto s = std::make_unique<NotificationState>();
    s->ctx = ctx;
    if (!s->ctx.clock) {
      s->ctx.clock = std::make_shared<SystemClock>();
    }
    static const Config kDefaults{};
    const Config& config = ctx.config != nullptr ? *ctx.config : kDefaults;
    s->settings = load_settings(config);
    s->owner = ctx.instance_id.empty() ? "notification-" + ids::random_hex(6) : ctx.instance_id;
    if (ctx.config != nullptr) {
      s->authenticator = common::Authenticator::from_config(config, s->ctx.clock);
    }
    std::optional<std::filesystem::path> dir;
    if (s->settings.templates_dir) {
      dir = *s->settings.templates_dir;
    }
    s->templates = TemplateSet::load(dir);
    s->mailer = s->settings.smtp_url.empty() ? make_file_mailer(s->settings.outbox_dir)
                                             : make_smtp_mailer(s->settings.smtp);
    log::info(ctx.log, "notification mail transport",
              {lf("mailer", s->mailer->describe()), lf("templates_overridden", s->templates.overridden())});
    s->pool = std::make_unique<common::WorkerPool>(static_cast<std::size_t>(s->settings.workers),
                                                   static_cast<std::size_t>(s->settings.workers * 1024));
    s->store = std::make_unique<DeliveryStore>(ctx.db, s->ctx.clock);
    s->recipients = std::make_unique<RecipientDirectory>(auth_lookup(s.get()), s->ctx.clock,
                                                         s->settings.recipient_cache_ms);
    auto& m = ctx.metrics != nullptr ? *ctx.metrics : metrics::global();
    s->metrics.registry = &m;
    s->metrics.smtp_seconds =
        &m.histogram("notification_smtp_duration_seconds", "Time to hand one email to the mailer");
    s->metrics.lag_seconds =
        &m.histogram("notification_delivery_lag_seconds", "From the domain event to the email being accepted",
                     {}, {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900});
    s->metrics.pending = &m.gauge("notification_deliveries_pending", "Deliveries waiting to be sent");
    s->metrics.queue_lag = &m.gauge("notification_queue_lag_seconds", "Age of the oldest pending delivery");

    NotificationState* raw = s.get();
    consumer_ = std::make_shared<coord::Consumer>(ctx.db, ctx.coord, kGroup, s->owner, ctx.log);
    // One handler object copied per topic (g++ 12: no lambda coroutines created inside a loop).
    coord::EventHandler mail_handler = [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      co_await on_mail_event(raw, tx, ev);
    };
    coord::BatchHandler mail_batch = [raw](store::Tx& tx,
                                           const std::vector<coord::Event>& evs) -> Task<void> {
      co_await on_mail_events(raw, tx, evs);
    };
    for (const auto& topic : mailed_topics()) {
      consumer_->on(topic, mail_handler, mail_batch);
    }
    consumer_->on("event.published", [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
      co_await on_event_published(raw, tx, ev);
    });
    sender_ = std::make_unique<Sender>(*s);
    s->sender = sender_.get();
    state_ = std::move(s);
    asio::co_spawn(ctx.executor, consumer_->run(), asio::detached);
    asio::co_spawn(ctx.executor, sender_->run(), asio::detached);
    co_return;
  }

  Task<void> stop() override {
    if (consumer_) {
      consumer_->stop();
    }
    if (sender_) {
      sender_->stop();
    }
    co_return;
  }

  std::vector<app::HealthCheck> health_checks() override {
    return {{"mailer", [this]() -> Task<bool> { co_return state_ != nullptr && state_->mailer != nullptr; }}};
  }

  NotificationState* state() { return state_.get(); }
  Sender* sender() { return sender_.get(); }
  coord::Consumer* consumer() { return consumer_.get(); }

 private:
  void admin(net::Router& r, std::string method, std::string path, handlers::Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          NotificationState& s = ready();
          if (s.authenticator) {
            common::authenticate_request(*s.authenticator, req);
          }
          common::require_role(req, "admin");
          co_return co_await fn(s, req);
        },
        net::RouteOptions{.service = "notification"});
  }

  NotificationState& ready() {
    if (!state_) {
      throw errors::unavailable("The notification service is starting.", 1);
    }
    return *state_;
  }

  std::unique_ptr<NotificationState> state_;
  std::unique_ptr<Sender> sender_;
  std::shared_ptr<coord::Consumer> consumer_;
};

}  // namespace

NotificationState* state_of(app::Service& service) {
  auto* s = dynamic_cast<NotificationService*>(&service);
  return s != nullptr ? s->state() : nullptr;
}

Sender* sender_of(app::Service& service) {
  auto* s = dynamic_cast<NotificationService*>(&service);
  return s != nullptr ? s->sender() : nullptr;
}

Task<int> poll_events_once(app::Service& service) {
  auto* s = dynamic_cast<NotificationService*>(&service);
  if (s == nullptr || s->consumer() == nullptr) {
    co_return 0;
  }
  co_return co_await s->consumer()->poll_once();
}

}  // namespace tiketi::notification

namespace tiketi::app {
ServicePtr make_notification_service() { return std::make_unique<notification::NotificationService>(); }
}  // namespace tiketi::app
