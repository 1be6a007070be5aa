#include "services/auth/throttle.hpp"

#include <sodium.h>

#include "core/error.hpp"

namespace tiketi::auth {
namespace {

// Keys carry a digest of the email, never the address itself (no PII in the coordination store).
std::string digest(const std::string& s) {
  unsigned char d[16];
  crypto_generichash(d, sizeof d, reinterpret_cast<const unsigned char*>(s.data()), s.size(), nullptr, 0);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, d, sizeof d);
  return std::string(hex, 32);
}

int seconds_left(Millis now, std::int64_t window_index, std::int64_t window_seconds) {
  const Millis end = (window_index + 1) * window_seconds * 1000;
  const auto s = (end - now + 999) / 1000;
  return static_cast<int>(s < 1 ? 1 : s);
}

}  // namespace

LoginThrottle::LoginThrottle(coord::CoordinatorPtr coord, ClockPtr clock, ThrottleSettings s)
    : coord_(std::move(coord)), clock_(std::move(clock)), settings_(s) {}

std::string LoginThrottle::account_key(const std::string& email, std::int64_t window) const {
  return "auth:login:fail:" + digest(email) + ":" + std::to_string(window);
}

Task<void> LoginThrottle::admit(const std::string& normalized_email, const std::string& ip) {
  const Millis now = clock_->now_ms();
  if (!ip.empty() && settings_.max_attempts_per_ip > 0) {
    const std::int64_t w = now / (settings_.ip_window_seconds * 1000);
    const std::string key = "auth:login:ip:" + ip + ":" + std::to_string(w);
    const auto n = co_await coord_->incr(key);
    if (n == 1) {
      co_await coord_->expire(key, coord::Ttl{settings_.ip_window_seconds * 1000 + 1000});
    }
    if (n > settings_.max_attempts_per_ip) {
      throw errors::rate_limited(seconds_left(now, w, settings_.ip_window_seconds));
    }
  }
  co_await admit_account(normalized_email);
}

Task<void> LoginThrottle::admit_account(const std::string& normalized_email) {
  if (settings_.max_failures_per_account <= 0) {
    co_return;
  }
  const Millis now = clock_->now_ms();
  const std::int64_t w = now / (settings_.account_window_seconds * 1000);
  auto v = co_await coord_->get(account_key(normalized_email, w));
  if (v && std::stoll(*v) >= settings_.max_failures_per_account) {
    throw errors::rate_limited(seconds_left(now, w, settings_.account_window_seconds));
  }
}

Task<void> LoginThrottle::record_failure(const std::string& normalized_email) {
  if (settings_.max_failures_per_account <= 0) {
    co_return;
  }
  const std::int64_t w = clock_->now_ms() / (settings_.account_window_seconds * 1000);
  const std::string key = account_key(normalized_email, w);
  const auto n = co_await coord_->incr(key);
  if (n == 1) {
    co_await coord_->expire(key, coord::Ttl{settings_.account_window_seconds * 1000 + 1000});
  }
}

Task<void> LoginThrottle::reset(const std::string& normalized_email) {
  if (settings_.max_failures_per_account <= 0) {
    co_return;
  }
  const std::int64_t w = clock_->now_ms() / (settings_.account_window_seconds * 1000);
  co_await coord_->del(account_key(normalized_email, w));
}

}  // namespace tiketi::auth
