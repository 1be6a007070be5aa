#pragma once
// Display formatting for emails: money in KRW and times in Korea Standard Time (UTC+9, no DST).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace tiketi::notification {

// 120000 -> "₩120,000"; -5000 -> "-₩5,000".
std::string format_krw(std::int64_t amount);

// "2025년 8월 1일 (금) 19:00" for "ko"; "Fri, 1 Aug 2025 19:00 KST" otherwise.
std::string format_kst(Millis at, std::string_view language);

// "ko" or "en": anything that is not Korean gets English.
std::string normalize_language(std::string_view language);

}  // namespace tiketi::notification
