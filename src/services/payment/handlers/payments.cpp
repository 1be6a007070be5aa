#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/payment/dto/json.hpp"
#include "services/payment/flow.hpp"
#include "services/payment/handlers/handlers.hpp"

namespace tiketi::payment::handlers {

using nlohmann::json;

namespace {

// The amount always comes from the reservation service, never from the client.
Task<ReservationView> fetch_reservation(State& s, const std::string& id, const net::Request& req) {
  if (s.ctx.client == nullptr) {
    throw errors::unavailable("The reservation service is not reachable.", 1);
  }
  net::ClientRequest creq;
  creq.method = "GET";
  creq.path = "/internal/v1/reservations/" + id;
  creq.timeout = std::chrono::milliseconds(2'000);
  if (s.settings.internal_token) {
    net::set_header(creq.headers, "X-Internal-Token", *s.settings.internal_token);
  }
  const std::string peer = "reservation";
  auto resp = co_await s.ctx.client->call(peer, std::move(creq), req.log);
  if (resp.status == 404) {
    throw errors::not_found("reservation");
  }
  if (resp.status != 200) {
    throw errors::make("bad_gateway",
                       "The reservation service answered " + std::to_string(resp.status) + ".");
  }
  auto v = parse_reservation(resp.body);
  if (!v) {
    throw errors::make("bad_gateway", "The reservation service answered something unreadable.");
  }
  co_return *v;
}

Task<Payment> owned_payment(State& s, const net::Request& req, const std::string& user_id) {
  const auto& id = req.param("id");
  if (!valid_id(id)) {
    throw errors::not_found("payment");
  }
  auto p = co_await s.store->find(id);
  // Someone else's payment is reported as missing: ids are not a way to probe.
  if (!p || p->user_id != user_id) {
    throw errors::not_found("payment");
  }
  co_return *p;
}

}  // namespace

Task<net::Response> payments_post(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const std::string key = idempotency_key(req);
  common::JsonBody body(req.body);
  auto reservation_id = body.required_string("reservationId", {.max_bytes = 64});
  auto points = body.optional_int("points", 0, kMaxAmount).value_or(0);
  if (body.ok() && !valid_id(reservation_id)) {
    body.fail("reservationId", "is not a valid id");
  }
  body.finish();

  const std::string fingerprint = request_fingerprint("reservation", reservation_id, points);
  // No idempotency read up front (one statement less per payment): a replay is caught by the
  // INSERT's unique (user_id, idempotency_key) in create_or_replay and answered from the stored
  // row. When the reservation refuses (no longer PENDING because this very payment confirmed it,
  // expired, ...), the stored row is looked up before refusing, so replays still answer as before.
  std::exception_ptr refusal;
  std::optional<Split> split;
  ReservationView r;
  try {
    r = co_await fetch_reservation(s, reservation_id, req);
  } catch (const std::exception&) {
    refusal = std::current_exception();  // unreachable or refused: a replay can still be answered
  }
  if (!refusal) {
    std::string why;
    if (r.user_id != user.user_id) {
      refusal = std::make_exception_ptr(errors::forbidden("This reservation belongs to someone else."));
    } else if (r.status == "EXPIRED" || (r.status == "PENDING" && !r.payable)) {
      refusal = std::make_exception_ptr(errors::make("hold_expired"));
    } else if (r.status != "PENDING") {
      refusal = std::make_exception_ptr(
          errors::conflict("reservation_not_payable", "The reservation is " + r.status + ", not PENDING."));
    } else {
      split = split_amount(r.amount, points, why);
      if (!split) {
        refusal = std::make_exception_ptr(errors::validation({{"points", why}}));
      }
    }
  }
  if (refusal) {
    auto existing = co_await s.store->find_by_idempotency(user.user_id, key);
    if (existing) {
      if (existing->request_hash != fingerprint) {
        throw errors::make("idempotency_conflict");
      }
      co_return json_response(200, payment_view(s, *existing));
    }
    std::rethrow_exception(refusal);
  }
  Payment draft;
  draft.user_id = user.user_id;
  draft.purpose = Purpose::reservation;
  draft.reservation_id = reservation_id;
  draft.amount = r.amount;
  draft.points_amount = split->points;
  draft.card_amount = split->card;
  draft.idempotency_key = key;
  draft.request_hash = fingerprint;
  const std::string order_name = "Tiketi reservation";
  co_return co_await create_or_replay(s, std::move(draft), order_name);
}

Task<net::Response> payment_confirm(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  common::JsonBody body(req.body.empty() ? std::string_view("{}") : std::string_view(req.body));
  auto key = body.optional_string("paymentKey", {.max_bytes = 200});
  if (key && !valid_payment_key(*key)) {
    body.fail("paymentKey", "is not a valid payment key");
  }
  body.finish();
  std::optional<Payment> started;
  const auto& id = req.param("id");
  if (key && valid_id(id)) {
    // The common case in one round trip: this user's CREATED card payment -> PENDING_GATEWAY with
    // the key, committed before the gateway is called. Anything else takes the general path.
    try {
      started = co_await s.store->start_gateway_owned(id, user.user_id, *key);
    } catch (const store::DbError& e) {
      if (e.kind != store::DbError::Kind::unique_violation) {
        throw;
      }
      throw errors::conflict("payment_key_used", "This paymentKey already paid for another payment.");
    }
  }
  Payment after;
  if (started) {
    after = co_await confirm_started(s, std::move(*started));
  } else {
    Payment p = co_await owned_payment(s, req, user.user_id);
    after = co_await confirm_payment(s, std::move(p), key);
  }
  if (after.status == Status::failed) {
    throw ApiError(402, "payment_failed",
                   "The payment was not completed: " + after.failure_reason.value_or("declined") + ".");
  }
  const int status = after.status == Status::confirmed ? 200 : 202;
  co_return json_response(status, payment_view(s, after));
}

Task<net::Response> payment_get(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  Payment p = co_await owned_payment(s, req, user.user_id);
  co_return json_response(200, payment_view(s, p));
}

}  // namespace tiketi::payment::handlers
