// The gateway wire over libcurl (common::OutboundHttp): http and https, CA bundle, hard timeouts.
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "services/common/outbound_http.hpp"
#include "services/payment/gateway/toss_gateway.hpp"

namespace tiketi::payment {
namespace {

class CurlTransport final : public GatewayTransport {
 public:
  CurlTransport(std::string base_url, const CurlTransportOptions& o)
      : base_url_(std::move(base_url)),
        connect_timeout_ms_(o.connect_timeout_ms),
        http_(common::OutboundOptions{.ca_file = o.ca_file,
                                      .max_connections_per_host = o.max_connections,
                                      .max_total_connections = o.max_connections}) {
    while (!base_url_.empty() && base_url_.back() == '/') {
      base_url_.pop_back();
    }
  }

  Task<GatewayHttpResponse> send(GatewayHttpRequest r) override {
    common::OutboundRequest req;
    req.method = r.method;
    req.url = base_url_ + r.path;
    req.body = std::move(r.body);
    req.timeout = std::chrono::milliseconds(r.timeout_ms);
    req.connect_timeout = std::chrono::milliseconds(std::min(connect_timeout_ms_, r.timeout_ms));
    // The adapter computed "Basic base64(secret:)"; sent as is (same bytes as CURLOPT_USERNAME).
    req.headers.emplace_back("Authorization", std::move(r.authorization));
    if (req.method != "GET") {
      req.headers.emplace_back("Content-Type", "application/json");
    }
    if (!r.idempotency_key.empty()) {
      req.headers.emplace_back("Idempotency-Key", std::move(r.idempotency_key));
    }
    auto resp = co_await http_.send(std::move(req));
    GatewayHttpResponse out;
    if (resp.ok()) {
      out.status = resp.status;
      out.body = std::move(resp.body);
      out.transport_error = resp.status >= 500;
    } else {
      out.transport_error = true;
      // A timeout is an unknown outcome even before the first byte went out (the connect may
      // have completed just as it fired); only a definite pre-send failure is "not sent".
      out.not_sent = !resp.sent && !resp.timed_out;
      out.error = (resp.timed_out ? "timeout: " : "transport: ") + resp.error;
    }
    co_return out;
  }

 private:
  std::string base_url_;
  std::int64_t connect_timeout_ms_;
  common::OutboundHttp http_;
};

}  // namespace

GatewayTransportPtr make_curl_transport(const std::string& base_url, CurlTransportOptions opts) {
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
    throw std::invalid_argument("setting payment.gateway_url: expected an http:// or https:// URL (got " +
                                base_url + ")");
  }
  return std::make_shared<CurlTransport>(base_url, opts);
}

}  // namespace tiketi::payment
