// The heart of correctness, on real databases: concurrent holds never double-book a seat, a hold
// is all or nothing, a quota is never oversold, retries with one Idempotency-Key make one hold and
// the per-user limit holds across parallel requests.
#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "services/reservation/tests/fixture.hpp"

namespace tiketi::reservation::testing {
namespace {

class HoldRace : public Fixture {};

Task<std::string> hold_id(ReservationStore* store, SeatHold h) {
  co_return (co_await store->hold_seats(h)).reservation.id;
}

TEST_P(HoldRace, ThousandClientsOnHundredSeatsNeverDoubleBook) {
  publish(make_event("ev1", 100));
  std::mt19937 rng(42);
  std::vector<Task<int>> tasks;
  std::size_t requested_total = 0;
  for (int c = 0; c < 1000; ++c) {
    const int n = 1 + static_cast<int>(rng() % 4);
    std::set<std::string> picked;
    while (static_cast<int>(picked.size()) < n) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", static_cast<int>(rng() % 100));
      picked.insert(buf);
    }
    requested_total += picked.size();
    SeatHold h{"user-" + std::to_string(c), "ev1", {picked.begin(), picked.end()}, std::nullopt};
    tasks.push_back(try_seats(&store(), std::move(h), "seat_unavailable"));
  }
  const auto started = std::chrono::steady_clock::now();
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();  // rethrows any unexpected error
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ race ] %d of 1000 holds succeeded in %.3f s (%.0f attempts/s)\n", ok, secs, 1000 / secs);
  EXPECT_GT(ok, 0);

  // Verify from the database. Every reservation row is a successful hold…
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), ok);
  // … no seat is in two reservations …
  EXPECT_EQ(seats_in_two_reservations(), 0);
  // … every seat of every reservation is held by exactly that reservation (all of it, not part) …
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservation_items i JOIN seats s ON s.event_id = 'ev1' AND "
                   "s.seat_id = i.seat_id WHERE s.status <> 'held' OR s.hold_id <> i.reservation_id"),
            0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations r WHERE quantity <> (SELECT COUNT(*) FROM "
                   "reservation_items i WHERE i.reservation_id = r.id)"),
            0);
  // … and no held seat belongs to nobody.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'held'"),
            scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations"));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats s WHERE status = 'held' AND NOT EXISTS (SELECT 1 FROM "
                   "reservations r WHERE r.id = s.hold_id)"),
            0);
}

TEST_P(HoldRace, QuotaOfFiveHundredWithFiveThousandBuyersSellsExactlyFiveHundred) {
  publish(make_event("ga1", 0, 500));
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 5000; ++c) {
    tasks.push_back(try_quota(&store(), QuotaHold{"buyer-" + std::to_string(c), "ga1", "ga", 1, std::nullopt},
                              "sold_out"));
  }
  const auto started = std::chrono::steady_clock::now();
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ race ] quota: %d sold of 5000 buyers in %.3f s (%.0f attempts/s)\n", ok, secs, 5000 / secs);
  EXPECT_EQ(ok, 500);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 500);
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes WHERE event_id = 'ga1'"), 500);
  EXPECT_EQ(scalar("SELECT SUM(cap) FROM quota_stripes WHERE event_id = 'ga1'"), 500);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM quota_stripes WHERE used > cap OR used < 0"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM quota_stripes WHERE event_id = 'ga1'"), 16);
}

TEST_P(HoldRace, MultiTicketQuotaNearSellOutTakesFromSeveralStripesWithoutOverselling) {
  publish(make_event("ga2", 0, 50, 4));
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 200; ++c) {
    tasks.push_back(try_quota(
        &store(), QuotaHold{"b-" + std::to_string(c), "ga2", "ga", 1 + c % 4, std::nullopt}, "sold_out"));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  for (auto& f : futures) {
    f.get();
  }
  const auto sold = scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations");
  EXPECT_LE(sold, 50);
  EXPECT_GE(sold, 47);  // what is left is smaller than any refused request could have used
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes WHERE event_id = 'ga2'"), sold);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations r WHERE quantity <> (SELECT SUM(quantity) FROM "
                   "reservation_items i WHERE i.reservation_id = r.id)"),
            0);
}

