#pragma once
// Password policy and argon2id hashing (libsodium crypto_pwhash_str, which stores the algorithm,
// parameters and salt in the hash string, so parameters can change without a migration).
//
// Defaults: opslimit 2, memlimit 64 MiB (~90 ms of CPU per hash on the reference 2-core machine; see
// BENCHMARKS.md). Configure with auth.argon2_opslimit / auth.argon2_memlimit_kib. These calls are
// CPU- and memory-heavy: run them on the hashing pool, never on an I/O thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tiketi::auth {

inline constexpr std::size_t kPasswordMinChars = 10;
inline constexpr std::size_t kPasswordMaxBytes = 1024;

// nullopt when acceptable, else the field-level message. Length counts UTF-8 code points so a
// 10-character Korean password is accepted like a 10-character Latin one.
std::optional<std::string> check_password_policy(std::string_view password);

struct Argon2Params {
  std::uint64_t opslimit = 2;
  std::size_t memlimit_bytes = 64u * 1024 * 1024;
};

class PasswordHasher {
 public:
  explicit PasswordHasher(Argon2Params params = {});
  // Throws std::invalid_argument when params are outside libsodium's limits.
  const Argon2Params& params() const { return params_; }

  std::string hash(std::string_view password) const;  // throws std::runtime_error (out of memory)
  bool verify(std::string_view stored_hash, std::string_view password) const;
  // True when the stored hash used other parameters (rehash after a successful login).
  bool needs_rehash(std::string_view stored_hash) const;
  // Verifies against a fixed hash made with the same parameters, so an unknown email costs the
  // same time as a wrong password. Always returns false.
  bool dummy_verify(std::string_view password) const;

 private:
  Argon2Params params_;
  std::string dummy_hash_;
};

}  // namespace tiketi::auth
