#include "services/reservation/dto/events.hpp"

#include <nlohmann/json.hpp>

namespace tiketi::reservation {
namespace {

using nlohmann::json;

template <class T>
std::optional<T> get_opt(const json& j, const char* a, const char* b = nullptr) {
  for (const char* k : {a, b}) {
    if (k == nullptr) {
      continue;
    }
    auto it = j.find(k);
    if (it != j.end() && !it->is_null()) {
      return it->get<T>();
    }
  }
  return std::nullopt;
}

json base(const Reservation& r, Millis at) {
  return json{
      {"schema_version", 1}, {"reservation_id", r.id}, {"user_id", r.user_id},      {"event_id", r.event_id},
      {"amount", r.amount},  {"quantity", r.quantity}, {"kind", to_string(r.kind)}, {"at", at}};
}

json items_json(const Reservation& r) {
  json items = json::array();
  for (const auto& i : r.items) {
    json it{{"label", i.label},
            {"ticket_type_id", i.ticket_type_id},
            {"unit_price", i.unit_price},
            {"quantity", i.quantity}};
    if (i.seat_id) {
      it["seat_id"] = *i.seat_id;
    }
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace

std::optional<PublishedEvent> parse_published(const std::string& payload, std::string& why) {
  try {
    const json j = json::parse(payload);
    PublishedEvent p;
    p.info.event_id = j.at("event_id").get<std::string>();
    p.info.title = j.value("title", "");
    p.info.status = j.at("status").get<std::string>();
    p.info.sale_start = j.value("sale_start", std::int64_t{0});
    p.info.sale_end = j.value("sale_end", std::int64_t{0});
    p.info.performance_start = j.value("performance_start", std::int64_t{0});
    p.info.per_user_limit = j.value("per_user_limit", std::int64_t{4});
    p.info.hold_minutes = j.value("hold_minutes", std::int64_t{10});
    if (auto wr = j.find("waiting_room"); wr != j.end() && wr->is_object()) {
      p.info.waiting_room = wr->value("enabled", false);
    }
    for (const auto& t : j.value("ticket_types", json::array())) {
      PublishedTicketType tt;
      tt.id = t.at("id").get<std::string>();
      tt.name = t.value("name", "");
      auto kind = parse_kind(t.value("kind", "seated"));
      if (!kind) {
        why = "unknown ticket kind";
        return std::nullopt;
      }
      tt.kind = *kind;
      tt.price = t.value("price", std::int64_t{0});
      tt.quota = get_opt<std::int64_t>(t, "quota");
      if (tt.kind == Kind::general_admission && (!tt.quota || *tt.quota < 0)) {
        why = "general-admission ticket type without a quota";
        return std::nullopt;
      }
      p.ticket_types.push_back(std::move(tt));
    }
    for (const auto& s : j.value("seats", json::array())) {
      PublishedSeat seat;
      seat.id = s.at("id").get<std::string>();
      seat.label = seat_label(s.value("section", ""), s.value("row", ""), s.value("number", std::int64_t{0}));
      seat.ticket_type_id = s.value("ticket_type_id", "");
      p.seats.push_back(std::move(seat));
    }
    return p;
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

std::optional<StatusChanged> parse_status_changed(const std::string& payload, std::string& why) {
  try {
    const json j = json::parse(payload);
    StatusChanged s;
    s.event_id = j.at("event_id").get<std::string>();
    s.to = j.at("to").get<std::string>();
    s.sale_start = j.value("sale_start", std::int64_t{0});
    s.sale_end = j.value("sale_end", std::int64_t{0});
    return s;
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

std::optional<PaymentCompleted> parse_payment_completed(const std::string& payload, std::string& why) {
  try {
    const json j = json::parse(payload);
    PaymentCompleted p;
    auto rid = get_opt<std::string>(j, "reservation_id", "reservationId");
    auto pid = get_opt<std::string>(j, "payment_id", "paymentId");
    if (!rid || !pid) {
      why = "reservation_id and payment_id are required";
      return std::nullopt;
    }
    p.reservation_id = *rid;
    p.payment_id = *pid;
    p.amount = get_opt<std::int64_t>(j, "amount");
    return p;
  } catch (const std::exception& e) {
    why = e.what();
    return std::nullopt;
  }
}

std::string sold_out_payload(const std::string& event_id, Millis at) {
  return json{{"schema_version", 1}, {"event_id", event_id}, {"sold_out_at", at}}.dump();
}

std::string expired_payload(const Reservation& r, Millis at, std::string_view reason) {
  json j = base(r, at);
  j["reason"] = reason;
  j["items"] = items_json(r);
  return j.dump();
}

std::string confirmed_payload(const Reservation& r, const std::vector<Ticket>& tickets, Millis at) {
  json j = base(r, at);
  j["payment_id"] = r.payment_id.value_or("");
  j["items"] = items_json(r);
  json ts = json::array();
  for (const auto& t : tickets) {
    json tj{{"code", t.code}, {"label", t.label}, {"ticket_type_id", t.ticket_type_id}};
    if (t.seat_id) {
      tj["seat_id"] = *t.seat_id;
    }
    ts.push_back(std::move(tj));
  }
  j["tickets"] = std::move(ts);
  return j.dump();
}

std::string confirmation_failed_payload(const std::string& reservation_id, const std::string& payment_id,
                                        const Reservation* r, std::string_view reason, Millis at) {
  json j = r != nullptr ? base(*r, at)
                        : json{{"schema_version", 1}, {"reservation_id", reservation_id}, {"at", at}};
  j["payment_id"] = payment_id;
  j["reason"] = reason;
  j["refund"] = true;
  return j.dump();
}

std::string cancelled_payload(const Reservation& r, Status previous, bool refund, std::string_view by,
                              Millis at) {
  json j = base(r, at);
  j["previous_status"] = to_string(previous);
  j["payment_id"] = r.payment_id ? json(*r.payment_id) : json(nullptr);
  j["refund"] = refund;
  j["cancelled_by"] = by;
  j["items"] = items_json(r);
  return j.dump();
}

}  // namespace tiketi::reservation
