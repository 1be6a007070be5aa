// Gateway failure matrix with the simulator over real HTTP on 127.0.0.1, and refunds.
#include "services/payment/flow.hpp"
#include "services/payment/gateway/toss_gateway.hpp"
#include "services/payment/tests/payment_fixture.hpp"

namespace tiketi::payment::testing {
namespace {

class GatewayTest : public PaymentFixture {
 protected:
  // Creates a payment for a fresh reservation and completes the checkout with `card`.
  std::pair<json, std::string> start_payment(const std::string& rid, std::int64_t amount, std::int64_t points,
                                             const std::string& card = "4242424242424242") {
    add_reservation(rid, "u1", amount);
    auto c = call("POST", "/api/v1/payments", json{{"reservationId", rid}, {"points", points}}.dump(), "u1",
                  "idem-" + rid);
    EXPECT_EQ(c.status, 201) << c.body.dump();
    return {c.body, checkout(c.body, card)};
  }
  Reply confirm(const json& p, const std::string& key) {
    return call("POST", "/api/v1/payments/" + p.at("id").get<std::string>() + "/confirm",
                json{{"paymentKey", key}}.dump(), "u1");
  }
  static std::string body_for(const std::string& rid) { return json{{"reservationId", rid}, {"points", 0}}.dump(); }
  void remove_reservation(const std::string& rid) {
    std::lock_guard lk(mu_);
    reservations_.erase(rid);
  }
  std::string status_of(const json& p) {
    return call("GET", "/api/v1/payments/" + p.at("id").get<std::string>(), "", "u1").body.at("status");
  }
};

TEST(TossGateway, BasicAuthIsSecretWithColon) {
  EXPECT_EQ(basic_auth("test_sk_abc"), "Basic dGVzdF9za19hYmM6");
  EXPECT_EQ(url_encode("a b/c"), "a%20b%2Fc");
}

TEST_P(GatewayTest, CardPaymentConfirmsOnceAndDuplicatesAreHarmless) {
  auto [p, key] = start_payment("r1", 10000, 0);
  ASSERT_FALSE(key.empty());
  auto ok = confirm(p, key);
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["status"], "CONFIRMED");
  auto again = confirm(p, key);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_EQ(sim_->status_of(key), "DONE");
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
  // A different key for the same payment, and the same key replayed on another payment: 409.
  EXPECT_EQ(confirm(p, "tsim_other").status, 409);
  auto [p2, key2] = start_payment("r2", 3000, 0);
  auto replayed = confirm(p2, key);
  EXPECT_EQ(replayed.status, 409);
  EXPECT_EQ(replayed.body["error"]["code"], "payment_key_used");
  EXPECT_EQ(status_of(p2), "CREATED");
}

TEST_P(GatewayTest, ParallelConfirmsChargeExactlyOnce) {
  auto [p, key] = start_payment("r1", 10000, 0);
  std::vector<std::future<Reply>> futures;
  const std::string path = "/api/v1/payments/" + p["id"].get<std::string>() + "/confirm";
  for (int i = 0; i < 8; ++i) {
    futures.push_back(loop_.spawn(call_async("POST", path, json{{"paymentKey", key}}.dump(), "u1")));
  }
  for (auto& f : futures) {
    auto r = f.get();
    EXPECT_TRUE(r.status == 200 || r.status == 202) << r.status << r.body.dump();
  }
  EXPECT_EQ(confirm(p, key).body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
}

TEST_P(GatewayTest, DeclineFailsAndRestoresPoints) {
  give_points("u1", 2000);
  auto [p, key] = start_payment("r1", 10000, 2000, "4000000000000002");
  EXPECT_EQ(balance("u1"), 0);
  auto r = confirm(p, key);
  EXPECT_EQ(r.status, 402) << r.body.dump();
  EXPECT_EQ(status_of(p), "FAILED");
  EXPECT_EQ(balance("u1"), 2000);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 0);
  EXPECT_EQ(confirm(p, key).status, 409);  // terminal
  // The reservation can be paid again with a new payment.
  auto again = call("POST", "/api/v1/payments", R"({"reservationId":"r1"})", "u1", "another");
  EXPECT_EQ(again.status, 201);
}

TEST_P(GatewayTest, TimeoutThenSuccessIsReconciledNotRetriedBlindly) {
  auto [p, key] = start_payment("r1", 7000, 0, "4000000000000119");
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  // One timed-out confirm, then the lookup proved it was not processed, then one informed confirm.
  EXPECT_EQ(sim_->stats().confirms, 2);
  EXPECT_GE(metrics_.counter("payment_unknown_outcomes_total", "").value(), 1.0);
}

TEST_P(GatewayTest, SuccessWithLostResponseIsFoundByLookup) {
  auto [p, key] = start_payment("r1", 7000, 0, "4000000000000259");
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->stats().confirms, 1);  // never sent again: the lookup found it DONE
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
}

