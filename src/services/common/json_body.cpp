#include "services/common/json_body.hpp"

#include "services/common/utf8.hpp"

namespace tiketi::common {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

JsonBody::JsonBody(std::string_view body) {
  // parse(..., allow_exceptions=false): hostile input costs one pass and never throws from deep
  // inside the parser; nlohmann rejects invalid UTF-8 inside strings. Depth is bounded by the
  // server's body limit.
  json_ = nlohmann::json::parse(body, nullptr, false);
  if (json_.is_discarded()) {
    throw errors::invalid_json("The request body is not valid JSON.");
  }
  if (!json_.is_object()) {
    throw errors::invalid_json("The request body must be a JSON object.");
  }
}

bool JsonBody::has(const std::string& field) const { return json_.contains(field); }

bool JsonBody::was_null(const std::string& field) const {
  auto it = json_.find(field);
  return it != json_.end() && it->is_null();
}

void JsonBody::fail(std::string field, std::string message) {
  errors_.push_back(FieldError{std::move(field), std::move(message)});
}

std::optional<std::string> JsonBody::check_string(const std::string& field, const nlohmann::json& v,
                                                  const StringRule& rule) {
  if (!v.is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > rule.max_bytes) {
    fail(field, "is too long");
    return std::nullopt;
  }
  if (!is_valid_utf8(s)) {
    fail(field, "must be valid UTF-8 text");
    return std::nullopt;
  }
  const std::string_view t = rule.trim ? trimmed(s) : std::string_view(s);
  if (t.empty() && !rule.allow_empty) {
    fail(field, "must not be empty");
    return std::nullopt;
  }
  const std::size_t chars = utf8_length(t);
  if (rule.max_chars != 0 && chars > rule.max_chars) {
    fail(field, "must be at most " + std::to_string(rule.max_chars) + " characters");
    return std::nullopt;
  }
  if (chars < rule.min_chars) {
    fail(field, "must be at least " + std::to_string(rule.min_chars) + " characters");
    return std::nullopt;
  }
  // Control characters (other than tab/newline) in text fields are a smell, never a feature.
  for (const char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n') || u == 0x7F) {
      fail(field, "must not contain control characters");
      return std::nullopt;
    }
  }
  return std::string(t);
}

std::string JsonBody::required_string(const std::string& field, StringRule rule) {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) {
    fail(field, "is required");
    return {};
  }
  return check_string(field, *it, rule).value_or(std::string());
}

std::optional<std::string> JsonBody::optional_string(const std::string& field, StringRule rule) {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) {
    return std::nullopt;
  }
  return check_string(field, *it, rule);
}

std::optional<std::int64_t> JsonBody::optional_int(const std::string& field, std::int64_t min,
                                                   std::int64_t max) {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    fail(field, "must be an integer");
    return std::nullopt;
  }
  const auto v = it->get<std::int64_t>();
  if (v < min || v > max) {
    fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> JsonBody::optional_bool(const std::string& field) {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_boolean()) {
    fail(field, "must be true or false");
    return std::nullopt;
  }
  return it->get<bool>();
}

void JsonBody::finish() const {
  if (!errors_.empty()) {
    throw errors::validation(errors_);
  }
}

}  // namespace tiketi::common
