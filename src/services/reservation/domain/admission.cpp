#include "services/reservation/domain/admission.hpp"

#include <sodium.h>

#include <charconv>
#include <vector>

#include "services/auth/domain/base64url.hpp"

namespace tiketi::reservation {
namespace {

constexpr std::size_t kMaxTokenBytes = 1024;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

}  // namespace

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

HmacAdmissionVerifier::HmacAdmissionVerifier(std::string key) : key_(std::move(key)) {}

std::string HmacAdmissionVerifier::mac(std::string_view text) const {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string HmacAdmissionVerifier::issue(const Admission& a) const {
  const std::string payload = auth::base64url_encode("v1|" + a.user_id + "|" + a.event_id + "|" +
                                                     std::to_string(a.expires_at) + "|" + a.jti);
  return payload + "." + auth::base64url_encode(mac(payload));
}

std::optional<Admission> HmacAdmissionVerifier::parse_unverified(std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  auto payload = auth::base64url_decode(token.substr(0, dot));
  if (!payload) {
    return std::nullopt;
  }
  auto parts = split(*payload, '|');
  if (parts.size() != 5 || parts[0] != "v1" || parts[1].empty() || parts[2].empty() || parts[4].empty()) {
    return std::nullopt;
  }
  Admission a;
  a.user_id = std::string(parts[1]);
  a.event_id = std::string(parts[2]);
  a.jti = std::string(parts[4]);
  auto [ptr, ec] = std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), a.expires_at);
  if (ec != std::errc{} || ptr != parts[3].data() + parts[3].size()) {
    return std::nullopt;
  }
  return a;
}

std::optional<AdmissionError> HmacAdmissionVerifier::verify(std::string_view token, std::string_view user_id,
                                                            std::string_view event_id, Millis now) const {
  if (token.empty()) {
    return AdmissionError::missing;
  }
  auto dot = token.find('.');
  if (token.size() > kMaxTokenBytes || dot == std::string_view::npos) {
    return AdmissionError::malformed;
  }
  auto sig = auth::base64url_decode(token.substr(dot + 1));
  if (!sig || sig->size() != crypto_auth_hmacsha256_BYTES) {
    return AdmissionError::malformed;
  }
  const std::string expected = mac(token.substr(0, dot));
  // Constant time: the signature is the secret-dependent part.
  if (sodium_memcmp(expected.data(), sig->data(), expected.size()) != 0) {
    return AdmissionError::bad_signature;
  }
  auto a = parse_unverified(token);
  if (!a) {
    return AdmissionError::malformed;
  }
  if (a->user_id != user_id) {
    return AdmissionError::wrong_user;
  }
  if (a->event_id != event_id) {
    return AdmissionError::wrong_event;
  }
  if (a->expires_at <= now) {
    return AdmissionError::expired;
  }
  return std::nullopt;
}

}  // namespace tiketi::reservation
