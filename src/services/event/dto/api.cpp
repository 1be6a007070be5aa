#include "services/event/dto/api.hpp"

#include <initializer_list>

#include "services/common/json_body.hpp"
#include "services/event/domain/validation.hpp"

namespace tiketi::event {
namespace {

using common::JsonBody;
using common::StringRule;
using nlohmann::json;

constexpr std::int64_t kMaxTime = 4'102'444'800'000;  // 2100-01-01: later is a typo, not a date

void reject_unknown(JsonBody& b, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : b.raw().items()) {
    bool known = false;
    for (auto a : allowed) {
      known = known || a == k;
    }
    if (!known) {
      b.fail(k, "is not a known field");
    }
  }
}

std::optional<std::int64_t> int_field(JsonBody& b, const std::string& f, std::int64_t min, std::int64_t max,
                                      bool required) {
  if (required && (!b.has(f) || b.was_null(f))) {
    b.fail(f, "is required");
    return std::nullopt;
  }
  return b.optional_int(f, min, max);
}

// Nested objects are checked by hand with the same messages as JsonBody.
std::optional<std::int64_t> nested_int(JsonBody& b, const json& obj, const std::string& key,
                                       const std::string& path, std::int64_t min, std::int64_t max,
                                       bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) {
      b.fail(path, "is required");
    }
    return std::nullopt;
  }
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    b.fail(path, "must be an integer");
    return std::nullopt;
  }
  const auto v = it->get<std::int64_t>();
  if (v < min || v > max) {
    b.fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> nested_string(JsonBody& b, const json& obj, const std::string& key,
                                         const std::string& path, std::size_t max_bytes, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) {
      b.fail(path, "is required");
    }
    return std::nullopt;
  }
  if (!it->is_string() || it->get_ref<const std::string&>().size() > max_bytes) {
    b.fail(path, it->is_string() ? "is too long" : "must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

void reject_unknown_nested(JsonBody& b, const json& obj, const std::string& path,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (auto a : allowed) {
      known = known || a == k;
    }
    if (!known) {
      b.fail(path + "." + k, "is not a known field");
    }
  }
}

void merge_fields(JsonBody& b, const std::vector<FieldError>& errs) {
  for (const auto& e : errs) {
    b.fail(e.field, e.message);
  }
}

}  // namespace

EventInput parse_event_body(const std::string& body, const Event* base) {
  JsonBody b(body);
  reject_unknown(
      b, {"title", "description", "category", "artist", "venue_id", "performance_start", "performance_end",
          "sale_start", "sale_end", "per_user_limit", "hold_minutes", "waiting_room", "image_ids"});
  const bool create = base == nullptr;
  EventInput in;
  if (base != nullptr) {
    in.event = *base;
  }
  for (const auto& [k, v] : b.raw().items()) {
    in.changed.insert(k);
  }
  Event& e = in.event;
  if (create || b.has("title")) {
    e.title = b.required_string("title", {.max_chars = 200, .max_bytes = 1024, .trim = true});
  }
  if (auto v =
          b.optional_string("description", {.max_chars = 20'000, .max_bytes = 80'000, .allow_empty = true})) {
    e.description = *v;
  }
  if (create || b.has("category")) {
    e.category = b.required_string("category", {.max_bytes = 32});
    if (!e.category.empty() && !is_category(e.category)) {
      b.fail("category", "is not a known category");
    }
  }
  if (auto v = b.optional_string("artist",
                                 {.max_chars = 200, .max_bytes = 1024, .trim = true, .allow_empty = true})) {
    e.artist = *v;
  }
  if (b.has("venue_id")) {
    e.venue_id = b.optional_string("venue_id", {.max_bytes = 64});
  }
  for (auto [name, field] : {std::pair{"performance_start", &e.performance_start},
                             std::pair{"performance_end", &e.performance_end},
                             std::pair{"sale_start", &e.sale_start}, std::pair{"sale_end", &e.sale_end}}) {
    if (create || b.has(name)) {
      if (auto v = int_field(b, name, 1, kMaxTime, true)) {
        *field = *v;
      }
    }
  }
  if (auto v = int_field(b, "per_user_limit", kMinPerUserLimit, kMaxPerUserLimit, false)) {
    e.per_user_limit = *v;
  }
  if (auto v = int_field(b, "hold_minutes", kMinHoldMinutes, kMaxHoldMinutes, false)) {
    e.hold_minutes = *v;
  }
  if (b.has("waiting_room")) {
    const json& w = b.raw()["waiting_room"];
    if (!w.is_object()) {
      b.fail("waiting_room", "must be an object");
    } else {
      reject_unknown_nested(b, w, "waiting_room", {"enabled", "admission_per_minute", "max_active"});
      if (auto it = w.find("enabled"); it != w.end()) {
        if (it->is_boolean()) {
          e.waiting_room.enabled = it->get<bool>();
        } else {
          b.fail("waiting_room.enabled", "must be true or false");
        }
      }
      if (auto v = nested_int(b, w, "admission_per_minute", "waiting_room.admission_per_minute", 1,
                              kMaxWaitingRoomRate, false)) {
        e.waiting_room.admission_per_minute = *v;
      }
      if (auto v = nested_int(b, w, "max_active", "waiting_room.max_active", 1, kMaxWaitingRoomRate, false)) {
        e.waiting_room.max_active = *v;
      }
    }
  }
  if (b.has("image_ids")) {
    const json& ids = b.raw()["image_ids"];
    if (!ids.is_array() || ids.size() > 20) {
      b.fail("image_ids", "must be an array of at most 20 image ids");
    } else {
      e.image_ids.clear();
      for (const auto& id : ids) {
        if (!id.is_string() || id.get_ref<const std::string&>().empty() ||
            id.get_ref<const std::string&>().size() > 64) {
          b.fail("image_ids", "must contain image ids");
          break;
        }
        e.image_ids.push_back(id.get<std::string>());
      }
    }
  }
  b.finish();
  // Cross-field rules only once every field parsed, so their messages are about real values.
  merge_fields(b, validate_event(e));
  b.finish();
  return in;
}

