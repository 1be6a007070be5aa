#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/payment/dto/json.hpp"
#include "services/payment/flow.hpp"
#include "services/payment/handlers/handlers.hpp"

namespace tiketi::payment::handlers {

using nlohmann::json;

Task<net::Response> admin_payments(State& s, net::Request& req) {
  common::require_role(req, "admin");
  PaymentFilter f;
  f.limit = int_query(req, "limit", 50, 1, 500);
  auto text = [&](std::string_view name, std::optional<std::string>& out) {
    if (auto v = req.query_param(name)) {
      if (!valid_id(*v) && name != "status") {
        throw errors::validation({{std::string(name), "is not a valid id"}});
      }
      out = *v;
    }
  };
  text("userId", f.user_id);
  text("reservationId", f.reservation_id);
  text("orderId", f.order_id);
  if (auto st = req.query_param("status")) {
    if (!parse_status(*st)) {
      throw errors::validation({{"status", "is not a payment status"}});
    }
    f.status = *st;
  }
  auto rows = co_await s.store->search(f);
  json items = json::array();
  for (const auto& p : rows) {
    json j = payment_json(p);
    j["userId"] = p.user_id;
    if (auto r = co_await s.store->find_refund(p.id)) {
      j["refund"] = refund_json(*r);
    }
    items.push_back(std::move(j));
  }
  co_return json_response(200, json{{"items", std::move(items)}});
}

Task<net::Response> admin_refund(State& s, net::Request& req) {
  const auto& admin = common::require_role(req, "admin");
  common::JsonBody body(req.body.empty() ? std::string_view("{}") : std::string_view(req.body));
  auto reason = body.optional_string("reason", {.min_chars = 1, .max_chars = 200, .trim = true});
  body.finish();
  const auto& id = req.param("id");
  if (!valid_id(id)) {
    throw errors::not_found("payment");
  }
  bool requested = false;
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    auto p = co_await s.store->find(tx, id);
    if (!p) {
      throw errors::not_found("payment");
    }
    const std::string why = reason.value_or("admin_refund");
    const std::string source = "admin:" + admin.user_id;
    requested = co_await request_refund(s, tx, *p, why, source);
  };
  co_await s.store->db().transaction(fn);
  auto existing = co_await s.store->find_refund(id);
  if (!requested && !existing) {
    throw errors::conflict("not_refundable", "Only a CONFIRMED reservation payment can be refunded.");
  }
  if (s.notify_relay) {
    s.notify_relay();
  }
  auto refund = co_await process_refund(s, id);
  auto p = co_await s.store->find(id);
  json out = payment_json(*p);
  if (refund) {
    out["refund"] = refund_json(*refund);
  }
  co_return json_response(requested ? 201 : 200, out);
}

Task<net::Response> admin_revenue(State& s, net::Request& req) {
  common::require_role(req, "admin");
  const Millis now = s.ctx.clock->now_ms();
  const std::int64_t to = int_query(req, "to", now + 1, 0, kMaxAmount * 10);  // exclusive
  const std::int64_t from = int_query(req, "from", to - 30LL * 86'400'000, 0, kMaxAmount * 10);
  auto days = co_await s.store->revenue(from, to);
  json items = json::array();
  for (const auto& d : days) {
    items.push_back(json{{"day", d.day * 86'400'000},
                         {"payments", d.payments},
                         {"byMethod", json{{"card", d.card}, {"points", d.points}}},
                         {"total", d.card + d.points}});
  }
  co_return json_response(200, json{{"from", from}, {"to", to}, {"days", std::move(items)}});
}

}  // namespace tiketi::payment::handlers
