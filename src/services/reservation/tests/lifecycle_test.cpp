// Expiry, confirmation on payment.completed (including after expiry), cancel, and inventory from
// event.published — through the real consumer and outbox, on both engines, with a ManualClock.
#include "services/reservation/tests/fixture.hpp"

// g++ 12 false positive on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace tiketi::reservation::testing {
namespace {

// Named coroutines with locals: g++ 12 mishandles braced temporaries and lambda coroutines inside
// co_await operands.
Task<void> confirm_payment(ReservationStore* st, store::Database* db, std::string rid) {
  PaymentCompleted pay;
  pay.reservation_id = rid;
  pay.payment_id = "pay-" + rid;
  std::function<Task<void>(store::Tx&)> work = [st, pay](store::Tx& tx) -> Task<void> {
    auto result = co_await st->confirm(tx, pay);
    (void)result;
  };
  co_await db->transaction(std::move(work));
}

Task<void> cancel_as_admin(ReservationStore* st, std::string rid) {
  auto r = co_await st->cancel(rid, "admin-1", true);
  (void)r;
}

Task<void> expire_one(ReservationStore* st, std::string rid) {
  auto done = co_await st->expire(rid);
  (void)done;
}

class Lifecycle : public Fixture {
 protected:
  std::string hold(const std::string& user, std::vector<std::string> seats, const std::string& event = "ev") {
    return loop_.run(store().hold_seats(SeatHold{user, event, std::move(seats), std::nullopt}))
        .reservation.id;
  }
  std::string status_of(const std::string& id) {
    return std::string(to_string(loop_.run(store().find(id))->status));
  }
  std::string seat(const std::string& seat_id, const std::string& column = "status") {
    return loop_
        .run(db_->exec("SELECT " + column + " FROM seats WHERE event_id = 'ev' AND seat_id = '" + seat_id +
                       "'"))
        .one()
        .opt_str(column)
        .value_or("");
  }
  void advance_past_hold() { clock_->advance(10 * 60'000 + 1); }
};

TEST_P(Lifecycle, ExpiredHoldIsFreeAtOnceAndSweptLater) {
  publish(make_event("ev", 10));
  const auto a = hold("ann", {"S-0001", "S-0002"});
  advance_past_hold();
  // Lazy: nobody swept yet, but the seat map shows the seats free and a buyer can take them.
  auto snap = loop_.run(state_->seats->get("ev"));
  EXPECT_NE(snap.body->find("\"available\":10"), std::string::npos) << *snap.body;
  const auto b = hold("ben", {"S-0002"});
  EXPECT_EQ(status_of(a), "PENDING");
  // The sweeper expires ann's hold, releases only what is still hers, emits reservation.expired.
  EXPECT_EQ(loop_.run(sweep_once(*service_)), 1);
  EXPECT_EQ(status_of(a), "EXPIRED");
  EXPECT_EQ(seat("S-0001"), "available");
  EXPECT_EQ(seat("S-0002"), "held");
  EXPECT_EQ(seat("S-0002", "hold_id"), b);
  EXPECT_EQ(outbox_count("reservation.expired"), 1);
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE user_id = 'ann'"), 0);
  EXPECT_EQ(loop_.run(sweep_once(*service_)), 0);  // idempotent
}

TEST_P(Lifecycle, UserLimitFreedByOwnExpiredHoldWithoutSweeper) {
  publish(make_event("ev", 10, 0, 2));
  hold("ann", {"S-0001", "S-0002"});
  advance_past_hold();
  EXPECT_NO_THROW(hold("ann", {"S-0003", "S-0004"}));  // the lazy check expires the old hold
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE user_id = 'ann'"), 2);
}

TEST_P(Lifecycle, PaymentConfirmsIssuesTicketsAndIsIdempotent) {
  publish(make_event("ev", 10));
  const auto a = hold("ann", {"S-0001", "S-0003"});
  EXPECT_EQ(pay(a, "pay-1", 20'000), 1);
  EXPECT_EQ(status_of(a), "CONFIRMED");
  EXPECT_EQ(seat("S-0001"), "sold");
  EXPECT_EQ(seat("S-0003", "reservation_id"), a);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM tickets WHERE reservation_id = '" + a + "'"), 2);
  EXPECT_EQ(outbox_count("reservation.confirmed"), 1);
  // A duplicate payment.completed (another delivery id, same payment) changes nothing.
  pay(a, "pay-1", 20'000);
  // The very same stream entry delivered twice is deduped by the consumer.
  const std::string payload = json{{"reservation_id", a}, {"payment_id", "pay-1"}}.dump();
  deliver("payment.completed", "same-id", payload);
  deliver("payment.completed", "same-id", payload);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM tickets"), 2);
  EXPECT_EQ(outbox_count("reservation.confirmed"), 1);
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 0);
  // A second, different payment for the same order is refused (refund).
  pay(a, "pay-2");
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 1);
  // Codes are unguessable and unique.
  auto codes = loop_.run(db_->exec("SELECT code FROM tickets"));
  EXPECT_GE(codes.rows.at(0).str(0).size(), 20u);
  EXPECT_NE(codes.rows.at(0).str(0), codes.rows.at(1).str(0));
}

TEST_P(Lifecycle, PaymentAfterExpiryConfirmsWhenSeatsAreStillFree) {
  publish(make_event("ev", 10));
  const auto a = hold("ann", {"S-0001"});
  advance_past_hold();
  loop_.run(sweep_once(*service_));
  ASSERT_EQ(status_of(a), "EXPIRED");
  pay(a, "pay-1");
  EXPECT_EQ(status_of(a), "CONFIRMED");
  EXPECT_EQ(seat("S-0001"), "sold");
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE user_id = 'ann'"), 1);
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 0);
}

TEST_P(Lifecycle, PaymentAfterExpiryFailsWhenSomeoneElseHoldsTheSeat) {
  publish(make_event("ev", 10));
  const auto a = hold("ann", {"S-0001", "S-0002"});
  advance_past_hold();
  const auto b = hold("ben", {"S-0002"});  // takes one seat of the expired, unswept hold
  pay(a, "pay-1");
  EXPECT_EQ(status_of(a), "EXPIRED");
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 1);
  EXPECT_EQ(seat("S-0002", "hold_id"), b);  // never two owners
  EXPECT_EQ(seat("S-0001"), "available");   // ann's other seat is released
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM tickets"), 0);
  auto failed = json::parse(loop_
                                .run(db_->exec("SELECT payload FROM outbox WHERE topic = "
                                               "'reservation.confirmation_failed'"))
                                .one()
                                .str(0));
  EXPECT_EQ(failed["reason"], "seats_taken");
  EXPECT_EQ(failed["payment_id"], "pay-1");
  EXPECT_EQ(failed["refund"], true);
}

TEST_P(Lifecycle, QuotaExpiryGivesTicketsBackAndLatePaymentRetakesThem) {
  publish(make_event("ev", 0, 3));
  const auto a = loop_.run(store().hold_quota(QuotaHold{"ann", "ev", "ga", 3, std::nullopt})).reservation.id;
  EXPECT_THROW(loop_.run(store().hold_quota(QuotaHold{"ben", "ev", "ga", 1, std::nullopt})), ApiError);
  advance_past_hold();
  loop_.run(sweep_once(*service_));
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes"), 0);
  pay(a, "pay-1");  // nobody took them: confirm anyway
  EXPECT_EQ(status_of(a), "CONFIRMED");
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes"), 3);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM tickets WHERE reservation_id = '" + a + "'"), 3);
}

