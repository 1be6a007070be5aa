#pragma once
// Access tokens: compact JWS, HS256 only, with `kid` so keys can rotate. Verification accepts the
// current key and the previous one; everything else (alg none, other algorithms, unknown kid, bad
// signature, expired, not yet valid, malformed) is rejected with its own error code.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace tiketi::auth {

inline constexpr std::int64_t kAccessTokenLifetimeSeconds = 15 * 60;
// Longer tokens are refused before any decoding (bounds work on hostile input).
inline constexpr std::size_t kMaxTokenLength = 8 * 1024;

struct JwtKey {
  std::string kid;
  std::string secret;  // raw bytes; at least 32 recommended (enforced by the config loader)
};

struct AccessClaims {
  std::string sub;       // user id
  std::string role;      // "user" | "admin"
  std::int64_t iat = 0;  // seconds since epoch
  std::int64_t exp = 0;
  std::optional<std::int64_t> nbf;
  std::string jti;
};

enum class JwtError {
  none,
  malformed,        // token_malformed: not three base64url parts of JSON objects
  unsupported_alg,  // token_unsupported_alg: alg none or anything but HS256
  unknown_kid,      // token_unknown_kid
  bad_signature,    // token_bad_signature
  expired,          // token_expired
  not_yet_valid,    // token_not_yet_valid
  invalid_claims,   // token_invalid: required claims missing or of the wrong type
};

// Stable API error code for each failure ("token_expired", ...).
std::string_view jwt_error_code(JwtError e);
std::string_view jwt_error_message(JwtError e);

struct VerifyResult {
  JwtError error = JwtError::none;
  AccessClaims claims;  // valid only when error == none
  bool ok() const { return error == JwtError::none; }
};

class JwtCodec {
 public:
  // `previous` is accepted for verification only, so tokens signed before a rotation stay valid
  // until they expire.
  JwtCodec(JwtKey current, std::optional<JwtKey> previous = std::nullopt);
  ~JwtCodec();
  JwtCodec(const JwtCodec&) = delete;
  JwtCodec& operator=(const JwtCodec&) = delete;

  // Signs with the current key.
  std::string sign(const AccessClaims& claims) const;
  // Fresh claims for a user: iat = now, exp = now + 15 min, random jti.
  AccessClaims claims_for(std::string user_id, std::string role, const Clock& clock) const;
  VerifyResult verify(std::string_view token, Millis now_ms) const;

  const std::string& current_kid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tiketi::auth
