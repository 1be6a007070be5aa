#pragma once
// The payment domain: states and the rules that decide them, free of storage and HTTP so they can
// be unit-tested directly.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace tiketi::payment {

// CREATED: row written, points (if any) reserved, waiting for the card part.
// PENDING_GATEWAY: committed before the gateway call; a crash here is reconciled by lookup.
// UNKNOWN: the gateway did not answer (timeout, 5xx); never retried blindly, only reconciled.
enum class Status { created, pending_gateway, unknown, confirmed, failed, refunded, refund_failed };

std::string_view to_string(Status s);
std::optional<Status> parse_status(std::string_view s);
bool is_terminal(Status s);

// What the payment pays for.
enum class Purpose { reservation, point_charge };
std::string_view to_string(Purpose p);
Purpose parse_purpose(std::string_view s);

struct Payment {
  std::string id;
  std::string user_id;
  Purpose purpose = Purpose::reservation;
  std::optional<std::string> reservation_id;
  std::string order_id;
  std::int64_t amount = 0;
  std::int64_t points_amount = 0;
  std::int64_t card_amount = 0;
  Status status = Status::created;
  std::optional<std::string> payment_key;
  std::optional<std::string> idempotency_key;
  std::string request_hash;
  std::optional<std::string> failure_reason;
  Millis created_at = 0;
  Millis updated_at = 0;
  std::optional<Millis> confirmed_at;
  std::optional<Millis> expires_at;  // CREATED payments are abandoned after this
};

// "points", "card" or "mixed": the revenue and metrics label.
std::string_view method_of(const Payment& p);

enum class PointKind { charge, use, refund };
std::string_view to_string(PointKind k);

struct PointEntry {
  std::string id;
  std::string user_id;
  PointKind kind = PointKind::charge;
  std::int64_t amount = 0;
  std::int64_t balance_after = 0;
  std::string reference;
  Millis created_at = 0;
};

enum class RefundStatus { pending, succeeded, failed };
std::string_view to_string(RefundStatus s);
RefundStatus parse_refund_status(std::string_view s);

struct Refund {
  std::string id;
  std::string payment_id;
  std::string reason;
  std::string source;  // event id or "admin:<user>"
  std::int64_t points_amount = 0;
  std::int64_t card_amount = 0;
  RefundStatus status = RefundStatus::pending;
  std::optional<std::string> failure_reason;
  Millis created_at = 0;
  Millis updated_at = 0;
};

// Largest amount accepted anywhere (minor units): keeps sums far from int64 overflow.
inline constexpr std::int64_t kMaxAmount = 1'000'000'000'000;

// How an amount splits into points and card. nullopt (with why) when points are negative or
// exceed the amount.
struct Split {
  std::int64_t points = 0;
  std::int64_t card = 0;
};
std::optional<Split> split_amount(std::int64_t amount, std::int64_t points, std::string& why);

// A stable fingerprint of what a create request asked for: the same Idempotency-Key with a
// different request is a conflict, not a replay.
std::string request_fingerprint(std::string_view kind, std::string_view target, std::int64_t value);

// Idempotency-Key header: 1..128 visible ASCII characters.
bool valid_idempotency_key(std::string_view key);
// Ids that travel in URLs and to other services: 1..64 of [A-Za-z0-9_-].
bool valid_id(std::string_view id);
// A gateway payment key: 1..200 of [A-Za-z0-9_-].
bool valid_payment_key(std::string_view key);

}  // namespace tiketi::payment
