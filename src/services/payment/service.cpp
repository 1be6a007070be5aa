#include "services/payment/service.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/payment/flow.hpp"
#include "services/payment/gateway/simulator.hpp"
#include "services/payment/gateway/toss_gateway.hpp"
#include "services/payment/handlers/handlers.hpp"
#include "services/payment/schema/migrations.hpp"
#include "services/payment/state.hpp"

namespace tiketi::payment {
namespace {

namespace asio = boost::asio;

}  // namespace

Settings load_settings(const Config& config) {
  Settings s;
  s.gateway_url = config.get("payment.gateway_url");
  if (auto k = config.get("payment.gateway_secret")) {
    s.gateway_secret = *k;
  }
  s.checkout_base_url = config.get("payment.checkout_url");
  s.gateway_timeout_ms = config.get_int("payment.gateway_timeout_ms", 10'000, 50, 120'000);
  s.gateway_transport = config.get("payment.gateway_transport").value_or("auto");
  if (s.gateway_transport != "auto" && s.gateway_transport != "curl" && s.gateway_transport != "native") {
    throw std::invalid_argument("setting payment.gateway_transport: expected auto, curl or native, got '" +
                                s.gateway_transport + "'");
  }
  s.gateway_ca_file = config.get("payment.gateway_ca_file").value_or("");
  s.gateway_max_connections = config.get_int("payment.gateway_max_connections", 256, 1, 10'000);
  s.reconcile_interval_ms = config.get_int("payment.reconcile_interval_ms", 1'000, 10, 600'000);
  s.created_ttl_ms = config.get_int("payment.created_ttl_ms", 15 * 60'000, 1'000, 7 * 86'400'000LL);
  s.max_charge = config.get_int("payment.max_point_charge", 1'000'000, 1, kMaxAmount);
  s.pg_write_batch = config.get_int("payment.pg_write_batch", 64, 1, 1'000);
  if (auto u = config.get("payment.success_url")) {
    s.success_url = *u;
  }
  if (auto u = config.get("payment.fail_url")) {
    s.fail_url = *u;
  }
  s.internal_token = config.get("reservation.internal_token");
  s.background = config.get("payment.background").value_or("on") != "off";
  return s;
}

metrics::Counter& Metrics::payments(std::string_view result, std::string_view method) const {
  return registry->counter("payments_total", "Payments by result and method",
                           {{"result", std::string(result)}, {"method", std::string(method)}});
}

metrics::Counter& Metrics::refunds(std::string_view result) const {
  return registry->counter("payment_refunds_total", "Refunds by result", {{"result", std::string(result)}});
}

namespace {

class PaymentService final : public app::Service {
 public:
  std::string name() const override { return "payment"; }
  std::vector<store::Migration> migrations() const override { return payment::migrations(); }

  void routes(net::Router& r) override {
    using namespace handlers;
    add(r, "POST", "/api/v1/payments", &payments_post);
    add(r, "POST", "/api/v1/payments/{id}/confirm", &payment_confirm);
    add(r, "GET", "/api/v1/payments/{id}", &payment_get);
    add(r, "GET", "/api/v1/points", &points_get);
    add(r, "POST", "/api/v1/points/charge", &points_charge);
    add(r, "GET", "/api/v1/points/history", &points_history);
    add(r, "GET", "/api/v1/admin/payments", &admin_payments);
    add(r, "GET", "/api/v1/admin/payments/revenue", &admin_revenue);
    add(r, "POST", "/api/v1/admin/payments/{id}/refund", &admin_refund);
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
    s->store = std::make_unique<PaymentStore>(ctx.db, s->ctx.clock, static_cast<std::size_t>(s->settings.pg_write_batch));
    s->metrics.registry = ctx.metrics != nullptr ? ctx.metrics : &metrics::global();
    s->metrics.unknown = &s->metrics.registry->counter("payment_unknown_outcomes_total",
                                                       "Gateway calls whose outcome was unknown");

    TossOptions to;
    to.secret_key = s->settings.gateway_secret;
    to.timeout_ms = s->settings.gateway_timeout_ms;
    if (s->settings.gateway_url) {
      to.base_url = *s->settings.gateway_url;
      to.test_mode = s->settings.gateway_secret.rfind("test_", 0) == 0;
    } else {
      // Embedded default: the built-in simulator, clearly test mode.
      PgSimOptions so;
      so.listen = config.get("payment.sim_listen").value_or("127.0.0.1:0");
      so.secret_key = s->settings.gateway_secret;
      s->simulator = std::make_shared<PgSimulator>(so);
      s->simulator->start();
      to.base_url = s->simulator->base_url();
      to.test_mode = true;
      log::info(ctx.log, "payment gateway: built-in simulator (TEST MODE)", {lf("url", to.base_url)});
    }
    to.checkout_base_url = s->settings.checkout_base_url.value_or(to.base_url);
    to.max_idle_connections = static_cast<std::size_t>(s->settings.gateway_max_connections);
    const bool https = to.base_url.rfind("https://", 0) == 0;
    GatewayTransportPtr transport;
    if (s->settings.gateway_transport == "curl" || (s->settings.gateway_transport == "auto" && https)) {
      CurlTransportOptions co;
      co.ca_file = s->settings.gateway_ca_file;
      co.max_connections = to.max_idle_connections;
      transport = make_curl_transport(to.base_url, co);
    } else {
      transport = make_http_transport(to.base_url, s->ctx.clock, ctx.executor, to.max_idle_connections);
    }
    s->gateway = make_toss_gateway(to, transport, s->metrics.registry);
    log::info(ctx.log, "payment gateway",
              {lf("url", to.base_url), lf("transport", transport_name(*s, https)),
               lf("test_mode", to.test_mode ? "yes" : "no")});

    if (ctx.coord) {
      relay_ = std::make_shared<coord::OutboxRelay>(ctx.db, ctx.coord, s->ctx.clock, ctx.log);
      auto relay = relay_;
      s->notify_relay = [relay] { relay->notify(); };
      const std::string instance = ctx.instance_id.empty() ? "payment" : ctx.instance_id;
      consumer_ = std::make_shared<coord::Consumer>(ctx.db, ctx.coord, "payment", instance, ctx.log);
      State* raw = s.get();
      consumer_->on("reservation.cancelled", [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
        co_await on_reservation_cancelled(*raw, tx, ev.id, ev.payload);
      });
      consumer_->on("reservation.confirmation_failed",
                    [raw](store::Tx& tx, const coord::Event& ev) -> Task<void> {
                      co_await on_confirmation_failed(*raw, tx, ev.id, ev.payload);
                    });
      if (s->settings.background) {
        asio::co_spawn(ctx.executor, relay_->run(), [keep = relay_, s](std::exception_ptr) {});
        asio::co_spawn(ctx.executor, consumer_->run(), [keep = consumer_, s](std::exception_ptr) {});
      }
    }
    reconciler_ = std::make_shared<Reconciler>();
    reconciler_->owner = ctx.instance_id.empty() ? "payment-" + ids::random_hex(6) : ctx.instance_id;
    if (s->settings.background) {
      timer_ = std::make_shared<asio::steady_timer>(ctx.executor);
      asio::co_spawn(ctx.executor, reconciler(s, timer_, stopping_, reconciler_), [s](std::exception_ptr) {});
    }
    state_ = std::move(s);
    co_return;
  }

  Task<void> stop() override {
    stopping_->store(true);
    if (timer_) {
      timer_->cancel();
    }
    if (consumer_) {
      consumer_->stop();
    }
    if (relay_) {
      relay_->stop();
    }
    if (state_ && state_->simulator) {
      state_->simulator->shutdown();
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
  coord::Consumer* consumer() { return consumer_.get(); }
  coord::OutboxRelay* relay() { return relay_.get(); }
  ReconcilerStatus reconciler_status() const {
    ReconcilerStatus out;
    if (reconciler_) {
      out.passes = reconciler_->passes.load();
      out.leader = reconciler_->leader.load();
      out.owner = reconciler_->owner;
    }
    return out;
  }

 private:
  // The background reconciler runs on one replica at a time: the holder of the coordination lease
  // "payment:reconciler". The lease is renewed before every gateway call of a pass, so a replica
  // that loses it (paused, partitioned) stops within one item; a stopped replica releases it.
  struct Reconciler final : PassGuard {
    std::string owner;
    coord::CoordinatorPtr coord;
    std::optional<coord::Lease> lease;
    coord::Ttl ttl{10'000};
    std::atomic<std::int64_t> passes{0};
    std::atomic<bool> leader{false};

    Task<bool> acquire() {
      if (!coord) {
        leader = true;  // no coordination store: this process is alone
        co_return true;
      }
      try {
        lease = co_await coord->acquire_lease(kReconcilerLease, owner, ttl);
      } catch (const std::exception&) {
        lease.reset();
      }
      leader = lease.has_value();
      co_return leader.load();
    }

    Task<bool> still_leader() override {
      if (!coord) {
        co_return true;
      }
      if (!lease) {
        co_return false;
      }
      bool kept = false;
      try {
        kept = co_await coord->renew_lease(*lease, ttl);
      } catch (const std::exception&) {
        kept = false;
      }
      if (!kept) {
        lease.reset();
        leader = false;
      }
      co_return kept;
    }

    Task<void> release() {
      if (coord && lease) {
        try {
          co_await coord->release_lease(*lease);
        } catch (const std::exception&) {
        }
      }
      lease.reset();
      leader = false;
    }
  };
  static constexpr const char* kReconcilerLease = "payment:reconciler";

  // Anything left UNKNOWN, stale, abandoned or waiting for a refund is retried on every tick.
  static Task<void> reconciler(std::shared_ptr<State> s, std::shared_ptr<asio::steady_timer> timer,
                               std::shared_ptr<std::atomic<bool>> stopping, std::shared_ptr<Reconciler> r) {
    r->coord = s->ctx.coord;
    r->ttl = coord::Ttl{std::max<std::int64_t>(s->settings.reconcile_interval_ms * 5, 5'000)};
    while (!stopping->load()) {
      timer->expires_after(std::chrono::milliseconds(s->settings.reconcile_interval_ms));
      try {
        co_await timer->async_wait(asio::use_awaitable);
      } catch (const std::exception&) {
        // cancelled by stop()
      }
      if (stopping->load()) {
        break;
      }
      const bool leader = co_await r->acquire();
      if (!leader) {
        continue;  // another replica reconciles
      }
      ++r->passes;
      try {
        co_await reconcile_pass(*s, r.get());
      } catch (const std::exception& e) {
        log::warn(s->ctx.log, "reconciler pass failed", {lf("error", e.what())});
      }
    }
    co_await r->release();  // let another replica take over at once
  }

  static std::string transport_name(const State& s, bool https) {
    if (s.settings.gateway_transport == "curl" || (s.settings.gateway_transport == "auto" && https)) {
      return "curl";
    }
    return "native";
  }

  void add(net::Router& r, std::string method, std::string path, handlers::Fn fn) {
    r.add(
        std::move(method), std::move(path),
        [this, fn](net::Request& req) -> Task<net::Response> {
          State* s = state_.get();
          if (s == nullptr) {
            throw errors::unavailable("The payment service is starting.", 1);
          }
          // Verify the bearer token here too, so these routes work whether or not the process
          // installed the shared middleware (skipped when a principal is already set).
          common::authenticate_request(*s->authenticator, req);
          co_return co_await fn(*s, req);
        },
        net::RouteOptions{.service = "payment"});
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<coord::Consumer> consumer_;
  std::shared_ptr<coord::OutboxRelay> relay_;
  std::shared_ptr<asio::steady_timer> timer_;
  std::shared_ptr<Reconciler> reconciler_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

State* state_of(app::Service& service) {
  auto* s = dynamic_cast<PaymentService*>(&service);
  return s != nullptr ? s->state() : nullptr;
}

ReconcilerStatus reconciler_status(app::Service& service) {
  auto* s = dynamic_cast<PaymentService*>(&service);
  return s != nullptr ? s->reconciler_status() : ReconcilerStatus{};
}

Task<int> reconcile_once(app::Service& service) {
  State* s = state_of(service);
  if (s == nullptr) {
    co_return 0;
  }
  co_return co_await reconcile_pass(*s);
}

Task<int> consume_once(app::Service& service) {
  auto* s = dynamic_cast<PaymentService*>(&service);
  if (s == nullptr || s->consumer() == nullptr) {
    co_return 0;
  }
  co_return co_await s->consumer()->poll_once();
}

Task<int> relay_once(app::Service& service) {
  auto* s = dynamic_cast<PaymentService*>(&service);
  if (s == nullptr || s->relay() == nullptr) {
    co_return 0;
  }
  co_return co_await s->relay()->publish_pending();
}

}  // namespace tiketi::payment

namespace tiketi::app {
ServicePtr make_payment_service() { return std::make_unique<payment::PaymentService>(); }
}  // namespace tiketi::app
