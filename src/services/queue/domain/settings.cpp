#include "services/queue/domain/settings.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace tiketi::queue {

using nlohmann::json;

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::off:
      return "off";
    case Mode::always:
      return "always";
    case Mode::automatic:
      return "auto";
  }
  return "always";
}

std::string_view to_string(Order o) { return o == Order::fifo ? "fifo" : "random"; }

std::optional<Mode> parse_mode(std::string_view s) {
  if (s == "off") {
    return Mode::off;
  }
  if (s == "always") {
    return Mode::always;
  }
  if (s == "auto") {
    return Mode::automatic;
  }
  return std::nullopt;
}

std::optional<Order> parse_order(std::string_view s) {
  if (s == "fifo") {
    return Order::fifo;
  }
  if (s == "random") {
    return Order::random;
  }
  return std::nullopt;
}

bool QueueSettings::closed(Millis now) const {
  if (status == "closed" || status == "ended" || status == "cancelled" || status == "draft") {
    return true;
  }
  // The status event may lag the clock; a sale past its end never admits anyone.
  return sale_end > 0 && now >= sale_end;
}

std::string to_json(const QueueSettings& s) {
  json j{{"event_id", s.event_id},       {"status", s.status},
         {"mode", to_string(s.mode)},    {"rate_per_second", s.rate_per_second},
         {"max_active", s.max_active},   {"session_ms", s.session_ms},
         {"sale_start", s.sale_start},   {"sale_end", s.sale_end},
         {"prequeue_ms", s.prequeue_ms}, {"order", to_string(s.order)},
         {"updated_at", s.updated_at}};
  return j.dump();
}

