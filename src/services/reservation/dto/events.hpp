#pragma once
// Payloads of the events this service consumes (event.published, event.status_changed,
// payment.completed) and emits (reservation.*). docs/events.md is the catalogue.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/reservation/domain/model.hpp"

namespace tiketi::reservation {

struct PublishedTicketType {
  std::string id;
  std::string name;
  Kind kind = Kind::seated;
  std::int64_t price = 0;
  std::optional<std::int64_t> quota;  // general admission
};

struct PublishedSeat {
  std::string id;
  std::string label;
  std::string ticket_type_id;
};

struct PublishedEvent {
  EventInfo info;
  std::vector<PublishedTicketType> ticket_types;
  std::vector<PublishedSeat> seats;
};

struct StatusChanged {
  std::string event_id;
  std::string to;
  Millis sale_start = 0;
  Millis sale_end = 0;
};

struct PaymentCompleted {
  std::string reservation_id;
  std::string payment_id;
  std::optional<std::int64_t> amount;
};

// nullopt (with the reason in `why`) for a payload this version cannot use.
std::optional<PublishedEvent> parse_published(const std::string& payload, std::string& why);
std::optional<StatusChanged> parse_status_changed(const std::string& payload, std::string& why);
// Accepts snake_case (reservation_id, payment_id) and camelCase (reservationId, paymentId).
std::optional<PaymentCompleted> parse_payment_completed(const std::string& payload, std::string& why);

// reservation.* payloads (snake_case, schema_version 1).
std::string expired_payload(const Reservation& r, Millis at, std::string_view reason);
std::string confirmed_payload(const Reservation& r, const std::vector<Ticket>& tickets, Millis at);
std::string confirmation_failed_payload(const std::string& reservation_id, const std::string& payment_id,
                                        const Reservation* r, std::string_view reason, Millis at);
std::string cancelled_payload(const Reservation& r, Status previous, bool refund, std::string_view by,
                              Millis at);
// inventory.sold_out: {"schema_version":1,"event_id":"…","sold_out_at":<ms>}
std::string sold_out_payload(const std::string& event_id, Millis at);

}  // namespace tiketi::reservation
