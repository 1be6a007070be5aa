#include "services/payment/dto/json.hpp"

namespace tiketi::payment {

using nlohmann::json;

json payment_json(const Payment& p) {
  json j{{"id", p.id},
         {"purpose", to_string(p.purpose)},
         {"orderId", p.order_id},
         {"status", to_string(p.status)},
         {"amount", p.amount},
         {"pointsAmount", p.points_amount},
         {"cardAmount", p.card_amount},
         {"method", method_of(p)},
         {"currency", "KRW"},
         {"createdAt", p.created_at},
         {"updatedAt", p.updated_at}};
  if (p.reservation_id) {
    j["reservationId"] = *p.reservation_id;
  }
  if (p.confirmed_at) {
    j["confirmedAt"] = *p.confirmed_at;
  }
  if (p.failure_reason) {
    j["failureReason"] = *p.failure_reason;
  }
  return j;
}

json point_entry_json(const PointEntry& e) {
  return json{{"id", e.id},
              {"kind", to_string(e.kind)},
              {"amount", e.amount},
              {"balanceAfter", e.balance_after},
              {"reference", e.reference},
              {"createdAt", e.created_at}};
}

json refund_json(const Refund& r) {
  json j{{"id", r.id},
         {"paymentId", r.payment_id},
         {"reason", r.reason},
         {"source", r.source},
         {"pointsAmount", r.points_amount},
         {"cardAmount", r.card_amount},
         {"status", to_string(r.status)},
         {"createdAt", r.created_at},
         {"updatedAt", r.updated_at}};
  if (r.failure_reason) {
    j["failureReason"] = *r.failure_reason;
  }
  return j;
}

namespace {
json base(const Payment& p, Millis at) {
  return json{{"schema_version", 1},
              {"payment_id", p.id},
              {"reservation_id", p.reservation_id ? json(*p.reservation_id) : json(nullptr)},
              {"user_id", p.user_id},
              {"order_id", p.order_id},
              {"amount", p.amount},
              {"points_amount", p.points_amount},
              {"card_amount", p.card_amount},
              {"method", method_of(p)},
              {"at", at}};
}
}  // namespace

std::string completed_payload(const Payment& p, Millis at) { return base(p, at).dump(); }

std::string refunded_payload(const Payment& p, const Refund& r, Millis at) {
  json j = base(p, at);
  j["refund_id"] = r.id;
  j["reason"] = r.reason;
  j["refunded_points"] = r.points_amount;
  j["refunded_card"] = r.card_amount;
  return j.dump();
}

std::string refund_failed_payload(const Payment& p, const Refund& r, Millis at) {
  json j = base(p, at);
  j["refund_id"] = r.id;
  j["reason"] = r.reason;
  j["failure_reason"] = r.failure_reason.value_or("");
  j["refunded_points"] = r.points_amount;
  return j.dump();
}

std::optional<ReservationView> parse_reservation(const std::string& body) {
  try {
    const json j = json::parse(body);
    ReservationView v;
    v.id = j.at("id").get<std::string>();
    v.user_id = j.at("userId").get<std::string>();
    v.status = j.at("status").get<std::string>();
    v.amount = j.at("amount").get<std::int64_t>();
    v.expires_at = j.value("expiresAt", std::int64_t{0});
    v.payable = j.value("payable", v.status == "PENDING");
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<ReservationOutcome> parse_reservation_outcome(const std::string& payload) {
  try {
    const json j = json::parse(payload);
    ReservationOutcome o;
    o.reservation_id = j.at("reservation_id").get<std::string>();
    if (j.contains("payment_id") && j["payment_id"].is_string() &&
        !j["payment_id"].get<std::string>().empty()) {
      o.payment_id = j["payment_id"].get<std::string>();
    }
    o.reason = j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : "";
    return o;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace tiketi::payment
