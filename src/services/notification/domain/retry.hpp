#pragma once
// When to try a delivery again. Transient failures (connection refused, timeouts, TLS failures,
// 4xx replies, AUTH rejected) back off exponentially with half jitter; permanent ones (5xx replies
// about the message or recipient) are not retried; after
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

// Replies about this sender's session, not about the message: 530 (authentication or STARTTLS
// required), 534 (mechanism too weak), 535 (credentials invalid), 538 (encryption required for the
// mechanism). They mean our configuration or credentials are wrong (or were rotated): every email
// fails the same way until an operator fixes it, and then every one of them would be accepted. So,
// like Postfix's smtp_sasl_auth_soft_bounce, they are treated as transient: retried with backoff,
// visible in the delivery log, dead-lettered only after max_attempts.
inline bool is_sender_config_smtp(int smtp_code) {
  return smtp_code == 530 || smtp_code == 534 || smtp_code == 535 || smtp_code == 538;
}

// Other 5xx replies are permanent: the server has said this message will never be accepted as is.
inline bool is_permanent_smtp(int smtp_code) {
  return smtp_code >= 500 && smtp_code < 600 && !is_sender_config_smtp(smtp_code);
}

}  // namespace tiketi::notification
