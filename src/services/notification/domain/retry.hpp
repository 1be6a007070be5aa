#pragma once
// When to try a delivery again. Transient failures (connection refused, timeouts, 4xx replies)
// back off exponentially with full jitter; permanent ones (5xx replies) are not retried; after
// max_attempts the delivery is dead-lettered (FAILED) for an admin to look at.
#include <cstdint>
#include <string>

#include "core/clock.hpp"

namespace tiketi::notification {

struct RetryPolicy {
  int max_attempts = 8;
  Millis base_delay_ms = 2'000;
  Millis max_delay_ms = 15 * 60'000;
};

// Delay before attempt number `attempts + 1` after `attempts` failed ones (attempts >= 1).
// `unit` in [0, 1) picks the point inside the jitter window [cap/2, cap): half-jitter keeps a
// floor so a flapping server is not hammered, while replicas still spread out.
Millis backoff_delay(const RetryPolicy& policy, int attempts, double unit);

enum class Outcome { sent, retry, failed };

// What to do after a failed attempt. smtp_code 0 means no reply (connection error, timeout).
Outcome after_failure(const RetryPolicy& policy, int attempts_made, int smtp_code);

// 5xx replies are permanent: the server has said the message will never be accepted as is.
inline bool is_permanent_smtp(int smtp_code) { return smtp_code >= 500 && smtp_code < 600; }

}  // namespace tiketi::notification
