// Points ledger and payment creation on real databases: concurrency, idempotency, tampering.
#include "services/payment/domain/model.hpp"
#include "services/payment/tests/payment_fixture.hpp"

namespace tiketi::payment::testing {
namespace {

class PointsTest : public PaymentFixture {};

TEST(PaymentDomain, SplitRejectsNegativeAndExcessPoints) {
  std::string why;
  EXPECT_FALSE(split_amount(1000, -1, why));
  EXPECT_FALSE(split_amount(1000, 1001, why));
  auto s = split_amount(1000, 300, why);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->points, 300);
  EXPECT_EQ(s->card, 700);
  EXPECT_TRUE(valid_id("0190a1b2-c3d4"));
  EXPECT_FALSE(valid_id("../etc"));
  EXPECT_FALSE(valid_idempotency_key(""));
  EXPECT_FALSE(valid_idempotency_key(std::string(129, 'a')));
}

// 200 parallel spends of 7 on a balance of 1000: exactly floor(1000/7) succeed, the balance is
// exact and never negative, and every success has its USE history row.
TEST_P(PointsTest, ParallelSpendsNeverOverdraw) {
  give_points("u1", 1000);
  auto* store = state().store.get();
  auto db = db_;
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 200; ++i) {
    auto task = [](PaymentStore* st, store::DatabasePtr d, int n, std::atomic<int>* okc,
                   std::atomic<int>* ref) -> Task<void> {
      std::function<Task<void>(store::Tx&)> fn = [st, n](store::Tx& tx) -> Task<void> {
        const std::string user = "u1";
        const std::string ref = "spend-" + std::to_string(n);
        co_await st->spend_points(tx, user, 7, ref);
      };
      try {
        co_await d->transaction(fn);
        ++*okc;
      } catch (const ApiError& e) {
        EXPECT_EQ(e.code(), "insufficient_points");
        ++*ref;
      }
    };
    futures.push_back(loop_.spawn(task(store, db, i, &ok, &refused)));
  }
  for (auto& f : futures) {
    f.get();
  }
  EXPECT_EQ(ok.load(), 1000 / 7);
  EXPECT_EQ(refused.load(), 200 - 1000 / 7);
  EXPECT_EQ(balance("u1"), 1000 - (1000 / 7) * 7);
  EXPECT_EQ(count("SELECT COUNT(*) FROM point_history WHERE user_id = 'u1' AND kind = 'USE'"), 1000 / 7);
  EXPECT_EQ(count("SELECT COUNT(*) FROM point_accounts WHERE balance < 0"), 0);
}

// Parallel creates with the same Idempotency-Key make one payment and reserve points once.
TEST_P(PointsTest, ParallelCreatesWithSameKeyMakeOnePayment) {
  give_points("u1", 5000);
  add_reservation("r1", "u1", 10000);
  std::vector<std::future<Reply>> futures;
  for (int i = 0; i < 20; ++i) {
    futures.push_back(loop_.spawn(
        call_async("POST", "/api/v1/payments", R"({"reservationId":"r1","points":3000})", "u1", "key-1")));
  }
  std::set<std::string> ids;
  int created = 0;
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body.dump();
    created += r.status == 201 ? 1 : 0;
    ids.insert(r.body.at("id").get<std::string>());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
  EXPECT_EQ(balance("u1"), 2000);
}

TEST_P(PointsTest, CreateReturnsAmountsFromTheReservation) {
  give_points("u1", 500);
  add_reservation("r1", "u1", 12000);
  auto r = call("POST", "/api/v1/payments", R"({"reservationId":"r1","points":500,"amount":1})", "u1", "k");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["amount"], 12000);  // the client's "amount" is ignored
  EXPECT_EQ(r.body["pointsAmount"], 500);
  EXPECT_EQ(r.body["cardAmount"], 11500);
  EXPECT_EQ(r.body["status"], "CREATED");
  EXPECT_TRUE(r.body["checkoutUrl"].get<std::string>().find("amount=11500") != std::string::npos);
  EXPECT_TRUE(r.body["testMode"].get<bool>());
  // A replay answers the same payment; a different body with the key is a conflict.
  auto again = call("POST", "/api/v1/payments", R"({"reservationId":"r1","points":500})", "u1", "k");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["id"], r.body["id"]);
  auto other = call("POST", "/api/v1/payments", R"({"reservationId":"r1","points":400})", "u1", "k");
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(other.body["error"]["code"], "idempotency_conflict");
  // A second live payment for the same reservation (another key) is refused.
  auto second = call("POST", "/api/v1/payments", R"({"reservationId":"r1","points":0})", "u1", "k2");
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(balance("u1"), 0);
}

