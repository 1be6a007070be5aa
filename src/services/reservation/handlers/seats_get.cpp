#include "core/error.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {

Task<net::Response> seats_get(State& s, net::Request& req) {
  const std::string& id = id_param(req, "id");
  // Listen to the event's changes before reading, so this replica's cached map is invalidated by
  // changes made on any replica (unknown ids are refused first and never subscribed to).
  if (s.feed) {
    auto ev = co_await s.store->find_event(id);
    if (!ev) {
      throw errors::not_found("event");
    }
    co_await s.feed->watch(id);
  }
  auto snap = co_await s.seats->get(id);
  net::Response resp;
  if (auto inm = req.header("If-None-Match"); inm && *inm == snap.etag) {
    resp.status = 304;
  } else {
    resp = net::Response::json(200, *snap.body);
  }
  resp.header("ETag", snap.etag);
  // Browsers revalidate every time; the snapshot itself is shared by every request on the server.
  resp.header("Cache-Control", "no-cache");
  co_return resp;
}

}  // namespace tiketi::reservation::handlers
