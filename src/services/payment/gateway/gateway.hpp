#pragma once
// The payment gateway port, modelled on Toss Payments: the browser completes a hosted checkout and
// comes back with a paymentKey; the server then confirms (captures) with paymentKey + orderId +
// amount, can cancel fully or partly, and can look a payment up by key or by order id. Another
// provider is added by implementing this interface.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/task.hpp"

namespace tiketi::payment {

enum class GatewayOutcome {
  ok,                 // 2xx with a payment object
  declined,           // a definitive refusal (4xx with a code): nothing was charged
  not_found,          // the gateway does not know this payment
  already_processed,  // confirm/cancel was already done (a duplicate): look it up
  unknown,            // timeout, transport error or 5xx: the outcome is not known
  unreachable,        // the request never reached the gateway (connect/TLS failure): nothing was
                      // processed, so the same call may be made again later
};

struct GatewayPayment {
  std::string payment_key;
  std::string order_id;
  std::string status;  // Toss: READY, IN_PROGRESS, DONE, CANCELED, PARTIAL_CANCELED, ABORTED, EXPIRED
  std::int64_t total_amount = 0;
  std::int64_t balance_amount = 0;  // what is left after cancels
  std::string method;
};

struct GatewayResult {
  GatewayOutcome outcome = GatewayOutcome::unknown;
  GatewayPayment payment;  // set when ok
  std::string code;        // gateway error code, or "timeout"/"transport"
  std::string message;
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual std::string name() const = 0;
  // True for the simulator: the UI labels payments "test mode".
  virtual bool test_mode() const = 0;
  // idempotency_key is sent as the Idempotency-Key header: a repeated call with the same key is
  // answered from the gateway's record, never charged twice.
  virtual Task<GatewayResult> confirm(std::string payment_key, std::string order_id, std::int64_t amount,
                                      std::string idempotency_key) = 0;
  // amount: nullopt cancels what is left.
  virtual Task<GatewayResult> cancel(std::string payment_key, std::string reason,
                                     std::optional<std::int64_t> amount, std::string idempotency_key) = 0;
  virtual Task<GatewayResult> lookup_by_key(std::string payment_key) = 0;
  virtual Task<GatewayResult> lookup_by_order(std::string order_id) = 0;
  // Where the browser pays the card part (the hosted checkout). Empty when the provider's checkout
  // is a client SDK instead.
  virtual std::string checkout_url(const std::string& order_id, std::int64_t amount,
                                   const std::string& order_name, const std::string& success_url,
                                   const std::string& fail_url) const = 0;
};
using GatewayPtr = std::shared_ptr<Gateway>;

// The HTTP exchange the Toss adapter needs, so the wire can be swapped (net::HttpClient for plain
// http; libcurl through common::OutboundHttp for https).
struct GatewayHttpRequest {
  std::string method;
  std::string path;  // "/v1/payments/confirm"
  std::string authorization;
  std::string idempotency_key;
  std::string body;
  std::int64_t timeout_ms = 10'000;
};
struct GatewayHttpResponse {
  bool transport_error = false;  // no usable answer: timeout, connection error, 5xx
  // With transport_error: no byte of the request reached the gateway (refused connection, failed
  // TLS handshake or certificate check), so it cannot have been processed.
  bool not_sent = false;
  std::string error;
  int status = 0;
  std::string body;
};
class GatewayTransport {
 public:
  virtual ~GatewayTransport() = default;
  virtual Task<GatewayHttpResponse> send(GatewayHttpRequest req) = 0;
};
using GatewayTransportPtr = std::shared_ptr<GatewayTransport>;

}  // namespace tiketi::payment
