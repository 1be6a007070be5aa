#include "core/ids.hpp"
#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

// POST /api/v1/auth/signup {email, password, name} -> 201 {user, accessToken, refreshToken, expiresIn}
Task<net::Response> signup_post(AuthState& s, net::Request& req) {
  auto body = parse_body(req.body);
  const std::string email = read_email(body);
  std::string password = body.required_string("password", {.max_bytes = kPasswordMaxBytes});
  if (!password.empty()) {
    if (auto why = check_password_policy(password)) {
      body.fail("password", *why);
    }
  }
  const std::string name = body.required_string("name", {.max_chars = 100, .trim = true});
  body.finish();

  const Millis now = s.ctx.clock->now_ms();
  User u;
  u.id = ids::uuid_v7(now);
  u.email = email;
  u.name = name;
  u.password_hash = co_await s.hash_password(std::move(password));
  u.created_at = now;
  u.updated_at = now;
  if (!co_await s.store->insert_user(u)) {
    throw errors::conflict("email_taken", "An account with this email already exists.");
  }
  s.metrics.signups->inc();
  log::info(req.log, "user signed up", {lf("user_id", u.id)});
  auto out = co_await s.issue_session(u);
  out["user"] = user_json(u);
  co_return json_response(201, out);
}

}  // namespace tiketi::auth::handlers
