#pragma once
// Login throttling through the Coordinator, so every replica shares the counters: failed attempts
// per account (fixed window) and all attempts per client IP. Over a limit -> 429 + Retry-After.
#include <cstdint>
#include <string>

#include "coord/coordinator.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"

namespace tiketi::auth {

struct ThrottleSettings {
  std::int64_t max_failures_per_account = 10;
  std::int64_t account_window_seconds = 15 * 60;
  std::int64_t max_attempts_per_ip = 100;
  std::int64_t ip_window_seconds = 5 * 60;
};

class LoginThrottle {
 public:
  LoginThrottle(coord::CoordinatorPtr coord, ClockPtr clock, ThrottleSettings s);

  // Counts this attempt against the IP and checks the account's failures; throws
  // ApiError 429 (rate_limited, Retry-After) when either is over its limit.
  Task<void> admit(const std::string& normalized_email, const std::string& ip);
  // Checks only the account (password change from a signed-in session).
  Task<void> admit_account(const std::string& normalized_email);
  Task<void> record_failure(const std::string& normalized_email);
  Task<void> reset(const std::string& normalized_email);

  const ThrottleSettings& settings() const { return settings_; }

 private:
  std::string account_key(const std::string& email, std::int64_t window) const;
  coord::CoordinatorPtr coord_;
  ClockPtr clock_;
  ThrottleSettings settings_;
};

}  // namespace tiketi::auth
