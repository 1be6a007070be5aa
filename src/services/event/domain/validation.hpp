#pragma once
// Cross-field rules of the catalogue. Per-field shape (types, lengths) is checked while parsing the
// JSON body (dto/); these run on the parsed structs so the same rules guard the admin API, the
// demo seed and publish.
#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "services/event/domain/model.hpp"

namespace tiketi::event {

inline constexpr std::int64_t kMinPerUserLimit = 1;
inline constexpr std::int64_t kMaxPerUserLimit = 20;
inline constexpr std::int64_t kMinHoldMinutes = 1;
inline constexpr std::int64_t kMaxHoldMinutes = 30;
inline constexpr std::int64_t kMaxPrice = 100'000'000;  // KRW; anything above is a typo
inline constexpr std::int64_t kMaxQuota = 1'000'000;
inline constexpr std::int64_t kMaxWaitingRoomRate = 1'000'000;

// Sale window, performance times, limits, category.
std::vector<FieldError> validate_event(const Event& e);
// Price >= 0 (integer KRW), seated needs a category and no quota, GA needs a quota.
std::vector<FieldError> validate_ticket_type(const TicketType& t);

// What publish needs besides a valid event: a venue, ticket types, and for seated ticket types a
// plan whose every category is sold by exactly one ticket type (a seat nobody can buy, or a ticket
// type without seats, is a mistake to catch before fans see it). The sale must not be over.
struct PublishCheck {
  const Event* event = nullptr;
  bool venue_exists = false;
  const std::vector<TicketType>* ticket_types = nullptr;
  const SeatingPlan* plan = nullptr;  // may be null when the event is general admission only
  Millis now = 0;
};
std::vector<FieldError> validate_publish(const PublishCheck& c);

}  // namespace tiketi::event