std::optional<QueueSettings> settings_from_json(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  try {
    QueueSettings s;
    s.event_id = j.at("event_id").get<std::string>();
    s.status = j.at("status").get<std::string>();
    s.mode = parse_mode(j.at("mode").get<std::string>()).value_or(Mode::always);
    s.rate_per_second = j.at("rate_per_second").get<double>();
    s.max_active = j.at("max_active").get<std::int64_t>();
    s.session_ms = j.at("session_ms").get<std::int64_t>();
    s.sale_start = j.at("sale_start").get<std::int64_t>();
    s.sale_end = j.at("sale_end").get<std::int64_t>();
    s.prequeue_ms = j.at("prequeue_ms").get<std::int64_t>();
    s.order = parse_order(j.at("order").get<std::string>()).value_or(Order::random);
    s.updated_at = j.at("updated_at").get<std::int64_t>();
    return s;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::string to_json(const AdminOverrides& o) {
  json j{{"paused", o.paused}};
  if (o.rate_per_second) {
    j["rate_per_second"] = *o.rate_per_second;
  }
  if (o.max_active) {
    j["max_active"] = *o.max_active;
  }
  if (o.mode) {
    j["mode"] = to_string(*o.mode);
  }
  if (o.order) {
    j["order"] = to_string(*o.order);
  }
  return j.dump();
}

AdminOverrides overrides_from_json(std::string_view text) {
  AdminOverrides o;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) {
    return o;
  }
  if (auto it = j.find("paused"); it != j.end() && it->is_boolean()) {
    o.paused = it->get<bool>();
  }
  if (auto it = j.find("rate_per_second"); it != j.end() && it->is_number()) {
    o.rate_per_second = it->get<double>();
  }
  if (auto it = j.find("max_active"); it != j.end() && it->is_number_integer()) {
    o.max_active = it->get<std::int64_t>();
  }
  if (auto it = j.find("mode"); it != j.end() && it->is_string()) {
    o.mode = parse_mode(it->get<std::string>());
  }
  if (auto it = j.find("order"); it != j.end() && it->is_string()) {
    o.order = parse_order(it->get<std::string>());
  }
  return o;
}

QueueSettings apply(QueueSettings s, const AdminOverrides& o) {
  s.paused = o.paused;
  if (o.rate_per_second) {
    s.rate_per_second = *o.rate_per_second;
  }
  if (o.max_active) {
    s.max_active = *o.max_active;
  }
  if (o.mode) {
    s.mode = *o.mode;
  }
  if (o.order) {
    s.order = *o.order;
  }
  return s;
}

namespace {

std::optional<std::int64_t> int_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

std::optional<std::string> string_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

std::optional<QueueSettings> settings_from_published(std::string_view payload, Millis prequeue_ms,
                                                     std::string& why) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  QueueSettings s;
  auto id = string_field(j, "event_id");
  auto status = string_field(j, "status");
  auto sale_start = int_field(j, "sale_start");
  if (!id || id->empty() || !status || !sale_start) {
    why = "event_id, status and sale_start are required";
    return std::nullopt;
  }
  s.event_id = *id;
  s.status = *status;
  s.sale_start = *sale_start;
  s.sale_end = int_field(j, "sale_end").value_or(0);
  s.updated_at = int_field(j, "published_at").value_or(0);
  s.prequeue_ms = prequeue_ms;
  // The event service has one switch; "auto" is an admin choice on top of it.
  s.mode = Mode::off;
  if (auto wr = j.find("waiting_room"); wr != j.end() && wr->is_object()) {
    if (wr->value("enabled", false)) {
      s.mode = Mode::always;
    }
    if (auto per_min = int_field(*wr, "admission_per_minute"); per_min && *per_min > 0) {
      s.rate_per_second = static_cast<double>(*per_min) / 60.0;
    }
    if (auto cap = int_field(*wr, "max_active"); cap && *cap > 0) {
      s.max_active = *cap;
    }
  }
  if (auto hold = int_field(j, "hold_minutes"); hold && *hold > 0) {
    // A shopper's session is as long as a hold may last, so an admitted buyer is never cut off.
    s.session_ms = *hold * 60'000;
  }
  return s;
}

std::optional<StatusChange> parse_status_changed(std::string_view payload, std::string& why) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  StatusChange c;
  auto id = string_field(j, "event_id");
  auto to = string_field(j, "to");
  if (!id || id->empty() || !to) {
    why = "event_id and to are required";
    return std::nullopt;
  }
  c.event_id = *id;
  c.to = *to;
  c.changed_at = int_field(j, "changed_at").value_or(0);
  c.sale_start = int_field(j, "sale_start");
  c.sale_end = int_field(j, "sale_end");
  return c;
}

bool apply_status(QueueSettings& s, const StatusChange& c) {
  if (c.changed_at < s.updated_at) {
    return false;
  }
  s.status = c.to;
  s.updated_at = c.changed_at;
  if (c.sale_start) {
    s.sale_start = *c.sale_start;
  }
  if (c.sale_end) {
    s.sale_end = *c.sale_end;
  }
  return true;
}

std::int64_t eta_seconds(std::int64_t position, double rate_per_second, std::int64_t max_active,
                         std::int64_t active, Millis session_ms) {
  if (position <= 0) {
    return 0;
  }
  if (rate_per_second <= 0) {
    return -1;  // unknown: admission is stopped
  }
  // Whole seconds, rounded up; the epsilon keeps 6.000000000000001 (1 / (1/6)) from becoming 7.
  auto whole = [](double secs) { return static_cast<std::int64_t>(std::ceil(secs - 1e-9)); };
  const auto p = static_cast<double>(position);
  if (max_active <= 0 || session_ms <= 0) {
    return whole(p / rate_per_second);
  }
  const auto free = static_cast<double>(std::max<std::int64_t>(0, max_active - std::max<std::int64_t>(0, active)));
  if (p <= free) {
    return whole(p / rate_per_second);
  }
  const double turnover =
      std::min(rate_per_second, static_cast<double>(max_active) * 1000.0 / static_cast<double>(session_ms));
  return whole(free / rate_per_second + (p - free) / turnover);
}

}  // namespace tiketi::queue
