#pragma once
// Opaque keyset cursors: base64url("v1|<sort>|<key>|<id>"). Keyset pagination over (sort key, id)
// is stable under inserts: a page boundary is a position in the order, not an offset.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tiketi::event {

struct Cursor {
  std::string sort;  // which ordering the cursor belongs to ("date", "newest", "news")
  std::int64_t key = 0;
  std::string id;
};

std::string encode_cursor(const Cursor& c);
// nullopt for anything that is not a cursor we made (bad base64, wrong version, bad number).
std::optional<Cursor> decode_cursor(std::string_view text);

std::string base64url_encode(std::string_view in);
std::optional<std::string> base64url_decode(std::string_view in);

}  // namespace tiketi::event
