#pragma once
// Errors are values with a stable code, mapped to an HTTP status in one table (error.cpp).
// Handlers throw ApiError; the HTTP layer turns it into {"error":{"code","message"}}.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tiketi {

struct FieldError {
  std::string field;
  std::string message;
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, std::string message, std::vector<FieldError> fields = {});

  int status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const std::vector<FieldError>& fields() const noexcept { return fields_; }
  // Seconds for Retry-After on 429/503, 0 when not set.
  int retry_after() const noexcept { return retry_after_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_ = seconds;
    return *this;
  }

  // {"error":{"code":..,"message":..,"fields":[..]}}
  std::string to_json() const;

 private:
  int status_;
  std::string code_;
  std::vector<FieldError> fields_;
  int retry_after_ = 0;
};

// Named factories; the status for each code lives in error.cpp's table.
namespace errors {
ApiError make(std::string_view code, std::string message = {});  // status from the table
ApiError bad_request(std::string message, std::vector<FieldError> fields = {});
ApiError validation(std::vector<FieldError> fields);
ApiError invalid_json(std::string message);
ApiError unauthorized(std::string code = "unauthorized", std::string message = {});
ApiError forbidden(std::string message = {});
ApiError not_found(std::string_view subject);
ApiError method_not_allowed();
ApiError conflict(std::string code, std::string message);
ApiError payload_too_large(std::size_t limit);
ApiError rate_limited(int retry_after_seconds);
ApiError unavailable(std::string message, int retry_after_seconds = 0);
ApiError internal();
}  // namespace errors

// The default status and message for a code ("seat_unavailable" -> 409, ...).
int status_for_code(std::string_view code);
std::string_view message_for_code(std::string_view code);

}  // namespace tiketi
