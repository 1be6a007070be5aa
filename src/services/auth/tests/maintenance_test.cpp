// Refresh-token cleanup (under a lease) and the auth metrics, scraped from the registry's text
// exposition, on SQLite and PostgreSQL.
#include "services/auth/tests/auth_fixture.hpp"

namespace tiketi::auth::testing {
namespace {

constexpr Millis kDay = 24LL * 3600 * 1000;

class AuthMaintenanceTest : public AuthFixture {
 protected:
  void configure(Config& c) override {
    // Redis is shared by every test process: a lease name of this test's own.
    c.extra["auth.token_cleanup_lease"] = "auth:token-cleanup:" + schema_;
    c.extra["auth.login_max_attempts_per_ip"] = "1000000";  // the IP counter is shared in Redis
  }
  std::string coordination_url() override { return scaled_shape_redis(); }
};

// Throttle counters are keyed by email and IP: in-process coordination keeps runs independent.
class AuthMetricsTest : public AuthFixture {};

TEST_P(AuthMaintenanceTest, CleanupDeletesOnlyTokensPastExpiryAndGrace) {
  ASSERT_EQ(signup("old@example.com").status, 201);  // a token issued now
  // Rotate it twice so the family has three rows.
  auto l = login("old@example.com");
  ASSERT_EQ(l.status, 200);
  auto r1 = post("/api/v1/auth/refresh", {{"refreshToken", l.body["refreshToken"]}});
  ASSERT_EQ(r1.status, 200);
  const auto old_count = count("refresh_tokens");
  ASSERT_EQ(old_count, 3);

  // 14 days of lifetime + 7 days of grace later, a new session is created; then the old rows go.
  clock_->advance(14 * kDay + 7 * kDay - 1000);
  auto fresh = signup("new@example.com");
  ASSERT_EQ(fresh.status, 201);
  auto none = loop_.run(cleanup_tokens_once(*service_));
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, 0);  // not yet past the grace period
  EXPECT_EQ(count("refresh_tokens"), old_count + 1);

  clock_->advance(2000);
  auto deleted = loop_.run(cleanup_tokens_once(*service_));
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(*deleted, old_count);
  EXPECT_EQ(count("refresh_tokens"), 1);
  EXPECT_EQ(counter("auth_refresh_tokens_deleted_total"), static_cast<double>(old_count));
  // The surviving session still works.
  EXPECT_EQ(post("/api/v1/auth/refresh", {{"refreshToken", fresh.body["refreshToken"]}}).status, 200);
}

TEST_P(AuthMaintenanceTest, CleanupRunsOnOneReplicaAtATime) {
  // A second auth service on the same database and coordination store (another replica).
  ASSERT_EQ(signup("a@example.com").status, 201);
  clock_->advance(30 * kDay);
  auto other = app::make_auth_service();
  app::ServiceContext ctx2 = ctx_;
  ctx2.instance_id = "replica-2";
  metrics::Registry metrics2;
  ctx2.metrics = &metrics2;
  net::Router router2;
  other->routes(router2);
  loop_.run(other->start(ctx2));

  auto first = loop_.run(cleanup_tokens_once(*service_));
  ASSERT_TRUE(first.has_value());  // this replica took the lease
  EXPECT_EQ(*first, 1);
  auto second = loop_.run(cleanup_tokens_once(*other));
  EXPECT_FALSE(second.has_value());  // the other one holds it: it does nothing
  // The holder keeps it on its next pass.
  EXPECT_TRUE(loop_.run(cleanup_tokens_once(*service_)).has_value());
  loop_.run(other->stop());
  // Cleanup on an empty table is harmless.
  EXPECT_EQ(count("refresh_tokens"), 0);
}

TEST_P(AuthMetricsTest, MetricsCountLoginsByResultSignupsRefreshesAndReuse) {
  ASSERT_EQ(signup().status, 201);
  ASSERT_EQ(login().status, 200);
  ASSERT_EQ(login("alice@example.com", "wrong password 1").status, 401);
  ASSERT_EQ(login("nobody@example.com", "wrong password 1").status, 401);
  auto l = login();
  ASSERT_EQ(l.status, 200);
  const std::string t1 = l.body["refreshToken"];
  auto r = post("/api/v1/auth/refresh", {{"refreshToken", t1}});
  ASSERT_EQ(r.status, 200);
  auto reuse = post("/api/v1/auth/refresh", {{"refreshToken", t1}});  // rotated token again
  ASSERT_EQ(reuse.status, 401);
  ASSERT_EQ(error_code(reuse), "refresh_token_reused");
  // Throttled: login_max_failures is 3 in the fixture (the last success reset the count).
  ASSERT_EQ(login("alice@example.com", "wrong password 2").status, 401);
  ASSERT_EQ(login("alice@example.com", "wrong password 3").status, 401);
  ASSERT_EQ(login("alice@example.com", "wrong password 4").status, 401);
  auto throttled = login("alice@example.com", "wrong password 5");
  ASSERT_EQ(throttled.status, 429);

  const auto text = metrics_.expose();
  EXPECT_NE(text.find("# TYPE auth_logins_total counter"), std::string::npos) << text;
  EXPECT_EQ(counter("auth_logins_total{result=\"success\"}"), 2);
  EXPECT_EQ(counter("auth_logins_total{result=\"invalid_credentials\"}"), 5);
  EXPECT_EQ(counter("auth_logins_total{result=\"throttled\"}"), 1);
  EXPECT_EQ(counter("auth_signups_total"), 1);
  EXPECT_EQ(counter("auth_refreshes_total"), 1);
  EXPECT_EQ(counter("auth_refresh_reuse_total"), 1);
  EXPECT_EQ(counter("auth_refresh_rejected_total"), 0);
  auto unknown = post("/api/v1/auth/refresh", {{"refreshToken", std::string(43, 'A')}});
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(counter("auth_refresh_rejected_total"), 1);
  // The Google and cleanup series exist from start-up, at zero, so dashboards and alerts see them.
  for (const char* series : {"auth_google_sign_ins_total{result=\"created\"}", "auth_google_sign_ins_total{result=\"linked\"}",
                             "auth_google_sign_ins_total{result=\"existing\"}",
                             "auth_google_sign_ins_total{result=\"rejected\"}", "auth_refresh_tokens_deleted_total",
                             "auth_hash_pending"}) {
    EXPECT_NE(text.find(std::string("\n") + series + " "), std::string::npos) << series;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, AuthMaintenanceTest,
                         ::testing::Values(store::Engine::sqlite, store::Engine::postgres), engine_name);
INSTANTIATE_TEST_SUITE_P(Engines, AuthMetricsTest, ::testing::Values(store::Engine::sqlite, store::Engine::postgres),
                         engine_name);

}  // namespace
}  // namespace tiketi::auth::testing