TEST_P(HoldRace, IdempotentRetriesMakeOneHold) {
  publish(make_event("ev2", 10));
  std::vector<Task<std::string>> tasks;
  for (int i = 0; i < 20; ++i) {
    tasks.push_back(hold_id(&store(), SeatHold{"alice", "ev2", {"S-0001", "S-0002"}, "key-1"}));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  std::set<std::string> ids;
  for (auto& f : futures) {
    ids.insert(f.get());
  }
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 1);
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE user_id = 'alice'"), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE hold_id = '" + *ids.begin() + "'"), 2);
  // A later retry gets the same answer; another request under the same key is a conflict.
  auto again = loop_.run(store().hold_seats(SeatHold{"alice", "ev2", {"S-0001", "S-0002"}, "key-1"}));
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.reservation.id, *ids.begin());
  try {
    loop_.run(store().hold_seats(SeatHold{"alice", "ev2", {"S-0003"}, "key-1"}));
    ADD_FAILURE() << "expected idempotency_conflict";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "idempotency_conflict");
  }
  // The same key from another user is another request.
  auto bob = loop_.run(store().hold_seats(SeatHold{"bob", "ev2", {"S-0003"}, "key-1"}));
  EXPECT_FALSE(bob.replayed);
}

TEST_P(HoldRace, PerUserLimitHoldsAcrossParallelRequests) {
  publish(make_event("ev3", 40, 100, 4));
  std::vector<Task<int>> tasks;
  for (int i = 0; i < 12; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "S-%04d", i);
    tasks.push_back(try_seats(&store(), SeatHold{"carol", "ev3", {buf}, std::nullopt}, "limit_exceeded"));
  }
  // The limit spans seats and general admission of the same event.
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(try_quota(&store(), QuotaHold{"carol", "ev3", "ga", 2, std::nullopt}, "limit_exceeded"));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  for (auto& f : futures) {
    f.get();
  }
  EXPECT_EQ(scalar("SELECT SUM(quantity) FROM reservations WHERE user_id = 'carol'"), 4);
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE user_id = 'carol'"), 4);
  // Another user is unaffected.
  EXPECT_NO_THROW(loop_.run(store().hold_seats(SeatHold{"dave", "ev3", {"S-0039"}, std::nullopt})));
}

// A user's first holds arriving together (a double click, several tabs, a script): every one is
// decided and counted once. On PostgreSQL the one-statement holds must also take the user's counter
// row and the stripe/seats in one order (ReservationStore::pg_hold), or they deadlock — found only
// after deadlock_timeout (1 s) while the stripe stays locked for every other buyer. This in-process
// interleaving has not reproduced that deadlock without the fix, so the hold_deadlocks() check here
// is a guard; hold_deadlock_test.cpp builds the deadlocking interleaving step by step (it fails
// without the fix).
TEST_P(HoldRace, ConcurrentFirstHoldsOfOneUserAreAllCounted) {
  // Per user more holds than the pool has connections, so later ones start while earlier ones wait:
  // some find the counter row (committed meanwhile), some do not.
  publish(make_event("ev5", 200, 100'000, 40));
  std::vector<Task<int>> tasks;
  for (int u = 0; u < 6; ++u) {
    const std::string user = "newcomer-" + std::to_string(u);
    for (int i = 0; i < 36; ++i) {
      tasks.push_back(try_quota(&store(), QuotaHold{user, "ev5", "ga", 1, std::nullopt}, "limit_exceeded"));
    }
    for (int i = 0; i < 4; ++i) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", u * 4 + i);
      tasks.push_back(try_seats(&store(), SeatHold{user, "ev5", {buf}, std::nullopt}, "limit_exceeded"));
    }
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();
  }
  EXPECT_EQ(ok, 6 * 40) << "40 tickets each, the limit";
  EXPECT_EQ(scalar("SELECT SUM(tickets) FROM user_limits WHERE event_id = 'ev5'"), 6 * 40);
  EXPECT_EQ(store().hold_deadlocks(), 0u);
}

TEST_P(HoldRace, AllOrNothingWhenOneSeatIsTaken) {
  publish(make_event("ev4", 10));
  loop_.run(store().hold_seats(SeatHold{"erin", "ev4", {"S-0005"}, std::nullopt}));
  try {
    loop_.run(store().hold_seats(SeatHold{"fred", "ev4", {"S-0004", "S-0005", "S-0006"}, std::nullopt}));
    ADD_FAILURE() << "expected seat_unavailable";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "seat_unavailable");
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'held'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE user_id = 'fred'"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM user_limits WHERE user_id = 'fred' AND tickets > 0"), 0);
}

