#pragma once
// Waiting-room admission tokens: issued by the queue service, verified by the reservation service
// locally (no call). Format (docs/admission-token.md), every part base64url without padding:
//   token   = base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))
//   payload = "v1|" user_id "|" event_id "|" exp_ms "|" jti
// The key is the setting queue.admission_secret (>= 32 bytes) or, when unset, one derived from
// auth.jwt_secret (admission_key_from_config), so both services agree without extra setup.
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/config.hpp"

namespace tiketi::queue {

struct AdmissionClaims {
  std::string user_id;
  std::string event_id;
  Millis expires_at = 0;
  std::string jti;
};

enum class TokenError { missing, malformed, bad_signature, expired, wrong_user, wrong_event };
std::string_view to_string(TokenError e);

class AdmissionTokenCodec {
 public:
  explicit AdmissionTokenCodec(std::string key);
  // Throws std::invalid_argument when a claim contains '|' or is empty (would be ambiguous).
  std::string issue(const AdmissionClaims& claims) const;
  // The claims when the signature is right (whatever the expiry); nullopt otherwise.
  std::optional<AdmissionClaims> decode(std::string_view token) const;
  // nullopt when the token admits `user_id` to `event_id` at `now`, otherwise why not.
  std::optional<TokenError> verify(std::string_view token, std::string_view user_id,
                                   std::string_view event_id, Millis now) const;

 private:
  std::string mac(std::string_view text) const;
  std::string key_;
};

// queue.admission_secret when set (>= 32 bytes, else std::invalid_argument naming the setting);
// otherwise HMAC-SHA256(auth.jwt_secret, "tiketi admission token v1").
std::string admission_key_from_config(const Config& config);

}  // namespace tiketi::queue
