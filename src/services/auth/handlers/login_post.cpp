#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {
namespace {

ApiError invalid_credentials() {
  // One answer for unknown email and wrong password, so accounts cannot be enumerated.
  return errors::unauthorized("invalid_credentials", "The email or password is incorrect.");
}

}  // namespace

// POST /api/v1/auth/login {email, password} -> 200 {user, accessToken, refreshToken, expiresIn}
Task<net::Response> login_post(AuthState& s, net::Request& req) {
  auto body = parse_body(req.body);
  const std::string email = read_email(body);
  std::string password = body.required_string("password", {.max_bytes = kPasswordMaxBytes});
  body.finish();

  try {
    co_await s.throttle->admit(email, req.remote_ip);
  } catch (const ApiError&) {
    s.metrics.login_throttled->inc();
    throw;
  }

  auto user = co_await s.store->find_by_email(email);
  bool ok = false;
  if (user && user->password_hash) {
    ok = co_await s.verify_password(*user->password_hash, password);
  } else {
    // Same argon2 cost as a real verification: response time does not reveal unknown emails.
    co_await s.dummy_verify(password);
  }
  if (!ok) {
    s.metrics.login_invalid->inc();
    co_await s.throttle->record_failure(email);
    log::info(req.log, "login failed", {lf("reason", "invalid_credentials")});
    throw invalid_credentials();
  }
  co_await s.throttle->reset(email);
  if (s.hasher->needs_rehash(*user->password_hash)) {
    // Parameters were raised since this hash was made: upgrade it while we hold the password.
    const std::string old_hash = *user->password_hash;
    auto fresh = co_await s.hash_password(password);
    co_await s.store->rehash_password(user->id, old_hash, fresh);
  }
  s.metrics.login_success->inc();
  log::info(req.log, "login succeeded", {lf("user_id", user->id)});
  auto out = co_await s.issue_session(*user);
  out["user"] = user_json(*user);
  co_return json_response(200, out);
}

}  // namespace tiketi::auth::handlers
