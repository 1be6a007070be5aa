#pragma once
// The reservation service: seat inventory (from event.published), atomic all-or-nothing holds with
// expiry, per-user limits, confirmation on payment.completed, cancel, tickets with QR, check-in.
//
// Public: GET /api/v1/events/{id}/seats, GET /api/v1/events/{id}/seats/ws (live), POST/GET /api/v1/reservations, GET
// /api/v1/reservations/{id}, POST /api/v1/reservations/{id}/cancel, GET /api/v1/tickets, GET
// /api/v1/tickets/{code}/qr.svg; admin/staff: POST /api/v1/admin/checkins, GET
// /api/v1/admin/reservations, GET /api/v1/admin/events/{id}/sales. Internal (payment service):
// GET /internal/v1/reservations/{id}.
#include "app/service.hpp"

namespace tiketi::app {
ServicePtr make_reservation_service();
}  // namespace tiketi::app

namespace tiketi::reservation {
struct State;
// The started state of a service made by make_reservation_service() (tests), or nullptr.
State* state_of(app::Service& service);
// One sweeper pass regardless of leadership (tests with a ManualClock); returns holds expired.
Task<int> sweep_once(app::Service& service);
// Handles what the consumer can read now (tests); returns events handled.
Task<int> consume_once(app::Service& service);
// Refreshes the database-backed gauges and runs the sold-out safety net now (tests).
Task<void> refresh_metrics(app::Service& service);
// Publishes this service's pending outbox rows now (tests); returns rows published.
Task<int> relay_once(app::Service& service);
}  // namespace tiketi::reservation
