// The libcurl gateway transport (the one https uses) against the simulator over real HTTP, and the
// reconciler lease: two payment service instances on one database and one coordination store
// (in-process with SQLite, Redis with PostgreSQL), only the lease holder reconciles.
#include <chrono>
#include <thread>

#include "core/testing/servers.hpp"
#include "services/payment/flow.hpp"
#include "services/payment/tests/payment_fixture.hpp"

namespace tiketi::payment::testing {
namespace {

class Helpers : public PaymentFixture {
 protected:
  std::pair<json, std::string> start_payment(const std::string& rid, std::int64_t amount) {
    add_reservation(rid, "u1", amount);
    auto c = call("POST", "/api/v1/payments", json{{"reservationId", rid}, {"points", 0}}.dump(), "u1",
                  "idem-" + rid);
    EXPECT_EQ(c.status, 201) << c.body.dump();
    return {c.body, checkout(c.body)};
  }
  Reply confirm(const json& p, const std::string& key) {
    return call("POST", "/api/v1/payments/" + p.at("id").get<std::string>() + "/confirm",
                json{{"paymentKey", key}}.dump(), "u1");
  }
  std::string status_of(const json& p) {
    return call("GET", "/api/v1/payments/" + p.at("id").get<std::string>(), "", "u1").body.at("status");
  }
};

// ---- libcurl transport ---------------------------------------------------------------------------

class CurlTransportTest : public Helpers {
 protected:
  void SetUp() override {
    config_.extra["payment.gateway_transport"] = "curl";
    PaymentFixture::SetUp();
  }
};

TEST_P(CurlTransportTest, ConfirmChargesOnceWithBasicAuth) {
  auto [p, key] = start_payment("r1", 10000);
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);  // the simulator checks the Basic secret
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);
}

TEST_P(CurlTransportTest, TimeoutIsUnknownThenReconciledByLookup) {
  auto [p, key] = start_payment("r1", 5000);
  PgSimKnobs k = sim_->knobs();
  k.timeout_next = 1;  // hangs 1.5 s > the 300 ms gateway timeout, not processed
  sim_->set_knobs(k);
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 200) << r.body.dump();  // looked up (READY), then confirmed with the same key
  EXPECT_EQ(r.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_GE(metrics_.counter("payment_unknown_outcomes_total", "Gateway calls whose outcome was unknown").value(),
            1.0);
}

TEST_P(CurlTransportTest, LostResponseIsFoundByLookupNotChargedTwice) {
  auto [p, key] = start_payment("r1", 6000);
  PgSimKnobs k = sim_->knobs();
  k.lose_response_next = 1;
  sim_->set_knobs(k);
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "CONFIRMED");
  EXPECT_EQ(sim_->stats().confirms, 1);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
}

TEST_P(CurlTransportTest, UnreachableGatewayLeavesThePaymentConfirmable) {
  auto [p, key] = start_payment("r1", 7000);
  sim_->shutdown();  // connection refused: nothing can reach it
  auto r = confirm(p, key);
  ASSERT_EQ(r.status, 503) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "gateway_unreachable");
  EXPECT_EQ(status_of(p), "CREATED");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE payment_key IS NOT NULL"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox"), 0);
  // The reconciler has nothing to resolve: a CREATED payment is the fan's to retry.
  EXPECT_EQ(loop_.run(reconcile_once(*service_)), 0);
  EXPECT_EQ(status_of(p), "CREATED");
}

