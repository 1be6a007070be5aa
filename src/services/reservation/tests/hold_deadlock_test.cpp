// PostgreSQL only: a user's concurrent FIRST holds must not deadlock.
//
// The one-statement holds (sql::kGaHoldPg, sql::hold_seats_pg) lock the user's counter row first,
// then the stripe / seats — but only if the row exists when the statement starts. Without the
// counter-row insert that ReservationStore::pg_hold sends first, a first hold (row not there yet)
// locked the stripe first and only then met the row in its INSERT … ON CONFLICT DO UPDATE, while a
// later hold of the same user
// that did find the row (committed meanwhile) held the row and waited for the stripe: a deadlock
// that PostgreSQL breaks only after deadlock_timeout (1 s), with the stripe locked for everyone
// meanwhile. The benchmark's setup (16 concurrent holds per new user) hit it by chance; this test
// builds the interleaving step by step with row locks taken by two control transactions, so it
// happens every time without the fix:
//
//   X: inserts the user's counter row and keeps it uncommitted (another first hold of this user);
//   Y: locks the stripe / seat (another user's hold in flight);
//   A: the user's hold starts now, while X's row is not committed (waits on Y — or, with the fix,
//      on X in the counter-row insert that pg_hold sends first);
//   X commits; B: the user's next hold starts and finds the row (locks it, waits on the stripe);
//   Y commits: without the fix A takes the stripe and waits for B's row, B waits for A's stripe.
//
// With the fix both holds succeed at once and nothing deadlocks. (SQLite has one writer and no row
// locks: there is no such interleaving to test there.)
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>

#include "services/reservation/tests/fixture.hpp"

namespace tiketi::reservation::testing {
namespace {

namespace asio = boost::asio;

Task<void> sleep_ms(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}

// A transaction on its own connection that runs one statement, reports its backend pid and then
// keeps its locks until released.
struct HeldTx {
  std::promise<std::int64_t> started;
  std::atomic<bool> release{false};
};

Task<void> hold_open(store::Database* db, std::string sql, HeldTx* h) {
  std::function<Task<void>(store::Tx&)> work = [sql, h](store::Tx& tx) -> Task<void> {
    co_await tx.exec(sql);
    auto pid = co_await tx.exec("SELECT pg_backend_pid() AS pid");
    h->started.set_value(pid.one().i64("pid"));
    while (!h->release.load()) {
      co_await sleep_ms(5);
    }
  };
  co_await db->transaction(std::move(work), 1);
}

class HoldDeadlock : public Fixture {
 protected:
  void SetUp() override {
    Fixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    control_ = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 3, 10'000}));
  }
  void TearDown() override {
    for (auto* h : {&x_, &y_}) {
      h->release = true;
    }
    for (auto* f : {&x_done_, &y_done_}) {
      if (f->valid()) {
        f->wait_for(std::chrono::seconds(10));
      }
    }
    if (control_) {
      control_->close();
    }
    Fixture::TearDown();
  }

