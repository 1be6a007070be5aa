#include "core/error.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {

using nlohmann::json;

net::Response json_response(int status, const json& body) {
  // `replace`: a stored string can never make dump() throw mid-response.
  return net::Response::json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

json reservation_json(const Reservation& r, Millis now) {
  const Status shown = r.status == Status::pending && r.expires_at < now ? Status::expired : r.status;
  json items = json::array();
  for (const auto& i : r.items) {
    json it{{"label", i.label},
            {"ticketTypeId", i.ticket_type_id},
            {"unitPrice", i.unit_price},
            {"quantity", i.quantity}};
    if (i.seat_id) {
      it["seatId"] = *i.seat_id;
    }
    items.push_back(std::move(it));
  }
  json j{{"id", r.id},
         {"eventId", r.event_id},
         {"userId", r.user_id},
         {"status", to_string(shown)},
         {"kind", to_string(r.kind)},
         {"quantity", r.quantity},
         {"amount", r.amount},
         {"currency", "KRW"},
         {"expiresAt", r.expires_at},
         {"createdAt", r.created_at},
         {"items", std::move(items)}};
  if (r.ticket_type_id) {
    j["ticketTypeId"] = *r.ticket_type_id;
  }
  if (r.payment_id) {
    j["paymentId"] = *r.payment_id;
  }
  if (r.confirmed_at) {
    j["confirmedAt"] = *r.confirmed_at;
  }
  if (r.cancelled_at) {
    j["cancelledAt"] = *r.cancelled_at;
  }
  return j;
}

json ticket_json(const Ticket& t) {
  json j{{"code", t.code},          {"reservationId", t.reservation_id},
         {"eventId", t.event_id},   {"ticketTypeId", t.ticket_type_id},
         {"label", t.label},        {"status", t.status},
         {"issuedAt", t.issued_at}, {"qrUrl", "/api/v1/tickets/" + t.code + "/qr.svg"}};
  if (t.seat_id) {
    j["seatId"] = *t.seat_id;
  }
  j["checkedInAt"] = t.checked_in_at ? json(*t.checked_in_at) : json(nullptr);
  return j;
}

std::int64_t limit_param(const net::Request& req, std::int64_t def, std::int64_t max) {
  auto v = req.query_param("limit");
  if (!v) {
    return def;
  }
  try {
    std::size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used == v->size() && n >= 1 && n <= max) {
      return n;
    }
  } catch (const std::exception&) {
  }
  throw errors::bad_request("limit must be 1 to " + std::to_string(max), {{"limit", "out of range"}});
}

const std::string& id_param(const net::Request& req, std::string_view name) {
  const std::string& v = req.param(name);
  if (v.empty() || v.size() > 128) {
    throw errors::not_found(name);
  }
  return v;
}

}  // namespace tiketi::reservation::handlers
