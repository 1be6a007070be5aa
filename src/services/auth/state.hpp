#pragma once
// Everything the auth handlers share, built in AuthService::start().
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/service.hpp"
#include "core/metrics.hpp"
#include "services/auth/domain/password.hpp"
#include "services/auth/domain/user.hpp"
#include "services/auth/google.hpp"
#include "services/auth/storage/auth_store.hpp"
#include "services/auth/throttle.hpp"
#include "services/common/auth_verify.hpp"
#include "services/common/worker_pool.hpp"

namespace tiketi::auth {

struct AuthSettings {
  Argon2Params argon2;
  std::size_t hash_threads = 1;
  std::size_t hash_queue_limit = 256;
  int hash_nice = 10;  // auth.hash_nice: scheduling niceness of the hashing threads (0..19)
  ThrottleSettings throttle;
  std::optional<std::string> internal_token;  // auth.internal_token: shared secret for /internal
  GoogleSettings google;                      // auth.google_*; google.enabled when configured
  // Housekeeping of expired refresh tokens (one replica at a time, by lease).
  std::int64_t token_cleanup_interval_seconds = 3600;
  // Rows are kept this long past expiry so a late replay is still recognised as reuse.
  std::int64_t token_cleanup_grace_seconds = 7 * 24 * 3600;
  std::string token_cleanup_lease = "auth:token-cleanup";  // one name per deployment sharing a Redis
  bool background = true;  // auth.background=off (tests): jobs exist but only run when driven
};

// Reads auth.* from Config::extra; throws std::invalid_argument("setting auth.x: …").
AuthSettings load_settings(const Config& config);

struct AuthMetrics {
  metrics::Counter* login_success = nullptr;
  metrics::Counter* login_invalid = nullptr;
  metrics::Counter* login_throttled = nullptr;
  metrics::Counter* signups = nullptr;
  metrics::Counter* refreshes = nullptr;
  metrics::Counter* refresh_reuse = nullptr;
  metrics::Counter* refresh_rejected = nullptr;  // unknown / expired / revoked tokens
  metrics::Counter* google_created = nullptr;
  metrics::Counter* google_linked = nullptr;
  metrics::Counter* google_existing = nullptr;
  metrics::Counter* google_rejected = nullptr;
  metrics::Counter* tokens_deleted = nullptr;
};

struct AuthState {
  app::ServiceContext ctx;
  AuthSettings settings;
  std::shared_ptr<common::Authenticator> authenticator;
  std::unique_ptr<PasswordHasher> hasher;
  std::unique_ptr<common::WorkerPool> pool;
  std::unique_ptr<AuthStore> store;
  std::unique_ptr<LoginThrottle> throttle;
  std::unique_ptr<GoogleClient> google;  // null when Google sign-in is not configured
  AuthMetrics metrics;

  // argon2id off the I/O threads.
  Task<std::string> hash_password(std::string password);
  Task<bool> verify_password(std::string stored_hash, std::string password);
  Task<void> dummy_verify(std::string password);

  // {"accessToken","refreshToken","expiresIn","tokenType"} for a fresh login (new token family).
  Task<nlohmann::json> issue_session(const User& u);
  std::string access_token(const std::string& user_id, const std::string& role) const;
};

}  // namespace tiketi::auth
