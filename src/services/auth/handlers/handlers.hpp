#pragma once
// One function per resource and verb; each file stays thin and delegates to domain/ and storage/.
#include "net/http.hpp"
#include "services/auth/state.hpp"
#include "services/common/json_body.hpp"

namespace tiketi::auth::handlers {

Task<net::Response> signup_post(AuthState& s, net::Request& req);
Task<net::Response> login_post(AuthState& s, net::Request& req);
Task<net::Response> refresh_post(AuthState& s, net::Request& req);
Task<net::Response> logout_post(AuthState& s, net::Request& req);
Task<net::Response> logout_all_post(AuthState& s, net::Request& req);
Task<net::Response> me_get(AuthState& s, net::Request& req);
Task<net::Response> me_patch(AuthState& s, net::Request& req);
Task<net::Response> password_post(AuthState& s, net::Request& req);
Task<net::Response> internal_user_get(AuthState& s, net::Request& req);
Task<net::Response> providers_get(AuthState& s, net::Request& req);
Task<net::Response> google_start(AuthState& s, net::Request& req);
Task<net::Response> google_callback(AuthState& s, net::Request& req);
Task<net::Response> google_exchange_post(AuthState& s, net::Request& req);

// Shared helpers for the handlers.
// The request body as a JSON object (common::JsonBody). A body that is not valid UTF-8 inside a
// string value is refused with a field-level error on that member ("must be valid UTF-8 text",
// surfaced by finish()); anything else that is not JSON stays 400 invalid_json.
common::JsonBody parse_body(std::string_view raw);
net::Response json_response(int status, const nlohmann::json& body);
// The email field, normalised; records a field error on `body` when invalid.
std::string read_email(common::JsonBody& body);

}  // namespace tiketi::auth::handlers
