#include "services/auth/domain/email.hpp"

namespace tiketi::auth {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool local_char_ok(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '.':
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool domain_ok(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.find('.') == std::string_view::npos) {
    return false;
  }
  std::size_t start = 0;
  while (start <= d.size()) {
    auto end = d.find('.', start);
    if (end == std::string_view::npos) {
      end = d.size();
    }
    const auto label = d.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

std::variant<std::string, EmailError> normalize_email(std::string_view raw) {
  // Cheap length guard first: a 1 MB "email" is rejected without being copied or scanned twice.
  if (raw.size() > kEmailMaxLength + 64) {
    return EmailError{"must be at most 254 characters"};
  }
  while (!raw.empty() && is_space(raw.front())) {
    raw.remove_prefix(1);
  }
  while (!raw.empty() && is_space(raw.back())) {
    raw.remove_suffix(1);
  }
  if (raw.empty()) {
    return EmailError{"is required"};
  }
  if (raw.size() > kEmailMaxLength) {
    return EmailError{"must be at most 254 characters"};
  }
  std::string e(raw);
  for (char& c : e) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  const auto at = e.find('@');
  if (at == std::string::npos || e.find('@', at + 1) != std::string::npos) {
    return EmailError{"must be a valid email address"};
  }
  const std::string_view local(e.data(), at);
  const std::string_view domain(e.data() + at + 1, e.size() - at - 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return EmailError{"must be a valid email address"};
  }
  for (const char c : local) {
    if (!local_char_ok(c)) {
      return EmailError{"must be a valid email address"};
    }
  }
  if (!domain_ok(domain)) {
    return EmailError{"must be a valid email address"};
  }
  return e;
}

}  // namespace tiketi::auth
