// Set-based confirmation of a batch of payment.completed events (ReservationStore::confirm_batch):
// every outcome of the one-event path in one batch, a concurrent run of batches against expiry,
// cancellations and takeovers with every invariant of money and inventory checked, and the consumer
// path with duplicate deliveries — on SQLite and PostgreSQL.
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "services/reservation/tests/fixture.hpp"

// g++ 12 false positive on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

namespace tiketi::reservation::testing {
// A named namespace, not an anonymous one: the release preset compiles several test files as one
// translation unit, and lifecycle_test.cpp has helpers of the same names in its anonymous namespace.
namespace confirm_batch_tests {

// Named coroutines with locals: g++ 12 mishandles braced temporaries and lambda coroutines inside
// co_await operands.
Task<std::vector<ConfirmResult>> confirm_batch_tx(ReservationStore* st, store::Database* db,
                                                  std::vector<PaymentCompleted> pays) {
  std::vector<ConfirmResult> out;
  std::function<Task<void>(store::Tx&)> work = [st, &pays, &out](store::Tx& tx) -> Task<void> {
    out = co_await st->confirm_batch(tx, pays);
  };
  co_await db->transaction(std::move(work));
  co_return out;
}

Task<void> confirm_chunk(ReservationStore* st, store::Database* db, std::vector<PaymentCompleted> pays) {
  auto results = co_await confirm_batch_tx(st, db, std::move(pays));
  (void)results;
}

Task<void> cancel_as_admin(ReservationStore* st, std::string rid) {
  try {
    auto r = co_await st->cancel(rid, "admin-1", true);
    (void)r;
  } catch (const ApiError&) {
    // hold_expired: the reservation ran out first, nothing to cancel.
  }
}

Task<void> expire_one(ReservationStore* st, std::string rid) {
  auto done = co_await st->expire(rid);
  (void)done;
}

Task<void> try_hold(ReservationStore* st, SeatHold h) {
  try {
    auto r = co_await st->hold_seats(h);
    (void)r;
  } catch (const ApiError&) {
    // seat_unavailable: the paying reservation kept it.
  }
}

PaymentCompleted payment(const std::string& rid, const std::string& pid, std::optional<std::int64_t> amount = {}) {
  PaymentCompleted p;
  p.reservation_id = rid;
  p.payment_id = pid;
  p.amount = amount;
  return p;
}

class Confirm : public Fixture {
 protected:
  std::string hold(const std::string& user, std::vector<std::string> seats) {
    return loop_.run(store().hold_seats(SeatHold{user, "ev", std::move(seats), std::nullopt})).reservation.id;
  }
  std::string hold_ga(const std::string& user, std::int64_t n) {
    return loop_.run(store().hold_quota(QuotaHold{user, "ev", "ga", n, std::nullopt})).reservation.id;
  }
  std::string status_of(const std::string& id) { return std::string(to_string(loop_.run(store().find(id))->status)); }
  std::string seat(const std::string& seat_id, const std::string& column = "status") {
    return loop_
        .run(db_->exec("SELECT " + column + " FROM seats WHERE event_id = 'ev' AND seat_id = '" + seat_id + "'"))
        .one()
        .opt_str(column)
        .value_or("");
  }
  std::int64_t count_where(const std::string& table, const std::string& where) {
    return scalar("SELECT COUNT(*) FROM " + table + " WHERE " + where);
  }
  std::int64_t tickets_of(const std::string& rid) {
    return count_where("tickets", "reservation_id = '" + rid + "' AND status = 'valid'");
  }
  std::int64_t events_for(const std::string& topic, const std::string& rid) {
    return count_where("outbox", "topic = '" + topic + "' AND key = '" + rid + "'");
  }
  std::int64_t user_tickets(const std::string& user) {
    auto r = loop_.run(db_->exec("SELECT tickets FROM user_limits WHERE user_id = '" + user + "'"));
    return r.empty() ? 0 : r.one().i64(0);
  }
  void advance_past_hold() { clock_->advance(10 * 60'000 + 1); }
};

// One batch with every case the one-event path knows, checked against what that path does.
TEST_P(Confirm, MixedBatchHasTheOneEventOutcomes) {
  publish(make_event("ev", 20, 10, 20));
  // Holds that run out before the batch.
  const auto f = hold("fay", {"S-0006", "S-0007"});  // unswept; ivy takes S-0007 -> seats_taken
  const auto g = hold("gus", {"S-0008"});            // swept; seat still free -> confirms again
  const auto h = hold_ga("hal", 2);                  // swept GA; quota retaken -> confirms
  const auto k = hold("kim", {"S-0010"});            // unswept, seat still free -> confirms
  advance_past_hold();
  ASSERT_TRUE(loop_.run(store().expire(g)));
  ASSERT_TRUE(loop_.run(store().expire(h)));
  const auto i = hold("ivy", {"S-0007"});
  // Live holds.
  const auto a = hold("ann", {"S-0001", "S-0002"});
  const auto b = hold_ga("ben", 3);
  const auto c = hold("cat", {"S-0003"});
  loop_.run(store().cancel(c, "cat", false));
  const auto d = hold("dan", {"S-0004"});
  const auto e = hold("eve", {"S-0005"});
  ASSERT_EQ(pay(e, "pay-e"), 1);  // confirmed before the batch
  ASSERT_EQ(status_of(e), "CONFIRMED");

  std::vector<PaymentCompleted> batch{
      payment(a, "pay-a", 20'000), payment(b, "pay-b"),          payment(c, "pay-c"),
      payment(d, "pay-d", 999),    payment(e, "pay-e"),          payment(e, "pay-e2"),
      payment(f, "pay-f"),         payment(g, "pay-g", 10'000),  payment(h, "pay-h"),
      payment(k, "pay-k"),         payment("no-such-reservation", "pay-x")};
  const auto results = loop_.run(confirm_batch_tx(&store(), db_.get(), batch));
  ASSERT_EQ(results.size(), batch.size());
  const std::vector<ConfirmOutcome> expected{
      ConfirmOutcome::confirmed, ConfirmOutcome::confirmed, ConfirmOutcome::failed,    ConfirmOutcome::failed,
      ConfirmOutcome::duplicate, ConfirmOutcome::failed,    ConfirmOutcome::failed,    ConfirmOutcome::confirmed,
      ConfirmOutcome::confirmed, ConfirmOutcome::confirmed, ConfirmOutcome::failed};
  for (std::size_t n = 0; n < batch.size(); ++n) {
    EXPECT_EQ(static_cast<int>(results[n].outcome), static_cast<int>(expected[n]))
        << "event " << n << " for " << batch[n].reservation_id;
  }
  EXPECT_EQ(results[0].seats.size(), 2u);  // a's seats, sold, for the live seat feed
  EXPECT_EQ(results[0].event_id, "ev");

  EXPECT_EQ(status_of(a), "CONFIRMED");
  EXPECT_EQ(status_of(b), "CONFIRMED");
  EXPECT_EQ(status_of(c), "CANCELLED");
  EXPECT_EQ(status_of(d), "PENDING");  // amount mismatch: refused, nothing else changes
  EXPECT_EQ(status_of(e), "CONFIRMED");
  EXPECT_EQ(loop_.run(store().find(e))->payment_id.value_or(""), "pay-e");
  EXPECT_EQ(status_of(f), "EXPIRED");
  EXPECT_EQ(status_of(g), "CONFIRMED");
  EXPECT_EQ(status_of(h), "CONFIRMED");
  EXPECT_EQ(status_of(k), "CONFIRMED");
  EXPECT_EQ(loop_.run(store().find(a))->payment_id.value_or(""), "pay-a");
  EXPECT_EQ(loop_.run(store().find(k))->payment_id.value_or(""), "pay-k");

  // Tickets: exactly the quantities of the confirmed reservations.
  EXPECT_EQ(tickets_of(a), 2);
  EXPECT_EQ(tickets_of(b), 3);
  EXPECT_EQ(tickets_of(e), 1);
  EXPECT_EQ(tickets_of(g), 1);
  EXPECT_EQ(tickets_of(h), 2);
  EXPECT_EQ(tickets_of(k), 1);
  EXPECT_EQ(count_where("tickets", "1 = 1"), 10);
  EXPECT_EQ(count_where("tickets", "reservation_id = '" + a + "' AND seat_id IN ('S-0001', 'S-0002')"), 2);
  EXPECT_EQ(count_where("tickets", "reservation_id = '" + b + "' AND seat_id IS NULL AND ticket_type_id = 'ga'"), 3);

  // Events: one reservation.confirmed per confirmation, a confirmation_failed per refusal.
  for (const auto& rid : {a, b, e, g, h, k}) {
    EXPECT_EQ(events_for("reservation.confirmed", rid), 1) << rid;
  }
  EXPECT_EQ(outbox_count("reservation.confirmed"), 6);
  for (const auto& rid : {c, d, f}) {
    EXPECT_EQ(events_for("reservation.confirmation_failed", rid), 1) << rid;
  }
  EXPECT_EQ(events_for("reservation.confirmation_failed", e), 1);  // the second payment: refund
  EXPECT_EQ(events_for("reservation.confirmation_failed", "no-such-reservation"), 1);
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 5);
  auto confirmed_a = json::parse(
      loop_.run(db_->exec("SELECT payload FROM outbox WHERE topic = 'reservation.confirmed' AND key = '" + a + "'"))
          .one()
          .str(0));
  EXPECT_EQ(confirmed_a["payment_id"], "pay-a");
  EXPECT_EQ(confirmed_a["tickets"].size(), 2u);

  // Seats: sold to their reservation, released, or left to the one who took them over.
  for (const auto& [s, owner] : std::vector<std::pair<std::string, std::string>>{
           {"S-0001", a}, {"S-0002", a}, {"S-0005", e}, {"S-0008", g}, {"S-0010", k}}) {
    EXPECT_EQ(seat(s), "sold") << s;
    EXPECT_EQ(seat(s, "reservation_id"), owner) << s;
  }
  EXPECT_EQ(seat("S-0003"), "available");
  EXPECT_EQ(seat("S-0004"), "held");
  EXPECT_EQ(seat("S-0006"), "available");
  EXPECT_EQ(seat("S-0007", "hold_id"), i);
  EXPECT_EQ(count_where("seats", "status = 'sold'"), 5);
  // Quota and per-user counters.
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes"), 5);
  EXPECT_EQ(user_tickets("ann"), 2);
  EXPECT_EQ(user_tickets("ben"), 3);
  EXPECT_EQ(user_tickets("cat"), 0);
  EXPECT_EQ(user_tickets("dan"), 1);
  EXPECT_EQ(user_tickets("fay"), 0);
  EXPECT_EQ(user_tickets("gus"), 1);
  EXPECT_EQ(user_tickets("hal"), 2);
  EXPECT_EQ(user_tickets("ivy"), 1);
  EXPECT_EQ(user_tickets("kim"), 1);

  // The same batch again (a redelivery under new event ids): nothing new is confirmed or issued.
  const auto again = loop_.run(confirm_batch_tx(&store(), db_.get(), batch));
  EXPECT_EQ(again[0].outcome, ConfirmOutcome::duplicate);
  EXPECT_EQ(again[1].outcome, ConfirmOutcome::duplicate);
  EXPECT_EQ(count_where("tickets", "1 = 1"), 10);
  EXPECT_EQ(outbox_count("reservation.confirmed"), 6);
}

// The last units sold by a batch announce inventory.sold_out once.
TEST_P(Confirm, BatchSellingTheLastUnitsMarksSoldOutOnce) {
  publish(make_event("ev", 3, 2, 20));
  std::vector<PaymentCompleted> batch;
  for (int n = 0; n < 3; ++n) {
    char s[16];
    std::snprintf(s, sizeof s, "S-%04d", n);
    const auto rid = hold("u" + std::to_string(n), {s});
    batch.push_back(payment(rid, "pay-" + rid));
  }
  const auto ga = hold_ga("g1", 2);
  batch.push_back(payment(ga, "pay-" + ga));
  const auto results = loop_.run(confirm_batch_tx(&store(), db_.get(), batch));
  int sold_out = 0;
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome, ConfirmOutcome::confirmed);
    sold_out += r.sold_out ? 1 : 0;
  }
  EXPECT_EQ(sold_out, 1);
  EXPECT_EQ(outbox_count("inventory.sold_out"), 1);
  EXPECT_EQ(count_where("tickets", "status = 'valid'"), 5);
}

// Batches of payments (each delivered twice, in different batches) confirmed concurrently with
// expiry sweeps, admin cancellations and new holds taking over expired seats. Whatever the
// interleaving: every reservation ends in one consistent state, confirmed at most once, tickets and
// counters exact, no seat with two owners.
TEST_P(Confirm, ConcurrentBatchesWithExpiryCancelAndTakeoverStayExact) {
  constexpr int kSeated = 60;
  constexpr int kGa = 60;
  publish(make_event("ev", 2 * kSeated + 20, 400, 50));
  std::mt19937 rng(GetParam() == store::Engine::sqlite ? 7 : 11);
  struct Held {
    std::string id;
    std::string user;
    std::int64_t quantity = 0;
    std::int64_t amount = 0;
    bool seated = false;
    std::vector<std::string> seats;
  };
  std::vector<Held> all;
  auto make = [&](int n) {
    const std::string user = "u" + std::to_string(n);
    Held h;
    h.user = user;
    if (n < kSeated) {
      const int k = 1 + n % 2;
      for (int j = 0; j < k; ++j) {
        char s[16];
        std::snprintf(s, sizeof s, "S-%04d", 2 * n + j);
        h.seats.push_back(s);
      }
      auto r = loop_.run(store().hold_seats(SeatHold{user, "ev", h.seats, std::nullopt})).reservation;
      h.id = r.id;
      h.quantity = k;
      h.amount = r.amount;
      h.seated = true;
    } else {
      const std::int64_t k = 1 + n % 3;
      auto r = loop_.run(store().hold_quota(QuotaHold{user, "ev", "ga", k, std::nullopt})).reservation;
      h.id = r.id;
      h.quantity = k;
      h.amount = r.amount;
    }
    all.push_back(h);
  };
  // The first third of each kind runs out before the payments arrive.
  for (int n = 0; n < kSeated + kGa; ++n) {
    if (n % kSeated < kSeated / 3) {
      make(n);
    }
  }
  advance_past_hold();
  for (int n = 0; n < kSeated + kGa; ++n) {
    if (n % kSeated >= kSeated / 3) {
      make(n);
    }
  }
  const Millis fresh_until = clock_->now_ms();

  // Every reservation paid once, its payment.completed delivered twice (two batches); some with the
  // amount (always right), some without.
  std::vector<PaymentCompleted> deliveries;
  for (const auto& h : all) {
    std::optional<std::int64_t> amount;
    if (h.id.back() % 2 == 0) {
      amount = h.amount;
    }
    deliveries.push_back(payment(h.id, "pay-" + h.id, amount));
    deliveries.push_back(payment(h.id, "pay-" + h.id, amount));
  }
  std::shuffle(deliveries.begin(), deliveries.end(), rng);
  std::vector<Task<void>> tasks;
  for (std::size_t at = 0; at < deliveries.size(); at += 16) {
    std::vector<PaymentCompleted> chunk(deliveries.begin() + static_cast<std::ptrdiff_t>(at),
                                        deliveries.begin() + static_cast<std::ptrdiff_t>(std::min(at + 16, deliveries.size())));
    tasks.push_back(confirm_chunk(&store(), db_.get(), std::move(chunk)));
  }
  std::vector<Held> shuffled = all;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (int n = 0; n < 25; ++n) {
    tasks.push_back(cancel_as_admin(&store(), shuffled[static_cast<std::size_t>(n)].id));
  }
  int takeovers = 0;
  for (const auto& h : all) {
    if (loop_.run(store().find(h.id))->expires_at < fresh_until) {
      tasks.push_back(expire_one(&store(), h.id));
      if (h.seated && takeovers < 10) {
        // Someone else wants one seat of the expired hold at the same time.
        tasks.push_back(try_hold(&store(), SeatHold{"taker" + std::to_string(takeovers), "ev", {h.seats.back()}, std::nullopt}));
        ++takeovers;
      }
    }
  }
  std::shuffle(tasks.begin(), tasks.end(), rng);
  auto futures = loop_.spawn_all(std::move(tasks));
  for (auto& fut : futures) {
    fut.get();
  }

  std::int64_t confirmed_tickets = 0;
  std::int64_t confirmed_count = 0;
  std::int64_t refunded_by_cancel = 0;
  std::int64_t ga_live = 0;
  std::map<std::string, std::int64_t> live_by_user;
  for (const auto& h : all) {
    const auto r = loop_.run(store().find(h.id));
    ASSERT_TRUE(r);
    const std::string st(to_string(r->status));
    EXPECT_NE(st, "PENDING") << h.id << ": every reservation was paid; none may stay pending";
    const auto confirmed_events = events_for("reservation.confirmed", h.id);
    EXPECT_LE(confirmed_events, 1) << h.id << " confirmed twice";
    if (st == "CONFIRMED") {
      ++confirmed_count;
      confirmed_tickets += h.quantity;
      live_by_user[h.user] += h.quantity;
      EXPECT_EQ(r->payment_id.value_or(""), "pay-" + h.id);
      EXPECT_EQ(confirmed_events, 1) << h.id;
      EXPECT_EQ(tickets_of(h.id), h.quantity) << h.id;
      EXPECT_EQ(events_for("reservation.confirmation_failed", h.id), 0) << h.id;
      if (h.seated) {
        for (const auto& s : h.seats) {
          EXPECT_EQ(seat(s), "sold") << s;
          EXPECT_EQ(seat(s, "reservation_id"), h.id) << s;
        }
      } else {
        ga_live += h.quantity;
      }
    } else {
      EXPECT_EQ(tickets_of(h.id), 0) << h.id;
      // Never silently dropped: a refusal (refund) or a cancellation that refunds the payment.
      const bool refunded = count_where("outbox", "topic = 'reservation.cancelled' AND key = '" + h.id +
                                                      "' AND payload LIKE '%\"refund\":true%'") == 1;
      refunded_by_cancel += refunded ? 1 : 0;
      EXPECT_TRUE(refunded || events_for("reservation.confirmation_failed", h.id) >= 1) << h.id;
      EXPECT_EQ(confirmed_events, refunded ? 1 : 0) << h.id;
    }
  }
  // Exactly once across the whole run.
  EXPECT_EQ(outbox_count("reservation.confirmed"), confirmed_count + refunded_by_cancel);
  EXPECT_EQ(count_where("tickets", "status = 'valid'"), confirmed_tickets);
  EXPECT_EQ(count_where("tickets", "1 = 1"), confirmed_tickets + [&] {
    std::int64_t n = 0;
    for (const auto& h : all) {
      if (count_where("outbox", "topic = 'reservation.cancelled' AND key = '" + h.id +
                                    "' AND payload LIKE '%\"refund\":true%'") == 1) {
        n += h.quantity;
      }
    }
    return n;
  }());
  // No seat sold to anyone but a confirmed reservation; no sold seat without its owner.
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats s WHERE s.status = 'sold' AND NOT EXISTS (SELECT 1 FROM"
                   " reservations r WHERE r.id = s.reservation_id AND r.status = 'CONFIRMED')"),
            0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM seats WHERE status = 'sold' AND (hold_id IS NULL OR hold_id <> reservation_id)"),
            0);
  // Quota and counters: only confirmed reservations (and the takers' fresh holds) keep units.
  EXPECT_EQ(scalar("SELECT SUM(used) FROM quota_stripes"), ga_live);
  for (const auto& h : all) {
    EXPECT_EQ(user_tickets(h.user), live_by_user[h.user]) << h.user;
  }
  EXPECT_GT(confirmed_count, 0);
}

// Through the real consumer: one read of many entries (a batch), with the same stream entry id
// twice and a second delivery of a payment under another id: each reservation confirmed once.
TEST_P(Confirm, ConsumerBatchConfirmsEachOnceAndIgnoresDuplicates) {
  publish(make_event("ev", 40, 100, 20));
  std::vector<std::string> ids;
  for (int n = 0; n < 30; ++n) {
    if (n % 2 == 0) {
      char s[16];
      std::snprintf(s, sizeof s, "S-%04d", n);
      ids.push_back(hold("c" + std::to_string(n), {s}));
    } else {
      ids.push_back(hold_ga("c" + std::to_string(n), 2));
    }
  }
  auto add = [&](const std::string& event_id, const std::string& rid) {
    const std::string payload = json{{"reservation_id", rid}, {"payment_id", "pay-" + rid}}.dump();
    std::vector<std::pair<std::string, std::string>> fields{{"id", event_id}, {"topic", "payment.completed"},
                                                            {"key", rid},      {"payload", payload},
                                                            {"created_at", "0"}, {"trace_id", ""}};
    loop_.run(coord_->xadd(coord::stream_for_topic("payment.completed"), fields));
  };
  for (const auto& rid : ids) {
    add("evt-" + rid, rid);
  }
  add("evt-" + ids[3], ids[3]);      // the same entry id again
  add("evt2-" + ids[4], ids[4]);     // the same payment under another event id
  add("evt-" + ids[5], ids[5]);
  const int handled = loop_.run(consume_once(*service_));
  EXPECT_EQ(handled, 33);
  for (std::size_t n = 0; n < ids.size(); ++n) {
    EXPECT_EQ(status_of(ids[n]), "CONFIRMED") << n;
    EXPECT_EQ(tickets_of(ids[n]), n % 2 == 0 ? 1 : 2) << n;
    EXPECT_EQ(events_for("reservation.confirmed", ids[n]), 1) << n;
  }
  EXPECT_EQ(outbox_count("reservation.confirmation_failed"), 0);
  EXPECT_EQ(count_where("tickets", "1 = 1"), 15 + 30);
  EXPECT_EQ(count_where("processed_events", "consumer_group = 'reservation'"), 31);
  // Delivered again later: nothing changes.
  add("evt-" + ids[0], ids[0]);
  add("evt-" + ids[1], ids[1]);
  loop_.run(consume_once(*service_));
  EXPECT_EQ(count_where("tickets", "1 = 1"), 45);
  EXPECT_EQ(outbox_count("reservation.confirmed"), 30);
}

TIKETI_RESERVATION_ENGINES(Confirm);

}  // namespace confirm_batch_tests
}  // namespace tiketi::reservation::testing
