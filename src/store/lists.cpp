#include "store/lists.hpp"

#include <type_traits>

namespace tiketi::store {
namespace {

void quoted(std::string& out, const std::string& v, bool pg) {
  out += '"';
  for (const char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (!pg && static_cast<unsigned char>(c) < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

template <class Item>
std::string list(bool pg, const std::vector<Item>& items) {
  std::string out;
  out.reserve(items.size() * 40 + 2);
  out += pg ? '{' : '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    if constexpr (std::is_same_v<Item, std::string>) {
      quoted(out, items[i], pg);
    } else if (items[i]) {
      quoted(out, *items[i], pg);
    } else {
      out += pg ? "NULL" : "null";
    }
  }
  out += pg ? '}' : ']';
  return out;
}

}  // namespace

std::string text_list(Engine engine, const std::vector<std::string>& items) {
  return list(engine == Engine::postgres, items);
}

std::string text_list(Engine engine, const std::vector<std::optional<std::string>>& items) {
  return list(engine == Engine::postgres, items);
}

std::string json_rows(const std::vector<std::vector<std::optional<std::string>>>& rows) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += list(false, rows[i]);
  }
  out += ']';
  return out;
}

}  // namespace tiketi::store
