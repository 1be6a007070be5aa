#include "services/common/utf8.hpp"

namespace tiketi::common {

std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  const unsigned char c = p[i];
  if (c < 0x80) {
    return 1;
  }
  std::size_t len = 0;
  unsigned lo = 0x80;
  unsigned hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;  // overlong
    hi = c == 0xED ? 0x9F : 0xBF;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;  // overlong
    hi = c == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
      return 0;
    }
  }
  return len;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = utf8_sequence(s, i);
    if (len == 0) {
      return false;
    }
    i += len;
  }
  return true;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (const char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) {
      ++count;
    }
  }
  return count;
}

}  // namespace tiketi::common
