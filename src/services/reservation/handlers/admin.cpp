#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {
namespace {

using nlohmann::json;

const net::Principal& require_staff(const net::Request& req) {
  const auto& p = common::require_user(req);
  if (p.role != "admin" && p.role != "staff") {
    throw errors::forbidden();
  }
  return p;
}

}  // namespace

// Scanning at the door: the first scan of a valid ticket wins; every later scan answers
// already_used with the first scan's time. Unknown or cancelled codes are invalid.
Task<net::Response> admin_checkin(State& s, net::Request& req) {
  const auto& staff = require_staff(req);
  common::JsonBody body(req.body);
  const std::string code = body.required_string("code", {.max_bytes = 128});
  body.finish();
  auto c = co_await s.store->check_in(code, staff.user_id);
  json j;
  switch (c.result) {
    case CheckinResult::valid:
      j["result"] = "valid";
      break;
    case CheckinResult::already_used:
      j["result"] = "already_used";
      break;
    case CheckinResult::invalid:
      j["result"] = "invalid";
      break;
  }
  if (c.ticket) {
    j["ticket"] = ticket_json(*c.ticket);
  }
  if (c.first_scan_at) {
    j["firstScanAt"] = *c.first_scan_at;
  }
  co_return json_response(200, j);
}

Task<net::Response> admin_reservations(State& s, net::Request& req) {
  common::require_role(req, "admin");
  const std::string event_id = req.query_param("eventId").value_or("");
  const std::string user_id = req.query_param("userId").value_or("");
  std::string status = req.query_param("status").value_or("");
  if (event_id.size() > 128 || user_id.size() > 128 || (!status.empty() && !parse_status(status))) {
    throw errors::bad_request("invalid filter", {{"status", "PENDING, CONFIRMED, EXPIRED or CANCELLED"}});
  }
  const Millis now = s.ctx.clock->now_ms();
  json items = json::array();
  for (const auto& r : co_await s.store->search(event_id, user_id, status, limit_param(req, 50, 500))) {
    items.push_back(reservation_json(r, now));
  }
  co_return json_response(200, json{{"items", std::move(items)}});
}

Task<net::Response> admin_sales(State& s, net::Request& req) {
  common::require_role(req, "admin");
  const std::string& event_id = id_param(req, "id");
  if (!co_await s.store->find_event(event_id)) {
    throw errors::not_found("event");
  }
  auto st = co_await s.store->stats(event_id);
  json quotas = json::array();
  for (const auto& q : st.quotas) {
    quotas.push_back({{"ticketTypeId", q.ticket_type_id},
                      {"name", q.name},
                      {"quota", q.quota},
                      {"used", q.used},
                      {"available", q.quota - q.used}});
  }
  json j{{"eventId", event_id},
         {"seats",
          {{"available", st.seats["available"]}, {"held", st.seats["held"]}, {"sold", st.seats["sold"]}}},
         {"quotas", std::move(quotas)},
         {"reservations", st.reservations},
         {"ticketsSold", st.tickets["CONFIRMED"]},
         {"revenue", st.revenue},
         {"currency", "KRW"}};
  co_return json_response(200, j);
}

}  // namespace tiketi::reservation::handlers
