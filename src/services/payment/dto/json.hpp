#pragma once
// API views (camelCase) and event payloads (snake_case, schema_version 1; see docs/events-payment.md).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "services/payment/domain/model.hpp"

namespace tiketi::payment {

nlohmann::json payment_json(const Payment& p);
nlohmann::json point_entry_json(const PointEntry& e);
nlohmann::json refund_json(const Refund& r);

std::string completed_payload(const Payment& p, Millis at);
std::string refunded_payload(const Payment& p, const Refund& r, Millis at);
std::string refund_failed_payload(const Payment& p, const Refund& r, Millis at);

// What the reservation service's internal route tells us.
struct ReservationView {
  std::string id;
  std::string user_id;
  std::string status;
  std::int64_t amount = 0;
  Millis expires_at = 0;
  bool payable = false;
};
std::optional<ReservationView> parse_reservation(const std::string& body);

// reservation.cancelled / reservation.confirmation_failed: the ids we act on.
struct ReservationOutcome {
  std::string reservation_id;
  std::optional<std::string> payment_id;
  std::string reason;
};
std::optional<ReservationOutcome> parse_reservation_outcome(const std::string& payload);

}  // namespace tiketi::payment
