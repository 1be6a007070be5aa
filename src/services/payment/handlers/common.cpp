#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/payment/dto/json.hpp"
#include "services/payment/handlers/handlers.hpp"

namespace tiketi::payment::handlers {

using nlohmann::json;

net::Response json_response(int status, const json& body) { return net::Response::json(status, body.dump()); }

std::int64_t int_query(const net::Request& req, std::string_view name, std::int64_t def, std::int64_t min,
                       std::int64_t max) {
  auto v = req.query_param(name);
  if (!v) {
    return def;
  }
  try {
    std::size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used == v->size() && n >= min && n <= max) {
      return n;
    }
  } catch (const std::exception&) {
  }
  throw errors::validation(
      {{std::string(name), "must be an integer from " + std::to_string(min) + " to " + std::to_string(max)}});
}

std::string idempotency_key(const net::Request& req) {
  auto k = req.header("Idempotency-Key");
  if (!k || !valid_idempotency_key(*k)) {
    throw errors::validation({{"Idempotency-Key", "header is required (1-128 visible ASCII characters)"}});
  }
  return std::string(*k);
}

json payment_view(const State& s, const Payment& p) {
  json j = payment_json(p);
  j["testMode"] = s.gateway && s.gateway->test_mode();
  if (p.status == Status::created && p.card_amount > 0 && s.gateway) {
    const std::string name = p.purpose == Purpose::point_charge ? "Tiketi points" : "Tiketi reservation";
    j["checkoutUrl"] =
        s.gateway->checkout_url(p.order_id, p.card_amount, name, s.settings.success_url, s.settings.fail_url);
  }
  return j;
}

namespace {
net::Response replay(const State& s, const Payment& existing, const std::string& fingerprint) {
  if (existing.request_hash != fingerprint) {
    throw errors::make("idempotency_conflict");
  }
  return json_response(200, payment_view(s, existing));
}
}  // namespace

Task<net::Response> create_or_replay(State& s, Payment draft, const std::string& /*order_name*/) {
  const Millis now = s.ctx.clock->now_ms();
  draft.id = ids::uuid_v7(now);
  draft.order_id = "tkt_" + ids::random_hex(12);
  draft.status = Status::created;
  draft.created_at = now;
  draft.updated_at = now;
  draft.expires_at = now + s.settings.created_ttl_ms;
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    // The row first: a concurrent request with the same key fails here, before touching points.
    co_await s.store->insert(tx, draft);
    if (draft.points_amount > 0) {
      co_await s.store->spend_points(tx, draft.user_id, draft.points_amount, draft.id);
    }
  };
  bool duplicate = false;
  try {
    if (draft.points_amount > 0) {
      co_await s.store->db().transaction(fn);
    } else {
      // Card only: one statement in its own implicit transaction (one round trip, one commit).
      co_await s.store->insert(draft);
    }
  } catch (const store::DbError& e) {
    if (e.kind != store::DbError::Kind::unique_violation) {
      throw;
    }
    duplicate = true;
  }
  if (duplicate) {
    auto existing = co_await s.store->find_by_idempotency(draft.user_id, *draft.idempotency_key);
    if (existing) {
      co_return replay(s, *existing, draft.request_hash);
    }
    throw errors::conflict("payment_in_progress", "A payment for this reservation is already in progress.");
  }
  s.metrics.payments("created", method_of(draft)).inc();
  co_return json_response(201, payment_view(s, draft));
}

}  // namespace tiketi::payment::handlers
