#include "services/event/domain/validation.hpp"

#include <map>
#include <set>
#include <string>

namespace tiketi::event {

std::vector<FieldError> validate_event(const Event& e) {
  std::vector<FieldError> out;
  auto fail = [&](std::string f, std::string m) { out.push_back({std::move(f), std::move(m)}); };
  if (!is_category(e.category)) {
    fail("category", "is not a known category");
  }
  if (e.sale_start <= 0) {
    fail("sale_start", "is required");
  }
  if (e.sale_end <= e.sale_start) {
    fail("sale_end", "must be after sale_start");
  }
  if (e.performance_start <= e.sale_start) {
    fail("performance_start", "must be after sale_start");
  }
  if (e.performance_end <= e.performance_start) {
    fail("performance_end", "must be after performance_start");
  }
  if (e.per_user_limit < kMinPerUserLimit || e.per_user_limit > kMaxPerUserLimit) {
    fail("per_user_limit", "must be between 1 and 20");
  }
  if (e.hold_minutes < kMinHoldMinutes || e.hold_minutes > kMaxHoldMinutes) {
    fail("hold_minutes", "must be between 1 and 30");
  }
  if (e.waiting_room.admission_per_minute < 1 || e.waiting_room.admission_per_minute > kMaxWaitingRoomRate) {
    fail("waiting_room.admission_per_minute", "must be between 1 and 1000000");
  }
  if (e.waiting_room.max_active < 1 || e.waiting_room.max_active > kMaxWaitingRoomRate) {
    fail("waiting_room.max_active", "must be between 1 and 1000000");
  }
  return out;
}

std::vector<FieldError> validate_ticket_type(const TicketType& t) {
  std::vector<FieldError> out;
  if (t.price < 0) {
    out.push_back({"price", "must not be negative"});
  } else if (t.price > kMaxPrice) {
    out.push_back({"price", "must be at most 100000000"});
  }
  if (t.kind == TicketKind::seated) {
    if (t.category.empty()) {
      out.push_back({"category", "is required for seated ticket types"});
    }
    if (t.quota) {
      out.push_back({"quota", "applies to general admission only; seats are the quota"});
    }
  } else {
    if (!t.category.empty()) {
      out.push_back({"category", "applies to seated ticket types only"});
    }
    if (!t.quota || *t.quota < 1 || *t.quota > kMaxQuota) {
      out.push_back({"quota", "must be between 1 and 1000000 for general admission"});
    }
  }
  return out;
}

std::vector<FieldError> validate_publish(const PublishCheck& c) {
  std::vector<FieldError> out = validate_event(*c.event);
  if (c.event->status != EventStatus::draft) {
    out.push_back({"status", "only a draft can be published"});
  }
  if (!c.venue_exists) {
    out.push_back({"venue_id", "must name an existing venue"});
  }
  if (c.event->sale_end <= c.now) {
    out.push_back({"sale_end", "is in the past"});
  }
  const auto& types = *c.ticket_types;
  if (types.empty()) {
    out.push_back({"ticket_types", "at least one ticket type is required"});
  }
  std::map<std::string, int> sold_by;  // category -> ticket types selling it
  bool any_seated = false;
  for (std::size_t i = 0; i < types.size(); ++i) {
    for (auto& fe : validate_ticket_type(types[i])) {
      out.push_back({"ticket_types[" + std::to_string(i) + "]." + fe.field, fe.message});
    }
    if (types[i].kind == TicketKind::seated) {
      any_seated = true;
      ++sold_by[types[i].category];
    }
  }
  if (!any_seated) {
    return out;
  }
  if (c.plan == nullptr || c.plan->seats.empty()) {
    out.push_back({"seating", "seated ticket types need a seating plan"});
    return out;
  }
  std::map<std::string, std::int64_t> seats_in;
  for (const auto& s : c.plan->seats) {
    ++seats_in[s.category];
  }
  for (const auto& [cat, n] : sold_by) {
    if (n > 1) {
      out.push_back({"ticket_types", "category " + cat + " is sold by more than one ticket type"});
    }
    if (seats_in.find(cat) == seats_in.end()) {
      out.push_back({"ticket_types", "category " + cat + " has no seats in the plan"});
    }
  }
  for (const auto& [cat, n] : seats_in) {
    if (sold_by.find(cat) == sold_by.end()) {
      out.push_back(
          {"seating", "category " + cat + " has " + std::to_string(n) + " seats but no ticket type"});
    }
  }
  return out;
}

}  // namespace tiketi::event
