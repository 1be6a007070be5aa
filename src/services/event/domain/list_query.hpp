#pragma once
// The public list's query string, parsed and bounded before anything touches storage.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/event/domain/cursor.hpp"
#include "services/event/domain/model.hpp"

namespace tiketi::event {

inline constexpr std::int64_t kDefaultPageSize = 20;
inline constexpr std::int64_t kMaxPageSize = 100;
inline constexpr std::size_t kMaxKeywordChars = 100;

struct EventListQuery {
  std::vector<EventStatus> statuses;  // empty -> the public default (scheduled, on_sale, closed)
  std::optional<std::string> category;
  std::optional<Millis> from;  // performance_start >= from
  std::optional<Millis> to;    // performance_start < to
  std::optional<std::string> q;
  std::string sort = "date";  // "date": performance_start ascending; "newest": created_at descending
  std::int64_t limit = kDefaultPageSize;
  std::optional<Cursor> after;
};

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

// Throws ApiError 400 (validation_failed / invalid_cursor) naming every bad parameter; unknown
// parameters are refused too so a typo ("catgory") is not silently ignored. `admin` allows the
// draft and cancelled statuses.
EventListQuery parse_event_list_query(const QueryPairs& query, bool admin);

struct PageQuery {
  std::int64_t limit = kDefaultPageSize;
  std::optional<Cursor> after;
};
// limit + cursor only (news).
PageQuery parse_page_query(const QueryPairs& query, std::string_view sort);

// "2025-05-01" (start of that day, UTC), "2025-05-01T19:30:00Z", or epoch milliseconds.
// `end_of_day` makes a bare date mean the end of that day (for "to").
std::optional<Millis> parse_time(std::string_view text, bool end_of_day);

// Escapes % _ and \ for LIKE ... ESCAPE '\' and wraps the keyword in %...%.
std::string like_pattern(std::string_view keyword);
// ASCII lowercase; Korean has no case, and both engines' LOWER() agree on ASCII.
std::string ascii_lower(std::string_view s);

}  // namespace tiketi::event
