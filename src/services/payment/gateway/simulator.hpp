#pragma once
// A Toss-Payments-style gateway simulator on net::Server: the same JSON endpoints, a hosted
// checkout page where a test card is "entered", and knobs for latency, decline, timeout and
// "succeeds but the response is lost". State lives in memory. Used by `tiketi pg-sim`, by the
// embedded default (test mode), and by tests and benchmarks over real HTTP on 127.0.0.1.
//
// API (Basic auth with the secret key when one is configured):
//   POST /v1/payments/confirm {paymentKey, orderId, amount}      (Idempotency-Key honoured)
//   POST /v1/payments/{paymentKey}/cancel {cancelReason, cancelAmount?}
//   GET  /v1/payments/{paymentKey}, GET /v1/payments/orders/{orderId}
// Checkout: GET /checkout?orderId&amount&orderName&successUrl&failUrl (HTML form) ->
//   POST /checkout/pay (form) -> 302 successUrl?paymentKey=…&orderId=…&amount=… (or failUrl?code=…)
// Admin: POST /sim/knobs {latencyMs, hangMs, declineNext, timeoutNext, loseResponseNext,
//   lookupFailNext, cancelDeclineNext},
//   GET /sim/stats, POST /sim/reset.
// Test cards: 4242424242424242 succeeds; 4000000000000002 is declined at confirm;
//   4000000000000119 times out once (not charged); 4000000000000259 is charged but the first
//   answer is lost; 4000000000000010 fails at checkout (back to failUrl).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace tiketi::payment {

struct PgSimOptions {
  std::string listen = "127.0.0.1:0";
  int threads = 1;
  std::string secret_key;  // empty: any credentials accepted
  std::int64_t latency_ms = 0;
  std::int64_t hang_ms = 3'000;  // how long a "timeout" or "lost response" holds the connection
  bool access_log = false;
};

struct PgSimKnobs {
  std::int64_t latency_ms = 0;
  std::int64_t hang_ms = 3'000;
  int decline_next = 0;         // next N confirms are declined
  int timeout_next = 0;         // next N confirms hang and are not processed
  int lose_response_next = 0;   // next N confirms are charged, then the answer is lost
  int lookup_fail_next = 0;     // next N lookups answer 500
  int cancel_decline_next = 0;  // next N cancels are refused (NOT_CANCELABLE_PAYMENT)
};

struct PgSimStats {
  std::int64_t confirms = 0;  // confirm calls received
  std::int64_t charges = 0;   // payments that moved to DONE (each key at most once)
  std::int64_t cancels = 0;   // cancels that changed a payment
  std::int64_t payments = 0;  // payments known (READY or later)
};

class PgSimulator {
 public:
  explicit PgSimulator(PgSimOptions opts);
  ~PgSimulator();
  PgSimulator(const PgSimulator&) = delete;
  PgSimulator& operator=(const PgSimulator&) = delete;

  void start();  // binds and serves; throws on bind failure
  std::uint16_t port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"
  void shutdown();

  void set_knobs(const PgSimKnobs& k);
  PgSimKnobs knobs() const;
  PgSimStats stats() const;
  // The simulator's record of one payment ("DONE", "READY", …), nullopt when unknown.
  std::optional<std::string> status_of(const std::string& payment_key) const;
  // Charges (READY -> DONE) recorded for one order; a correct client never exceeds 1.
  std::int64_t charges_for_order(const std::string& order_id) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// `tiketi pg-sim`: runs until SIGINT/SIGTERM; returns the process exit code.
int run_pg_sim(const PgSimOptions& opts);

}  // namespace tiketi::payment