TEST_P(GatewayTest, UnknownOutcomeIsLeftForTheReconciler) {
  auto [p, key] = start_payment("r1", 7000, 0);
  PgSimKnobs k = sim_->knobs();
  k.lose_response_next = 1;
  k.lookup_fail_next = 1;
  sim_->set_knobs(k);
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 202) << r.body.dump();
  EXPECT_EQ(r.body["status"], "UNKNOWN");
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 0);
  EXPECT_EQ(loop_.run(reconcile_once(*service_)), 1);
  EXPECT_EQ(status_of(p), "CONFIRMED");
  EXPECT_EQ(sim_->stats().confirms, 1);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
}

TEST_P(GatewayTest, FakePaymentKeyFailsWithoutCharge) {
  give_points("u1", 100);
  auto [p, key] = start_payment("r1", 7000, 100);
  auto r = confirm(p, "tsim_forged0000");
  EXPECT_EQ(r.status, 402);
  EXPECT_EQ(status_of(p), "FAILED");
  EXPECT_EQ(balance("u1"), 100);
  EXPECT_EQ(sim_->status_of(key), "READY");
}

TEST_P(GatewayTest, ConfirmationFailedRefundsBothPartsOnce) {
  give_points("u1", 3000);
  auto [p, key] = start_payment("r1", 10000, 3000);
  ASSERT_EQ(confirm(p, key).status, 200);
  EXPECT_EQ(balance("u1"), 0);
  const std::string payload = json{
      {"reservation_id", "r1"},
      {"payment_id", p["id"]},
      {"reason", "seat_taken"},
      {"refund", true}}.dump();
  auto& s = state();
  for (int i = 0; i < 2; ++i) {  // redelivery
    std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
      const std::string event_id = "ev-1";
      co_await on_confirmation_failed(s, tx, event_id, payload);
    };
    loop_.run(db_->transaction(fn));
  }
  EXPECT_EQ(balance("u1"), 3000);  // points back at once
  EXPECT_EQ(status_of(p), "CONFIRMED");
  loop_.run(reconcile_once(*service_));
  loop_.run(reconcile_once(*service_));
  EXPECT_EQ(status_of(p), "REFUNDED");
  EXPECT_EQ(sim_->status_of(key), "CANCELED");
  EXPECT_EQ(sim_->stats().cancels, 1);
  EXPECT_EQ(balance("u1"), 3000);
  EXPECT_EQ(count("SELECT COUNT(*) FROM point_history WHERE kind = 'REFUND'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.refunded'"), 1);
}

TEST_P(GatewayTest, RefusedRefundStaysVisibleWithReason) {
  auto [p, key] = start_payment("r1", 10000, 0);
  ASSERT_EQ(confirm(p, key).status, 200);
  PgSimKnobs k = sim_->knobs();
  k.cancel_decline_next = 1;
  sim_->set_knobs(k);
  auto r = call("POST", "/api/v1/admin/payments/" + p["id"].get<std::string>() + "/refund",
                R"({"reason":"ops"})", "admin1", "", "admin");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["status"], "REFUND_FAILED");
  EXPECT_EQ(r.body["refund"]["status"], "FAILED");
  EXPECT_NE(r.body["refund"]["failureReason"].get<std::string>().find("NOT_CANCELABLE_PAYMENT"),
            std::string::npos);
  auto list = call("GET", "/api/v1/admin/payments?status=REFUND_FAILED", "", "admin1", "", "admin");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["items"][0]["refund"]["status"], "FAILED");
  EXPECT_EQ(call("GET", "/api/v1/admin/payments", "", "u1").status, 403);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.refund_failed'"), 1);
}

