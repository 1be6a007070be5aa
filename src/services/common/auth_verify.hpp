#pragma once
// Local verification of access tokens for every service (no network call), plus the helpers
// handlers use to demand a user or a role.
//
// Keys come from Config::extra:
//   auth.jwt_secret           current HS256 secret (>= 32 bytes) — required outside the embedded shape
//   auth.jwt_kid              its key id (default: derived from the secret)
//   auth.jwt_secret_previous  the key before the last rotation (optional, verification only)
//   auth.jwt_kid_previous     its key id (default: derived)
// In the embedded shape without a configured secret, a random one is created once in
// <data_dir>/auth-jwt.key (mode 0600) so tokens survive restarts.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "net/http.hpp"
#include "net/middleware.hpp"
#include "services/auth/domain/jwt.hpp"

namespace tiketi::common {

struct AuthKeys {
  auth::JwtKey current;
  std::optional<auth::JwtKey> previous;
};

// Throws std::invalid_argument("setting auth.jwt_secret: …") on a missing or weak secret.
AuthKeys load_auth_keys(const Config& config);

class Authenticator {
 public:
  Authenticator(const AuthKeys& keys, ClockPtr clock);
  static std::shared_ptr<Authenticator> from_config(const Config& config, ClockPtr clock);

  // The principal for a token, or the reason it was refused.
  std::variant<net::Principal, auth::JwtError> verify(std::string_view token) const;
  // Same, throwing ApiError 401 with the token error code.
  net::Principal authenticate(std::string_view token) const;

  const auth::JwtCodec& codec() const { return codec_; }
  const Clock& clock() const { return *clock_; }

 private:
  auth::JwtCodec codec_;
  ClockPtr clock_;
};
using AuthenticatorPtr = std::shared_ptr<const Authenticator>;

// Internal header the middleware uses to remember why a presented token was refused, so
// require_user() can answer with the precise code (token_expired, …). Stripped from client input.
inline constexpr std::string_view kAuthErrorHeader = "x-tiketi-auth-error";

// The bearer token of a request: `Authorization: Bearer <t>`, or for WebSocket upgrade requests
// only, the `access_token` query parameter (browsers cannot set headers on a WebSocket).
std::optional<std::string> bearer_token(const net::Request& req);

// Fills Request::principal from a valid token. An invalid token does not fail the request here —
// public routes stay public — but require_user()/require_role() then answer 401 with its code.
net::Middleware bearer_middleware(AuthenticatorPtr authenticator);
// Same as the middleware, for callers that verify inline (e.g. a WebSocket's first message).
void authenticate_request(const Authenticator& authenticator, net::Request& req);

// 401 when anonymous (with the token's error code when one was refused).
const net::Principal& require_user(const net::Request& req);
// 401 when anonymous, 403 when the role differs.
const net::Principal& require_role(const net::Request& req, std::string_view role);

}  // namespace tiketi::common
