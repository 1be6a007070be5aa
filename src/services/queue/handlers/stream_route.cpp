// GET /api/v1/events/{id}/queue/stream — Server-Sent Events fallback for the WebSocket.
#include "core/error.hpp"
#include "services/queue/handlers/handlers.hpp"
#include "services/queue/live.hpp"

namespace tiketi::queue::handlers {

Task<net::Response> queue_stream(State& s, net::Request& req) {
  // EventSource cannot set headers either: accept ?access_token= here too.
  if (!req.principal) {
    if (auto t = req.query_param("access_token")) {
      req.principal = s.authenticator->authenticate(*t);
    }
  }
  const std::string user = common::require_user(req).user_id;
  const std::string event = req.param("id");
  co_await settings_or_404(s, event);
  net::Response r;
  r.status = 200;
  r.header("Content-Type", "text/event-stream");
  r.header("Cache-Control", "no-cache");
  r.header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  auto live = s.live;
  r.stream = [live, event, user](net::ResponseStream& out) -> Task<void> {
    co_await live->serve_stream(out, event, user);
  };
  co_return r;
}

}  // namespace tiketi::queue::handlers
