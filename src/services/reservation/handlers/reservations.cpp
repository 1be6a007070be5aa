#include <algorithm>
#include <chrono>

#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxKeyBytes = 128;

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<std::string> idempotency_key(const net::Request& req) {
  auto h = req.header("Idempotency-Key");
  if (!h) {
    return std::nullopt;
  }
  if (h->empty() || h->size() > kMaxKeyBytes || !printable_ascii(*h)) {
    throw errors::bad_request("Idempotency-Key must be 1 to 128 printable ASCII characters",
                              {{"Idempotency-Key", "invalid"}});
  }
  return std::string(*h);
}

// Counts the answer of a hold for reservation_holds_total.
void count_failure(State& s, const ApiError& e) {
  const std::string& c = e.code();
  if (c == "seat_unavailable") {
    s.metrics.hold_unavailable->inc();
  } else if (c == "sold_out") {
    s.metrics.hold_sold_out->inc();
  } else if (c == "limit_exceeded") {
    s.metrics.hold_limit->inc();
  } else if (c == "admission_expired") {
    s.metrics.hold_expired_token->inc();
  } else if (c.rfind("admission_", 0) == 0) {
    s.metrics.hold_admission->inc();
  } else if (e.status() < 500) {
    s.metrics.hold_invalid->inc();
  }
}

Task<net::Response> hold(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  common::JsonBody body(req.body);
  const std::string event_id = body.required_string("eventId", {.max_bytes = kMaxIdBytes});
  const json& raw = body.raw();
  const bool seated = raw.contains("seatIds");
  const bool quota = raw.contains("ticketTypeId") || raw.contains("quantity");
  std::vector<std::string> seat_ids;
  std::string ticket_type_id;
  std::int64_t quantity = 0;
  if (seated == quota) {
    body.fail("seatIds", "give either seatIds, or ticketTypeId and quantity");
  } else if (seated) {
    const json& arr = raw.at("seatIds");
    if (!arr.is_array() || arr.empty() || arr.size() > kMaxSeatsPerHold) {
      body.fail("seatIds", "must be an array of 1 to " + std::to_string(kMaxSeatsPerHold) + " seat ids");
    } else {
      for (const auto& v : arr) {
        if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
            v.get_ref<const std::string&>().size() > kMaxIdBytes) {
          body.fail("seatIds", "every seat id must be a non-empty string");
          break;
        }
        seat_ids.push_back(v.get<std::string>());
      }
      std::sort(seat_ids.begin(), seat_ids.end());
      if (std::adjacent_find(seat_ids.begin(), seat_ids.end()) != seat_ids.end()) {
        body.fail("seatIds", "seat ids must be distinct");
      }
    }
  } else {
    ticket_type_id = body.required_string("ticketTypeId", {.max_bytes = kMaxIdBytes});
    auto q = body.optional_int("quantity", 1, static_cast<std::int64_t>(kMaxSeatsPerHold));
    if (!q && !body.has("quantity")) {
      body.fail("quantity", "is required");
    }
    quantity = q.value_or(0);
  }
  body.finish();
  auto key = idempotency_key(req);

  auto ev = co_await s.store->find_event(event_id);
  if (!ev) {
    throw errors::not_found("event");
  }
  const Millis now = s.ctx.clock->now_ms();
  if (!ev->on_sale(now)) {
    throw errors::make("not_on_sale");
  }
  if (ev->waiting_room) {
    auto token = req.header("X-Admission-Token");
    if (auto err = s.admission->verify(token ? *token : std::string_view{}, user.user_id, event_id, now)) {
      throw ApiError(403, std::string(to_string(*err)),
                     *err == AdmissionError::missing ? "This event has a waiting room: join the queue first."
                                                     : "The admission token is not valid for this purchase.");
    }
  }
  HoldResult result;
  if (seated) {
    SeatHold h{user.user_id, event_id, std::move(seat_ids), key};
    result = co_await s.store->hold_seats(h);
  } else {
    QuotaHold h{user.user_id, event_id, ticket_type_id, quantity, key};
    result = co_await s.store->hold_quota(h);
  }
  auto resp = json_response(result.replayed ? 200 : 201, reservation_json(result.reservation, now));
  resp.header("Location", "/api/v1/reservations/" + result.reservation.id);
  if (result.replayed) {
    resp.header("Idempotent-Replayed", "true");
  }
  co_return resp;
}

// The reservation when `req`'s user may see it; 404 for anyone else (never reveals existence).
Task<Reservation> owned(State& s, const net::Request& req) {
  const auto& user = common::require_user(req);
  auto r = co_await s.store->find(id_param(req, "id"));
  if (!r || (r->user_id != user.user_id && user.role != "admin")) {
    throw errors::not_found("reservation");
  }
  co_return std::move(*r);
}

}  // namespace

Task<net::Response> reservations_post(State& s, net::Request& req) {
  const auto started = std::chrono::steady_clock::now();
  try {
    auto resp = co_await hold(s, req);
    s.metrics.hold_ok->inc();
    s.metrics.hold_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    co_return resp;
  } catch (const ApiError& e) {
    count_failure(s, e);
    s.metrics.hold_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    throw;
  }
}

Task<net::Response> reservations_list(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const auto limit = limit_param(req, 50, 200);
  const Millis now = s.ctx.clock->now_ms();
  json items = json::array();
  for (const auto& r : co_await s.store->list_for_user(user.user_id, limit)) {
    items.push_back(reservation_json(r, now));
  }
  co_return json_response(200, json{{"items", std::move(items)}});
}

Task<net::Response> reservation_get(State& s, net::Request& req) {
  auto r = co_await owned(s, req);
  json j = reservation_json(r, s.ctx.clock->now_ms());
  if (r.status == Status::confirmed) {
    json ts = json::array();
    for (const auto& t : co_await s.store->tickets_for_reservation(r.id)) {
      ts.push_back(ticket_json(t));
    }
    j["tickets"] = std::move(ts);
  }
  co_return json_response(200, j);
}

Task<net::Response> reservation_cancel(State& s, net::Request& req) {
  const auto& user = common::require_user(req);
  const bool admin = user.role == "admin";
  const auto before = co_await s.store->find(id_param(req, "id"));
  auto r = co_await s.store->cancel(id_param(req, "id"), user.user_id, admin);
  if (before && before->status != Status::cancelled) {
    s.metrics.cancelled->inc();
  }
  co_return json_response(200, reservation_json(r, s.ctx.clock->now_ms()));
}

// For the payment service: who owns it, what it costs, until when it can be paid.
Task<net::Response> internal_reservation_get(State& s, net::Request& req) {
  if (req.header("X-Forwarded-For")) {
    throw errors::not_found("route");  // never through the WEB tier
  }
  if (s.settings.internal_token) {
    auto t = req.header("X-Internal-Token");
    if (!t || *t != *s.settings.internal_token) {
      throw errors::not_found("route");
    }
  }
  auto r = co_await s.store->find(id_param(req, "id"));
  if (!r) {
    throw errors::not_found("reservation");
  }
  const Millis now = s.ctx.clock->now_ms();
  json j = reservation_json(*r, now);
  j["payable"] = r->status == Status::pending && r->expires_at >= now;
  co_return json_response(200, j);
}

}  // namespace tiketi::reservation::handlers
