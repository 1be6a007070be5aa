// /api/v1/admin/queues/{eventId}: view a line, pause/resume admission, change rate and capacity,
// remove a user. Admin role required.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "services/common/json_body.hpp"
#include "services/queue/handlers/handlers.hpp"

namespace tiketi::queue::handlers {
namespace {

Task<net::Response> view(State& s, std::string event) {
  const QueueSettings qs = co_await settings_or_404(s, event);
  const Millis now = s.ctx.clock->now_ms();
  const auto waiting = co_await s.line->waiting(event);
  const auto active = co_await s.line->active(event, now);
  const auto head = co_await s.line->head(event);
  const bool opened = co_await s.line->opened(event);
  nlohmann::json j{{"eventId", event},
                   {"status", qs.status},
                   {"mode", to_string(qs.mode)},
                   {"order", to_string(qs.order)},
                   {"length", waiting},
                   {"active", active},
                   {"head", head},
                   {"rate", qs.rate_per_second},
                   {"maxActive", qs.max_active},
                   {"sessionSeconds", qs.session_ms / 1000},
                   {"paused", qs.paused},
                   {"opened", opened},
                   {"opensAt", qs.opens_at()},
                   {"saleStart", qs.sale_start}};
  co_return net::Response::json(200, j.dump());
}

Task<net::Response> set_paused(State& s, net::Request& req, bool paused) {
  common::require_role(req, "admin");
  const std::string event = req.param("eventId");
  co_await settings_or_404(s, event);
  auto o = co_await s.line->overrides(event);
  o.paused = paused;
  co_await s.line->put_overrides(event, o);
  co_return co_await view(s, event);
}

}  // namespace

Task<net::Response> admin_get(State& s, net::Request& req) {
  common::require_role(req, "admin");
  co_return co_await view(s, req.param("eventId"));
}

Task<net::Response> admin_pause(State& s, net::Request& req) { co_return co_await set_paused(s, req, true); }
Task<net::Response> admin_resume(State& s, net::Request& req) {
  co_return co_await set_paused(s, req, false);
}

Task<net::Response> admin_patch(State& s, net::Request& req) {
  common::require_role(req, "admin");
  const std::string event = req.param("eventId");
  common::JsonBody body(req.body);
  std::optional<double> rate;
  if (body.has("rate")) {
    const auto& v = body.raw()["rate"];
    if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 100'000) {
      body.fail("rate", "must be a number of admissions per second above 0 and at most 100000");
    } else {
      rate = v.get<double>();
    }
  }
  auto max_active = body.optional_int("maxActive", 1, 10'000'000);
  auto mode_text = body.optional_string("mode");
  auto order_text = body.optional_string("order");
  std::optional<Mode> mode;
  std::optional<Order> order;
  if (mode_text && !(mode = parse_mode(*mode_text))) {
    body.fail("mode", "must be off, always or auto");
  }
  if (order_text && !(order = parse_order(*order_text))) {
    body.fail("order", "must be fifo or random");
  }
  body.finish();
  co_await settings_or_404(s, event);
  auto o = co_await s.line->overrides(event);
  if (rate) {
    o.rate_per_second = rate;
  }
  if (max_active) {
    o.max_active = max_active;
  }
  if (mode) {
    o.mode = mode;
  }
  if (order) {
    o.order = order;
  }
  co_await s.line->put_overrides(event, o);
  co_return co_await view(s, event);
}

Task<net::Response> admin_remove_user(State& s, net::Request& req) {
  common::require_role(req, "admin");
  const std::string event = req.param("eventId");
  const std::string user = req.param("userId");
  co_await settings_or_404(s, event);
  if (!co_await s.line->leave(event, user)) {
    throw errors::make("not_found", "That user is neither waiting nor shopping for this event.");
  }
  co_return net::Response::no_content();
}

}  // namespace tiketi::queue::handlers
