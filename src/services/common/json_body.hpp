#pragma once
// Parse and validate a JSON request body, collecting every field-level problem before answering
// once with 400 {"error":{"code":"validation_failed","fields":[…]}} — bad input never reaches storage.
//
//   JsonBody body(req.body);
//   auto email = body.required_string("email", {.max_bytes = 320});
//   auto name = body.optional_string("name", {.max_chars = 100});
//   body.finish();  // throws ApiError when any field was wrong
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace tiketi::common {

struct StringRule {
  std::size_t min_chars = 0;          // code points, after trimming when trim = true
  std::size_t max_chars = 0;          // 0 = no limit (max_bytes still applies)
  std::size_t max_bytes = 64 * 1024;  // checked before anything else
  bool trim = false;                  // strip ASCII whitespace at both ends
  bool allow_empty = false;
};

class JsonBody {
 public:
  // Throws ApiError 400 invalid_json when the body is not a JSON object (or not valid UTF-8).
  explicit JsonBody(std::string_view body);

  // Missing or null -> field error "is required"; wrong type -> "must be a string".
  std::string required_string(const std::string& field, StringRule rule = {});
  // Missing -> nullopt; null -> nullopt and `was_null(field)` is true (PATCH semantics).
  std::optional<std::string> optional_string(const std::string& field, StringRule rule = {});
  std::optional<std::int64_t> optional_int(const std::string& field, std::int64_t min, std::int64_t max);
  std::optional<bool> optional_bool(const std::string& field);

  bool has(const std::string& field) const;
  bool was_null(const std::string& field) const;
  // Add a problem found by the caller's own rules (e.g. the password policy).
  void fail(std::string field, std::string message);
  bool ok() const { return errors_.empty(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  // Throws errors::validation(fields) when anything failed.
  void finish() const;

  const nlohmann::json& raw() const { return json_; }

 private:
  std::optional<std::string> check_string(const std::string& field, const nlohmann::json& v,
                                          const StringRule& rule);
  nlohmann::json json_;
  std::vector<FieldError> errors_;
};

}  // namespace tiketi::common
