#pragma once
// Status automation as a pure function of (event, now):
//   scheduled -> on_sale at sale_start -> closed at sale_end (or when sold out) -> ended after the
//   performance. draft and cancelled are only changed by an admin.
// Status never moves backwards: a scheduler that was down catches up in one step, and a late tick
// can never reopen a closed sale.
#include <optional>

#include "services/event/domain/model.hpp"

namespace tiketi::event {

// The status the event should have at `now`.
EventStatus due_status(const Event& e, Millis now);
// When the event's status will next change by time alone (nullopt: never, e.g. ended or draft).
std::optional<Millis> next_transition_at(const Event& e);

struct Transition {
  EventStatus from;
  EventStatus to;
};
// The transition to apply now, if any.
std::optional<Transition> due_transition(const Event& e, Millis now);

}  // namespace tiketi::event
