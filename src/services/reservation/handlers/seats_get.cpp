#include "core/error.hpp"
#include "services/reservation/handlers/handlers.hpp"

namespace tiketi::reservation::handlers {

Task<net::Response> seats_get(State& s, net::Request& req) {
  auto snap = co_await s.seats->get(id_param(req, "id"));
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
