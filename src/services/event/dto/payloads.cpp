#include "services/event/dto/payloads.hpp"

#include <map>
#include <nlohmann/json.hpp>

namespace tiketi::event {

std::string published_payload(const Event& e, const std::vector<TicketType>& types, const SeatingPlan* plan,
                              Millis published_at) {
  using nlohmann::json;
  json tts = json::array();
  std::map<std::string, std::string> type_of_category;
  for (const auto& t : types) {
    json j{
        {"id", t.id}, {"name", t.name}, {"kind", to_string(t.kind)}, {"price", t.price}, {"currency", "KRW"}};
    if (t.kind == TicketKind::seated) {
      j["category"] = t.category;
      type_of_category[t.category] = t.id;
    } else {
      j["quota"] = *t.quota;
    }
    tts.push_back(std::move(j));
  }
  json seats = json::array();
  if (plan != nullptr) {
    for (const auto& s : plan->seats) {
      seats.push_back({{"id", s.id},
                       {"section", s.section},
                       {"row", s.row},
                       {"number", s.number},
                       {"category", s.category},
                       {"ticket_type_id", type_of_category[s.category]}});
    }
  }
  json body{{"schema_version", 1},
            {"event_id", e.id},
            {"title", e.title},
            {"status", to_string(e.status)},
            {"performance_start", e.performance_start},
            {"performance_end", e.performance_end},
            {"sale_start", e.sale_start},
            {"sale_end", e.sale_end},
            {"per_user_limit", e.per_user_limit},
            {"hold_minutes", e.hold_minutes},
            {"waiting_room",
             {{"enabled", e.waiting_room.enabled},
              {"admission_per_minute", e.waiting_room.admission_per_minute},
              {"max_active", e.waiting_room.max_active}}},
            {"ticket_types", std::move(tts)},
            {"seats", std::move(seats)},
            {"published_at", published_at}};
  return body.dump();
}

std::string status_changed_payload(const Event& e, Transition t, Millis at) {
  nlohmann::json body{{"schema_version", 1},       {"event_id", e.id},
                      {"from", to_string(t.from)}, {"to", to_string(t.to)},
                      {"changed_at", at},          {"sale_start", e.sale_start},
                      {"sale_end", e.sale_end},    {"performance_end", e.performance_end}};
  return body.dump();
}

}  // namespace tiketi::event
