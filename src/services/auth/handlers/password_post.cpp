#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

// POST /api/v1/auth/password {currentPassword, newPassword} -> 200 {accessToken, refreshToken, expiresIn}
// Revokes every refresh token (all other sessions end) and starts a fresh session for this client.
Task<net::Response> password_post(AuthState& s, net::Request& req) {
  const auto& who = common::require_user(req);
  auto body = parse_body(req.body);
  std::string current = body.required_string("currentPassword", {.max_bytes = kPasswordMaxBytes});
  std::string next = body.required_string("newPassword", {.max_bytes = kPasswordMaxBytes});
  if (!next.empty()) {
    if (auto why = check_password_policy(next)) {
      body.fail("newPassword", *why);
    }
  }
  body.finish();

  auto user = co_await s.store->find_by_id(who.user_id);
  if (!user) {
    throw errors::unauthorized("unauthorized", "The account no longer exists.");
  }
  if (!user->password_hash) {
    throw errors::validation({{"currentPassword", "this account signs in with Google and has no password"}});
  }
  // A stolen access token must not become an unthrottled password oracle.
  co_await s.throttle->admit_account(user->email);
  if (!co_await s.verify_password(*user->password_hash, std::move(current))) {
    co_await s.throttle->record_failure(user->email);
    throw errors::validation({{"currentPassword", "is incorrect"}});
  }
  const auto hash = co_await s.hash_password(std::move(next));
  co_await s.store->update_password(user->id, hash);
  const auto revoked = co_await s.store->revoke_all(user->id);
  log::info(req.log, "password changed",
            {lf("user_id", user->id), lf("revoked", static_cast<long long>(revoked))});
  co_return json_response(200, co_await s.issue_session(*user));
}

}  // namespace tiketi::auth::handlers
