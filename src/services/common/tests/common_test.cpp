// JsonBody validation, bearer-token middleware helpers and the worker pool.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <thread>

#include "core/error.hpp"
#include "services/common/auth_verify.hpp"
#include "services/common/json_body.hpp"
#include "services/common/worker_pool.hpp"

namespace tiketi::common {
namespace {

std::vector<std::string> fields_of(const ApiError& e) {
  std::vector<std::string> out;
  for (const auto& f : e.fields()) {
    out.push_back(f.field);
  }
  return out;
}

TEST(JsonBodyTest, CollectsEveryFieldError) {
  JsonBody b(R"({"a": 1, "b": "  ", "c": "ok", "d": "x\u0000y", "n": 2.5, "t": "yes"})");
  EXPECT_EQ(b.required_string("a"), "");
  b.required_string("b", {.trim = true});
  EXPECT_EQ(b.required_string("c"), "ok");
  b.required_string("d");
  b.required_string("missing");
  b.optional_int("n", 0, 10);
  b.optional_bool("t");
  EXPECT_FALSE(b.optional_string("absent").has_value());
  try {
    b.finish();
    FAIL() << "expected a validation error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "validation_failed");
    EXPECT_EQ(fields_of(e), (std::vector<std::string>{"a", "b", "d", "missing", "n", "t"}));
  }
}

TEST(JsonBodyTest, LimitsAndNulls) {
  JsonBody b(R"({"name": "한국어이름", "long": "abcdef", "img": null, "i": 7})");
  EXPECT_EQ(*b.optional_string("name", {.max_chars = 5}), "한국어이름");
  EXPECT_FALSE(b.optional_string("long", {.max_chars = 5}).has_value());
  EXPECT_FALSE(b.optional_string("img").has_value());
  EXPECT_TRUE(b.was_null("img"));
  EXPECT_FALSE(b.was_null("name"));
  EXPECT_EQ(b.optional_int("i", 0, 10), 7);
  EXPECT_EQ(b.errors().size(), 1u);
  EXPECT_EQ(b.errors()[0].field, "long");
}

TEST(JsonBodyTest, RejectsNonObjectsAndInvalidJson) {
  for (const char* body : {"", "[]", "\"s\"", "{", "{\"a\":\"\xc3\x28\"}", "null"}) {
    try {
      JsonBody b(body);
      FAIL() << body;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400) << body;
      EXPECT_EQ(e.code(), "invalid_json") << body;
    }
  }
}

class AuthVerifyTest : public ::testing::Test {
 protected:
  AuthVerifyTest() {
    config_.extra["auth.jwt_secret"] = "0123456789abcdef0123456789abcdef";
    config_.extra["auth.jwt_kid"] = "k1";
    auth_ = Authenticator::from_config(config_, clock_);
  }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  Config config_;
  std::shared_ptr<Authenticator> auth_;

  std::string token(const std::string& role = "user") {
    return auth_->codec().sign(auth_->codec().claims_for("u1", role, *clock_));
  }
};

TEST_F(AuthVerifyTest, FillsPrincipalFromBearerHeader) {
  net::Request req;
  req.headers = {{"Authorization", "bearer  " + token("admin")}};
  authenticate_request(*auth_, req);
  ASSERT_TRUE(req.principal.has_value());
  EXPECT_EQ(req.principal->user_id, "u1");
  EXPECT_EQ(require_role(req, "admin").role, "admin");
}

TEST_F(AuthVerifyTest, RequireUserAndRole) {
  net::Request anon;
  authenticate_request(*auth_, anon);
  try {
    require_user(anon);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 401);
    EXPECT_EQ(e.code(), "unauthorized");
  }
  net::Request user;
  user.headers = {{"Authorization", "Bearer " + token()}};
  authenticate_request(*auth_, user);
  try {
    require_role(user, "admin");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 403);
  }
}

TEST_F(AuthVerifyTest, RefusedTokenKeepsItsCode) {
  net::Request req;
  req.headers = {{"Authorization", "Bearer " + token()}};
  clock_->advance(900'000);
  authenticate_request(*auth_, req);
  EXPECT_FALSE(req.principal.has_value());
  try {
    require_user(req);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 401);
    EXPECT_EQ(e.code(), "token_expired");
  }
  net::Request basic;
  basic.headers = {{"Authorization", "Basic dXNlcjpwYXNz"}};
  authenticate_request(*auth_, basic);
  EXPECT_THROW(require_user(basic), ApiError);
}

