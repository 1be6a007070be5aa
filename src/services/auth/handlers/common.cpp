#include "services/auth/domain/email.hpp"
#include "services/auth/handlers/handlers.hpp"

namespace tiketi::auth::handlers {

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
