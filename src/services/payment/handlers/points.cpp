#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/payment/dto/json.hpp"
#include "services/payment/handlers/handlers.hpp"

namespace tiketi::payment::handlers {

using nlohmann::json;

Task<net::Response> points_get(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const std::int64_t balance = co_await s.store->balance(user.user_id);
  co_return json_response(200, json{{"userId", user.user_id}, {"balance", balance}});
}

// Points are bought with a card through the gateway: this creates the payment and its checkout;
// POST /api/v1/payments/{id}/confirm credits them (CHARGE) once the gateway confirms.
Task<net::Response> points_charge(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const std::string key = idempotency_key(req);
  common::JsonBody body(req.body);
  auto amount = body.optional_int("amount", 1, s.settings.max_charge);
  if (!amount && body.ok()) {
    body.fail("amount", "is required");
  }
  body.finish();
  const std::string fingerprint = request_fingerprint("charge", "", *amount);
  if (auto existing = co_await s.store->find_by_idempotency(user.user_id, key)) {
    if (existing->request_hash != fingerprint) {
      throw errors::make("idempotency_conflict");
    }
    co_return json_response(200, payment_view(s, *existing));
  }
  Payment draft;
  draft.user_id = user.user_id;
  draft.purpose = Purpose::point_charge;
  draft.amount = *amount;
  draft.card_amount = *amount;
  draft.idempotency_key = key;
  draft.request_hash = fingerprint;
  const std::string order_name = "Tiketi points";
  co_return co_await create_or_replay(s, std::move(draft), order_name);
}

Task<net::Response> points_history(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const std::int64_t limit = int_query(req, "limit", 50, 1, 200);
  std::optional<HistoryCursor> before;
  if (auto c = req.query_param("before")) {
    // Cursor "<createdAt>_<id>" from the previous page's nextCursor.
    const auto sep = c->find('_');
    try {
      if (sep == std::string::npos || sep + 1 >= c->size() || c->size() > 100) {
        throw std::invalid_argument("cursor");
      }
      before = HistoryCursor{std::stoll(c->substr(0, sep)), c->substr(sep + 1)};
    } catch (const std::exception&) {
      throw errors::validation({{"before", "is not a valid cursor"}});
    }
  }
  auto entries = co_await s.store->history(user.user_id, limit, before);
  json items = json::array();
  for (const auto& e : entries) {
    items.push_back(point_entry_json(e));
  }
  json out{{"items", std::move(items)}};
  if (static_cast<std::int64_t>(entries.size()) == limit) {
    out["nextCursor"] = std::to_string(entries.back().created_at) + "_" + entries.back().id;
  }
  co_return json_response(200, out);
}

}  // namespace tiketi::payment::handlers
