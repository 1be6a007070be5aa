#include "services/notification/domain/message.hpp"

#include <stdexcept>

#include "services/notification/domain/format.hpp"

namespace tiketi::notification {
namespace {

using nlohmann::json;

std::int64_t int_or(const json& j, const char* key, std::int64_t fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string str_or(const json& j, const char* key, std::string fallback = {}) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

json items(const json& payload) {
  json out = json::array();
  auto it = payload.find("items");
  if (it == payload.end() || !it->is_array()) {
    return out;
  }
  for (const auto& i : *it) {
    out.push_back(json{{"label", str_or(i, "label")},
                       {"quantity", int_or(i, "quantity", 1)},
                       {"unit_price", format_krw(int_or(i, "unit_price"))}});
  }
  return out;
}

json tickets(const json& payload) {
  json out = json::array();
  auto it = payload.find("tickets");
  if (it == payload.end() || !it->is_array()) {
    return out;
  }
  for (const auto& t : *it) {
    out.push_back(json{{"code", str_or(t, "code")}, {"label", str_or(t, "label")}});
  }
  return out;
}

void add_event(json& vars, const std::optional<EventInfo>& event, const std::string& language) {
  if (!event) {
    throw std::invalid_argument("event details are not known");
  }
  vars["event_title"] = event->title;
  vars["performance_date"] =
      event->performance_start > 0 ? format_kst(event->performance_start, language) : "";
}

}  // namespace

const std::vector<std::string>& mailed_topics() {
  static const std::vector<std::string> kTopics{"reservation.confirmed", "payment.completed",
                                                "reservation.cancelled", "payment.refunded",
                                                "reservation.expired",   "reservation.confirmation_failed"};
  return kTopics;
}

std::string template_for_topic(const std::string& topic) {
  std::string out = topic;
  for (char& c : out) {
    if (c == '.') {
      c = '_';
    }
  }
  return out;
}

std::optional<std::string> recipient_of(const json& payload) {
  auto v = str_or(payload, "user_id");
  if (v.empty()) {
    v = str_or(payload, "userId");
  }
  return v.empty() ? std::nullopt : std::optional<std::string>(v);
}

std::optional<std::string> event_of(const json& payload) {
  auto v = str_or(payload, "event_id");
  return v.empty() ? std::nullopt : std::optional<std::string>(v);
}

json build_vars(const std::string& topic, const json& payload, const Recipient& to,
                const std::optional<EventInfo>& event, const std::string& public_url) {
  const std::string lang = normalize_language(to.language);
  json vars{{"name", to.name.empty() ? to.email : to.name}, {"email", to.email}};
  const std::string reservation_id = str_or(payload, "reservation_id");
  vars["reservation_id"] = reservation_id;
  vars["link"] = reservation_id.empty() ? public_url + "/me" : public_url + "/reservations/" + reservation_id;
  if (topic == "reservation.confirmed") {
    add_event(vars, event, lang);
    vars["amount"] = format_krw(int_or(payload, "amount"));
    vars["quantity"] = int_or(payload, "quantity");
    vars["items"] = items(payload);
    vars["tickets"] = tickets(payload);
  } else if (topic == "payment.completed") {
    const auto points = int_or(payload, "points_amount");
    const auto card = int_or(payload, "card_amount", int_or(payload, "amount") - points);
    vars["amount"] = format_krw(int_or(payload, "amount"));
    vars["points_amount"] = format_krw(points);
    vars["card_amount"] = format_krw(card);
    vars["has_points"] = points > 0;
    vars["has_card"] = card > 0;
    vars["payment_id"] = str_or(payload, "payment_id");
  } else if (topic == "reservation.cancelled") {
    add_event(vars, event, lang);
    vars["amount"] = format_krw(int_or(payload, "amount"));
    vars["refund"] = payload.value("refund", false);
    vars["items"] = items(payload);
  } else if (topic == "payment.refunded") {
    const auto points = int_or(payload, "refunded_points");
    const auto card = int_or(payload, "refunded_card");
    vars["refund_amount"] = format_krw(points + card);
    vars["refunded_points"] = format_krw(points);
    vars["refunded_card"] = format_krw(card);
    vars["has_points"] = points > 0;
    vars["has_card"] = card > 0;
    vars["payment_id"] = str_or(payload, "payment_id");
  } else if (topic == "reservation.expired") {
    add_event(vars, event, lang);
    vars["items"] = items(payload);
    vars["link"] = public_url + "/events/" + str_or(payload, "event_id");
  } else if (topic == "reservation.confirmation_failed") {
    const bool has_amount = payload.contains("amount") && payload["amount"].is_number_integer();
    vars["has_amount"] = has_amount;
    vars["amount"] = has_amount ? format_krw(int_or(payload, "amount")) : "";
  } else {
    throw std::invalid_argument("no template for topic " + topic);
  }
  return vars;
}

}  // namespace tiketi::notification
