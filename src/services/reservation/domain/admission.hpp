#pragma once
// Verification of waiting-room admission tokens (X-Admission-Token). The queue service issues them;
// this interface lets the reservation service check them without a network call.
//
// The format (docs/admission-token.md) is implemented once, by queue::AdmissionTokenCodec; this
// interface exists so reservation tests can substitute a verifier.
// A token is valid for one (user, event) until exp; replay within that window by the same user is
// harmless because every hold still passes the per-user limit.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "services/queue/token/admission_token.hpp"

namespace tiketi::reservation {

struct Admission {
  std::string user_id;
  std::string event_id;
  Millis expires_at = 0;
  std::string jti;
};

enum class AdmissionError { missing, malformed, bad_signature, expired, wrong_user, wrong_event };
std::string_view to_string(AdmissionError e);

class AdmissionVerifier {
 public:
  virtual ~AdmissionVerifier() = default;
  // nullopt when the token admits `user_id` to `event_id` at `now`; otherwise why not.
  virtual std::optional<AdmissionError> verify(std::string_view token, std::string_view user_id,
                                               std::string_view event_id, Millis now) const = 0;
};
using AdmissionVerifierPtr = std::shared_ptr<const AdmissionVerifier>;

class HmacAdmissionVerifier final : public AdmissionVerifier {
 public:
  explicit HmacAdmissionVerifier(std::string key);
  std::optional<AdmissionError> verify(std::string_view token, std::string_view user_id,
                                       std::string_view event_id, Millis now) const override;
  // The issuing side (the queue service, and tests).
  std::string issue(const Admission& a) const;

 private:
  queue::AdmissionTokenCodec codec_;
};

}  // namespace tiketi::reservation