TEST_P(Lifecycle, CancelRacingConfirmLeavesOneConsistentOutcome) {
  publish(make_event("ev", 40, 0, 20));
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    char s1[16];
    std::snprintf(s1, sizeof s1, "S-%04d", i);
    ids.push_back(hold("u" + std::to_string(i), {s1}));
  }
  std::vector<Task<void>> tasks;
  for (const auto& id : ids) {
    tasks.push_back(confirm_payment(&store(), db_.get(), id));
    tasks.push_back(cancel_as_admin(&store(), id));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  for (auto& f : futures) {
    f.get();
  }
  for (const auto& id : ids) {
    EXPECT_EQ(status_of(id), "CANCELLED");
  }
  // Whatever the order: every seat is free again, no valid ticket remains, and every payment is
  // either refused (confirmation_failed) or refunded by the cancel (refund = true).
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status <> 'available'"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM tickets WHERE status = 'valid'"), 0);
  const auto refunded = scalar(
      "SELECT COUNT(*) FROM outbox WHERE topic = 'reservation.cancelled' AND payload LIKE "
      "'%\"refund\":true%'");
  EXPECT_EQ(refunded + outbox_count("reservation.confirmation_failed"), 10);
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(tickets), 0) FROM user_limits"), 0);
}

TEST_P(Lifecycle, ExpiryRacingConfirmNeverLeavesTwoOwners) {
  publish(make_event("ev", 20, 0, 20));
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    char s1[16];
    std::snprintf(s1, sizeof s1, "S-%04d", i);
    ids.push_back(hold("u" + std::to_string(i), {s1}));
  }
  advance_past_hold();
  std::vector<Task<void>> tasks;
  for (const auto& id : ids) {
    tasks.push_back(confirm_payment(&store(), db_.get(), id));
    tasks.push_back(expire_one(&store(), id));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  for (auto& f : futures) {
    f.get();
  }
  // Seats were free either way, so every payment confirms (possibly after the expiry).
  for (const auto& id : ids) {
    EXPECT_EQ(status_of(id), "CONFIRMED");
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'sold'"), 10);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats s WHERE status = 'sold' AND reservation_id <> hold_id"), 0);
}

