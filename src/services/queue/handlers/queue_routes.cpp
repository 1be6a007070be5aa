// POST/GET/DELETE /api/v1/events/{id}/queue — join, status (a heartbeat), leave.
#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/queue/handlers/handlers.hpp"

namespace tiketi::queue::handlers {

Task<net::Response> queue_join(State& s, net::Request& req) {
  const std::string user = common::require_user(req).user_id;
  const std::string event = req.param("id");
  const QueueSettings qs = co_await settings_or_404(s, event);
  const Millis now = s.ctx.clock->now_ms();
  if (qs.closed(now)) {
    throw errors::conflict("queue_closed", "The sale for this event is closed.");
  }
  if (!qs.joinable(now)) {
    throw errors::conflict("queue_not_open",
                           "The waiting room opens at " + std::to_string(qs.opens_at()) + " (epoch ms).");
  }
  if (qs.mode == Mode::off) {
    // No waiting room: straight in, still with a token bound to the user and the event.
    Standing st;
    st.place = Place::admitted;
    st.session_expires_at = now + qs.session_ms;
    co_return net::Response::json(200, standing_json(s, qs, user, st, now).dump());
  }
  std::string ip = s.settings.max_places_per_ip > 0 ? req.remote_ip : std::string{};
  auto st = co_await s.line->join(event, user, now, qs.mode == Mode::automatic, qs.max_active, qs.session_ms,
                                  std::move(ip), s.settings.max_places_per_ip);
  if (st.place == Place::refused) {
    s.metrics.ip_refusals->inc();
    throw errors::conflict("queue_ip_limit",
                           "Too many places in this waiting room were taken from your network address.");
  }
  if (st.joined_now) {
    s.metrics.joins->inc();
  }
  co_return net::Response::json(st.joined_now ? 201 : 200, standing_json(s, qs, user, st, now).dump());
}

Task<net::Response> queue_status(State& s, net::Request& req) {
  const std::string user = common::require_user(req).user_id;
  const std::string event = req.param("id");
  const QueueSettings qs = co_await settings_or_404(s, event);
  const Millis now = s.ctx.clock->now_ms();
  auto st = co_await s.line->status(event, user, now);
  if (st.place == Place::admitted) {
    co_return net::Response::json(200, standing_json(s, qs, user, st, now).dump());
  }
  if (qs.closed(now)) {
    co_return net::Response::json(200, closed_json(event).dump());
  }
  if (st.place == Place::absent) {
    throw errors::make("not_found", "You are not in the waiting room of this event; join it first.");
  }
  co_return net::Response::json(200, standing_json(s, qs, user, st, now).dump());
}

Task<net::Response> queue_leave(State& s, net::Request& req) {
  const std::string user = common::require_user(req).user_id;
  const std::string event = req.param("id");
  co_await settings_or_404(s, event);
  co_await s.line->leave(event, user);
  co_return net::Response::no_content();  // leaving twice is fine
}

}  // namespace tiketi::queue::handlers

namespace tiketi::queue::handlers {

// POST /api/v1/events/{id}/queue/renew — an admitted user still buying extends the shopper session
// to now + session length (at most queue.max_renewals times per admission); answers the standing
// with a fresh admission token carrying the new expiry.
Task<net::Response> queue_renew(State& s, net::Request& req) {
  const std::string user = common::require_user(req).user_id;
  const std::string event = req.param("id");
  const QueueSettings qs = co_await settings_or_404(s, event);
  const Millis now = s.ctx.clock->now_ms();
  if (qs.closed(now)) {
    throw errors::conflict("queue_closed", "The sale for this event is closed.");
  }
  auto r = co_await s.line->renew(event, user, now, qs.session_ms, s.settings.max_renewals);
  if (r.result == Line::Renewal::Result::not_admitted) {
    throw errors::conflict("queue_not_admitted", "You have no live shopper session for this event.");
  }
  if (r.result == Line::Renewal::Result::limit) {
    throw errors::conflict("queue_renewal_limit",
                           "This shopper session was already renewed " + std::to_string(s.settings.max_renewals) +
                               " times; it ends at " + std::to_string(r.expires_at) + " (epoch ms).");
  }
  s.metrics.renewals->inc();
  Standing st;
  st.place = Place::admitted;
  st.session_expires_at = r.expires_at;
  auto body = standing_json(s, qs, user, st, now);
  body["renewalsUsed"] = r.used;
  body["renewalsLeft"] = std::max<std::int64_t>(0, s.settings.max_renewals - r.used);
  co_return net::Response::json(200, body.dump());
}

}  // namespace tiketi::queue::handlers
