#include "services/event/domain/model.hpp"

#include <algorithm>

namespace tiketi::event {
namespace {
constexpr std::pair<EventStatus, std::string_view> kStatusNames[] = {
    {EventStatus::draft, "draft"},     {EventStatus::scheduled, "scheduled"},
    {EventStatus::on_sale, "on_sale"}, {EventStatus::closed, "closed"},
    {EventStatus::ended, "ended"},     {EventStatus::cancelled, "cancelled"},
};
}  // namespace

std::string_view to_string(EventStatus s) {
  for (const auto& [v, n] : kStatusNames) {
    if (v == s) {
      return n;
    }
  }
  return "draft";
}

std::optional<EventStatus> parse_status(std::string_view s) {
  for (const auto& [v, n] : kStatusNames) {
    if (n == s) {
      return v;
    }
  }
  return std::nullopt;
}

bool is_category(std::string_view c) {
  return std::find(std::begin(kCategories), std::end(kCategories), c) != std::end(kCategories);
}

std::string_view to_string(TicketKind k) { return k == TicketKind::seated ? "seated" : "general_admission"; }

std::optional<TicketKind> parse_ticket_kind(std::string_view s) {
  if (s == "seated") {
    return TicketKind::seated;
  }
  if (s == "general_admission") {
    return TicketKind::general_admission;
  }
  return std::nullopt;
}

std::optional<PriceRange> price_range(const std::vector<TicketType>& types) {
  if (types.empty()) {
    return std::nullopt;
  }
  PriceRange r{types.front().price, types.front().price};
  for (const auto& t : types) {
    r.min = std::min(r.min, t.price);
    r.max = std::max(r.max, t.price);
  }
  return r;
}

}  // namespace tiketi::event