INSTANTIATE_TEST_SUITE_P(Engines, CurlTransportTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

// ---- reconciler lease ----------------------------------------------------------------------------

class ReconcilerLeaseTest : public Helpers {
 protected:
  struct Replica {
    Config config;
    app::ServiceContext ctx;
    app::ServicePtr service;
    metrics::Registry metrics;
    bool running = false;
  };

  void TearDown() override {
    for (auto& r : replicas_) {
      stop(*r);
    }
    for (auto& c : coords_) {
      c->close();
    }
    Helpers::TearDown();
  }

  // A second coordination connection for PostgreSQL runs (Redis, a database of its own so other
  // suites on the same server neither see nor hold "payment:reconciler"); the shared in-process
  // store for SQLite runs.
  coord::CoordinatorPtr coordinator() {
    if (GetParam() == store::Engine::sqlite) {
      return coord_;
    }
    const char* url = std::getenv("TIKETI_TEST_REDIS_URL");
    if (url == nullptr || *url == '\0') {
      return nullptr;
    }
    if (redis_db_.empty()) {
      redis_db_ = std::to_string(1 + std::random_device{}() % 15);
    }
    auto c = loop_.run(coord::open(loop_.ex(), std::string(url) + "/" + redis_db_));
    coords_.push_back(c);
    return c;
  }

  Replica& start_replica(const std::string& instance, coord::CoordinatorPtr coordinator) {
    auto r = std::make_unique<Replica>();
    r->config = config_;
    r->config.extra["payment.background"] = "on";
    r->config.extra["payment.reconcile_interval_ms"] = "50";
    r->ctx = ctx_;
    r->ctx.config = &r->config;
    r->ctx.coord = std::move(coordinator);
    r->ctx.metrics = &r->metrics;
    r->ctx.instance_id = instance;
    r->service = app::make_payment_service();
    loop_.run(r->service->start(r->ctx));
    r->running = true;
    replicas_.push_back(std::move(r));
    return *replicas_.back();
  }

  void stop(Replica& r) {
    if (r.running) {
      loop_.run(r.service->stop());
      r.running = false;
      // Let the reconciler wake from its cancelled timer and release the lease.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Waits (bounded) until `pred` holds, letting the replicas' timers run.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(8'000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }

  std::vector<std::unique_ptr<Replica>> replicas_;
  std::vector<coord::CoordinatorPtr> coords_;
  std::string redis_db_;
};

TEST_P(ReconcilerLeaseTest, OnlyOneReplicaReconcilesAndTheOtherTakesOver) {
  auto ca = coordinator();
  auto cb = coordinator();
  if (!ca || !cb) {
    if (test_support::require_servers()) {
      FAIL() << "TIKETI_TEST_REDIS_URL is not set but TIKETI_REQUIRE_SERVERS=1";
    }
    GTEST_SKIP() << "TIKETI_TEST_REDIS_URL not set";
  }
  // An outcome left unknown (lost answer, failed lookup) for the background reconciler.
  auto [p, key] = start_payment("r1", 7000);
  PgSimKnobs k = sim_->knobs();
  k.lose_response_next = 1;
  k.lookup_fail_next = 1;
  sim_->set_knobs(k);
  ASSERT_EQ(confirm(p, key).status, 202);
  ASSERT_EQ(status_of(p), "UNKNOWN");

  Replica& a = start_replica("replica-a", ca);
  Replica& b = start_replica("replica-b", cb);
  ASSERT_TRUE(eventually([&] {
    return reconciler_status(*a.service).passes + reconciler_status(*b.service).passes >= 20;
  }));
  auto sa = reconciler_status(*a.service);
  auto sb = reconciler_status(*b.service);
  // Exactly one of them ran passes, and it is the one holding the lease.
  EXPECT_TRUE((sa.passes > 0) != (sb.passes > 0)) << sa.passes << " / " << sb.passes;
  EXPECT_TRUE(sa.leader != sb.leader);
  Replica& leader = sa.passes > 0 ? a : b;
  Replica& follower = sa.passes > 0 ? b : a;
  EXPECT_TRUE(reconciler_status(*leader.service).leader);
  EXPECT_EQ(reconciler_status(*follower.service).passes, 0);
  // The leader resolved the unknown outcome: one charge, one event.
  ASSERT_TRUE(eventually([&] { return status_of(p) == "CONFIRMED"; })) << status_of(p);
  EXPECT_EQ(sim_->charges_for_order(p["orderId"]), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.completed'"), 1);

  // The leader stops (SIGTERM): it releases the lease and the follower takes over at once, far
  // sooner than the lease TTL (5 s).
  const auto stopped_at = std::chrono::steady_clock::now();
  stop(leader);
  ASSERT_TRUE(eventually([&] { return reconciler_status(*follower.service).passes > 0; }));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::milliseconds(4'000));
  EXPECT_TRUE(reconciler_status(*follower.service).leader);
}

INSTANTIATE_TEST_SUITE_P(Engines, ReconcilerLeaseTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);

}  // namespace
}  // namespace tiketi::payment::testing
