#include "services/event/domain/cursor.hpp"

#include <charconv>

namespace tiketi::event {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t kMaxCursorChars = 512;

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}
}  // namespace

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const auto n = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = decode_char(c);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero, so every cursor has exactly one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

std::string encode_cursor(const Cursor& c) {
  return base64url_encode("v1|" + c.sort + "|" + std::to_string(c.key) + "|" + c.id);
}

std::optional<Cursor> decode_cursor(std::string_view text) {
  if (text.empty() || text.size() > kMaxCursorChars) {
    return std::nullopt;
  }
  auto raw = base64url_decode(text);
  if (!raw || !raw->starts_with("v1|")) {
    return std::nullopt;
  }
  std::string_view rest(*raw);
  rest.remove_prefix(3);
  const auto p1 = rest.find('|');
  if (p1 == std::string_view::npos) {
    return std::nullopt;
  }
  const auto p2 = rest.find('|', p1 + 1);
  if (p2 == std::string_view::npos) {
    return std::nullopt;
  }
  Cursor c;
  c.sort = std::string(rest.substr(0, p1));
  const auto key = rest.substr(p1 + 1, p2 - p1 - 1);
  auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), c.key);
  if (ec != std::errc() || ptr != key.data() + key.size() || key.empty()) {
    return std::nullopt;
  }
  c.id = std::string(rest.substr(p2 + 1));
  // Ids are ours (uuid-like); anything else was tampered with.
  if (c.id.empty() || c.id.size() > 64 || c.sort.empty()) {
    return std::nullopt;
  }
  for (char ch : c.id) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
          ch == '_')) {
      return std::nullopt;
    }
  }
  return c;
}

}  // namespace tiketi::event
