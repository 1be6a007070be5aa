#pragma once
// base64url without padding (RFC 4648 §5), as JWTs and refresh tokens use it.
#include <optional>
#include <string>
#include <string_view>

namespace tiketi::auth {

std::string base64url_encode(std::string_view bytes);
// Strict: rejects padding, characters outside the alphabet and impossible lengths (len % 4 == 1),
// and non-zero trailing bits, so every token has exactly one accepted spelling.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace tiketi::auth
