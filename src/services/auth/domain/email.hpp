#pragma once
// Email addresses are the account key: normalised once (trim, lowercase) and stored that way, so
// uniqueness is case-insensitive on both engines with a plain UNIQUE index.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tiketi::auth {

inline constexpr std::size_t kEmailMaxLength = 254;  // RFC 5321 path limit

struct EmailError {
  std::string message;  // field-level message for "email"
};

// Trims ASCII whitespace, lowercases, then checks a deliberately basic syntax: one '@', a local
// part of printable ASCII without spaces/quotes (<= 64), a domain of LDH labels with at least one
// dot. Internationalised addresses are not accepted yet.
std::variant<std::string, EmailError> normalize_email(std::string_view raw);

}  // namespace tiketi::auth
