#include <sodium.h>

#include "services/auth/domain/email.hpp"
#include "services/auth/handlers/handlers.hpp"
#include "services/common/utf8.hpp"

namespace tiketi::auth::handlers {

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
  std::string repaired;
  repaired.reserve(raw.size() + marker.size());
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t len = common::utf8_sequence(raw, i);
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
