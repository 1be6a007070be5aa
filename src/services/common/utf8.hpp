#pragma once
#include <cstddef>
#include <string_view>

namespace tiketi::common {

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Length of the valid UTF-8 sequence starting at s[i] (same rules), or 0 when none starts there.
std::size_t utf8_sequence(std::string_view s, std::size_t i);
// Code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view s);

}  // namespace tiketi::common
