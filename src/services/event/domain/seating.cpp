#include "services/event/domain/seating.hpp"

#include <algorithm>
#include <set>

namespace tiketi::event {
namespace {

bool is_code(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) {
    return false;
  }
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool is_color(const std::string& s) {
  if (s.size() != 7 || s[0] != '#') {
    return false;
  }
  for (std::size_t i = 1; i < 7; ++i) {
    const char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string row_label(RowLabels style, std::int64_t row) {
  if (style == RowLabels::numeric) {
    return std::to_string(row);
  }
  // Bijective base 26: 1 -> A, 26 -> Z, 27 -> AA.
  std::string out;
  for (std::int64_t n = row; n > 0; n = (n - 1) / 26) {
    out.insert(out.begin(), static_cast<char>('A' + (n - 1) % 26));
  }
  return out;
}

std::string seat_id(const std::string& section, const std::string& row, std::int64_t number) {
  return section + "-" + row + "-" + std::to_string(number);
}

std::int64_t requested_seats(const PlanSpec& spec) {
  std::int64_t total = 0;
  for (const auto& s : spec.sections) {
    const std::int64_t rows = std::clamp<std::int64_t>(s.rows, 0, kMaxRowsPerSection);
    const std::int64_t per = std::clamp<std::int64_t>(s.seats_per_row, 0, kMaxSeatsPerRow);
    total += rows * per;  // <= 100 sections * 500 * 1000: no overflow
  }
  return total;
}

std::vector<FieldError> validate_plan_spec(const PlanSpec& spec) {
  std::vector<FieldError> out;
  auto fail = [&](std::string f, std::string m) { out.push_back({std::move(f), std::move(m)}); };
  if (spec.categories.empty()) {
    fail("categories", "at least one price category is required");
  }
  if (spec.categories.size() > kMaxCategories) {
    fail("categories", "at most 20 price categories");
  }
  std::set<std::string> codes;
  for (std::size_t i = 0; i < spec.categories.size(); ++i) {
    const auto& c = spec.categories[i];
    const std::string p = "categories[" + std::to_string(i) + "]";
    if (!is_code(c.code, 16)) {
      fail(p + ".code", "must be 1-16 letters, digits or _");
    } else if (!codes.insert(c.code).second) {
      fail(p + ".code", "is used twice");
    }
    if (!c.color.empty() && !is_color(c.color)) {
      fail(p + ".color", "must look like #RRGGBB");
    }
  }
  if (spec.sections.empty()) {
    fail("sections", "at least one section is required");
  }
  if (spec.sections.size() > kMaxSections) {
    fail("sections", "at most 100 sections");
    return out;
  }
  std::set<std::string> section_codes;
  for (std::size_t i = 0; i < spec.sections.size(); ++i) {
    const auto& s = spec.sections[i];
    const std::string p = "sections[" + std::to_string(i) + "]";
    if (!is_code(s.code, 8) || s.code.find('_') != std::string::npos) {
      fail(p + ".code", "must be 1-8 letters or digits");
    } else if (!section_codes.insert(s.code).second) {
      fail(p + ".code", "is used twice");
    }
    const bool rows_ok = s.rows >= 1 && s.rows <= kMaxRowsPerSection;
    if (!rows_ok) {
      fail(p + ".rows", "must be between 1 and 500");
    }
    if (s.seats_per_row < 1 || s.seats_per_row > kMaxSeatsPerRow) {
      fail(p + ".seats_per_row", "must be between 1 and 1000");
    }
    if (s.x < 0 || s.y < 0 || s.x > 1'000'000 || s.y > 1'000'000) {
      fail(p + ".x", "x and y must be between 0 and 1000000");
    }
    if (!rows_ok) {
      continue;
    }
    // Every row gets exactly one category: count coverage per row.
    std::vector<int> covered(static_cast<std::size_t>(s.rows) + 1, 0);
    if (s.categories.empty()) {
      fail(p + ".categories", "must assign a category to every row");
    }
    for (std::size_t j = 0; j < s.categories.size(); ++j) {
      const auto& r = s.categories[j];
      const std::string q = p + ".categories[" + std::to_string(j) + "]";
      if (codes.find(r.category) == codes.end()) {
        fail(q + ".category", "is not one of the plan's categories");
      }
      if (r.from_row < 1 || r.to_row > s.rows || r.from_row > r.to_row) {
        fail(q, "rows must satisfy 1 <= from_row <= to_row <= rows");
        continue;
      }
      for (std::int64_t row = r.from_row; row <= r.to_row; ++row) {
        ++covered[static_cast<std::size_t>(row)];
      }
    }
    for (std::int64_t row = 1; row <= s.rows && !s.categories.empty(); ++row) {
      if (covered[static_cast<std::size_t>(row)] != 1) {
        fail(p + ".categories",
             "row " + std::to_string(row) +
                 (covered[static_cast<std::size_t>(row)] == 0 ? " has no category"
                                                              : " has more than one category"));
        break;
      }
    }
  }
  return out;
}

SeatingPlan generate_plan(const std::string& event_id, const PlanSpec& spec) {
  // The size limit is its own error code so clients (and abuse dashboards) can tell it apart.
  const std::int64_t total = requested_seats(spec);
  if (total > kMaxSeatsPerPlan) {
    throw ApiError(
        400, "seating_plan_too_large",
        "A seating plan may have at most 100000 seats; this one asks for " + std::to_string(total) + ".",
        {{"sections", "at most 100000 seats in total"}});
  }
  auto problems = validate_plan_spec(spec);
  if (!problems.empty()) {
    throw errors::validation(std::move(problems));
  }
  SeatingPlan plan;
  plan.event_id = event_id;
  plan.categories = spec.categories;
  plan.seats.reserve(static_cast<std::size_t>(total));
  for (const auto& s : spec.sections) {
    plan.sections.push_back(Section{s.code, s.name.empty() ? s.code : s.name, s.x, s.y});
    for (std::int64_t row = 1; row <= s.rows; ++row) {
      std::string category;
      for (const auto& r : s.categories) {
        if (row >= r.from_row && row <= r.to_row) {
          category = r.category;
        }
      }
      const std::string label = row_label(s.row_labels, row);
      for (std::int64_t n = 1; n <= s.seats_per_row; ++n) {
        plan.seats.push_back(Seat{seat_id(s.code, label, n), s.code, label, n, s.x + (n - 1) * kSeatPitch,
                                  s.y + (row - 1) * kSeatPitch, category});
      }
    }
  }
  return plan;
}

}  // namespace tiketi::event
