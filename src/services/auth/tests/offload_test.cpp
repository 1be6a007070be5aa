// argon2id runs off the I/O threads (issue 3: "hashing runs off the I/O threads so logins never
// stall other requests"). Logins at the production parameters (opslimit 2, 64 MiB) are started on
// the fixture's two-thread io_context; once they are hashing, a cheap authenticated request
// (GET /auth/me) must answer long before a single hash could finish. Were the hash computed on an
// I/O thread, two logins would hold both threads and /me would wait for a whole hash.
#include <chrono>
#include <future>

#include "services/auth/domain/password.hpp"
#include "services/auth/tests/auth_fixture.hpp"

namespace tiketi::auth::testing {
namespace {

using Steady = std::chrono::steady_clock;

Task<int> run_route(const net::Route* route, net::Request* req) {
  int status = 0;
  try {
    auto resp = co_await route->handler(*req);
    status = resp.status;
  } catch (const ApiError& e) {
    status = e.status();
  }
  co_return status;
}

class AuthOffloadTest : public AuthFixture {
 protected:
  void configure(Config& c) override {
    c.extra["auth.argon2_opslimit"] = "2";
    c.extra["auth.argon2_memlimit_kib"] = "65536";
    c.extra["auth.hash_threads"] = "1";
  }

  struct Pending {
    std::unique_ptr<net::Request> req;
    std::future<int> status;
  };

  Pending start_call(const std::string& method, const std::string& path, const std::string& body,
                     net::Headers headers) {
    Pending p;
    p.req = std::make_unique<net::Request>();
    net::Request& req = *p.req;
    req.method = method;
    req.target = path;
    net::parse_target(path, req.path, req.query);
    req.body = body;
    req.headers = std::move(headers);
    req.remote_ip = "203.0.113.7";
    auto m = router_.match(method, req.path);
    if (m.route == nullptr) {
      ADD_FAILURE() << "no route " << method << " " << path;
      std::promise<int> none;
      none.set_value(404);
      p.status = none.get_future();
      return p;
    }
    req.params = m.params;
    req.route = m.route->templ;
    p.status = loop_.spawn(run_route(m.route, p.req.get()));
    return p;
  }
};

TEST_P(AuthOffloadTest, LoginsHashingDoNotStallACheapRoute) {
  auto s = signup();
  ASSERT_EQ(s.status, 201) << s.body.dump();
  const std::string access = s.body["accessToken"];

  // How long one verification takes here, now (the machine may be busy).
  PasswordHasher hasher(Argon2Params{2, 64u * 1024 * 1024});
  const std::string stored = hasher.hash("correct horse 1");
  const auto h0 = Steady::now();
  ASSERT_TRUE(hasher.verify(stored, "correct horse 1"));
  const auto one_hash = Steady::now() - h0;

  const std::string body = json{{"email", "alice@example.com"}, {"password", "correct horse 1"}}.dump();
  std::vector<Pending> logins;
  for (int i = 0; i < 3; ++i) {
    logins.push_back(start_call("POST", "/api/v1/auth/login", body, {}));
  }
  // Let the logins get past their cheap steps (body, throttle, user lookup) into the hash.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const auto t0 = Steady::now();
  auto me = start_call("GET", "/api/v1/auth/me", "", {{"Authorization", "Bearer " + access}});
  EXPECT_EQ(me.status.get(), 200);
  const auto me_latency = Steady::now() - t0;
  int finished_before_me = 0;
  for (auto& l : logins) {
    if (l.status.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      ++finished_before_me;
    }
  }
  for (auto& l : logins) {
    EXPECT_EQ(l.status.get(), 200);
  }
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  // One pool thread: the three logins take turns, so at least one is still hashing when /me answers.
  EXPECT_LT(finished_before_me, 3);
  EXPECT_LT(me_latency, one_hash / 2) << "GET /auth/me took " << ms(me_latency) << " ms while logins hashed; one hash takes "
                                       << ms(one_hash) << " ms";
  EXPECT_EQ(counter("auth_logins_total{result=\"success\"}"), 3);
}

INSTANTIATE_TEST_SUITE_P(Engines, AuthOffloadTest, ::testing::Values(store::Engine::sqlite), engine_name);

}  // namespace
}  // namespace tiketi::auth::testing
