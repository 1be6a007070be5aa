#include "services/payment/domain/model.hpp"

#include <array>
#include <stdexcept>
#include <utility>

namespace tiketi::payment {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 7> kStatusNames{{
    {Status::created, "CREATED"},
    {Status::pending_gateway, "PENDING_GATEWAY"},
    {Status::unknown, "UNKNOWN"},
    {Status::confirmed, "CONFIRMED"},
    {Status::failed, "FAILED"},
    {Status::refunded, "REFUNDED"},
    {Status::refund_failed, "REFUND_FAILED"},
}};

bool all_of_charset(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) {
    return false;
  }
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(Status s) {
  for (const auto& [k, v] : kStatusNames) {
    if (k == s) {
      return v;
    }
  }
  return "CREATED";
}

std::optional<Status> parse_status(std::string_view s) {
  for (const auto& [k, v] : kStatusNames) {
    if (v == s) {
      return k;
    }
  }
  return std::nullopt;
}

bool is_terminal(Status s) {
  return s == Status::failed || s == Status::refunded || s == Status::refund_failed;
}

std::string_view to_string(Purpose p) { return p == Purpose::reservation ? "RESERVATION" : "POINT_CHARGE"; }

Purpose parse_purpose(std::string_view s) {
  if (s == "RESERVATION") {
    return Purpose::reservation;
  }
  if (s == "POINT_CHARGE") {
    return Purpose::point_charge;
  }
  throw std::runtime_error("unknown payment purpose");
}

std::string_view method_of(const Payment& p) {
  if (p.card_amount == 0) {
    return "points";
  }
  return p.points_amount == 0 ? "card" : "mixed";
}

std::string_view to_string(PointKind k) {
  switch (k) {
    case PointKind::charge:
      return "CHARGE";
    case PointKind::use:
      return "USE";
    case PointKind::refund:
      return "REFUND";
  }
  return "CHARGE";
}

std::string_view to_string(RefundStatus s) {
  switch (s) {
    case RefundStatus::pending:
      return "PENDING";
    case RefundStatus::succeeded:
      return "SUCCEEDED";
    case RefundStatus::failed:
      return "FAILED";
  }
  return "PENDING";
}

RefundStatus parse_refund_status(std::string_view s) {
  if (s == "SUCCEEDED") {
    return RefundStatus::succeeded;
  }
  if (s == "FAILED") {
    return RefundStatus::failed;
  }
  return RefundStatus::pending;
}

std::optional<Split> split_amount(std::int64_t amount, std::int64_t points, std::string& why) {
  if (amount < 0 || amount > kMaxAmount) {
    why = "amount out of range";
    return std::nullopt;
  }
  if (points < 0) {
    why = "points must not be negative";
    return std::nullopt;
  }
  if (points > amount) {
    why = "points must not exceed the amount";
    return std::nullopt;
  }
  return Split{points, amount - points};
}

std::string request_fingerprint(std::string_view kind, std::string_view target, std::int64_t value) {
  std::string out;
  out.reserve(kind.size() + target.size() + 24);
  out.append(kind).append("|").append(target).append("|").append(std::to_string(value));
  return out;
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 128) {
    return false;
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

bool valid_id(std::string_view id) { return all_of_charset(id, 64); }

bool valid_payment_key(std::string_view key) { return all_of_charset(key, 200); }

}  // namespace tiketi::payment
