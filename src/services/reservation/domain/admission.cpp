#include "services/reservation/domain/admission.hpp"

namespace tiketi::reservation {
std::string_view to_string(AdmissionError e) {
  switch (e) {
    case AdmissionError::missing:
      return "admission_required";
    case AdmissionError::malformed:
    case AdmissionError::bad_signature:
      return "admission_invalid";
    case AdmissionError::expired:
      return "admission_expired";
    case AdmissionError::wrong_user:
    case AdmissionError::wrong_event:
      return "admission_invalid";
  }
  return "admission_invalid";
}

HmacAdmissionVerifier::HmacAdmissionVerifier(std::string key) : codec_(std::move(key)) {}

std::string HmacAdmissionVerifier::issue(const Admission& a) const {
  return codec_.issue({a.user_id, a.event_id, a.expires_at, a.jti});
}

std::optional<AdmissionError> HmacAdmissionVerifier::verify(std::string_view token, std::string_view user_id,
                                                            std::string_view event_id, Millis now) const {
  auto e = codec_.verify(token, user_id, event_id, now);
  if (!e) {
    return std::nullopt;
  }
  switch (*e) {
    case queue::TokenError::missing:
      return AdmissionError::missing;
    case queue::TokenError::malformed:
      return AdmissionError::malformed;
    case queue::TokenError::bad_signature:
      return AdmissionError::bad_signature;
    case queue::TokenError::expired:
      return AdmissionError::expired;
    case queue::TokenError::wrong_user:
      return AdmissionError::wrong_user;
    case queue::TokenError::wrong_event:
      return AdmissionError::wrong_event;
  }
  return AdmissionError::malformed;
}

}  // namespace tiketi::reservation