TEST_P(Lifecycle, OwnerCancelReleasesSeatsOthersGet404) {
  publish(make_event("ev", 10));
  const auto a = hold("ann", {"S-0001"});
  EXPECT_THROW(loop_.run(store().cancel(a, "ben", false)), ApiError);
  auto r = loop_.run(store().cancel(a, "ann", false));
  EXPECT_EQ(r.status, Status::cancelled);
  EXPECT_EQ(seat("S-0001"), "available");
  EXPECT_EQ(outbox_count("reservation.cancelled"), 1);
  loop_.run(store().cancel(a, "ann", false));  // idempotent
  EXPECT_EQ(outbox_count("reservation.cancelled"), 1);
}

TEST_P(Lifecycle, InventoryFromEventPublishedIsIdempotent) {
  auto e = make_event("ev", 30, 100);
  json seats = json::array();
  for (const auto& s : e.seats) {
    seats.push_back({{"id", s.id}, {"section", "A"}, {"row", "1"}, {"number", 1}, {"ticket_type_id", "vip"}});
  }
  json payload{{"schema_version", 1},
               {"event_id", "ev"},
               {"title", "Show"},
               {"status", "on_sale"},
               {"performance_start", kT0 + 1'000'000'000},
               {"performance_end", kT0 + 1'010'000'000},
               {"sale_start", kT0 - 1},
               {"sale_end", kT0 + 900'000'000},
               {"per_user_limit", 4},
               {"hold_minutes", 10},
               {"waiting_room", {{"enabled", false}}},
               {"ticket_types",
                {{{"id", "vip"}, {"name", "VIP"}, {"kind", "seated"}, {"price", 10000}, {"category", "VIP"}},
                 {{"id", "ga"},
                  {"name", "Standing"},
                  {"kind", "general_admission"},
                  {"price", 5000},
                  {"quota", 100}}}},
               {"seats", seats},
               {"published_at", kT0}};
  EXPECT_EQ(deliver("event.published", "pub-1", payload.dump()), 1);
  deliver("event.published", "pub-1", payload.dump());  // redelivery: deduped
  deliver("event.published", "pub-2", payload.dump());  // republish: upserts, nothing doubles
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'ev'"), 30);
  EXPECT_EQ(scalar("SELECT SUM(cap) FROM quota_stripes WHERE event_id = 'ev'"), 100);
  const auto a = hold("ann", {"S-0001"});
  payload["ticket_types"][1]["quota"] = 150;
  deliver("event.published", "pub-3", payload.dump());
  EXPECT_EQ(scalar("SELECT SUM(cap) FROM quota_stripes WHERE event_id = 'ev'"), 150);
  EXPECT_EQ(seat("S-0001", "hold_id"), a);  // a republish never touches holds
  json status{
      {"event_id", "ev"}, {"from", "on_sale"}, {"to", "closed"}, {"sale_start", kT0 - 1}, {"sale_end", kT0}};
  deliver("event.status_changed", "st-1", status.dump());
  EXPECT_FALSE(loop_.run(store().find_event("ev", true))->on_sale(clock_->now_ms()));
}

TIKETI_RESERVATION_ENGINES(Lifecycle);

}  // namespace
}  // namespace tiketi::reservation::testing
