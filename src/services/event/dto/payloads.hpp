#pragma once
// Domain events this service writes to the outbox. docs/events.md is the catalogue; keep in sync.
#include <string>
#include <vector>

#include "services/event/domain/model.hpp"
#include "services/event/domain/status.hpp"

namespace tiketi::event {

// event.published: the full inventory spec the reservation and queue services build from.
std::string published_payload(const Event& e, const std::vector<TicketType>& types, const SeatingPlan* plan,
                              Millis published_at);
// event.status_changed
std::string status_changed_payload(const Event& e, Transition t, Millis at);

}  // namespace tiketi::event
