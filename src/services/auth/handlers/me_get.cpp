#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

// GET /api/v1/auth/me -> 200 user
Task<net::Response> me_get(AuthState& s, net::Request& req) {
  const auto& who = common::require_user(req);
  auto user = co_await s.store->find_by_id(who.user_id);
  if (!user) {
    throw errors::unauthorized("unauthorized", "The account no longer exists.");
  }
  co_return json_response(200, user_json(*user));
}

}  // namespace tiketi::auth::handlers
