// Group commit of holds on both engines (SQLite: reservation.sqlite_hold_batch, on by default;
// PostgreSQL: reservation.pg_hold_batch, here 64): holds that arrive together share one
// transaction, and each still decides alone — all or nothing, never a seat twice, never past a
// quota or a user's limit — including when one hold fails the shared transaction (an
// Idempotency-Key collision: every hold of that batch runs again alone).
#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "services/reservation/tests/fixture.hpp"

namespace tiketi::reservation::testing {
namespace {

// 1 = held, 0 = refused with one of `expected` (anything else is rethrown).
Task<int> seats_or(ReservationStore* store, SeatHold h, std::vector<std::string> expected) {
  try {
    auto r = co_await store->hold_seats(h);
    co_return r.replayed ? 0 : 1;
  } catch (const ApiError& e) {
    if (std::find(expected.begin(), expected.end(), e.code()) == expected.end()) {
      throw;
    }
    co_return 0;
  }
}
Task<int> quota_or(ReservationStore* store, QuotaHold h, std::vector<std::string> expected) {
  try {
    co_await store->hold_quota(h);
    co_return 1;
  } catch (const ApiError& e) {
    if (std::find(expected.begin(), expected.end(), e.code()) == expected.end()) {
      throw;
    }
    co_return 0;
  }
}

class HoldGroupCommit : public Fixture {
 protected:
  // A second store on the same database with group commit on for both engines (the service's own
  // store has the defaults: PostgreSQL off).
  ReservationStore& grouped() {
    if (!grouped_) {
      StoreOptions o;
      o.quota_stripes = 4;
      o.sqlite_hold_batch = 64;
      o.pg_hold_batch = 64;
      grouped_ = std::make_unique<ReservationStore>(db_, clock_, LogContext{}, o);
    }
    return *grouped_;
  }
  std::unique_ptr<ReservationStore> grouped_;
};

TEST_P(HoldGroupCommit, SharedTransactionsKeepEveryHoldAllOrNothing) {
  publish(make_event("evg", 300, 200, 6));
  ReservationStore* s = &grouped();
  std::mt19937 rng(11);
  std::vector<Task<int>> tasks;
  std::vector<int> kind;  // 0 seats, 1 GA, 2 duplicate key
  for (int c = 0; c < 900; ++c) {
    const std::string user = "g-" + std::to_string(c % 120);  // 7-8 requests per user: limits bite
    if (c % 45 == 0) {
      // One key, 20 requests for 20 different seats: one hold, the rest idempotency_conflict; two
      // of them in one batch fail the shared transaction (on both engines).
      char seat[16];
      std::snprintf(seat, sizeof seat, "S-%04d", 280 + c / 45);
      tasks.push_back(seats_or(s, SeatHold{"dup", "evg", {seat}, "dup-key"}, {"idempotency_conflict"}));
      kind.push_back(2);
    } else if (c % 3 == 0) {
      tasks.push_back(
          quota_or(s, QuotaHold{user, "evg", "ga", 1 + static_cast<std::int64_t>(rng() % 2), std::nullopt},
                   {"sold_out", "limit_exceeded"}));
      kind.push_back(1);
    } else {
      // 1-3 seats out of 280: many collide.
      std::set<std::string> picked;
      const int n = 1 + static_cast<int>(rng() % 3);
      while (static_cast<int>(picked.size()) < n) {
        char seat[16];
        std::snprintf(seat, sizeof seat, "S-%04d", static_cast<int>(rng() % 280));
        picked.insert(seat);
      }
      tasks.push_back(seats_or(s, SeatHold{user, "evg", {picked.begin(), picked.end()}, std::nullopt},
                               {"seat_unavailable", "limit_exceeded"}));
      kind.push_back(0);
    }
  }
  const auto batches0 = s->hold_batches();
  const auto batched0 = s->hold_batched();
  const auto failed0 = s->hold_batches_failed();
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ok += f.get();
  }
  const auto batches = s->hold_batches() - batches0;
  const auto batched = s->hold_batched() - batched0;
  std::printf(
      "[ group ] %d holds ok; %llu holds in %llu shared transactions, %llu failed and re-ran alone;"
      " %llu deadlocks retried\n",
      ok, static_cast<unsigned long long>(batched), static_cast<unsigned long long>(batches),
      static_cast<unsigned long long>(s->hold_batches_failed() - failed0),
      static_cast<unsigned long long>(s->hold_deadlocks()));
  EXPECT_GT(ok, 100);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE user_id = 'dup'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), ok);
  // No seat in two reservations; every item's seat is held by it; no partial hold.
  EXPECT_EQ(seats_in_two_reservations(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservation_items i JOIN seats s ON s.event_id = 'evg' AND"
                   " s.seat_id = i.seat_id WHERE s.status <> 'held' OR s.hold_id <> i.reservation_id"),
            0);
  EXPECT_EQ(partly_held_reservations(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'held'"),
            scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE kind = 'seated'"));
  // The quota: never past it, and exactly what the orders hold.
  EXPECT_LE(scalar("SELECT SUM(used) FROM quota_stripes WHERE event_id = 'evg'"), 200);
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes WHERE event_id = 'evg'"),
            scalar("SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE kind = 'general_admission'"));
  // Per-user limit (6) exact: counters equal what each user holds, and nobody is past it.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM user_limits l WHERE l.tickets <> (SELECT COALESCE(SUM(quantity), 0)"
                   " FROM reservations r WHERE r.user_id = l.user_id AND r.event_id = l.event_id)"),
            0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM (SELECT user_id FROM reservations GROUP BY user_id"
                   " HAVING SUM(quantity) > 6) x"),
            0);
  // Holds did share transactions, and the failure path ran.
  EXPECT_GE(batched, 600u);  // all but GA orders whose stripe was full (a transaction of their own)
  EXPECT_LT(batches * 2, batched) << "holds arriving together should share transactions";
  if (GetParam() == store::Engine::postgres) {
    // Whether two duplicates meet in one SQLite batch depends on timing (HoldRace covers SQLite's
    // failure path); on PostgreSQL they always do.
    EXPECT_GT(s->hold_batches_failed() - failed0, 0u);
  }
}