  // Backends waiting, directly or through others, on one of `pids` (pg_blocking_pids, transitively).
  std::int64_t waiting_on(const std::vector<std::int64_t>& pids) {
    std::string list;
    for (auto pid : pids) {
      list += (list.empty() ? "" : ", ") + std::to_string(pid);
    }
    return scalar(
        "WITH RECURSIVE w(pid) AS (SELECT unnest(ARRAY[" + list +
        "]::int[]) UNION SELECT a.pid FROM pg_stat_activity a JOIN w ON w.pid = ANY(pg_blocking_pids(a.pid)))"
        " SELECT COUNT(*) - " +
        std::to_string(pids.size()) + " FROM w");
  }
  // Waits (at most 10 s) until at least `n` backends wait on `pids`.
  void wait_for_waiters(const std::vector<std::int64_t>& pids, std::int64_t n, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waiting_on(pids) < n) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never saw " << what;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Runs the interleaving of the file comment. `lock_sql` is Y's statement (locks what A and B
  // want); `a` and `b` start the two holds of the same new user. Returns (A's, B's) results and the
  // time from Y's commit to both answers.
  template <class StartA, class StartB>
  std::pair<std::pair<int, int>, std::chrono::milliseconds> interleave(const std::string& event_id,
                                                                       const std::string& user,
                                                                       const std::string& lock_sql, StartA a,
                                                                       StartB b) {
    x_done_ = loop_.spawn(hold_open(
        control_.get(),
        "INSERT INTO user_limits (event_id, user_id, tickets) VALUES ('" + event_id + "', '" + user + "', 0)",
        &x_));
    y_done_ = loop_.spawn(hold_open(control_.get(), lock_sql, &y_));
    const std::int64_t x_pid = x_.started.get_future().get();
    const std::int64_t y_pid = y_.started.get_future().get();
    auto fa = a();
    wait_for_waiters({x_pid, y_pid}, 1, "hold A waiting");
    x_.release = true;
    x_done_.get();
    wait_for_waiters({y_pid}, 1, "hold A waiting on the locked stripe/seat");
    auto fb = b();
    wait_for_waiters({y_pid}, 2, "hold B waiting behind hold A");
    y_.release = true;
    const auto released = std::chrono::steady_clock::now();
    y_done_.get();
    EXPECT_EQ(fa.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(fb.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - released);
    return {{fa.get(), fb.get()}, took};
  }

  // The interleaving above is about one hold per statement and commit: a store with group commit
  // off (reservation.pg_hold_batch = 1; a batch's holds that failed also run that way).
  ReservationStore& unbatched() {
    if (!unbatched_) {
      StoreOptions o;
      o.pg_hold_batch = 1;
      unbatched_ = std::make_unique<ReservationStore>(db_, clock_, LogContext{}, o);
    }
    return *unbatched_;
  }

  store::DatabasePtr control_;
  std::unique_ptr<ReservationStore> unbatched_;
  HeldTx x_, y_;
  std::future<void> x_done_, y_done_;
};

TEST_P(HoldDeadlock, FirstGeneralAdmissionHoldsOfOneUserDoNotDeadlock) {
  publish(make_event("evd", 0, 1'000, 10));
  // One stripe, so both holds want the same row (with several the fixed interleaving needs luck).
  loop_.run(db_->exec("DELETE FROM quota_stripes WHERE event_id = 'evd' AND stripe <> 0"));
  loop_.run(db_->exec("UPDATE quota_stripes SET cap = 1000 WHERE event_id = 'evd'"));
  ReservationStore* s = &unbatched();
  auto [results, took] = interleave(
      "evd", "uma", "SELECT used FROM quota_stripes WHERE event_id = 'evd' FOR UPDATE",
      [&] {
        return loop_.spawn(try_quota(s, QuotaHold{"uma", "evd", "ga", 1, std::nullopt}, ""));
      },
      [&] {
        return loop_.spawn(try_quota(s, QuotaHold{"uma", "evd", "ga", 2, std::nullopt}, ""));
      });
  EXPECT_EQ(results.first, 1);
  EXPECT_EQ(results.second, 1);
  EXPECT_EQ(s->hold_deadlocks(), 0u) << "the user's first holds deadlocked (retried after deadlock_timeout)";
  EXPECT_LT(took.count(), 900) << "the holds waited for PostgreSQL's deadlock detection";
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE event_id = 'evd' AND user_id = 'uma'"), 3);
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes WHERE event_id = 'evd'"), 3);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE event_id = 'evd' AND user_id = 'uma'"), 2);
}

TEST_P(HoldDeadlock, FirstSeatHoldsOfOneUserDoNotDeadlock) {
  publish(make_event("evs", 10, 0, 10));
  ReservationStore* s = &unbatched();
  auto [results, took] = interleave(
      "evs", "ulf", "SELECT status FROM seats WHERE event_id = 'evs' AND seat_id = 'S-0001' FOR UPDATE",
      [&] {
        return loop_.spawn(try_seats(s, SeatHold{"ulf", "evs", {"S-0001", "S-0002"}, std::nullopt}, ""));
      },
      [&] {
        return loop_.spawn(
            try_seats(s, SeatHold{"ulf", "evs", {"S-0001", "S-0003"}, std::nullopt}, "seat_unavailable"));
      });
  EXPECT_EQ(results.first, 1) << "A was first in line for S-0001";
  EXPECT_EQ(results.second, 0) << "B wanted S-0001 too: refused, all or nothing";
  EXPECT_EQ(s->hold_deadlocks(), 0u) << "the user's first holds deadlocked (retried after deadlock_timeout)";
  EXPECT_LT(took.count(), 900) << "the holds waited for PostgreSQL's deadlock detection";
  EXPECT_EQ(scalar("SELECT tickets FROM user_limits WHERE event_id = 'evs' AND user_id = 'ulf'"), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'evs' AND status = 'held'"), 2);
  EXPECT_EQ(
      scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'evs' AND seat_id = 'S-0003' AND status = 'held'"),
      0);
}

// Group commit (reservation.pg_hold_batch, on by default): a batch that waits for a row lock longer
// than its lock_timeout (100 ms) gives up and its holds run again alone, instead of keeping every
// hold of the batch waiting — and, against another replica's batch locking in the opposite order,
// instead of PostgreSQL's 1 s deadlock detection.
TEST_P(HoldDeadlock, GroupCommitBatchGivesUpOnALockWaitAndItsHoldsRunAlone) {
  publish(make_event("evb", 10, 0, 10));
  ReservationStore* s = &store();
  y_done_ = loop_.spawn(
      hold_open(control_.get(),
                "SELECT status FROM seats WHERE event_id = 'evb' AND seat_id = 'S-0005' FOR UPDATE", &y_));
  const std::int64_t y_pid = y_.started.get_future().get();
  const auto failed0 = s->hold_batches_failed();
  auto held = loop_.spawn(try_seats(s, SeatHold{"vera", "evb", {"S-0005"}, std::nullopt}, ""));
  auto other = loop_.spawn(try_seats(s, SeatHold{"walt", "evb", {"S-0001"}, std::nullopt}, ""));
  // The batch gave up on the lock while Y still holds it; the hold now waits alone.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s->hold_batches_failed() == failed0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(s->hold_batches_failed(), failed0) << "the batch kept waiting for the locked seat";
  wait_for_waiters({y_pid}, 1, "the hold waiting alone for the locked seat");
  EXPECT_EQ(other.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "a hold of a free seat waited";
  y_.release = true;
  y_done_.get();
  ASSERT_EQ(held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(held.get(), 1);
  EXPECT_EQ(other.get(), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE event_id = 'evb' AND status = 'held'"), 2);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations WHERE event_id = 'evb'"), 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, HoldDeadlock, ::testing::Values(store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::reservation::testing
