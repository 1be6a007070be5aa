#include "services/reservation/domain/model.hpp"

#include <sodium.h>

#include <algorithm>

#include "core/ids.hpp"

namespace tiketi::reservation {
namespace {

template <class E, std::size_t N>
std::optional<E> parse_from(const std::pair<E, std::string_view> (&names)[N], std::string_view s) {
  for (const auto& [v, n] : names) {
    if (n == s) {
      return v;
    }
  }
  return std::nullopt;
}

constexpr std::pair<Status, std::string_view> kStatusNames[] = {{Status::pending, "PENDING"},
                                                                {Status::confirmed, "CONFIRMED"},
                                                                {Status::expired, "EXPIRED"},
                                                                {Status::cancelled, "CANCELLED"}};

std::string sha256_hex(std::string_view text) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, d, sizeof d);
  return std::string(hex, 2 * crypto_hash_sha256_BYTES);
}

}  // namespace

std::string_view to_string(Status s) {
  for (const auto& [v, n] : kStatusNames) {
    if (v == s) {
      return n;
    }
  }
  return "PENDING";
}

std::optional<Status> parse_status(std::string_view s) { return parse_from(kStatusNames, s); }

std::string_view to_string(Kind k) { return k == Kind::seated ? "seated" : "general_admission"; }

std::optional<Kind> parse_kind(std::string_view s) {
  if (s == "seated") {
    return Kind::seated;
  }
  if (s == "general_admission") {
    return Kind::general_admission;
  }
  return std::nullopt;
}

std::string_view to_string(SeatStatus s) {
  switch (s) {
    case SeatStatus::available:
      return "available";
    case SeatStatus::held:
      return "held";
    case SeatStatus::sold:
      return "sold";
  }
  return "available";
}

std::string request_hash(const SeatHold& h) {
  std::string text = "seats\n" + h.event_id;
  for (const auto& s : h.seat_ids) {
    text += '\n';
    text += s;
  }
  return sha256_hex(text);
}

std::string request_hash(const QuotaHold& h) {
  return sha256_hex("quota\n" + h.event_id + "\n" + h.ticket_type_id + "\n" + std::to_string(h.quantity));
}

std::vector<std::int64_t> stripe_caps(std::int64_t quota, std::int64_t stripes) {
  quota = std::max<std::int64_t>(quota, 0);
  stripes = std::clamp<std::int64_t>(stripes, 1, std::max<std::int64_t>(quota, 1));
  std::vector<std::int64_t> caps(static_cast<std::size_t>(stripes), quota / stripes);
  for (std::int64_t i = 0; i < quota % stripes; ++i) {
    ++caps[static_cast<std::size_t>(i)];
  }
  return caps;
}

std::string seat_label(std::string_view section, std::string_view row, std::int64_t number) {
  return std::string(section) + " " + std::string(row) + "-" + std::to_string(number);
}

std::string new_ticket_code() { return ids::random_token(16); }

std::vector<std::string> seat_ids_of(const Reservation& r) {
  std::vector<std::string> out;
  for (const auto& i : r.items) {
    if (i.seat_id) {
      out.push_back(*i.seat_id);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Ticket> new_tickets(const Reservation& r, Millis issued_at) {
  std::vector<Ticket> out;
  for (const auto& it : r.items) {
    for (std::int64_t k = 0; k < it.quantity; ++k) {
      Ticket t;
      t.code = new_ticket_code();
      t.reservation_id = r.id;
      t.event_id = r.event_id;
      t.user_id = r.user_id;
      t.seat_id = it.seat_id;
      t.ticket_type_id = it.ticket_type_id;
      t.label = it.label;
      t.status = "valid";
      t.issued_at = issued_at;
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace tiketi::reservation
