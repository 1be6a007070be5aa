#pragma once
// The money-moving steps. Rule: a database transaction is never open while the gateway is called.
// Every state change is a conditional update on the current status, so concurrent confirms,
// reconcilers and redelivered events can race and still move money exactly once.
#include <optional>
#include <string>

#include "services/payment/state.hpp"

namespace tiketi::payment {

// Confirms an owner-checked payment: points-only without the gateway; otherwise CREATED ->
// PENDING_GATEWAY (committed) -> gateway confirm -> CONFIRMED + payment.completed in one
// transaction. A timeout marks UNKNOWN and is reconciled by lookup, never retried blindly.
// Throws ApiError 4xx for a request that cannot apply (wrong key, terminal state).
Task<Payment> confirm_payment(State& s, Payment p, std::optional<std::string> payment_key);

// Calls the gateway for a payment the caller already moved to PENDING_GATEWAY with its key
// (PaymentStore::start_gateway_owned, the confirm handler's first and only statement before the
// gateway) and applies the answer; returns the payment as stored afterwards.
Task<Payment> confirm_started(State& s, Payment p);

// Resolves an UNKNOWN (or stale PENDING_GATEWAY) payment by looking it up at the gateway.
Task<Payment> reconcile(State& s, Payment p);

// Inside tx: a full refund of a CONFIRMED reservation payment. The points part is restored now;
// the card part is cancelled at the gateway later by process_refund. False when not refundable
// or already requested (redelivery).
Task<bool> request_refund(State& s, store::Tx& tx, const Payment& p, const std::string& reason,
                          const std::string& source);

// Inside tx: a CREATED payment that will never be paid (reservation cancelled, abandoned):
// FAILED and its points back.
Task<bool> abandon(State& s, store::Tx& tx, const Payment& p, const std::string& reason);

// Cancels the card part of a pending refund at the gateway and records the outcome.
Task<std::optional<Refund>> process_refund(State& s, const std::string& payment_id);

// Asked between the items of a pass; false stops the pass early (the reconciler lease was lost,
// so another replica now does this work).
class PassGuard {
 public:
  virtual ~PassGuard() = default;
  virtual Task<bool> still_leader() = 0;
};

// One pass of background work: unknown outcomes, stale gateway calls, abandoned payments,
// pending refunds. Returns the items handled.
Task<int> reconcile_pass(State& s, PassGuard* guard = nullptr);

// Handlers for the saga events (run inside the consumer's transaction).
Task<void> on_reservation_cancelled(State& s, store::Tx& tx, const std::string& event_id,
                                    const std::string& payload);
Task<void> on_confirmation_failed(State& s, store::Tx& tx, const std::string& event_id,
                                  const std::string& payload);

}  // namespace tiketi::payment
