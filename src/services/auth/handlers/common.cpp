#include <sodium.h>

#include "services/auth/domain/email.hpp"
#include "services/auth/handlers/handlers.hpp"
#include "services/common/utf8.hpp"

namespace tiketi::auth::handlers {
namespace {

// Length of the valid UTF-8 sequence starting at p[i] (strict: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 when the byte there does not start one.
std::size_t utf8_sequence(const unsigned char* p, std::size_t i, std::size_t n) {
  const unsigned char c = p[i];
  if (c < 0x80) {
    return 1;
  }
  std::size_t len = 0;
  unsigned lo = 0x80;
  unsigned hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
      return 0;
    }
  }
  return len;
}

}  // namespace

common::JsonBody parse_body(std::string_view raw) {
  if (common::is_valid_utf8(raw)) {
    return common::JsonBody(raw);
  }
  // Not UTF-8, so not JSON (RFC 8259 §8.1) — but a client should learn which field was wrong.
  // Each invalid byte becomes a random ASCII marker; if the text then parses, the members whose
  // value holds a marker get the field error. The marker is 128 random bits, so no client text
  // can contain it by chance. The repaired text is only inspected, never stored.
  unsigned char rnd[16];
  randombytes_buf(rnd, sizeof rnd);
  char hex[2 * sizeof rnd + 1];
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  const std::string marker = std::string("~") + hex + "~";
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::string repaired;
  repaired.reserve(raw.size() + marker.size());
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t len = utf8_sequence(p, i, raw.size());
    if (len == 0) {
      repaired += marker;
      ++i;
    } else {
      repaired.append(raw.substr(i, len));
      i += len;
    }
  }
  common::JsonBody body(repaired);  // throws invalid_json when the text is broken anyway
  for (const auto& [key, value] : body.raw().items()) {
    if (key.find(marker) != std::string::npos) {
      throw errors::invalid_json("The request body is not valid UTF-8.");
    }
    if (value.dump().find(marker) != std::string::npos) {
      body.fail(key, "must be valid UTF-8 text");
    }
  }
  return body;
}

net::Response json_response(int status, const nlohmann::json& body) {
  // `replace`: a stored string can never make dump() throw mid-response.
  return net::Response::json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string read_email(common::JsonBody& body) {
  // Generous byte cap so over-long input gets the precise message from normalize_email, which
  // rejects it before copying.
  const auto before = body.errors().size();
  auto raw = body.required_string("email", {.max_bytes = 2u << 20, .allow_empty = true});
  if (body.errors().size() != before) {
    return {};
  }
  auto r = normalize_email(raw);
  if (auto* e = std::get_if<EmailError>(&r)) {
    body.fail("email", e->message);
    return {};
  }
  return std::get<std::string>(std::move(r));
}

}  // namespace tiketi::auth::handlers
