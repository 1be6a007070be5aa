#pragma once
// Toss-Payments-style adapter: JSON over HTTP, secret key as HTTP Basic auth `base64(secret:)`.
#include <cstddef>
#include <cstdint>
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

// http:// or https:// transport over libcurl (common::OutboundHttp: one background thread drives
// every transfer, so a waiting gateway call holds neither a thread nor a database transaction).
// TLS peers are verified against the system store, or against `ca_file` (PEM) when given. A timeout
// is an unknown outcome; a connect or TLS failure is reported as not sent. Throws
// std::invalid_argument for another scheme.
struct CurlTransportOptions {
  std::string ca_file;
  std::size_t max_connections = 256;
  std::int64_t connect_timeout_ms = 3'000;
};
GatewayTransportPtr make_curl_transport(const std::string& base_url, CurlTransportOptions opts);

GatewayPtr make_toss_gateway(TossOptions opts, GatewayTransportPtr transport, metrics::Registry* metrics);

// "Basic " + base64(secret + ":").
std::string basic_auth(const std::string& secret_key);
// Percent-encodes everything outside [A-Za-z0-9-._~].
std::string url_encode(const std::string& s);

}  // namespace tiketi::payment
