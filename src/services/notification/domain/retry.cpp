#include "services/notification/domain/retry.hpp"

#include <algorithm>

namespace tiketi::notification {

Millis backoff_delay(const RetryPolicy& policy, int attempts, double unit) {
  const int exponent = std::clamp(attempts - 1, 0, 30);
  Millis cap = policy.base_delay_ms;
  for (int i = 0; i < exponent && cap < policy.max_delay_ms; ++i) {
    cap *= 2;
  }
  cap = std::min(cap, policy.max_delay_ms);
  unit = std::clamp(unit, 0.0, 0.999999);
  const Millis half = cap / 2;
  return half + static_cast<Millis>(static_cast<double>(cap - half) * unit);
}

Outcome after_failure(const RetryPolicy& policy, int attempts_made, int smtp_code) {
  if (is_permanent_smtp(smtp_code)) {
    return Outcome::failed;
  }
  return attempts_made >= policy.max_attempts ? Outcome::failed : Outcome::retry;
}

}  // namespace tiketi::notification