bool touches_inventory(const std::set<std::string>& changed) {
  for (const char* f : {"venue_id", "performance_start", "performance_end", "sale_start", "sale_end",
                        "per_user_limit", "hold_minutes", "waiting_room"}) {
    if (changed.count(f) != 0) {
      return true;
    }
  }
  return false;
}

Venue parse_venue_body(const std::string& body, const Venue* base) {
  JsonBody b(body);
  reject_unknown(b, {"name", "address", "city"});
  Venue v = base != nullptr ? *base : Venue{};
  if (base == nullptr || b.has("name")) {
    v.name = b.required_string("name", {.max_chars = 200, .max_bytes = 1024, .trim = true});
  }
  if (auto s = b.optional_string("address",
                                 {.max_chars = 500, .max_bytes = 2048, .trim = true, .allow_empty = true})) {
    v.address = *s;
  }
  if (auto s = b.optional_string("city",
                                 {.max_chars = 100, .max_bytes = 512, .trim = true, .allow_empty = true})) {
    v.city = *s;
  }
  b.finish();
  return v;
}

TicketType parse_ticket_type_body(const std::string& body, const TicketType* base) {
  JsonBody b(body);
  reject_unknown(b, {"name", "kind", "category", "quota", "price", "sort_order"});
  TicketType t = base != nullptr ? *base : TicketType{};
  const bool create = base == nullptr;
  if (create || b.has("name")) {
    t.name = b.required_string("name", {.max_chars = 100, .max_bytes = 512, .trim = true});
  }
  if (create || b.has("kind")) {
    auto k = parse_ticket_kind(b.required_string("kind", {.max_bytes = 32}));
    if (!k) {
      b.fail("kind", "must be seated or general_admission");
    } else {
      t.kind = *k;
    }
  }
  if (b.has("category")) {
    t.category = b.optional_string("category", {.max_bytes = 16, .allow_empty = true}).value_or("");
  }
  if (b.has("quota")) {
    t.quota = b.optional_int("quota", 1, kMaxQuota);
  }
  if (create || b.has("price")) {
    // Negative prices get their own message rather than a range: it is the common mistake.
    const auto& raw = b.raw();
    if (raw.contains("price") && raw["price"].is_number_integer() && raw["price"].get<std::int64_t>() < 0) {
      b.fail("price", "must not be negative");
    } else if (raw.contains("price") && raw["price"].is_number_float()) {
      b.fail("price", "must be a whole number of KRW");
    } else if (auto v = int_field(b, "price", 0, kMaxPrice, true)) {
      t.price = *v;
    }
  }
  if (auto v = b.optional_int("sort_order", 0, 1000)) {
    t.sort_order = *v;
  }
  b.finish();
  merge_fields(b, validate_ticket_type(t));
  b.finish();
  return t;
}

