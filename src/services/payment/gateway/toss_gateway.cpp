#include "services/payment/gateway/toss_gateway.hpp"

#include <sodium.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "net/client.hpp"

namespace tiketi::payment {
namespace {

using nlohmann::json;
constexpr const char* kPeer = "payment-gateway";

class HttpClientTransport final : public GatewayTransport {
 public:
  HttpClientTransport(const std::string& base_url, ClockPtr clock, Executor ex, std::size_t max_idle)
      : client_(std::move(clock), std::move(ex)) {
    if (base_url.rfind("http://", 0) != 0) {
      throw std::invalid_argument(
          "setting payment.gateway_url: only http:// is supported by this build (got " + base_url + ")");
    }
    // A gateway that times out is reconciled, not hammered: the breaker only sheds load when the
    // provider is clearly down.
    client_.set_breaker_options(net::CircuitBreaker::Options{.failure_threshold = 50, .open_ms = 2'000});
    client_.set_max_idle_per_peer(max_idle);
    client_.add_remote_peer(kPeer, base_url);
  }

  Task<GatewayHttpResponse> send(GatewayHttpRequest r) override {
    net::ClientRequest req;
    req.method = r.method;
    req.path = r.path;
    req.body = std::move(r.body);
    req.timeout = std::chrono::milliseconds(r.timeout_ms);
    req.total_timeout = req.timeout;
    req.idempotent = false;  // never retried blindly
    req.max_retries = 0;
    net::set_header(req.headers, "Authorization", r.authorization);
    net::set_header(req.headers, "Content-Type", "application/json");
    if (!r.idempotency_key.empty()) {
      net::set_header(req.headers, "Idempotency-Key", r.idempotency_key);
    }
    GatewayHttpResponse out;
    try {
      const LogContext parent{.service = "payment"};
      const std::string peer = kPeer;
      auto resp = co_await client_.call(peer, std::move(req), parent);
      out.status = resp.status;
      out.body = std::move(resp.body);
      out.transport_error = resp.status >= 500;
    } catch (const std::exception& e) {
      out.transport_error = true;
      out.error = e.what();
    }
    co_return out;
  }

 private:
  net::HttpClient client_;
};

class TossGateway final : public Gateway {
 public:
  TossGateway(TossOptions o, GatewayTransportPtr t, metrics::Registry* m)
      : opts_(std::move(o)), transport_(std::move(t)), auth_(basic_auth(opts_.secret_key)) {
    if (opts_.checkout_base_url.empty()) {
      opts_.checkout_base_url = opts_.base_url;
    }
    if (m != nullptr) {
      constexpr const char* kHelp = "Payment gateway call latency";
      h_confirm_ = &m->histogram("payment_gateway_duration_seconds", kHelp, {{"op", "confirm"}});
      h_cancel_ = &m->histogram("payment_gateway_duration_seconds", kHelp, {{"op", "cancel"}});
      h_lookup_ = &m->histogram("payment_gateway_duration_seconds", kHelp, {{"op", "lookup"}});
    }
  }

  std::string name() const override { return "toss"; }
  bool test_mode() const override { return opts_.test_mode; }

  Task<GatewayResult> confirm(std::string payment_key, std::string order_id, std::int64_t amount,
                              std::string idempotency_key) override {
    json body{{"paymentKey", payment_key}, {"orderId", order_id}, {"amount", amount}};
    GatewayHttpRequest req{"POST",      "/v1/payments/confirm", auth_, std::move(idempotency_key),
                           body.dump(), opts_.timeout_ms};
    co_return co_await exchange(std::move(req), h_confirm_);
  }

  Task<GatewayResult> cancel(std::string payment_key, std::string reason, std::optional<std::int64_t> amount,
                             std::string idempotency_key) override {
    json body{{"cancelReason", reason}};
    if (amount) {
      body["cancelAmount"] = *amount;
    }
    GatewayHttpRequest req{"POST",      "/v1/payments/" + url_encode(payment_key) + "/cancel",
                           auth_,       std::move(idempotency_key),
                           body.dump(), opts_.timeout_ms};
    co_return co_await exchange(std::move(req), h_cancel_);
  }

  Task<GatewayResult> lookup_by_key(std::string payment_key) override {
    GatewayHttpRequest req{"GET", "/v1/payments/" + url_encode(payment_key), auth_, "", "", opts_.timeout_ms};
    co_return co_await exchange(std::move(req), h_lookup_);
  }

  Task<GatewayResult> lookup_by_order(std::string order_id) override {
    GatewayHttpRequest req{"GET",           "/v1/payments/orders/" + url_encode(order_id), auth_, "", "",
                           opts_.timeout_ms};
    co_return co_await exchange(std::move(req), h_lookup_);
  }

  std::string checkout_url(const std::string& order_id, std::int64_t amount, const std::string& order_name,
                           const std::string& success_url, const std::string& fail_url) const override {
    return opts_.checkout_base_url + "/checkout?orderId=" + url_encode(order_id) +
           "&amount=" + std::to_string(amount) + "&orderName=" + url_encode(order_name) +
           "&successUrl=" + url_encode(success_url) + "&failUrl=" + url_encode(fail_url);
  }

 private:
  Task<GatewayResult> exchange(GatewayHttpRequest req, metrics::Histogram* h) {
    const auto started = std::chrono::steady_clock::now();
    auto resp = co_await transport_->send(std::move(req));
    if (h != nullptr) {
      h->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    co_return interpret(resp);
  }

  static GatewayResult interpret(const GatewayHttpResponse& resp) {
    GatewayResult r;
    if (resp.transport_error) {
      if (resp.not_sent) {
        r.outcome = GatewayOutcome::unreachable;
        r.code = "gateway_unreachable";
      } else {
        r.outcome = GatewayOutcome::unknown;
        r.code = resp.status >= 500 ? "gateway_" + std::to_string(resp.status) : "timeout_or_transport";
      }
      r.message = resp.error;
      return r;
    }
    json j;
    try {
      j = json::parse(resp.body);
    } catch (const std::exception&) {
      // A garbled answer tells us nothing about the charge.
      r.outcome = GatewayOutcome::unknown;
      r.code = "malformed_response";
      return r;
    }
    if (resp.status >= 200 && resp.status < 300) {
      try {
        r.payment.payment_key = j.value("paymentKey", "");
        r.payment.order_id = j.value("orderId", "");
        r.payment.status = j.value("status", "");
        r.payment.total_amount = j.value("totalAmount", std::int64_t{0});
        r.payment.balance_amount = j.value("balanceAmount", r.payment.total_amount);
        r.payment.method = j.value("method", "");
        r.outcome = GatewayOutcome::ok;
      } catch (const std::exception&) {
        r.outcome = GatewayOutcome::unknown;
        r.code = "malformed_response";
      }
      return r;
    }
    r.code = j.is_object() ? j.value("code", "") : "";
    r.message = j.is_object() ? j.value("message", "") : "";
    if (r.code == "NOT_FOUND_PAYMENT" || resp.status == 404) {
      r.outcome = GatewayOutcome::not_found;
    } else if (r.code == "ALREADY_PROCESSED_PAYMENT" || r.code == "ALREADY_CANCELED_PAYMENT") {
      r.outcome = GatewayOutcome::already_processed;
    } else if (resp.status == 401 || resp.status == 429 || r.code == "PROVIDER_ERROR") {
      // Our credentials or the provider's throttle, not the card: the charge did not happen but
      // it is not the fan's decline either; keep it reconcilable.
      r.outcome = GatewayOutcome::unknown;
    } else {
      r.outcome = GatewayOutcome::declined;
    }
    return r;
  }

  TossOptions opts_;
  GatewayTransportPtr transport_;
  std::string auth_;
  metrics::Histogram* h_confirm_ = nullptr;
  metrics::Histogram* h_cancel_ = nullptr;
  metrics::Histogram* h_lookup_ = nullptr;
};

}  // namespace

GatewayTransportPtr make_http_transport(const std::string& base_url, ClockPtr clock, Executor ex,
                                        std::size_t max_idle) {
  return std::make_shared<HttpClientTransport>(base_url, std::move(clock), std::move(ex), max_idle);
}

GatewayPtr make_toss_gateway(TossOptions opts, GatewayTransportPtr transport, metrics::Registry* metrics) {
  return std::make_shared<TossGateway>(std::move(opts), std::move(transport), metrics);
}

std::string basic_auth(const std::string& secret_key) {
  const std::string raw = secret_key + ":";
  std::string out(sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return "Basic " + out;
}

std::string url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace tiketi::payment
