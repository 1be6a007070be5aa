#pragma once
// JSON <-> structs for the HTTP API. Parsing rejects unknown fields and collects every field problem
// before answering once with 400, so bad input never reaches storage.
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "services/event/domain/seating.hpp"
#include "services/event/storage/event_store.hpp"

namespace tiketi::event {

struct EventInput {
  Event event;                    // base merged with the body
  std::set<std::string> changed;  // top-level fields present in the body
};
// base == nullptr: create (required fields enforced); otherwise PATCH semantics over *base.
EventInput parse_event_body(const std::string& body, const Event* base);
Venue parse_venue_body(const std::string& body, const Venue* base);
TicketType parse_ticket_type_body(const std::string& body, const TicketType* base);
PlanSpec parse_plan_body(const std::string& body);
News parse_news_body(const std::string& body, const News* base);

// Fields of an event that shape what is sold; refused once published (409 inventory_locked).
bool touches_inventory(const std::set<std::string>& changed);

nlohmann::json to_json(const Venue& v);
nlohmann::json to_json(const TicketType& t);
nlohmann::json to_json(const News& n);
// `image_base` prefixes storage keys into URLs: "images":[{"id","url"}] for the event's image_ids
// that name an uploaded image.
nlohmann::json summary_json(const EventRow& r, std::string_view image_base = "/api/v1/images/");
nlohmann::json detail_json(const EventRow& r, const std::vector<TicketType>& types,
                           std::string_view image_base = "/api/v1/images/");
nlohmann::json plan_json(const SeatingPlan& p);

}  // namespace tiketi::event
