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
#include "services/auth/storage/auth_store.hpp"
#include "services/auth/throttle.hpp"
#include "services/common/auth_verify.hpp"
#include "services/common/worker_pool.hpp"

namespace tiketi::auth {

struct AuthSettings {
  Argon2Params argon2;
  std::size_t hash_threads = 1;
  std::size_t hash_queue_limit = 256;
  ThrottleSettings throttle;
  std::optional<std::string> internal_token;  // auth.internal_token: shared secret for /internal
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
};

struct AuthState {
  app::ServiceContext ctx;
  AuthSettings settings;
  std::shared_ptr<common::Authenticator> authenticator;
  std::unique_ptr<PasswordHasher> hasher;
  std::unique_ptr<common::WorkerPool> pool;
  std::unique_ptr<AuthStore> store;
  std::unique_ptr<LoginThrottle> throttle;
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
