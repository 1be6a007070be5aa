#include "services/event/domain/list_query.hpp"

#include <charconv>

#include "core/error.hpp"

namespace tiketi::event {
namespace {

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return v;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) {
    return std::nullopt;
  }
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

std::size_t utf8_chars(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return n;
}

std::optional<Cursor> parse_cursor_param(const std::string& v, std::string_view sort) {
  auto c = decode_cursor(v);
  if (!c || c->sort != sort) {
    throw ApiError(400, "invalid_cursor", "The cursor is not valid for this listing; start again without it.",
                   {{"cursor", "is not valid"}});
  }
  return c;
}

std::int64_t parse_limit(const std::string& v, std::vector<FieldError>& errs) {
  auto n = parse_int(v);
  if (!n || *n < 1 || *n > kMaxPageSize) {
    errs.push_back({"limit", "must be between 1 and 100"});
    return kDefaultPageSize;
  }
  return *n;
}

}  // namespace

std::optional<Millis> parse_time(std::string_view t, bool end_of_day) {
  if (t.size() <= 16 && t.find('-') == std::string_view::npos) {
    auto n = parse_int(t);
    if (n && *n >= 0) {
      return *n;
    }
    return std::nullopt;
  }
  auto y = digits(t, 0, 4);
  auto mo = digits(t, 5, 2);
  auto d = digits(t, 8, 2);
  if (!y || !mo || !d || t.size() < 10 || t[4] != '-' || t[7] != '-' || *mo < 1 || *mo > 12 || *d < 1 ||
      *d > 31) {
    return std::nullopt;
  }
  Millis day = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86'400'000;
  if (t.size() == 10) {
    return end_of_day ? day + 86'400'000 : day;
  }
  // "YYYY-MM-DDTHH:MM:SSZ" only: an explicit UTC instant, nothing ambiguous.
  auto h = digits(t, 11, 2);
  auto mi = digits(t, 14, 2);
  auto s = digits(t, 17, 2);
  if (t.size() != 20 || (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':' || t[19] != 'Z' ||
      !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) {
    return std::nullopt;
  }
  return day + ((*h * 60 + *mi) * 60 + *s) * 1000LL;
}

std::string like_pattern(std::string_view keyword) {
  std::string out = "%";
  for (char c : keyword) {
    if (c == '%' || c == '_' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '%';
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

EventListQuery parse_event_list_query(const QueryPairs& query, bool admin) {
  EventListQuery q;
  std::vector<FieldError> errs;
  std::optional<std::string> cursor;
  for (const auto& [k, v] : query) {
    if (k == "status") {
      // Comma-separated: status=on_sale,scheduled
      std::string_view rest(v);
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const auto part = rest.substr(0, comma);
        auto s = parse_status(part);
        if (!s || (!admin && (*s == EventStatus::draft || *s == EventStatus::cancelled))) {
          errs.push_back({"status", "must be scheduled, on_sale, closed or ended"});
          break;
        }
        q.statuses.push_back(*s);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (k == "category") {
      if (!is_category(v)) {
        errs.push_back({"category", "is not a known category"});
      } else {
        q.category = v;
      }
    } else if (k == "from" || k == "to") {
      auto t = parse_time(v, k == "to");
      if (!t) {
        errs.push_back(
            {k, "must be a date (YYYY-MM-DD), a UTC time (YYYY-MM-DDTHH:MM:SSZ) or epoch milliseconds"});
      } else {
        (k == "from" ? q.from : q.to) = t;
      }
    } else if (k == "q") {
      if (v.size() > 4 * kMaxKeywordChars || utf8_chars(v) > kMaxKeywordChars) {
        errs.push_back({"q", "must be at most 100 characters"});
      } else if (!v.empty()) {
        q.q = v;
      }
    } else if (k == "sort") {
      if (v != "date" && v != "newest") {
        errs.push_back({"sort", "must be date or newest"});
      } else {
        q.sort = v;
      }
    } else if (k == "limit") {
      q.limit = parse_limit(v, errs);
    } else if (k == "cursor") {
      cursor = v;
    } else {
      errs.push_back({k, "is not a known parameter"});
    }
  }
  if (q.from && q.to && *q.to <= *q.from) {
    errs.push_back({"to", "must be after from"});
  }
  if (!errs.empty()) {
    throw errors::validation(std::move(errs));
  }
  if (cursor) {
    q.after = parse_cursor_param(*cursor, q.sort);
  }
  return q;
}

PageQuery parse_page_query(const QueryPairs& query, std::string_view sort) {
  PageQuery q;
  std::vector<FieldError> errs;
  std::optional<std::string> cursor;
  for (const auto& [k, v] : query) {
    if (k == "limit") {
      q.limit = parse_limit(v, errs);
    } else if (k == "cursor") {
      cursor = v;
    } else {
      errs.push_back({k, "is not a known parameter"});
    }
  }
  if (!errs.empty()) {
    throw errors::validation(std::move(errs));
  }
  if (cursor) {
    q.after = parse_cursor_param(*cursor, sort);
  }
  return q;
}

}  // namespace tiketi::event
