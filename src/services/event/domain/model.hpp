#pragma once
// The event catalogue in ticketing terms (pretix-style): Event, Venue, SeatingPlan (sections ->
// rows -> seats), TicketType (a seated price category or general admission with a quota), News.
// Timestamps are epoch milliseconds; money is integer KRW.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace tiketi::event {

enum class EventStatus { draft, scheduled, on_sale, closed, ended, cancelled };

std::string_view to_string(EventStatus s);
std::optional<EventStatus> parse_status(std::string_view s);

// Categories fans filter by; a closed list so filters and UI tabs stay meaningful.
inline constexpr std::string_view kCategories[] = {"concert", "musical",    "theater",  "classical",
                                                   "sports",  "exhibition", "festival", "other"};
bool is_category(std::string_view c);

struct WaitingRoom {
  bool enabled = false;
  std::int64_t admission_per_minute = 600;  // how many shoppers the queue lets in per minute
  std::int64_t max_active = 1'000;          // shoppers allowed in the purchase flow at once
};

struct Event {
  std::string id;
  std::string title;
  std::string description;
  std::string category = "concert";
  std::string artist;
  std::optional<std::string> venue_id;
  Millis performance_start = 0;
  Millis performance_end = 0;
  Millis sale_start = 0;
  Millis sale_end = 0;
  EventStatus status = EventStatus::draft;
  std::int64_t per_user_limit = 4;  // tickets per user, 1..20
  std::int64_t hold_minutes = 10;   // how long a seat hold lasts before payment
  WaitingRoom waiting_room;
  std::vector<std::string> image_ids;
  bool sold_out = false;  // reported by the reservation service; closes the sale early
  std::optional<Millis> published_at;
  std::optional<Millis> next_transition_at;  // when status automation must look at it again
  Millis created_at = 0;
  Millis updated_at = 0;
};

struct Venue {
  std::string id;
  std::string name;
  std::string address;
  std::string city;
  Millis created_at = 0;
  Millis updated_at = 0;
};

enum class TicketKind { seated, general_admission };
std::string_view to_string(TicketKind k);
std::optional<TicketKind> parse_ticket_kind(std::string_view s);

struct TicketType {
  std::string id;
  std::string event_id;
  std::string name;
  TicketKind kind = TicketKind::seated;
  std::string category;               // seated: the seating plan's price category code
  std::optional<std::int64_t> quota;  // general admission: how many may be sold
  std::int64_t price = 0;             // KRW, >= 0
  std::int64_t sort_order = 0;
};

// A price category of a seating plan ("VIP", "R", "S") with the colour the map draws it in.
struct PriceCategory {
  std::string code;
  std::string name;
  std::string color;  // "#RRGGBB"
};

struct Seat {
  std::string id;       // "<section>-<row>-<number>", unique within the event
  std::string section;  // section code
  std::string row;      // row label
  std::int64_t number = 0;
  std::int64_t x = 0;  // drawing coordinates (abstract units, 10 per seat)
  std::int64_t y = 0;
  std::string category;
};

struct Section {
  std::string code;
  std::string name;
  std::int64_t x = 0;
  std::int64_t y = 0;
};

struct SeatingPlan {
  std::string event_id;
  std::vector<PriceCategory> categories;
  std::vector<Section> sections;
  std::vector<Seat> seats;  // ordered by section, row, number
};

struct News {
  std::string id;
  std::string title;
  std::string body;
  bool pinned = false;
  std::string author_id;
  Millis published_at = 0;
  Millis updated_at = 0;
};

struct ImageMeta {
  std::string id;
  std::string content_type;
  std::int64_t size = 0;
  std::string storage_key;  // relative path under <data_dir>/images
  Millis created_at = 0;
};

struct PriceRange {
  std::int64_t min = 0;
  std::int64_t max = 0;
};
// Min/max over ticket types; nullopt when there are none.
std::optional<PriceRange> price_range(const std::vector<TicketType>& types);

}  // namespace tiketi::event
