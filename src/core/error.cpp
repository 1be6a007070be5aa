#include "core/error.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace tiketi {
namespace {

struct CodeInfo {
  std::string_view code;
  int status;
  std::string_view message;
};

// The one table of error codes: status and default message. Services add their codes here so that
// the UI and the API reference can list every code the API can return.
constexpr std::array kCodes{
    CodeInfo{"bad_request", 400, "The request is not valid."},
    CodeInfo{"validation_failed", 400, "Some fields are not valid."},
    CodeInfo{"invalid_json", 400, "The request body is not valid JSON."},
    CodeInfo{"unauthorized", 401, "Authentication is required."},
    CodeInfo{"token_invalid", 401, "The access token is not valid."},
    CodeInfo{"token_expired", 401, "The access token has expired."},
    CodeInfo{"invalid_credentials", 401, "Email or password is incorrect."},
    CodeInfo{"forbidden", 403, "You are not allowed to do this."},
    CodeInfo{"not_found", 404, "Not found."},
    CodeInfo{"method_not_allowed", 405, "Method not allowed on this resource."},
    CodeInfo{"conflict", 409, "The request conflicts with the current state."},
    CodeInfo{"email_taken", 409, "An account with this email already exists."},
    CodeInfo{"seat_unavailable", 409, "One or more seats are no longer available."},
    CodeInfo{"sold_out", 409, "Sold out."},
    CodeInfo{"hold_expired", 409, "The hold has expired."},
    CodeInfo{"limit_exceeded", 409, "The per-user ticket limit would be exceeded."},
    CodeInfo{"not_on_sale", 409, "The event is not on sale."},
    CodeInfo{"idempotency_conflict", 409, "This Idempotency-Key was used with a different request."},
    CodeInfo{"payload_too_large", 413, "The request body is too large."},
    CodeInfo{"unsupported_media_type", 415, "Unsupported content type."},
    CodeInfo{"header_too_large", 431, "Request headers are too large."},
    CodeInfo{"rate_limited", 429, "Too many requests. Try again later."},
    CodeInfo{"internal", 500, "Something went wrong on our side."},
    CodeInfo{"bad_gateway", 502, "An upstream service failed."},
    CodeInfo{"upstream_unavailable", 503, "A required service is unavailable."},
    CodeInfo{"unavailable", 503, "The service is unavailable."},
    CodeInfo{"gateway_timeout", 504, "An upstream service timed out."},
    CodeInfo{"gateway_unreachable", 503, "The payment gateway could not be reached; nothing was charged. Try again."},
    CodeInfo{"invalid_multipart", 400, "The upload is not valid multipart/form-data."},
    CodeInfo{"invalid_file_name", 400, "The file name is not acceptable."},
    CodeInfo{"empty_file", 400, "The uploaded file is empty."},
    CodeInfo{"unsupported_image_type", 415, "Only PNG, JPEG and WebP images are accepted."},
    CodeInfo{"image_storage_failed", 502, "The image store refused the request."},
    CodeInfo{"image_storage_unavailable", 503, "The image store is unavailable."},
    // auth: Google sign-in (docs/auth.md)
    CodeInfo{"google_not_configured", 404, "Google sign-in is not configured on this server."},
    CodeInfo{"oidc_state_invalid", 400, "This sign-in attempt is unknown, expired or already used."},
    CodeInfo{"oidc_code_invalid", 400, "The sign-in code is unknown, expired or already used."},
    CodeInfo{"google_denied", 400, "Google sign-in was cancelled or refused."},
    CodeInfo{"google_code_rejected", 400, "Google did not accept the sign-in code."},
    CodeInfo{"id_token_malformed", 401, "The identity provider returned a malformed ID token."},
    CodeInfo{"id_token_unsupported_alg", 401, "The ID token is not signed with RS256."},
    CodeInfo{"id_token_unknown_kid", 401, "The ID token is signed with an unknown key."},
    CodeInfo{"id_token_bad_signature", 401, "The ID token signature is not valid."},
    CodeInfo{"id_token_wrong_issuer", 401, "The ID token was issued by an unexpected issuer."},
    CodeInfo{"id_token_wrong_audience", 401, "The ID token was issued for another client."},
    CodeInfo{"id_token_expired", 401, "The ID token has expired."},
    CodeInfo{"id_token_not_yet_valid", 401, "The ID token is not valid yet."},
    CodeInfo{"id_token_too_old", 401, "The ID token is too old."},
    CodeInfo{"id_token_wrong_nonce", 401, "The ID token does not belong to this sign-in attempt."},
    CodeInfo{"id_token_invalid", 401, "The ID token is not valid."},
    CodeInfo{"email_not_verified", 403, "The Google account's email address is not verified."},
    CodeInfo{"account_exists_unverified", 409, "An account with this email exists; sign in with its password first."},
};

const CodeInfo* find(std::string_view code) {
  for (const auto& c : kCodes) {
    if (c.code == code) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace

int status_for_code(std::string_view code) {
  const auto* c = find(code);
  return c ? c->status : 400;
}

std::string_view message_for_code(std::string_view code) {
  const auto* c = find(code);
  return c ? c->message : std::string_view{};
}

ApiError::ApiError(int status, std::string code, std::string message, std::vector<FieldError> fields)
    : std::runtime_error(message.empty() ? std::string(message_for_code(code)) : message),
      status_(status),
      code_(std::move(code)),
      fields_(std::move(fields)) {}

std::string ApiError::to_json() const {
  nlohmann::json err{{"code", code_}, {"message", what()}};
  if (!fields_.empty()) {
    auto arr = nlohmann::json::array();
    for (const auto& f : fields_) {
      arr.push_back({{"field", f.field}, {"message", f.message}});
    }
    err["fields"] = std::move(arr);
  }
  // Replace invalid UTF-8 rather than throw: messages may echo client input.
  return nlohmann::json{{"error", std::move(err)}}.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace);
}

namespace errors {

ApiError make(std::string_view code, std::string message) {
  return ApiError(status_for_code(code), std::string(code), std::move(message));
}
ApiError bad_request(std::string message, std::vector<FieldError> fields) {
  return ApiError(400, "bad_request", std::move(message), std::move(fields));
}
ApiError validation(std::vector<FieldError> fields) {
  return ApiError(400, "validation_failed", {}, std::move(fields));
}
ApiError invalid_json(std::string message) { return ApiError(400, "invalid_json", std::move(message)); }
ApiError unauthorized(std::string code, std::string message) {
  return ApiError(401, std::move(code), std::move(message));
}
ApiError forbidden(std::string message) { return ApiError(403, "forbidden", std::move(message)); }
ApiError not_found(std::string_view subject) {
  return ApiError(404, "not_found", subject.empty() ? std::string{} : std::string(subject) + " not found.");
}
ApiError method_not_allowed() { return ApiError(405, "method_not_allowed", {}); }
ApiError conflict(std::string code, std::string message) {
  return ApiError(409, std::move(code), std::move(message));
}
ApiError payload_too_large(std::size_t limit) {
  return ApiError(413, "payload_too_large",
                  "The request body is larger than " + std::to_string(limit) + " bytes.");
}
ApiError rate_limited(int retry_after_seconds) {
  return ApiError(429, "rate_limited", {}).with_retry_after(retry_after_seconds);
}
ApiError unavailable(std::string message, int retry_after_seconds) {
  return ApiError(503, "unavailable", std::move(message)).with_retry_after(retry_after_seconds);
}
ApiError internal() { return ApiError(500, "internal", {}); }

}  // namespace errors
}  // namespace tiketi
