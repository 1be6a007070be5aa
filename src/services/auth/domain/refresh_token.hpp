#pragma once
// Refresh tokens: 256 random bits, handed out once as base64url, stored only as SHA-256 so a
// database leak does not leak sessions. Tokens form a family (one login); every use rotates the
// token, and presenting an already-rotated token revokes the whole family (theft detection).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace tiketi::auth {

inline constexpr Millis kRefreshTokenLifetimeMs = 14LL * 24 * 60 * 60 * 1000;
inline constexpr std::size_t kRefreshTokenBytes = 32;

struct NewRefreshToken {
  std::string token;  // give to the client, never store or log
  std::string hash;   // store this (hex SHA-256)
};

NewRefreshToken generate_refresh_token();
// Hex SHA-256 of the presented token; nullopt when it cannot be one of ours (wrong length or
// alphabet), so garbage never reaches the database.
std::optional<std::string> hash_refresh_token(std::string_view token);

// What the stored row says about a presented token.
struct StoredRefreshToken {
  std::string id;
  std::string family_id;
  std::string user_id;
  Millis expires_at = 0;
  std::optional<Millis> rotated_at;
  std::optional<Millis> revoked_at;
};

enum class RefreshDecision {
  rotate,   // valid: mark rotated (conditionally) and issue the next token in the family
  reuse,    // already rotated: theft signal, revoke the family
  revoked,  // family or token revoked (logout, password change, earlier reuse)
  expired,
};

// Pure rule; the storage layer still makes "rotate" race-free with a conditional UPDATE, whose
// zero-row outcome is treated as `reuse`.
RefreshDecision decide_refresh(const StoredRefreshToken& t, Millis now);

}  // namespace tiketi::auth
