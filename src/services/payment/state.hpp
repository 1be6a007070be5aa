#pragma once
// Everything the payment handlers and background jobs share, built in start().
#include <memory>
#include <optional>
#include <string>

#include "app/service.hpp"
#include "core/metrics.hpp"
#include "services/common/auth_verify.hpp"
#include "services/payment/gateway/gateway.hpp"
#include "services/payment/storage/payment_store.hpp"

namespace tiketi::payment {

class PgSimulator;

struct Settings {
  std::optional<std::string> gateway_url;  // payment.gateway_url; unset -> built-in simulator (test mode)
  std::string gateway_secret = "test_sk_tiketi_simulator";  // payment.gateway_secret
  std::optional<std::string> checkout_base_url;             // payment.checkout_url (browser-facing)
  std::int64_t gateway_timeout_ms = 10'000;                 // payment.gateway_timeout_ms
  // payment.gateway_transport: auto (https -> curl, http -> native), curl, or native (net::HttpClient).
  std::string gateway_transport = "auto";
  std::string gateway_ca_file;                    // payment.gateway_ca_file: extra CA bundle (PEM)
  std::int64_t gateway_max_connections = 256;     // payment.gateway_max_connections
  // How long a confirm waits on a quick lookup after a timeout before answering UNKNOWN.
  std::int64_t reconcile_interval_ms = 1'000;     // payment.reconcile_interval_ms (background pass)
  std::string success_url = "/payments/success";  // payment.success_url (the web UI's return page)
  std::string fail_url = "/payments/fail";        // payment.fail_url
  std::int64_t created_ttl_ms = 15 * 60'000;      // payment.created_ttl_ms: abandon CREATED after this
  std::int64_t max_charge = 1'000'000;            // payment.max_point_charge
  // payment.pg_write_batch: PostgreSQL group commit of the card path's single-statement writes of
  // concurrent payments (1 = off; each write still committed durably before its request goes on).
  std::int64_t pg_write_batch = 64;
  std::optional<std::string> internal_token;      // reservation.internal_token (sent on internal calls)
  bool background = true;                         // payment.background=off: jobs only run by hand (tests)
};

// Reads payment.* from Config::extra; throws std::invalid_argument("setting payment.x: …").
Settings load_settings(const Config& config);

struct Metrics {
  metrics::Registry* registry = nullptr;
  metrics::Counter* unknown = nullptr;
  metrics::Counter& payments(std::string_view result, std::string_view method) const;
  metrics::Counter& refunds(std::string_view result) const;
};

struct State {
  app::ServiceContext ctx;
  Settings settings;
  std::shared_ptr<common::Authenticator> authenticator;
  std::unique_ptr<PaymentStore> store;
  GatewayPtr gateway;
  std::shared_ptr<PgSimulator> simulator;  // set when running the built-in simulator
  Metrics metrics;
  std::function<void()> notify_relay;  // wakes the outbox relay after a commit with an event
};

}  // namespace tiketi::payment
