#include "services/auth/domain/refresh_token.hpp"

#include <sodium.h>

#include "services/auth/domain/base64url.hpp"

namespace tiketi::auth {
namespace {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

}  // namespace

NewRefreshToken generate_refresh_token() {
  unsigned char raw[kRefreshTokenBytes];
  randombytes_buf(raw, sizeof raw);
  NewRefreshToken t;
  t.token = base64url_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  sodium_memzero(raw, sizeof raw);
  t.hash = sha256_hex(t.token);
  return t;
}

std::optional<std::string> hash_refresh_token(std::string_view token) {
  // 32 bytes -> 43 base64url characters.
  if (token.size() != 43) {
    return std::nullopt;
  }
  auto raw = base64url_decode(token);
  if (!raw || raw->size() != kRefreshTokenBytes) {
    return std::nullopt;
  }
  return sha256_hex(token);
}

RefreshDecision decide_refresh(const StoredRefreshToken& t, Millis now) {
  // Order matters: a rotated token presented again is reuse even when it has since expired or its
  // family was revoked — the reuse must still be reported.
  if (t.rotated_at) {
    return RefreshDecision::reuse;
  }
  if (t.revoked_at) {
    return RefreshDecision::revoked;
  }
  if (now >= t.expires_at) {
    return RefreshDecision::expired;
  }
  return RefreshDecision::rotate;
}

}  // namespace tiketi::auth
