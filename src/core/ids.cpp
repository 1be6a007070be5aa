#include "core/ids.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace tiketi::ids {
namespace {

struct SodiumInit {
  SodiumInit() {
    if (sodium_init() < 0) {
      throw std::runtime_error("libsodium failed to initialise");
    }
  }
};

void random_bytes(unsigned char* out, std::size_t n) {
  static const SodiumInit init;
  randombytes_buf(out, n);
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 0xF];
  }
  return s;
}

std::string uuid_text(const std::array<unsigned char, 16>& b) {
  std::string h = to_hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string buf(bytes, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(buf.data()), bytes);
  return to_hex(reinterpret_cast<const unsigned char*>(buf.data()), bytes);
}

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

std::string uuid_v4() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  return uuid_text(b);
}

std::string uuid_v7(std::int64_t now_ms) {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  auto ms = static_cast<std::uint64_t>(now_ms);
  for (int i = 0; i < 6; ++i) {
    b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  return uuid_text(b);
}

std::string new_trace_id() { return random_hex(16); }
std::string new_span_id() { return random_hex(8); }

}  // namespace tiketi::ids
