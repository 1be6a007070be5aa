#pragma once
// The payment service: gateway payments (Toss-style), points (CHARGE / USE / REFUND), mixed
// points + card, idempotency keys, unknown-outcome reconciliation, and refunds as the saga's
// compensation for reservation.cancelled / reservation.confirmation_failed.
//
// Public: POST /api/v1/payments (Idempotency-Key), POST /api/v1/payments/{id}/confirm,
// GET /api/v1/payments/{id}, GET /api/v1/points, POST /api/v1/points/charge (Idempotency-Key),
// GET /api/v1/points/history. Admin: GET /api/v1/admin/payments, POST
// /api/v1/admin/payments/{id}/refund, GET /api/v1/admin/payments/revenue.
// Emits payment.completed, payment.refunded, payment.refund_failed (docs/events-payment.md).
#include "app/service.hpp"

namespace tiketi::app {
ServicePtr make_payment_service();
}  // namespace tiketi::app

namespace tiketi::payment {
struct State;
// The started state of a service made by make_payment_service() (tests), or nullptr.
State* state_of(app::Service& service);
// The background reconciler of one service instance (tests, diagnostics): passes it ran, and
// whether it holds the "payment:reconciler" lease now.
struct ReconcilerStatus {
  std::int64_t passes = 0;
  bool leader = false;
  std::string owner;
};
ReconcilerStatus reconciler_status(app::Service& service);
// One reconciler pass regardless of the background switch (tests); returns items handled.
Task<int> reconcile_once(app::Service& service);
// Handles what the consumer can read now (tests); returns events handled.
Task<int> consume_once(app::Service& service);
// Publishes this service's pending outbox rows now (tests); returns rows published.
Task<int> relay_once(app::Service& service);
}  // namespace tiketi::payment
