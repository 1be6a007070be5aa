#include "core/error.hpp"
#include "services/reservation/domain/qr.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {

using nlohmann::json;

Task<net::Response> tickets_list(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  json items = json::array();
  for (const auto& t : co_await s.store->tickets_for_user(user.user_id, limit_param(req, 100, 500))) {
    items.push_back(ticket_json(t));
  }
  co_return json_response(200, json{{"items", std::move(items)}});
}

Task<net::Response> ticket_qr(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  auto t = co_await s.store->ticket(id_param(req, "code"));
  if (!t || (t->user_id != user.user_id && user.role != "admin")) {
    throw errors::not_found("ticket");
  }
  auto resp = net::Response::text(200, qr_svg(t->code), "image/svg+xml");
  resp.header("Cache-Control", "private, max-age=86400");
  co_return resp;
}

}  // namespace tiketi::reservation::handlers
