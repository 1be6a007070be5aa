#pragma once
// Toss-Payments-style adapter: JSON over HTTP, secret key as HTTP Basic auth `base64(secret:)`.
#include <string>

#include "core/clock.hpp"
#include "services/payment/gateway/gateway.hpp"

namespace tiketi::metrics {
class Registry;
}

namespace tiketi::payment {

struct TossOptions {
  std::string base_url;           // "http://127.0.0.1:4010" (simulator) or the provider's API
  std::string secret_key;         // test_sk_… / live_sk_…
  std::string checkout_base_url;  // hosted checkout (the simulator's /checkout); empty = base_url
  std::int64_t timeout_ms = 10'000;
  bool test_mode = false;
  std::size_t max_idle_connections = 256;
};

// Plain-http transport over the platform's net::HttpClient (keep-alive pool, no retries: a
// gateway call is never repeated blindly). Throws std::invalid_argument for a non-http URL.
GatewayTransportPtr make_http_transport(const std::string& base_url, ClockPtr clock, Executor ex,
                                        std::size_t max_idle);

GatewayPtr make_toss_gateway(TossOptions opts, GatewayTransportPtr transport, metrics::Registry* metrics);

// "Basic " + base64(secret + ":").
std::string basic_auth(const std::string& secret_key);
// Percent-encodes everything outside [A-Za-z0-9-._~].
std::string url_encode(const std::string& s);

}  // namespace tiketi::payment
