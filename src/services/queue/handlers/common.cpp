#include <cmath>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "services/queue/handlers/handlers.hpp"

namespace tiketi::queue::handlers {

Task<QueueSettings> settings_or_404(State& s, std::string event) {
  auto qs = co_await s.line->settings(event);
  if (!qs) {
    throw errors::not_found("Event");
  }
  co_return *qs;
}

nlohmann::json closed_json(const std::string& event) { return {{"eventId", event}, {"state", "closed"}}; }

nlohmann::json standing_json(const State& s, const QueueSettings& qs, const std::string& user,
                             const Standing& st, Millis now) {
  nlohmann::json j{{"eventId", qs.event_id}};
  if (st.place == Place::admitted) {
    j["state"] = "admitted";
    j["position"] = 0;
    j["peopleAhead"] = 0;
    j["etaSeconds"] = 0;
    j["sessionExpiresAt"] = st.session_expires_at;
    // A fresh token id per answer; every token of this session ends with the session.
    j["admissionToken"] =
        s.tokens->issue(AdmissionClaims{user, qs.event_id, st.session_expires_at, ids::random_token(16)});
    return j;
  }
  j["state"] = "waiting";
  j["position"] = st.rank + 1;
  j["peopleAhead"] = st.rank;
  j["seq"] = st.seq;
  j["paused"] = qs.paused;
  j["opensAt"] = qs.sale_start;
  // Before the sale nobody moves: the wait is the time to the opening plus the line's share.
  std::int64_t eta = eta_seconds(st.rank + 1, qs.rate_per_second, qs.max_active, st.active, qs.session_ms);
  if (now < qs.sale_start && eta >= 0) {
    eta += (qs.sale_start - now + 999) / 1000;
  }
  if (qs.paused) {
    j["etaSeconds"] = nullptr;  // unknown while admission is paused
  } else {
    j["etaSeconds"] = eta < 0 ? nlohmann::json(nullptr) : nlohmann::json(eta);
  }
  return j;
}

}  // namespace tiketi::queue::handlers
