// inventory.sold_out (once per event, also when the last seats are confirmed concurrently) and the
// reservation metrics as scraped, on both engines.

#include <chrono>
#include <thread>

#include "services/reservation/tests/fixture.hpp"

// g++ 12 false positive on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace tiketi::reservation::testing {
namespace {

Task<bool> confirm_one(ReservationStore* st, store::Database* db, std::string rid) {
  PaymentCompleted pay;
  pay.reservation_id = rid;
  pay.payment_id = "pay-" + rid;
  bool sold_out = false;
  std::function<Task<void>(store::Tx&)> work = [st, pay, &sold_out](store::Tx& tx) -> Task<void> {
    auto result = co_await st->confirm(tx, pay);
    sold_out = result.sold_out;
  };
  co_await db->transaction(std::move(work));
  co_return sold_out;
}

class SoldOut : public Fixture {
 protected:
  std::string hold(const std::string& user, std::vector<std::string> seats, const std::string& event = "ev") {
    return loop_.run(store().hold_seats(SeatHold{user, event, std::move(seats), std::nullopt})).reservation.id;
  }
  std::string hold_ga(const std::string& user, std::int64_t n, const std::string& event = "ev") {
    return loop_.run(store().hold_quota(QuotaHold{user, event, "ga", n, std::nullopt})).reservation.id;
  }
  json sold_out_payload(const std::string& event) {
    auto res = loop_.run(
        db_->exec("SELECT payload FROM outbox WHERE topic = 'inventory.sold_out' AND key = '" + event + "'"));
    if (res.rows.size() != 1) {
      return nullptr;
    }
    return json::parse(res.one().str("payload"));
  }
};

TEST_P(SoldOut, LastConfirmationAnnouncesOnceAndOnlyWhenEverythingIsSold) {
  publish(make_event("ev", 3, /*quota=*/2));
  const auto seats = hold("ann", {"S-0000", "S-0001", "S-0002"});
  const auto ga = hold_ga("ben", 2);
  EXPECT_EQ(pay(seats, "p1"), 1);
  EXPECT_EQ(outbox_count("inventory.sold_out"), 0);  // the quota is held, not sold
  EXPECT_EQ(loop_.run(store().sold_out_scan()), 0);
  clock_->advance(5);
  EXPECT_EQ(pay(ga, "p2"), 1);
  ASSERT_EQ(outbox_count("inventory.sold_out"), 1);
  const json p = sold_out_payload("ev");
  EXPECT_EQ(p["schema_version"], 1);
  EXPECT_EQ(p["event_id"], "ev");
  EXPECT_EQ(p["sold_out_at"].get<Millis>(), kT0 + 5);
  // A redelivered payment, a duplicate check and the periodic scan announce nothing more.
  EXPECT_EQ(pay(ga, "p2"), 1);
  EXPECT_EQ(loop_.run(store().sold_out_scan()), 0);
  EXPECT_EQ(outbox_count("inventory.sold_out"), 1);
}

TEST_P(SoldOut, HeldButUnpaidSeatsAreNotSoldOut) {
  publish(make_event("ev", 2));
  const auto a = hold("ann", {"S-0000"});
  hold("ben", {"S-0001"});
  EXPECT_EQ(pay(a, "p1"), 1);
  EXPECT_EQ(outbox_count("inventory.sold_out"), 0);
  EXPECT_EQ(loop_.run(store().sold_out_scan()), 0);
}

TEST_P(SoldOut, ConcurrentLastConfirmationsAnnounceExactlyOnce) {
  constexpr int kSeats = 24;
  publish(make_event("ev", kSeats, 0, /*limit=*/1));
  std::vector<std::string> ids;
  for (int i = 0; i < kSeats; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "S-%04d", i);
    ids.push_back(hold("user" + std::to_string(i), {buf}));
  }
  std::vector<Task<bool>> tasks;
  for (const auto& id : ids) {
    tasks.push_back(confirm_one(&store(), db_.get(), id));
  }
  int announced = 0;
  for (auto& f : loop_.spawn_all(std::move(tasks))) {
    announced += f.get() ? 1 : 0;
  }
  EXPECT_LE(announced, 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'ev' AND status = 'sold'"), kSeats);
  // Two confirmations of the last seats may each have seen the other's seat unsold (PostgreSQL):
  // the periodic scan closes that gap. Either way: exactly one announcement.
  const int scanned = loop_.run(store().sold_out_scan());
  EXPECT_EQ(announced + scanned, 1);
  EXPECT_EQ(outbox_count("inventory.sold_out"), 1);
}

// The value of one series in Prometheus text, or -1 when absent.
double series(const std::string& text, const std::string& name_and_labels) {
  const auto pos = text.find("\n" + name_and_labels + " ");
  if (pos == std::string::npos) {
    return -1;
  }
  return std::stod(text.substr(pos + name_and_labels.size() + 2));
}

class ScrapedMetrics : public Fixture {};

TEST_P(ScrapedMetrics, ScrapeShowsHoldsByResultLatencyReservationsAndSeats) {
  publish(make_event("ev", 6, 0, /*limit=*/2));
  publish(make_event("hot", 4, 0, 4, /*waiting_room=*/true));
  auto post = [&](const std::string& user, const json& body, net::Headers h = {}) {
    return as(user, "POST", "/api/v1/reservations", body, std::move(h));
  };
  EXPECT_EQ(post("ann", {{"eventId", "ev"}, {"seatIds", {"S-0000", "S-0001"}}}).status, 201);
  EXPECT_EQ(post("ben", {{"eventId", "ev"}, {"seatIds", {"S-0001"}}}).status, 409);  // taken
  EXPECT_EQ(post("ann", {{"eventId", "ev"}, {"seatIds", {"S-0002"}}}).status, 409);  // over the limit of 2
  HmacAdmissionVerifier key(config_.extra["queue.admission_secret"]);
  const std::string stale = key.issue({"cat", "hot", kT0 - 1, "j1"});
  EXPECT_EQ(code(post("cat", {{"eventId", "hot"}, {"seatIds", {"S-0000"}}}, {{"X-Admission-Token", stale}})),
            "admission_expired");
  const auto paid = post("dan", {{"eventId", "ev"}, {"seatIds", {"S-0003"}}});
  ASSERT_EQ(paid.status, 201);
  EXPECT_EQ(pay(paid.body["id"].get<std::string>(), "pd"), 1);

  loop_.run(refresh_metrics(*service_));
  const std::string text = "\n" + metrics_.expose();
  EXPECT_EQ(series(text, R"(reservation_holds_total{result="ok"})"), 2);
  EXPECT_EQ(series(text, R"(reservation_holds_total{result="seat_unavailable"})"), 1);
  EXPECT_EQ(series(text, R"(reservation_holds_total{result="limit"})"), 1);
  EXPECT_EQ(series(text, R"(reservation_holds_total{result="expired_token"})"), 1);
  EXPECT_EQ(series(text, "reservation_hold_duration_seconds_count"), 5);
  EXPECT_EQ(series(text, R"(reservation_reservations{status="PENDING"})"), 1);
  EXPECT_EQ(series(text, R"(reservation_reservations{status="CONFIRMED"})"), 1);
  EXPECT_EQ(series(text, R"(reservation_reservations{status="EXPIRED"})"), 0);
  EXPECT_EQ(series(text, R"(reservation_seats{event_id="ev",status="held"})"), 2);
  EXPECT_EQ(series(text, R"(reservation_seats{event_id="ev",status="sold"})"), 1);
  EXPECT_EQ(series(text, R"(reservation_seats{event_id="ev",status="available"})"), 3);
  EXPECT_EQ(series(text, R"(reservation_seats{event_id="hot",status="available"})"), 4);

  // An expired hold counts as available at once, before any sweep.
  clock_->advance(10 * 60'000 + 1);
  loop_.run(refresh_metrics(*service_));
  const std::string later = "\n" + metrics_.expose();
  EXPECT_EQ(series(later, R"(reservation_seats{event_id="ev",status="held"})"), 0);
  EXPECT_EQ(series(later, R"(reservation_seats{event_id="ev",status="available"})"), 5);

  // Once fans view an event's map, its gauge is counted from the map in memory (kept current by the
  // seat feed), not by the database: a change written behind the service's back does not show,
  // a hold through the service does.
  ASSERT_EQ(as("", "GET", "/api/v1/events/ev/seats").status, 200);
  loop_.run(db_->exec("UPDATE seats SET status = 'sold' WHERE event_id = 'ev' AND seat_id = 'S-0005'"));
  EXPECT_EQ(post("eve", {{"eventId", "ev"}, {"seatIds", {"S-0004"}}}).status, 201);
  std::string viewed;
  for (int i = 0; i < 200; ++i) {  // the feed applies the hold asynchronously
    loop_.run(refresh_metrics(*service_));
    viewed = "\n" + metrics_.expose();
    if (series(viewed, R"(reservation_seats{event_id="ev",status="held"})") == 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(series(viewed, R"(reservation_seats{event_id="ev",status="held"})"), 1);
  EXPECT_EQ(series(viewed, R"(reservation_seats{event_id="ev",status="sold"})"), 1);  // not 2: from memory
  EXPECT_EQ(series(viewed, R"(reservation_seats{event_id="ev",status="available"})"), 4);
}

TIKETI_RESERVATION_ENGINES(SoldOut);
TIKETI_RESERVATION_ENGINES(ScrapedMetrics);

}  // namespace
}  // namespace tiketi::reservation::testing
