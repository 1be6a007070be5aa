#pragma once
// HTML text escaping for the few places the server writes HTML itself (notification email bodies,
// the gateway simulator's checkout page).
#include <string>
#include <string_view>

namespace tiketi::common {

// Escapes & < > " ' so the text is safe in element content and in quoted attribute values.
std::string html_escape(std::string_view s);

}  // namespace tiketi::common
