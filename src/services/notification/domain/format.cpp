#include "services/notification/domain/format.hpp"

#include <ctime>

namespace tiketi::notification {

std::string format_krw(std::int64_t amount) {
  // Work on the unsigned magnitude so INT64_MIN does not overflow.
  const bool negative = amount < 0;
  std::uint64_t mag = negative ? 0 - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  std::string digits = std::to_string(mag);
  std::string grouped;
  grouped.reserve(digits.size() + digits.size() / 3);
  const std::size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  grouped.append(digits, 0, first);
  for (std::size_t i = first; i < digits.size(); i += 3) {
    grouped.push_back(',');
    grouped.append(digits, i, 3);
  }
  std::string out;
  if (negative) {
    out.push_back('-');
  }
  out.append("\xE2\x82\xA9");  // ₩ (U+20A9)
  out.append(grouped);
  return out;
}

std::string normalize_language(std::string_view language) {
  return language.substr(0, 2) == "ko" ? "ko" : "en";
}

std::string format_kst(Millis at, std::string_view language) {
  constexpr Millis kKstOffsetMs = 9 * 3'600'000;
  // Floor division so times before 1970 still land on the right day.
  Millis shifted = at + kKstOffsetMs;
  std::time_t secs = static_cast<std::time_t>(shifted >= 0 ? shifted / 1000 : (shifted - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char hm[8];
  std::snprintf(hm, sizeof hm, "%02d:%02d", tm.tm_hour, tm.tm_min);
  if (normalize_language(language) == "ko") {
    static constexpr const char* kDays[] = {"일", "월", "화", "수", "목", "금", "토"};
    std::string out = std::to_string(tm.tm_year + 1900);
    out.append("년 ").append(std::to_string(tm.tm_mon + 1)).append("월 ");
    out.append(std::to_string(tm.tm_mday)).append("일 (").append(kDays[tm.tm_wday]).append(") ");
    out.append(hm);
    return out;
  }
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string out = kDays[tm.tm_wday];
  out.append(", ").append(std::to_string(tm.tm_mday)).append(" ").append(kMonths[tm.tm_mon]).append(" ");
  out.append(std::to_string(tm.tm_year + 1900)).append(" ").append(hm).append(" KST");
  return out;
}

}  // namespace tiketi::notification
