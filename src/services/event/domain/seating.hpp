#pragma once
// The seating-plan generator: sections x rows x seats, a price category per row range, and x/y
// coordinates for drawing. Sizes are checked before anything is allocated, so a request for
// millions of seats costs nothing but the 400.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "services/event/domain/model.hpp"

namespace tiketi::event {

inline constexpr std::int64_t kMaxSeatsPerPlan = 100'000;
inline constexpr std::size_t kMaxSections = 100;
inline constexpr std::int64_t kMaxRowsPerSection = 500;
inline constexpr std::int64_t kMaxSeatsPerRow = 1'000;
inline constexpr std::size_t kMaxCategories = 20;
inline constexpr std::int64_t kSeatPitch = 10;  // drawing units between neighbouring seats and rows

struct RowRange {
  std::int64_t from_row = 1;  // 1-based, inclusive
  std::int64_t to_row = 1;
  std::string category;
};

enum class RowLabels { numeric, alpha };  // 1, 2, 3 … or A, B, … Z, AA, AB …

struct SectionSpec {
  std::string code;  // [A-Za-z0-9]{1,8}: part of every seat id
  std::string name;  // display name, any text ("1층 A구역")
  std::int64_t rows = 0;
  std::int64_t seats_per_row = 0;
  std::int64_t x = 0;  // top-left corner of the section on the drawing
  std::int64_t y = 0;
  RowLabels row_labels = RowLabels::numeric;
  std::vector<RowRange> categories;  // must cover every row exactly once
};

struct PlanSpec {
  std::vector<PriceCategory> categories;
  std::vector<SectionSpec> sections;
};

// Every problem with the spec, field paths like "sections[2].categories[0].to_row". A plan over
// kMaxSeatsPerPlan yields the field "sections" with a message naming the limit.
std::vector<FieldError> validate_plan_spec(const PlanSpec& spec);
// Total seats the spec asks for (saturating; only meaningful after the per-section caps).
std::int64_t requested_seats(const PlanSpec& spec);
// Throws ApiError 400 "seating_plan_too_large" or "validation_failed" when the spec is invalid.
SeatingPlan generate_plan(const std::string& event_id, const PlanSpec& spec);

std::string row_label(RowLabels style, std::int64_t row);  // 1-based
std::string seat_id(const std::string& section, const std::string& row, std::int64_t number);

}  // namespace tiketi::event