TEST_P(PointsTest, TamperingIsRefusedWithoutStateChange) {
  give_points("u1", 1000);
  add_reservation("mine", "u1", 5000);
  add_reservation("theirs", "u2", 5000);
  add_reservation("paid", "u1", 5000, "CONFIRMED", false);
  add_reservation("late", "u1", 5000, "PENDING", false);

  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"theirs"})", "u1", "a").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"mine","points":-5})", "u1", "b").status,
            400);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"mine","points":6000})", "u1", "c").status,
            400);
  auto short_of = call("POST", "/api/v1/payments", R"({"reservationId":"mine","points":2000})", "u1", "d");
  EXPECT_EQ(short_of.status, 409);
  EXPECT_EQ(short_of.body["error"]["code"], "insufficient_points");
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"paid"})", "u1", "e").status, 409);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"late"})", "u1", "f").status, 409);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"nope"})", "u1", "g").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"../x"})", "u1", "h").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"mine"})", "u1").status, 400);  // no key
  EXPECT_EQ(call("POST", "/api/v1/payments", R"({"reservationId":"mine"})", "", "i").status, 401);

  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 0);
  EXPECT_EQ(balance("u1"), 1000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM point_history WHERE kind = 'USE'"), 0);
}

TEST_P(PointsTest, PointsOnlyPaymentConfirmsWithoutGatewayAndEmitsOnce) {
  give_points("u1", 3000);
  clock_->advance(1);  // history is newest first; keep the two entries in distinct milliseconds
  add_reservation("r1", "u1", 3000);
  auto c = call("POST", "/api/v1/payments", R"({"reservationId":"r1","points":3000})", "u1", "k");
  ASSERT_EQ(c.status, 201);
  EXPECT_FALSE(c.body.contains("checkoutUrl"));
  const std::string id = c.body["id"];
  auto ok = call("POST", "/api/v1/payments/" + id + "/confirm", "{}", "u1");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["status"], "CONFIRMED");
  EXPECT_EQ(call("POST", "/api/v1/payments/" + id + "/confirm", "{}", "u1").status, 200);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
  EXPECT_EQ(sim_->stats().confirms, 0);
  // Someone else cannot see or confirm it.
  EXPECT_EQ(call("GET", "/api/v1/payments/" + id, "", "u2").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/payments/" + id + "/confirm", "{}", "u2").status, 404);

  auto h = call("GET", "/api/v1/points/history", "", "u1");
  ASSERT_EQ(h.status, 200);
  ASSERT_EQ(h.body["items"].size(), 2u);
  EXPECT_EQ(h.body["items"][0]["kind"], "USE");
  EXPECT_EQ(h.body["items"][0]["balanceAfter"], 0);
  EXPECT_EQ(h.body["items"][1]["kind"], "CHARGE");
  EXPECT_EQ(call("GET", "/api/v1/points", "", "u1").body["balance"], 0);
}

TEST_P(PointsTest, ChargeThroughTheGatewayCreditsOnce) {
  auto c = call("POST", "/api/v1/points/charge", R"({"amount":5000})", "u1", "ch1");
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(call("POST", "/api/v1/points/charge", R"({"amount":-1})", "u1", "ch2").status, 400);
  const std::string key = checkout(c.body);
  ASSERT_FALSE(key.empty());
  const std::string path = "/api/v1/payments/" + c.body["id"].get<std::string>() + "/confirm";
  auto ok = call("POST", path, json{{"paymentKey", key}}.dump(), "u1");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(call("POST", path, json{{"paymentKey", key}}.dump(), "u1").status, 200);
  EXPECT_EQ(balance("u1"), 5000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM point_history WHERE kind = 'CHARGE'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 0);  // a charge is not a reservation payment
}

INSTANTIATE_TEST_SUITE_P(Engines, PointsTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::payment::testing
