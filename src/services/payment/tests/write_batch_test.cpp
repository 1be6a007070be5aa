// Group commit of the card path's single-statement writes (payment.pg_write_batch, PostgreSQL):
// concurrent payments share transactions, and each write still decides alone — a duplicate
// reservation, Idempotency-Key or paymentKey fails only its own caller (the shared transaction fails
// and every caller of it runs again alone), a second confirmation of the same payment moves nothing
// and writes no second event, and every caller gets its own row back.
#include <set>

#include "services/payment/tests/payment_fixture.hpp"

namespace tiketi::payment::testing {
namespace {

class WriteBatchTest : public PaymentFixture {};

Payment draft(int i, const std::string& reservation, const std::string& user, const std::string& key) {
  Payment x;
  x.id = "pay-" + std::to_string(i);
  x.user_id = user;
  x.purpose = Purpose::reservation;
  x.reservation_id = reservation;
  x.order_id = "tkt_order_" + std::to_string(i);
  x.amount = 1000 + i;
  x.card_amount = x.amount;
  x.idempotency_key = key;
  x.request_hash = "h";
  x.created_at = 1;
  x.updated_at = 1;
  x.expires_at = 1'000'000;
  return x;
}

// 1 = written, 0 = unique violation.
Task<int> insert_or_dup(PaymentStore* st, Payment x) {
  try {
    co_await st->insert(x);
    co_return 1;
  } catch (const store::DbError& e) {
    if (e.kind != store::DbError::Kind::unique_violation) {
      throw;
    }
    co_return 0;
  }
}

// 1 = started (and the row returned is the one asked for), 0 = not this user's / unique violation.
Task<int> start_or_not(PaymentStore* st, std::string id, std::string user, std::string key) {
  try {
    auto got = co_await st->start_gateway_owned(id, user, key);
    if (!got) {
      co_return 0;
    }
    EXPECT_EQ(got->id, id);
    EXPECT_EQ(got->payment_key, key);
    EXPECT_EQ(got->status, Status::pending_gateway);
    co_return 1;
  } catch (const store::DbError& e) {
    if (e.kind != store::DbError::Kind::unique_violation) {
      throw;
    }
    co_return 0;
  }
}

Task<int> confirm_once(PaymentStore* st, std::string id, int n) {
  auto got = co_await st->confirm_with_event(id, 5, "ev-" + id + "-" + std::to_string(n), "payment.completed", id,
                                             "{}", "");
  if (!got) {
    co_return 0;
  }
  EXPECT_EQ(got->id, id);
  EXPECT_EQ(got->status, Status::confirmed);
  co_return 1;
}

int sum(std::vector<std::future<int>> futures) {
  int n = 0;
  for (auto& f : futures) {
    n += f.get();
  }
  return n;
}

TEST_P(WriteBatchTest, ConcurrentCardWritesShareCommitsAndEachDecidesAlone) {
  PaymentStore store(db_, clock_, 64);
  PaymentStore* st = &store;
  constexpr int kPayments = 400;
  // Creates: every 10th payment repeats the previous one's reservation (another key), every 10th
  // + 5 the previous one's Idempotency-Key: 80 of the 400 must fail, alone.
  std::vector<Task<int>> creates;
  std::vector<std::string> users;
  for (int i = 0; i < kPayments; ++i) {
    std::string user = "u" + std::to_string(i % 50);
    std::string reservation = "res-" + std::to_string(i);
    std::string key = "key-" + std::to_string(i);
    if (i % 10 == 1) {
      reservation = "res-" + std::to_string(i - 1);
    }
    if (i % 10 == 6) {
      user = "u" + std::to_string((i - 1) % 50);
      key = "key-" + std::to_string(i - 1);
    }
    users.push_back(user);
    creates.push_back(insert_or_dup(st, draft(i, reservation, user, key)));
  }
  auto created_f = loop_.spawn_all(std::move(creates));
  int created = 0;
  std::set<int> written;
  for (int i = 0; i < kPayments; ++i) {
    if (created_f[i].get() == 1) {
      ++created;
      written.insert(i);
    }
  }
  // i % 10 == 1 collides with i - 1 on the reservation, i % 10 == 6 with i - 1 on the user's
  // Idempotency-Key: one of each pair is written.
  EXPECT_EQ(created, kPayments - 40 - 40);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), created);
  EXPECT_EQ(count("SELECT COUNT(*) FROM (SELECT reservation_id FROM payments GROUP BY reservation_id"
                  " HAVING COUNT(*) > 1) d"),
            0);

  // Start: each written payment with its own key, except that every 7th reuses the key of the
  // payment before it; plus a request by the wrong user for every 9th (refused, nothing changed).
  std::vector<Task<int>> starts;
  std::vector<int> order(written.begin(), written.end());
  int expected_started = 0;
  std::set<std::string> keys;
  for (std::size_t n = 0; n < order.size(); ++n) {
    const int i = order[n];
    std::string key = "pk-" + std::to_string(i);
    if (n % 7 == 6) {
      key = "pk-" + std::to_string(order[n - 1]);
    }
    expected_started += keys.insert(key).second ? 1 : 0;
    starts.push_back(start_or_not(st, "pay-" + std::to_string(i), users[i], key));
    if (n % 9 == 0) {
      starts.push_back(start_or_not(st, "pay-" + std::to_string(i), "someone-else", "pk-x" + std::to_string(i)));
    }
  }
  EXPECT_EQ(sum(loop_.spawn_all(std::move(starts))), expected_started);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'PENDING_GATEWAY'"), expected_started);

  if (!store.confirm_in_one_statement()) {
    EXPECT_EQ(store.group_commit(), nullptr);  // SQLite: each write alone, as before
    return;  // SQLite confirms in a transaction of the flow (covered by the saga tests)
  }
  // Confirm every payment twice at once: one moves it (with its event), the other moves nothing.
  std::vector<Task<int>> confirms;
  for (int i : order) {
    confirms.push_back(confirm_once(st, "pay-" + std::to_string(i), 1));
    confirms.push_back(confirm_once(st, "pay-" + std::to_string(i), 2));
  }
  EXPECT_EQ(sum(loop_.spawn_all(std::move(confirms))), created);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'CONFIRMED'"), created);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), created);

  {
    const auto* g = store.group_commit();
    ASSERT_NE(g, nullptr);
    std::printf("[ writes ] %llu writes in %llu transactions, %llu failed and re-ran alone, peak %llu in flight\n",
                static_cast<unsigned long long>(g->callers()), static_cast<unsigned long long>(g->batches()),
                static_cast<unsigned long long>(g->failed()), static_cast<unsigned long long>(g->peak()));
    EXPECT_LT(g->batches() * 2, g->callers()) << "writes arriving together should share transactions";
    EXPECT_GT(g->failed(), 0u) << "the duplicates should have failed shared transactions";
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, WriteBatchTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::payment::testing