PlanSpec parse_plan_body(const std::string& body) {
  JsonBody b(body);
  reject_unknown(b, {"categories", "sections"});
  PlanSpec spec;
  const json& raw = b.raw();
  auto cats = raw.find("categories");
  if (cats == raw.end() || !cats->is_array() || cats->size() > kMaxCategories) {
    b.fail("categories", "must be an array of at most 20 price categories");
  } else {
    for (std::size_t i = 0; i < cats->size(); ++i) {
      const json& c = (*cats)[i];
      const std::string p = "categories[" + std::to_string(i) + "]";
      if (!c.is_object()) {
        b.fail(p, "must be an object");
        continue;
      }
      reject_unknown_nested(b, c, p, {"code", "name", "color"});
      PriceCategory pc;
      pc.code = nested_string(b, c, "code", p + ".code", 16, true).value_or("");
      pc.name = nested_string(b, c, "name", p + ".name", 200, false).value_or(pc.code);
      pc.color = nested_string(b, c, "color", p + ".color", 7, false).value_or("");
      spec.categories.push_back(std::move(pc));
    }
  }
  auto secs = raw.find("sections");
  if (secs == raw.end() || !secs->is_array() || secs->size() > kMaxSections) {
    b.fail("sections", "must be an array of at most 100 sections");
  } else {
    for (std::size_t i = 0; i < secs->size(); ++i) {
      const json& s = (*secs)[i];
      const std::string p = "sections[" + std::to_string(i) + "]";
      if (!s.is_object()) {
        b.fail(p, "must be an object");
        continue;
      }
      reject_unknown_nested(b, s, p,
                            {"code", "name", "rows", "seats_per_row", "x", "y", "row_labels", "categories"});
      SectionSpec sec;
      sec.code = nested_string(b, s, "code", p + ".code", 8, true).value_or("");
      sec.name = nested_string(b, s, "name", p + ".name", 400, false).value_or(sec.code);
      // Ranges are checked here only for type; the generator owns the limits (and the 100k cap).
      sec.rows = nested_int(b, s, "rows", p + ".rows", 1, INT32_MAX, true).value_or(0);
      sec.seats_per_row =
          nested_int(b, s, "seats_per_row", p + ".seats_per_row", 1, INT32_MAX, true).value_or(0);
      sec.x = nested_int(b, s, "x", p + ".x", 0, 1'000'000, false).value_or(0);
      sec.y = nested_int(b, s, "y", p + ".y", 0, 1'000'000, false).value_or(0);
      auto labels = nested_string(b, s, "row_labels", p + ".row_labels", 16, false).value_or("numeric");
      if (labels == "alpha") {
        sec.row_labels = RowLabels::alpha;
      } else if (labels != "numeric") {
        b.fail(p + ".row_labels", "must be numeric or alpha");
      }
      auto ranges = s.find("categories");
      if (ranges == s.end() || !ranges->is_array() || ranges->size() > 500) {
        b.fail(p + ".categories", "must be an array of row ranges");
      } else {
        for (std::size_t j = 0; j < ranges->size(); ++j) {
          const json& r = (*ranges)[j];
          const std::string q = p + ".categories[" + std::to_string(j) + "]";
          if (!r.is_object()) {
            b.fail(q, "must be an object");
            continue;
          }
          reject_unknown_nested(b, r, q, {"from_row", "to_row", "category"});
          RowRange rr;
          rr.from_row = nested_int(b, r, "from_row", q + ".from_row", 1, INT32_MAX, true).value_or(1);
          rr.to_row = nested_int(b, r, "to_row", q + ".to_row", 1, INT32_MAX, true).value_or(1);
          rr.category = nested_string(b, r, "category", q + ".category", 16, true).value_or("");
          sec.categories.push_back(std::move(rr));
        }
      }
      spec.sections.push_back(std::move(sec));
    }
  }
  b.finish();
  return spec;
}

