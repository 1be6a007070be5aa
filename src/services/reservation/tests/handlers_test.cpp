// The HTTP surface, through the service's router: bad input is refused with 4xx and holds nothing,
// admission tokens are checked, owners only see their own reservations, the seat map revalidates
// with ETag/304, and tickets end at the door.
#include <chrono>
#include <thread>

#include "services/queue/token/admission_token.hpp"
#include "services/reservation/tests/fixture.hpp"

// g++ 12 false positive on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace tiketi::reservation::testing {
namespace {

class Handlers : public Fixture {
 protected:
  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    publish(make_event("ev", 20, 100));
    publish(make_event("other", 5));
  }
  Reply post_hold(const std::string& user, const json& body, net::Headers h = {}) {
    return as(user, "POST", "/api/v1/reservations", body, std::move(h));
  }
  std::int64_t held() { return scalar("SELECT COUNT(*) FROM reservations"); }
};

TEST_P(Handlers, BadInputIsRefusedAndHoldsNothing) {
  const json cases[] = {
      {{"eventId", "ev"}, {"seatIds", {"S-0001", "NOPE"}}},           // unknown seat
      {{"eventId", "ev"}, {"seatIds", {"S-0001", "S-0001"}}},         // duplicate ids
      {{"eventId", "ev"}, {"seatIds", json::array()}},                // empty
      {{"eventId", "ev"}, {"seatIds", {1, 2}}},                       // not strings
      {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", 0}},   // zero
      {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", -1}},  // negative
      {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", 9223372036854775807LL}},
      {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", 1.5}},  // not an integer
      {{"eventId", "ev"}, {"ticketTypeId", "vip"}, {"quantity", 1}},   // a seated type
      {{"eventId", "ev"}, {"seatIds", {"S-0001"}}, {"quantity", 1}},   // both shapes
      {{"seatIds", {"S-0001"}}},                                       // no event
  };
  for (const auto& c : cases) {
    auto r = post_hold("ann", c);
    EXPECT_GE(r.status, 400) << c.dump();
    EXPECT_LT(r.status, 500) << c.dump() << " " << r.body.dump();
  }
  // 2^63 does not even fit the JSON integer type we accept.
  auto big = call("POST", "/api/v1/reservations",
                  R"({"eventId":"ev","ticketTypeId":"ga","quantity":9223372036854775808})",
                  {{"Authorization", "Bearer " + token("ann")}});
  EXPECT_EQ(big.status, 400);
  // Seats of another event are unknown here.
  auto other = post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0001"}}});
  ASSERT_EQ(other.status, 201);
  auto cross = post_hold("ben", {{"eventId", "other"}, {"seatIds", {"S-0010"}}});
  EXPECT_EQ(cross.status, 400);
  EXPECT_EQ(code(cross), "unknown_seat");
  EXPECT_EQ(post_hold("ben", {{"eventId", "nope"}, {"seatIds", {"S-0001"}}}).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/reservations", R"({"eventId":"ev","seatIds":["S-0002"]})").status, 401);
  EXPECT_EQ(post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0002"}}}, {{"Idempotency-Key", ""}}).status,
            400);
  EXPECT_EQ(held(), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status <> 'available'"), 1);
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(used), 0) FROM quota_stripes"), 0);
}

TEST_P(Handlers, HoldAnswersWithServerSideAmountAndIdempotencyKey) {
  auto r = post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0002", "S-0001"}}, {"amount", 1}},
                     {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["amount"], 20'000);
  EXPECT_EQ(r.body["status"], "PENDING");
  EXPECT_EQ(r.body["expiresAt"], kT0 + 10 * 60'000);
  auto again =
      post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0001", "S-0002"}}}, {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["id"], r.body["id"]);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  auto taken = post_hold("ben", {{"eventId", "ev"}, {"seatIds", {"S-0002"}}});
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(code(taken), "seat_unavailable");
  auto ga = post_hold("ben", {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", 3}});
  ASSERT_EQ(ga.status, 201);
  EXPECT_EQ(ga.body["amount"], 15'000);
  auto limit = post_hold("ben", {{"eventId", "ev"}, {"ticketTypeId", "ga"}, {"quantity", 2}});
  EXPECT_EQ(code(limit), "limit_exceeded");
}

TEST_P(Handlers, NotOnSaleIsRefused) {
  auto e = make_event("later", 5);
  e.info.status = "scheduled";
  publish(e);
  auto r = post_hold("ann", {{"eventId", "later"}, {"seatIds", {"S-0001"}}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(code(r), "not_on_sale");
  EXPECT_EQ(held(), 0);
}

TEST_P(Handlers, WaitingRoomNeedsAValidAdmissionToken) {
  publish(make_event("hot", 5, 0, 4, true));
  const json body{{"eventId", "hot"}, {"seatIds", {"S-0001"}}};
  EXPECT_EQ(code(post_hold("ann", body)), "admission_required");
  EXPECT_EQ(code(post_hold("ann", body, {{"X-Admission-Token", "garbage"}})), "admission_invalid");
  HmacAdmissionVerifier wrong_key("another-secret-0123456789abcdef01234567");
  const Admission adm{"ann", "hot", kT0 + 60'000, "jti-1"};
  EXPECT_EQ(post_hold("ann", body, {{"X-Admission-Token", wrong_key.issue(adm)}}).status, 403);
  HmacAdmissionVerifier key(config_.extra["queue.admission_secret"]);
  EXPECT_EQ(post_hold("ben", body, {{"X-Admission-Token", key.issue(adm)}}).status, 403);  // ann's token
  EXPECT_EQ(code(post_hold("ann", body, {{"X-Admission-Token", key.issue({"ann", "hot", kT0 - 1, "j"})}})),
            "admission_expired");
  EXPECT_EQ(held(), 0);
  // The queue service's codec issues tokens this service accepts (one format, one key).
  queue::AdmissionTokenCodec queue_codec(queue::admission_key_from_config(config_));
  auto ok = post_hold(
      "ann", body, {{"X-Admission-Token", queue_codec.issue({"ann", "hot", kT0 + 60'000, "jti-queue-1"})}});
  EXPECT_EQ(ok.status, 201) << ok.body.dump();
}

TEST_P(Handlers, OwnersOnlySeeTheirReservations) {
  auto r = post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0003"}}});
  const std::string id = r.body["id"];
  EXPECT_EQ(as("ann", "GET", "/api/v1/reservations/" + id).status, 200);
  EXPECT_EQ(as("ben", "GET", "/api/v1/reservations/" + id).status, 404);
  EXPECT_EQ(as("ben", "POST", "/api/v1/reservations/" + id + "/cancel").status, 404);
  EXPECT_EQ(as("ann", "GET", "/api/v1/reservations").body["items"].size(), 1u);
  EXPECT_EQ(as("ben", "GET", "/api/v1/reservations").body["items"].size(), 0u);
  auto internal = call("GET", "/internal/v1/reservations/" + id);
  EXPECT_EQ(internal.status, 200);
  EXPECT_EQ(internal.body["userId"], "ann");
  EXPECT_EQ(internal.body["amount"], 10'000);
  EXPECT_EQ(internal.body["payable"], true);
  EXPECT_EQ(call("GET", "/internal/v1/reservations/" + id, "", {{"X-Forwarded-For", "1.2.3.4"}}).status, 404);
  auto cancelled = as("ann", "POST", "/api/v1/reservations/" + id + "/cancel");
  EXPECT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body["status"], "CANCELLED");
}

TEST_P(Handlers, SeatMapRevalidatesWithEtagAndSeesChanges) {
  auto first = call("GET", "/api/v1/events/ev/seats");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body["seats"].size(), 20u);
  EXPECT_EQ(first.body["quotas"][0]["available"], 100);
  const std::string etag = first.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(call("GET", "/api/v1/events/ev/seats", "", {{"If-None-Match", etag}}).status, 304);
  post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0004"}}});
  // The map is patched from the change at once and served from the next seat-feed tick on (one
  // render per tick however many readers): the hold shows without waiting for the cache age.
  auto after = call("GET", "/api/v1/events/ev/seats", "", {{"If-None-Match", etag}});
  for (int i = 0; i < 500 && (after.status != 200 || after.body["summary"]["held"] != 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the change's delivery, then a tick
    state_->feed->flush();
    after = call("GET", "/api/v1/events/ev/seats", "", {{"If-None-Match", etag}});
  }
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["summary"]["held"], 1);
  EXPECT_EQ(after.body["seats"][4]["id"], "S-0004");
  EXPECT_EQ(after.body["seats"][4]["status"], "held");
  EXPECT_NE(after.header("ETag"), etag);
  // Served from memory: the hold did not cause another full read of the map.
  EXPECT_EQ(state_->seats->builds(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/events/nope/seats").status, 404);
}

TEST_P(Handlers, TicketsQrAndCheckIn) {
  auto r = post_hold("ann", {{"eventId", "ev"}, {"seatIds", {"S-0005"}}});
  const std::string id = r.body["id"];
  pay(id, "pay-1");
  auto tickets = as("ann", "GET", "/api/v1/tickets");
  ASSERT_EQ(tickets.body["items"].size(), 1u);
  const std::string code_ = tickets.body["items"][0]["code"];
  auto qr = as("ann", "GET", "/api/v1/tickets/" + code_ + "/qr.svg");
  EXPECT_EQ(qr.status, 200);
  EXPECT_EQ(qr.header("Content-Type"), "image/svg+xml");
  EXPECT_NE(qr.text.find("<svg"), std::string::npos);
  EXPECT_NE(qr.text.find("<path"), std::string::npos);
  EXPECT_EQ(as("ben", "GET", "/api/v1/tickets/" + code_ + "/qr.svg").status, 404);
  EXPECT_EQ(as("ann", "POST", "/api/v1/admin/checkins", {{"code", code_}}).status, 403);
  auto first = as("door", "POST", "/api/v1/admin/checkins", {{"code", code_}}, {}, "staff");
  EXPECT_EQ(first.body["result"], "valid");
  clock_->advance(5'000);
  auto second = as("door", "POST", "/api/v1/admin/checkins", {{"code", code_}}, {}, "staff");
  EXPECT_EQ(second.body["result"], "already_used");
  EXPECT_EQ(second.body["firstScanAt"], kT0);
  EXPECT_EQ(as("door", "POST", "/api/v1/admin/checkins", {{"code", "forged"}}, {}, "admin").body["result"],
            "invalid");
  auto sales = as("boss", "GET", "/api/v1/admin/events/ev/sales", nullptr, {}, "admin");
  ASSERT_EQ(sales.status, 200);
  EXPECT_EQ(sales.body["seats"]["sold"], 1);
  EXPECT_EQ(sales.body["revenue"], 10'000);
  EXPECT_EQ(as("ann", "GET", "/api/v1/admin/events/ev/sales").status, 403);
  auto search =
      as("boss", "GET", "/api/v1/admin/reservations?eventId=ev&status=CONFIRMED", nullptr, {}, "admin");
  EXPECT_EQ(search.body["items"].size(), 1u);
}

TIKETI_RESERVATION_ENGINES(Handlers);

}  // namespace
}  // namespace tiketi::reservation::testing