// Expired holds count as free: many clients race for seats whose holds ran out (on PostgreSQL the
// one-statement hold locks rows whose newest version differs from its snapshot's). Each seat goes to
// one new hold, every new hold has all its seats, and the counters match.
TEST_P(HoldRace, ExpiredHoldsAreTakenOverOnceUnderRace) {
  publish(make_event("ev5", 60));
  for (int u = 0; u < 15; ++u) {
    std::vector<std::string> seats;
    for (int k = 0; k < 4; ++k) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", u * 4 + k);
      seats.emplace_back(buf);
    }
    loop_.run(store().hold_seats(SeatHold{"old-" + std::to_string(u), "ev5", seats, std::nullopt}));
  }
  ASSERT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'held'"), 60);
  clock_->advance(10 * 60'000 + 1);
  const std::int64_t after = clock_->now_ms();
  std::mt19937 rng(7);
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 600; ++c) {
    const int n = 1 + static_cast<int>(rng() % 4);
    std::set<std::string> picked;
    while (static_cast<int>(picked.size()) < n) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", static_cast<int>(rng() % 60));
      picked.insert(buf);
    }
    tasks.push_back(try_seats(&store(), SeatHold{"new-" + std::to_string(c), "ev5", {picked.begin(), picked.end()},
                                                 std::nullopt},
                              "seat_unavailable"));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();
  }
  EXPECT_GT(ok, 0);
  const std::string fresh = "r.created_at >= " + std::to_string(after);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations r WHERE " + fresh), ok);
  // No seat in two new holds; every seat of a new hold is held by it; no new hold is partial.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM (SELECT i.seat_id FROM reservation_items i JOIN reservations r ON r.id ="
                   " i.reservation_id WHERE " + fresh + " GROUP BY i.seat_id HAVING COUNT(*) > 1) d"),
            0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservation_items i JOIN reservations r ON r.id = i.reservation_id"
                   " JOIN seats s ON s.event_id = 'ev5' AND s.seat_id = i.seat_id WHERE " + fresh +
                   " AND (s.status <> 'held' OR s.hold_id <> r.id)"),
            0);
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(r.quantity), 0) FROM reservations r WHERE " + fresh),
            scalar("SELECT COUNT(*) FROM seats s JOIN reservations r ON r.id = s.hold_id WHERE " + fresh));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations r WHERE " + fresh +
                   " AND quantity <> (SELECT COUNT(*) FROM reservation_items i WHERE i.reservation_id = r.id)"),
            0);
  // The new holders' counters are exactly their holds; nobody refused was counted.
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(tickets), 0) FROM user_limits WHERE user_id LIKE 'new-%'"),
            scalar("SELECT COALESCE(SUM(r.quantity), 0) FROM reservations r WHERE " + fresh));
}

// Holds arriving together: on SQLite they share write transactions (group commit); a hold whose
// statements fail (here: the same Idempotency-Key racing itself, a unique violation) must not take
// the others of its transaction down with it, and each one stays all or nothing.
TEST_P(HoldRace, HoldsArrivingTogetherShareCommitsAndStayAllOrNothing) {
  publish(make_event("ev6", 400));
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 300; ++c) {
    if (c % 15 == 0) {
      // One key, 20 different requests in the middle of the others: one hold, 19 conflicts (the
      // unique key fails a shared transaction on SQLite; its other holds must still go through).
      char seat[16];
      std::snprintf(seat, sizeof seat, "S-%04d", 380 + c / 15);
      tasks.push_back(try_seats(&store(), SeatHold{"dup", "ev6", {seat}, "dup-key"}, "idempotency_conflict"));
      continue;
    }
    // Pairs of clients want overlapping seats: S-(c) + S-(c+1), so neighbours conflict.
    char a[16];
    char b[16];
    std::snprintf(a, sizeof a, "S-%04d", c);
    std::snprintf(b, sizeof b, "S-%04d", c + 1);
    tasks.push_back(try_seats(&store(), SeatHold{"u-" + std::to_string(c), "ev6", {a, b}, std::nullopt},
                              "seat_unavailable"));
  }
  const auto batches0 = store().hold_batches();
  const auto batched0 = store().hold_batched();
  const auto failed0 = store().hold_batches_failed();
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();
  }
  EXPECT_GT(ok, 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE user_id = 'dup'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), ok);
  EXPECT_EQ(seats_in_two_reservations(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservation_items i JOIN seats s ON s.event_id = 'ev6' AND "
                   "s.seat_id = i.seat_id WHERE s.status <> 'held' OR s.hold_id <> i.reservation_id"),
            0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'held'"),
            scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations"));
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(tickets), 0) FROM user_limits"),
            scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations"));
  if (GetParam() == store::Engine::sqlite) {
    const auto batches = store().hold_batches() - batches0;
    const auto batched = store().hold_batched() - batched0;
    std::printf("[ race ] group commit: %llu holds in %llu write transactions\n",
                static_cast<unsigned long long>(batched), static_cast<unsigned long long>(batches));
    EXPECT_GE(batched, 300u);     // every hold went through it
    EXPECT_LT(batches, batched);  // transactions carried several holds
    EXPECT_GT(store().hold_batches_failed() - failed0, 0u);  // and the failure path ran
  }
}

TIKETI_RESERVATION_ENGINES(HoldRace);

}  // namespace
}  // namespace tiketi::reservation::testing
