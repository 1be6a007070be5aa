#include "services/auth/state.hpp"

#include <stdexcept>
#include <thread>

namespace tiketi::auth {
AuthSettings load_settings(const Config& c) {
  AuthSettings s;
  s.argon2.opslimit = static_cast<std::uint64_t>(c.get_int("auth.argon2_opslimit", 2, 1, 20));
  s.argon2.memlimit_bytes =
      static_cast<std::size_t>(c.get_int("auth.argon2_memlimit_kib", 64 * 1024, 8 * 1024, 4 * 1024 * 1024)) *
      1024;
  // Half the cores by default: logins get real parallelism while the I/O threads keep a core.
  const auto hw = std::max(1u, std::thread::hardware_concurrency());
  s.hash_threads = static_cast<std::size_t>(c.get_int("auth.hash_threads", std::max(1u, hw / 2), 1, 256));
  s.hash_queue_limit = static_cast<std::size_t>(c.get_int("auth.hash_queue_limit", 256, 1, 100'000));
  // Hashing threads yield the CPU to the I/O threads: on a busy 2-core machine, GET /auth/me p99
  // under a login flood was 56 ms at nice 0 and 1.2 ms at nice 10, same login rate (BENCHMARKS.md).
  s.hash_nice = static_cast<int>(c.get_int("auth.hash_nice", 10, 0, 19));
  s.throttle.max_failures_per_account = c.get_int("auth.login_max_failures", 10, 0, 1'000'000);
  s.throttle.account_window_seconds = c.get_int("auth.login_failure_window_seconds", 900, 1, 86'400);
  s.throttle.max_attempts_per_ip = c.get_int("auth.login_max_attempts_per_ip", 100, 0, 1'000'000);
  s.throttle.ip_window_seconds = c.get_int("auth.login_ip_window_seconds", 300, 1, 86'400);
  if (auto t = c.get("auth.internal_token"); t && !t->empty()) {
    if (t->size() < 16) {
      throw std::invalid_argument("setting auth.internal_token: must be at least 16 characters");
    }
    s.internal_token = *t;
  }
  s.google = load_google_settings(c);
  s.token_cleanup_interval_seconds = c.get_int("auth.token_cleanup_interval_seconds", 3600, 1, 86'400);
  s.token_cleanup_grace_seconds = c.get_int("auth.token_cleanup_grace_seconds", 7 * 24 * 3600, 0, 365 * 86'400);
  if (auto lease = c.get("auth.token_cleanup_lease"); lease && !lease->empty()) {
    s.token_cleanup_lease = *lease;
  }
  s.background = c.get("auth.background").value_or("on") != "off";
  return s;
}

Task<std::string> AuthState::hash_password(std::string password) {
  std::string out;
  co_await pool->run([this, &out, &password] { out = hasher->hash(password); });
  co_return out;
}

Task<bool> AuthState::verify_password(std::string stored_hash, std::string password) {
  bool ok = false;
  co_await pool->run([this, &ok, &stored_hash, &password] { ok = hasher->verify(stored_hash, password); });
  co_return ok;
}

Task<void> AuthState::dummy_verify(std::string password) {
  co_await pool->run([this, &password] { hasher->dummy_verify(password); });
}

std::string AuthState::access_token(const std::string& user_id, const std::string& role) const {
  const auto& codec = authenticator->codec();
  return codec.sign(codec.claims_for(user_id, role, *ctx.clock));
}

Task<nlohmann::json> AuthState::issue_session(const User& u) {
  auto refresh = co_await store->issue_refresh_token(u.id);
  co_return nlohmann::json{{"accessToken", access_token(u.id, u.role)},
                           {"refreshToken", std::move(refresh)},
                           {"expiresIn", kAccessTokenLifetimeSeconds},
                           {"tokenType", "Bearer"}};
}

}  // namespace tiketi::auth
