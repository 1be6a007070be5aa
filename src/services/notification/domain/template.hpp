#pragma once
// A small, strict mustache subset for email templates:
//   {{name}}              a value (HTML-escaped when rendering HTML)
//   {{#list}}…{{/list}}   repeated for each element of an array (names resolve in the element first,
//                         then outward); for a boolean, rendered once when true
//   {{^name}}…{{/name}}   rendered when the value is false or an empty array
// A name that resolves nowhere is an error, never an empty string: a broken template or a payload
// that lost a field must not reach a fan as "Dear ," — it fails loudly (delivery FAILED, test red).
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tiketi::notification {

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Escape { none, html };

// Throws TemplateError on a missing variable, an unbalanced section or a non-scalar {{value}}.
std::string render_template(std::string_view source, const nlohmann::json& vars, Escape escape,
                            std::string_view name = "template");

}  // namespace tiketi::notification