TEST_P(GatewayTest, CancelledReservationReleasesAnOpenPayment) {
  give_points("u1", 500);
  auto [p, key] = start_payment("r1", 10000, 500);
  const std::string payload =
      json{{"reservation_id", "r1"}, {"payment_id", nullptr}, {"refund", false}}.dump();
  auto& s = state();
  std::function<Task<void>(store::Tx&)> fn = [&](store::Tx& tx) -> Task<void> {
    const std::string event_id = "ev-2";
    co_await on_reservation_cancelled(s, tx, event_id, payload);
  };
  loop_.run(db_->transaction(fn));
  EXPECT_EQ(status_of(p), "FAILED");
  EXPECT_EQ(balance("u1"), 500);
  EXPECT_EQ(confirm(p, key).status, 409);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 0);
}

TEST_P(GatewayTest, RevenueByDayAndMethod) {
  give_points("u1", 1000);
  auto [p, key] = start_payment("r1", 10000, 1000);
  ASSERT_EQ(confirm(p, key).status, 200);
  auto r = call("GET", "/api/v1/admin/payments/revenue", "", "admin1", "", "admin");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["days"].size(), 1u);
  EXPECT_EQ(r.body["days"][0]["byMethod"]["card"], 9000);
  EXPECT_EQ(r.body["days"][0]["byMethod"]["points"], 1000);
  EXPECT_EQ(r.body["days"][0]["payments"], 1);
}

// The confirm's first statement checks ownership, state and the key at once: someone else's
// valid paymentKey confirm is a 404 that changes nothing, and the owner confirms afterwards with
// one payment.completed row whose key and payload name the reservation and the payment.
TEST_P(GatewayTest, ConfirmByAnotherUserChangesNothing) {
  auto [p, key] = start_payment("r1", 10000, 0);
  const std::string path = "/api/v1/payments/" + p["id"].get<std::string>() + "/confirm";
  auto stranger = call("POST", path, json{{"paymentKey", key}}.dump(), "u2");
  EXPECT_EQ(stranger.status, 404) << stranger.body.dump();
  EXPECT_EQ(status_of(p), "CREATED");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE payment_key IS NOT NULL"), 0);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 0);
  auto ok = confirm(p, key);
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  const std::string id = p["id"].get<std::string>();
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed' AND key = 'r1' AND payload LIKE '%" +
                  id + "%'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'CONFIRMED' AND confirmed_at IS NOT NULL AND "
                  "payment_key = '" +
                  key + "'"),
            1);
  // Confirming again after CONFIRMED writes no second event.
  EXPECT_EQ(confirm(p, key).status, 200);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 1);
}

// The create has no idempotency read up front: a replay after the reservation moved on (here
// CONFIRMED by this very payment, then gone from the reservation service) still answers the
// stored payment, and another body with the same key is still a conflict, with nothing written.
TEST_P(GatewayTest, CreateReplayAnswersAfterTheReservationMovedOn) {
  auto [p, key] = start_payment("r1", 10000, 0);
  ASSERT_EQ(confirm(p, key).status, 200);
  add_reservation("r1", "u1", 10000, "CONFIRMED", false);
  const std::string body = json{{"reservationId", "r1"}, {"points", 0}}.dump();
  auto again = call("POST", "/api/v1/payments", body, "u1", "idem-r1");
  EXPECT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["id"], p["id"]);
  EXPECT_EQ(again.body["status"], "CONFIRMED");
  auto other = call("POST", "/api/v1/payments", json{{"reservationId", "r1"}, {"points", 5}}.dump(), "u1",
                    "idem-r1");
  EXPECT_EQ(other.status, 409) << other.body.dump();
  EXPECT_EQ(other.body["error"]["code"], "idempotency_conflict");
  // Without a stored payment under the key the refusal stands.
  auto fresh = call("POST", "/api/v1/payments", body, "u1", "idem-new");
  EXPECT_EQ(fresh.status, 409) << fresh.body.dump();
  EXPECT_EQ(fresh.body["error"]["code"], "reservation_not_payable");
  // A reservation the service no longer knows: a replay still answers, a new key is a 404.
  auto [p2, key2] = start_payment("r2", 3000, 0);
  remove_reservation("r2");
  auto replay2 = call("POST", "/api/v1/payments", body_for("r2"), "u1", "idem-r2");
  EXPECT_EQ(replay2.status, 200) << replay2.body.dump();
  EXPECT_EQ(replay2.body["id"], p2["id"]);
  EXPECT_EQ(call("POST", "/api/v1/payments", body_for("r2"), "u1", "idem-x").status, 404);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, GatewayTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::payment::testing