News parse_news_body(const std::string& body, const News* base) {
  JsonBody b(body);
  reject_unknown(b, {"title", "body", "pinned"});
  News n = base != nullptr ? *base : News{};
  if (base == nullptr || b.has("title")) {
    n.title = b.required_string("title", {.max_chars = 200, .max_bytes = 1024, .trim = true});
  }
  if (base == nullptr || b.has("body")) {
    n.body = b.required_string("body", {.max_chars = 50'000, .max_bytes = 200'000});
  }
  if (auto v = b.optional_bool("pinned")) {
    n.pinned = *v;
  }
  b.finish();
  return n;
}

json to_json(const Venue& v) {
  return {{"id", v.id},
          {"name", v.name},
          {"address", v.address},
          {"city", v.city},
          {"created_at", v.created_at},
          {"updated_at", v.updated_at}};
}

json to_json(const TicketType& t) {
  json j{{"id", t.id},       {"name", t.name},    {"kind", to_string(t.kind)},
         {"price", t.price}, {"currency", "KRW"}, {"sort_order", t.sort_order}};
  if (t.kind == TicketKind::seated) {
    j["category"] = t.category;
  } else {
    j["quota"] = t.quota ? json(*t.quota) : json(nullptr);
  }
  return j;
}

json to_json(const News& n) {
  return {{"id", n.id},
          {"title", n.title},
          {"body", n.body},
          {"pinned", n.pinned},
          {"published_at", n.published_at},
          {"updated_at", n.updated_at}};
}

json summary_json(const EventRow& r, std::string_view image_base) {
  const Event& e = r.event;
  json images = json::array();
  for (const auto& id : e.image_ids) {
    if (auto it = r.image_keys.find(id); it != r.image_keys.end()) {
      images.push_back({{"id", id}, {"url", std::string(image_base) + it->second}});
    }
  }
  json j{
      {"id", e.id},
      {"title", e.title},
      {"category", e.category},
      {"artist", e.artist},
      {"venue", e.venue_id ? json{{"id", *e.venue_id}, {"name", r.venue_name.value_or("")}} : json(nullptr)},
      {"performance_start", e.performance_start},
      {"performance_end", e.performance_end},
      {"sale_start", e.sale_start},
      {"sale_end", e.sale_end},
      {"status", to_string(e.status)},
      {"image_ids", e.image_ids},
      {"images", std::move(images)},
      {"waiting_room", {{"enabled", e.waiting_room.enabled}}},
      {"price",
       r.price ? json{{"min", r.price->min}, {"max", r.price->max}, {"currency", "KRW"}} : json(nullptr)}};
  return j;
}

json detail_json(const EventRow& r, const std::vector<TicketType>& types, std::string_view image_base) {
  json j = summary_json(r, image_base);
  const Event& e = r.event;
  j["description"] = e.description;
  j["per_user_limit"] = e.per_user_limit;
  j["hold_minutes"] = e.hold_minutes;
  j["waiting_room"] = {{"enabled", e.waiting_room.enabled},
                       {"admission_per_minute", e.waiting_room.admission_per_minute},
                       {"max_active", e.waiting_room.max_active}};
  j["sold_out"] = e.sold_out;
  j["published_at"] = e.published_at ? json(*e.published_at) : json(nullptr);
  j["created_at"] = e.created_at;
  j["updated_at"] = e.updated_at;
  json tts = json::array();
  for (const auto& t : types) {
    tts.push_back(to_json(t));
  }
  j["ticket_types"] = std::move(tts);
  return j;
}

json plan_json(const SeatingPlan& p) {
  json cats = json::array();
  for (const auto& c : p.categories) {
    cats.push_back({{"code", c.code}, {"name", c.name}, {"color", c.color}});
  }
  json secs = json::array();
  for (const auto& s : p.sections) {
    secs.push_back({{"code", s.code}, {"name", s.name}, {"x", s.x}, {"y", s.y}});
  }
  // Seats as compact arrays: a 2,000-seat map stays small; the column order is in "seat_fields".
  json seats = json::array();
  for (const auto& s : p.seats) {
    seats.push_back(json::array({s.id, s.section, s.row, s.number, s.x, s.y, s.category}));
  }
  return {{"event_id", p.event_id},
          {"categories", std::move(cats)},
          {"sections", std::move(secs)},
          {"seat_fields", {"id", "section", "row", "number", "x", "y", "category"}},
          {"seats", std::move(seats)},
          {"seat_count", p.seats.size()}};
}

}  // namespace tiketi::event
