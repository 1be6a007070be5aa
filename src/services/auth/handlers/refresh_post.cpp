#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

// POST /api/v1/auth/refresh {refreshToken} -> 200 {accessToken, refreshToken, expiresIn}
// Every use rotates the token; presenting a rotated one revokes its whole family.
Task<net::Response> refresh_post(AuthState& s, net::Request& req) {
  auto body = parse_body(req.body);
  const std::string token = body.required_string("refreshToken", {.max_bytes = 256});
  body.finish();

  auto hash = hash_refresh_token(token);
  if (!hash) {
    s.metrics.refresh_rejected->inc();
    throw errors::unauthorized("refresh_token_invalid", "The refresh token is not valid.");
  }
  auto r = co_await s.store->rotate(*hash);
  switch (r.outcome) {
    case RefreshOutcome::rotated:
      break;
    case RefreshOutcome::unknown:
      s.metrics.refresh_rejected->inc();
      throw errors::unauthorized("refresh_token_invalid", "The refresh token is not valid.");
    case RefreshOutcome::expired:
      s.metrics.refresh_rejected->inc();
      throw errors::unauthorized("refresh_token_expired", "The session has expired; sign in again.");
    case RefreshOutcome::revoked:
      s.metrics.refresh_rejected->inc();
      throw errors::unauthorized("refresh_token_revoked", "The session was signed out; sign in again.");
    case RefreshOutcome::reused:
      s.metrics.refresh_reuse->inc();
      log::warn(req.log, "refresh token reuse detected; session revoked",
                {lf("user_id", r.user_id), lf("family_id", r.family_id)});
      throw errors::unauthorized("refresh_token_reused",
                                 "This refresh token was already used; the session has been revoked.");
  }
  s.metrics.refreshes->inc();
  co_return json_response(200, {{"accessToken", s.access_token(r.user_id, r.role)},
                                {"refreshToken", std::move(r.next_token)},
                                {"expiresIn", kAccessTokenLifetimeSeconds},
                                {"tokenType", "Bearer"}});
}

}  // namespace tiketi::auth::handlers