TEST_F(AuthVerifyTest, QueryTokenOnlyForWebSocketUpgrades) {
  net::Request plain;
  plain.query = {{"access_token", token()}};
  EXPECT_FALSE(bearer_token(plain).has_value());
  net::Request ws;
  ws.query = {{"access_token", token()}};
  ws.headers = {{"Upgrade", "WebSocket"}};
  authenticate_request(*auth_, ws);
  ASSERT_TRUE(ws.principal.has_value());
  EXPECT_EQ(ws.principal->user_id, "u1");
}

TEST_F(AuthVerifyTest, PreviousKeyAcceptedAfterRotation) {
  const auto old = token();
  Config rotated;
  rotated.extra["auth.jwt_secret"] = "fedcba9876543210fedcba9876543210";
  rotated.extra["auth.jwt_secret_previous"] = config_.extra["auth.jwt_secret"];
  rotated.extra["auth.jwt_kid_previous"] = "k1";
  auto next = Authenticator::from_config(rotated, clock_);
  EXPECT_NO_THROW(next->authenticate(old));
  EXPECT_NE(next->codec().current_kid(), "k1");
}

TEST(AuthKeysTest, ConfigErrorsNameTheSetting) {
  Config weak;
  weak.extra["auth.jwt_secret"] = "short";
  try {
    load_auth_keys(weak);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("auth.jwt_secret"), std::string::npos);
  }
  Config scaled;
  scaled.database_url = "postgres://x@127.0.0.1/db";
  EXPECT_THROW(load_auth_keys(scaled), std::invalid_argument);
}

TEST(AuthKeysTest, EmbeddedShapePersistsAGeneratedSecret) {
  const auto dir = std::filesystem::temp_directory_path() / ("tiketi_keys_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Config c;
  c.data_dir = dir.string();
  const auto a = load_auth_keys(c);
  const auto b = load_auth_keys(c);
  EXPECT_EQ(a.current.secret, b.current.secret);
  EXPECT_EQ(a.current.kid, b.current.kid);
  EXPECT_GE(a.current.secret.size(), 32u);
  EXPECT_EQ(std::filesystem::status(dir / "auth-jwt.key").permissions() & std::filesystem::perms::group_all,
            std::filesystem::perms::none);
  std::filesystem::remove_all(dir);
}

TEST(WorkerPoolTest, RunsOffTheCallerThreadAndResumesOnIt) {
  boost::asio::io_context io;
  WorkerPool pool(2, 16);
  std::thread::id io_thread;
  std::thread::id work_thread;
  std::thread::id resumed_on;
  auto fut = boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        io_thread = std::this_thread::get_id();
        co_await pool.run([&] { work_thread = std::this_thread::get_id(); });
        resumed_on = std::this_thread::get_id();
      },
      boost::asio::use_future);
  io.run();
  fut.get();
  EXPECT_NE(work_thread, io_thread);
  EXPECT_EQ(resumed_on, io_thread);
}

TEST(WorkerPoolTest, PropagatesExceptionsAndBoundsTheQueue) {
  boost::asio::io_context io;
  WorkerPool pool(1, 1);
  auto fut = boost::asio::co_spawn(
      io, [&]() -> Task<void> { co_await pool.run([] { throw std::runtime_error("boom"); }); },
      boost::asio::use_future);
  io.run();
  EXPECT_THROW(fut.get(), std::runtime_error);
  EXPECT_EQ(pool.pending(), 0u);

  // With one slot taken by a blocked job, the next caller gets 503 instead of queueing forever.
  std::atomic<bool> release{false};
  io.restart();
  auto blocker = boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        co_await pool.run([&] {
          while (!release.load()) {
            std::this_thread::yield();
          }
        });
      },
      boost::asio::use_future);
  auto rejected = boost::asio::co_spawn(
      io, [&]() -> Task<void> { co_await pool.run([] {}); }, boost::asio::use_future);
  io.poll();
  try {
    rejected.get();
    FAIL() << "expected 503";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 503);
  }
  release = true;
  io.run();
  blocker.get();
}

}  // namespace
}  // namespace tiketi::common
