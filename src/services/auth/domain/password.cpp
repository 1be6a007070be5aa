#include "services/auth/domain/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "services/common/utf8.hpp"

namespace tiketi::auth {

std::optional<std::string> check_password_policy(std::string_view password) {
  if (!common::is_valid_utf8(password)) {
    return "must be valid UTF-8 text";
  }
  if (password.size() > kPasswordMaxBytes) {
    return "must be at most 1024 bytes";
  }
  if (common::utf8_length(password) < kPasswordMinChars) {
    return "must be at least 10 characters";
  }
  return std::nullopt;
}

PasswordHasher::PasswordHasher(Argon2Params params) : params_(params) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium init failed");
  }
  if (params_.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || params_.opslimit > 20 ||
      params_.memlimit_bytes < 8u * 1024 * 1024 || params_.memlimit_bytes > 4096ull * 1024 * 1024) {
    throw std::invalid_argument("argon2id parameters out of range (opslimit 1..20, memlimit 8 MiB..4 GiB)");
  }
  dummy_hash_ = hash("tiketi-dummy-password-for-timing");
}

std::string PasswordHasher::hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params_.opslimit, params_.memlimit_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id hashing failed (out of memory)");
  }
  return std::string(out);
}

bool PasswordHasher::verify(std::string_view stored_hash, std::string_view password) const {
  // crypto_pwhash_str_verify wants a NUL-terminated string of bounded length.
  if (stored_hash.empty() || stored_hash.size() >= crypto_pwhash_STRBYTES) {
    return false;
  }
  const std::string h(stored_hash);
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::needs_rehash(std::string_view stored_hash) const {
  if (stored_hash.size() >= crypto_pwhash_STRBYTES) {
    return true;
  }
  const std::string h(stored_hash);
  return crypto_pwhash_str_needs_rehash(h.c_str(), params_.opslimit, params_.memlimit_bytes) != 0;
}

bool PasswordHasher::dummy_verify(std::string_view password) const {
  (void)verify(dummy_hash_, password);
  return false;
}

}  // namespace tiketi::auth
