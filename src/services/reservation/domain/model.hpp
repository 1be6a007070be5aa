#pragma once
// Reservations in ticketing terms: a Hold (PENDING reservation with expires_at) of seats or of
// general-admission quota, confirmed by a payment, cancelled by its owner or an admin, or expired.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace tiketi::reservation {

enum class Status { pending, confirmed, expired, cancelled };
std::string_view to_string(Status s);
std::optional<Status> parse_status(std::string_view s);

enum class Kind { seated, general_admission };
std::string_view to_string(Kind k);
std::optional<Kind> parse_kind(std::string_view s);

enum class SeatStatus { available, held, sold };
std::string_view to_string(SeatStatus s);

// What the service knows about an event (from event.published / event.status_changed).
struct EventInfo {
  std::string event_id;
  std::string title;
  std::string status;  // the event service's status: "on_sale", "scheduled", ...
  Millis sale_start = 0;
  Millis sale_end = 0;
  Millis performance_start = 0;
  std::int64_t per_user_limit = 4;
  std::int64_t hold_minutes = 10;
  bool waiting_room = false;

  bool on_sale(Millis now) const { return status == "on_sale" && sale_start <= now && now < sale_end; }
};

struct ReservationItem {
  std::optional<std::string> seat_id;  // seated
  std::string label;
  std::string ticket_type_id;
  std::int64_t unit_price = 0;
  std::int64_t quantity = 1;
  std::optional<std::int64_t> stripe;  // general admission: the quota stripe it came from
};

struct Reservation {
  std::string id;
  std::string user_id;
  std::string event_id;
  Status status = Status::pending;
  Kind kind = Kind::seated;
  std::optional<std::string> ticket_type_id;
  std::int64_t quantity = 0;
  std::int64_t amount = 0;
  Millis expires_at = 0;
  std::optional<std::string> idempotency_key;
  std::string request_hash;
  std::optional<std::string> payment_id;
  Millis created_at = 0;
  Millis updated_at = 0;
  std::optional<Millis> confirmed_at;
  std::optional<Millis> cancelled_at;
  std::vector<ReservationItem> items;

  // A PENDING hold past its expiry is as good as expired for everyone but the sweeper.
  bool live(Millis now) const {
    return status == Status::confirmed || (status == Status::pending && expires_at > now);
  }
};

struct Ticket {
  std::string code;
  std::string reservation_id;
  std::string event_id;
  std::string user_id;
  std::optional<std::string> seat_id;
  std::string ticket_type_id;
  std::string label;
  std::string status;  // valid | cancelled
  Millis issued_at = 0;
  std::optional<Millis> checked_in_at;
};

// Hold requests after validation: seat ids unique and sorted (the fixed lock order).
struct SeatHold {
  std::string user_id;
  std::string event_id;
  std::vector<std::string> seat_ids;
  std::optional<std::string> idempotency_key;
};

struct QuotaHold {
  std::string user_id;
  std::string event_id;
  std::string ticket_type_id;
  std::int64_t quantity = 0;
  std::optional<std::string> idempotency_key;
};

// Hard cap on seats in one request, independent of the event's limit: bounds the SQL text.
inline constexpr std::size_t kMaxSeatsPerHold = 20;

// Stable fingerprint of a hold request: the same Idempotency-Key with another request is a conflict.
std::string request_hash(const SeatHold& h);
std::string request_hash(const QuotaHold& h);

// Splits a quota over `stripes` rows; the caps sum to the quota exactly.
std::vector<std::int64_t> stripe_caps(std::int64_t quota, std::int64_t stripes);

// Human seat label "A 3-12" from the seat's section, row and number.
std::string seat_label(std::string_view section, std::string_view row, std::int64_t number);

// Unguessable ticket code (128 random bits, base64url).
std::string new_ticket_code();

// The reservation's seat ids, sorted (the lock order); empty for general admission.
std::vector<std::string> seat_ids_of(const Reservation& r);

// The tickets a confirmed reservation issues: one per unit of each item, fresh codes, valid.
std::vector<Ticket> new_tickets(const Reservation& r, Millis issued_at);

}  // namespace tiketi::reservation
