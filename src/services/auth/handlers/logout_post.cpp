#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

// POST /api/v1/auth/logout {refreshToken} -> 204. Revokes that session (its token family).
// Unknown or malformed tokens also get 204: logging out is idempotent and reveals nothing.
Task<net::Response> logout_post(AuthState& s, net::Request& req) {
  auto body = parse_body(req.body);
  const std::string token = body.required_string("refreshToken", {.max_bytes = 256});
  body.finish();
  if (auto hash = hash_refresh_token(token)) {
    co_await s.store->revoke_family_of(*hash);
  }
  co_return net::Response::no_content();
}

// POST /api/v1/auth/logout-all -> 204. Revokes every refresh token of the signed-in user.
// Access tokens already issued stay valid until they expire (at most 15 minutes).
Task<net::Response> logout_all_post(AuthState& s, net::Request& req) {
  const auto& who = common::require_user(req);
  const auto n = co_await s.store->revoke_all(who.user_id);
  log::info(req.log, "signed out everywhere",
            {lf("user_id", who.user_id), lf("revoked", static_cast<long long>(n))});
  co_return net::Response::no_content();
}

}  // namespace tiketi::auth::handlers
