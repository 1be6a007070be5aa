#include <sodium.h>

#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {
namespace {

bool is_loopback_or_local(const std::string& ip) {
  return ip.empty() || ip == "in-process" || ip.rfind("127.", 0) == 0 || ip == "::1" ||
         ip.rfind("::ffff:127.", 0) == 0;
}

// /internal is never routed by the WEB tier (nginx/Ingress only route /api/v1). As a second
// line: with auth.internal_token set, callers must present it; without it, only direct
// loopback/in-process requests that did not pass through a proxy are served. Refusals look like
// an unknown route.
void guard_internal(const AuthState& s, const net::Request& req) {
  if (s.settings.internal_token) {
    const auto presented = req.header("x-internal-token");
    const auto& expected = *s.settings.internal_token;
    if (presented && presented->size() == expected.size() &&
        sodium_memcmp(presented->data(), expected.data(), expected.size()) == 0) {
      return;
    }
    throw errors::not_found("route");
  }
  if (req.header("x-forwarded-for") || req.header("forwarded") || req.header("x-real-ip") ||
      !is_loopback_or_local(req.remote_ip)) {
    throw errors::not_found("route");
  }
}

}  // namespace

// GET /internal/v1/users/{id} -> 200 {id, email, name, language} (for notification and others)
Task<net::Response> internal_user_get(AuthState& s, net::Request& req) {
  guard_internal(s, req);
  const auto& id = req.param("id");
  if (id.size() > 64) {
    throw errors::not_found("user");
  }
  auto user = co_await s.store->find_by_id(id);
  if (!user) {
    throw errors::not_found("user");
  }
  co_return json_response(200, {{"id", user->id},
                                {"email", user->email},
                                {"name", user->name},
                                {"language", user->language},
                                {"role", user->role}});
}

}  // namespace tiketi::auth::handlers