// One process, two batches in flight (PostgreSQL: reservation.pg_hold_inflight 2, one executes while
// the other commits) and fans going for a few hot seats, several holds per user: the batches that
// run together never share a seat or a user's counter row, so neither ever waits for the other —
// had they shared rows, two batches locking them in opposite orders would meet in a deadlock that
// only the batch's lock_timeout ends (a failed batch). Every hold stays all or nothing.
TEST_P(HoldGroupCommit, BatchesInFlightTogetherShareNoRow) {
  publish(make_event("evi", 40, 0, 4));
  StoreOptions o;
  o.pg_hold_batch = 8;
  o.pg_hold_inflight = 2;
  ReservationStore store(db_, clock_, LogContext{}, o);
  std::mt19937 rng(17);
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 1'200; ++c) {
    std::set<std::string> picked;
    const int n = 1 + static_cast<int>(rng() % 3);
    while (static_cast<int>(picked.size()) < n) {
      char seat[16];
      std::snprintf(seat, sizeof seat, "S-%04d", static_cast<int>(rng() % 40));
      picked.insert(seat);
    }
    tasks.push_back(seats_or(&store,
                             SeatHold{"i-" + std::to_string(c % 30), "evi", {picked.begin(), picked.end()},
                                      std::nullopt},
                             {"seat_unavailable", "limit_exceeded"}));
  }
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    ok += f.get();
  }
  std::printf("[ group ] %d holds ok; %llu batches, peak %llu in flight, %llu failed\n", ok,
              static_cast<unsigned long long>(store.hold_batches()),
              static_cast<unsigned long long>(store.hold_batches_peak()),
              static_cast<unsigned long long>(store.hold_batches_failed()));
  EXPECT_GT(ok, 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE event_id = 'evi'"), ok);
  EXPECT_EQ(seats_in_two_reservations(), 0);
  EXPECT_EQ(partly_held_reservations(), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM user_limits l WHERE l.event_id = 'evi' AND l.tickets <>"
                   " (SELECT COALESCE(SUM(quantity), 0) FROM reservations r WHERE r.user_id = l.user_id"
                   " AND r.event_id = l.event_id)"),
            0);
  if (GetParam() == store::Engine::postgres) {
    EXPECT_EQ(store.hold_batches_peak(), 2u) << "two batches should have run at once";
    EXPECT_EQ(store.hold_batches_failed(), 0u) << "batches in flight together waited for each other";
  } else {
    EXPECT_EQ(store.hold_batches_peak(), 1u);  // one writer: one batch at a time
  }
}

// Two replicas (two stores on one database, each with its own batch in flight) and fans all going
// for the same few hot seats in every order: their batches lock seats in opposite orders. On
// PostgreSQL a batch gives up after its 100 ms lock_timeout and its holds run alone (each alone
// locks in the one global order), so nothing waits for the 1 s deadlock detection round after
// round; every seat is still held once, every hold all or nothing.
TEST_P(HoldGroupCommit, TwoReplicasBatchesOnHotSeatsStayExactAndDoNotStall) {
  publish(make_event("evh", 40, 0, 4));
  StoreOptions o;
  o.pg_hold_batch = 64;
  ReservationStore replica(db_, clock_, LogContext{}, o);
  ReservationStore* stores[2] = {&grouped(), &replica};
  std::mt19937 rng(5);
  std::vector<Task<int>> tasks;
  for (int c = 0; c < 600; ++c) {
    std::set<std::string> picked;
    const int n = 1 + static_cast<int>(rng() % 3);
    while (static_cast<int>(picked.size()) < n) {
      char seat[16];
      std::snprintf(seat, sizeof seat, "S-%04d", static_cast<int>(rng() % 12));  // 12 hot seats
      picked.insert(seat);
    }
    tasks.push_back(
        seats_or(stores[c % 2],
                 SeatHold{"h-" + std::to_string(c), "evh", {picked.begin(), picked.end()}, std::nullopt},
                 {"seat_unavailable"}));
  }
  const auto started = std::chrono::steady_clock::now();
  auto futures = loop_.spawn_all(std::move(tasks));
  int ok = 0;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    ok += f.get();
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  std::printf(
      "[ group ] two replicas: %d holds ok in %lld ms; failed batches %llu + %llu, deadlocks %llu + %llu\n",
      ok, static_cast<long long>(took), static_cast<unsigned long long>(stores[0]->hold_batches_failed()),
      static_cast<unsigned long long>(stores[1]->hold_batches_failed()),
      static_cast<unsigned long long>(stores[0]->hold_deadlocks()),
      static_cast<unsigned long long>(stores[1]->hold_deadlocks()));
  EXPECT_GT(ok, 0);
  EXPECT_LE(scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'evh' AND status = 'held'"), 12);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE event_id = 'evh'"), ok);
  EXPECT_EQ(seats_in_two_reservations(), 0);
  EXPECT_EQ(partly_held_reservations(), 0);
  EXPECT_EQ(scalar("SELECT COALESCE(SUM(tickets), 0) FROM user_limits WHERE event_id = 'evh'"),
            scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'evh' AND status = 'held'"));
  EXPECT_LT(took, 15'000) << "holds stalled on lock waits";
}

TIKETI_RESERVATION_ENGINES(HoldGroupCommit);

}  // namespace
}  // namespace tiketi::reservation::testing
