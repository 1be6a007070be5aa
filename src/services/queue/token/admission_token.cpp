#include "services/queue/token/admission_token.hpp"

#include <sodium.h>

#include <charconv>
#include <stdexcept>
#include <vector>

#include "core/ids.hpp"
#include "services/auth/domain/base64url.hpp"
#include "services/common/auth_verify.hpp"

namespace tiketi::queue {
namespace {

// Bigger than any honest token (ids are uuids); bounds the work an attacker can ask for.
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

std::optional<AdmissionClaims> parse_payload(std::string_view payload_b64) {
  auto payload = auth::base64url_decode(payload_b64);
  if (!payload) {
    return std::nullopt;
  }
  auto parts = split(*payload, '|');
  if (parts.size() != 5 || parts[0] != "v1" || parts[1].empty() || parts[2].empty() || parts[4].empty()) {
    return std::nullopt;
  }
  AdmissionClaims c;
  c.user_id = std::string(parts[1]);
  c.event_id = std::string(parts[2]);
  c.jti = std::string(parts[4]);
  auto [ptr, ec] = std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), c.expires_at);
  if (ec != std::errc{} || ptr != parts[3].data() + parts[3].size()) {
    return std::nullopt;
  }
  return c;
}

}  // namespace

std::string_view to_string(TokenError e) {
  switch (e) {
    case TokenError::missing:
      return "admission_required";
    case TokenError::expired:
      return "admission_expired";
    case TokenError::malformed:
    case TokenError::bad_signature:
    case TokenError::wrong_user:
    case TokenError::wrong_event:
      return "admission_invalid";
  }
  return "admission_invalid";
}

AdmissionTokenCodec::AdmissionTokenCodec(std::string key) : key_(std::move(key)) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium init failed");
  }
}

std::string AdmissionTokenCodec::mac(std::string_view text) const {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string AdmissionTokenCodec::issue(const AdmissionClaims& c) const {
  for (const std::string* part : {&c.user_id, &c.event_id, &c.jti}) {
    if (part->empty() || part->find('|') != std::string::npos) {
      throw std::invalid_argument("admission claim is empty or contains '|'");
    }
  }
  const std::string payload = auth::base64url_encode("v1|" + c.user_id + "|" + c.event_id + "|" +
                                                     std::to_string(c.expires_at) + "|" + c.jti);
  return payload + "." + auth::base64url_encode(mac(payload));
}

std::optional<AdmissionClaims> AdmissionTokenCodec::decode(std::string_view token) const {
  auto dot = token.find('.');
  if (token.size() > kMaxTokenBytes || dot == std::string_view::npos) {
    return std::nullopt;
  }
  auto sig = auth::base64url_decode(token.substr(dot + 1));
  if (!sig || sig->size() != crypto_auth_hmacsha256_BYTES) {
    return std::nullopt;
  }
  const std::string expected = mac(token.substr(0, dot));
  // Constant time: the signature is the secret-dependent part.
  if (sodium_memcmp(expected.data(), sig->data(), expected.size()) != 0) {
    return std::nullopt;
  }
  return parse_payload(token.substr(0, dot));
}

std::optional<TokenError> AdmissionTokenCodec::verify(std::string_view token, std::string_view user_id,
                                                      std::string_view event_id, Millis now) const {
  if (token.empty()) {
    return TokenError::missing;
  }
  auto dot = token.find('.');
  if (token.size() > kMaxTokenBytes || dot == std::string_view::npos) {
    return TokenError::malformed;
  }
  auto sig = auth::base64url_decode(token.substr(dot + 1));
  if (!sig || sig->size() != crypto_auth_hmacsha256_BYTES) {
    return TokenError::malformed;
  }
  const std::string expected = mac(token.substr(0, dot));
  if (sodium_memcmp(expected.data(), sig->data(), expected.size()) != 0) {
    return TokenError::bad_signature;
  }
  auto c = parse_payload(token.substr(0, dot));
  if (!c) {
    return TokenError::malformed;
  }
  if (c->user_id != user_id) {
    return TokenError::wrong_user;
  }
  if (c->event_id != event_id) {
    return TokenError::wrong_event;
  }
  if (c->expires_at <= now) {
    return TokenError::expired;
  }
  return std::nullopt;
}

std::string admission_key_from_config(const Config& config) {
  if (auto k = config.get("queue.admission_secret")) {
    if (k->size() < 32) {
      throw std::invalid_argument("setting queue.admission_secret: must be at least 32 bytes");
    }
    return *k;
  }
  // Domain-separated from the JWT key so a token of one kind can never pass as the other; the
  // reservation service derives the same key the same way.
  const std::string secret = common::load_auth_keys(config).current.secret;
  const std::string label = "tiketi admission token v1";
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(label.data()), label.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

}  // namespace tiketi::queue
