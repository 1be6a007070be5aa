#pragma once
// A running auth service without sockets: real storage (SQLite temp dir, or PostgreSQL from
// TIKETI_TEST_POSTGRES_URL in a fresh schema), in-process coordination, a ManualClock, and the
// service's router; requests go straight to the matched handler.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "coord/coordinator.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/testing/loop.hpp"
#include "core/testing/servers.hpp"
#include "net/router.hpp"
#include "services/auth/schema/migrations.hpp"
#include "services/auth/service.hpp"
#include "store/database.hpp"

namespace tiketi::auth::testing {

using ::tiketi::test_support::Loop;
using ::tiketi::test_support::random_suffix;

using nlohmann::json;

struct Reply {
  int status = 0;
  json body;
  net::Headers headers;
  int retry_after = 0;
};

class AuthFixture : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    schema_ = "auth_t" + random_suffix();
    if (GetParam() == store::Engine::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi_auth_" + random_suffix());
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(url);
      url_ = url;
    }
    config_.data_dir = dir_.empty() ? std::filesystem::temp_directory_path().string() : dir_.string();
    config_.extra["auth.jwt_secret"] = "test-secret-0123456789abcdef0123456789";
    config_.extra["auth.jwt_kid"] = "test1";
    // Cheap argon2id parameters keep the suite fast; production defaults are measured separately.
    config_.extra["auth.argon2_opslimit"] = "1";
    config_.extra["auth.argon2_memlimit_kib"] = "8192";
    config_.extra["auth.hash_threads"] = "2";
    config_.extra["auth.login_max_failures"] = "3";
    config_.extra["auth.background"] = "off";  // cleanup runs only when a test drives it
    configure(config_);
    start();
  }

  virtual void configure(Config&) {}
  // "" -> in-process coordination (the default for these suites); a subclass may return a Redis URL.
  virtual std::string coordination_url() { return ""; }
  // TIKETI_TEST_REDIS_URL for the PostgreSQL parameter (the scaled shape), "" for SQLite. Fails the
  // test when TIKETI_REQUIRE_SERVERS=1 and no Redis is configured.
  std::string scaled_shape_redis() {
    if (GetParam() != store::Engine::postgres) {
      return "";
    }
    const char* url = test_support::server_url("TIKETI_TEST_REDIS_URL");
    if (url == nullptr) {
      if (test_support::require_servers()) {
        ADD_FAILURE() << "TIKETI_TEST_REDIS_URL is not set but TIKETI_REQUIRE_SERVERS=1";
      }
      return "";
    }
    return url;
  }

  void start() {
    db_ = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 4, 5000}));
    service_ = app::make_auth_service();
    loop_.run(store::migrate(*db_, service_->migrations()));
    coord_ = loop_.run(coord::open(loop_.ex(), coordination_url()));
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.metrics = &metrics_;
    ctx_.executor = loop_.ex();
    ctx_.log.service = "auth";
    ctx_.instance_id = "test-" + random_suffix();
    service_->routes(router_);
    loop_.run(service_->start(ctx_));
  }

  void TearDown() override {
    if (service_) {
      loop_.run(service_->stop());
    }
    if (db_ && GetParam() == store::Engine::postgres) {
      loop_.run(db_->exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE"));
    }
    if (db_) {
      db_->close();
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             net::Headers headers = {}, std::string remote_ip = "203.0.113.7",
             net::Router* router = nullptr) {
    net::Request req;
    req.method = method;
    req.target = path;
    net::parse_target(path, req.path, req.query);
    req.body = body;
    req.headers = std::move(headers);
    req.remote_ip = std::move(remote_ip);
    auto m = (router != nullptr ? router : &router_)->match(method, req.path);
    Reply r;
    if (m.route == nullptr) {
      r.status = m.path_known ? 405 : 404;
      return r;
    }
    req.params = m.params;
    req.route = m.route->templ;
    try {
      auto resp = loop_.run(m.route->handler(req));
      r.status = resp.status;
      r.headers = resp.headers;
      if (!resp.body.empty()) {
        r.body = json::parse(resp.body);
      }
    } catch (const ApiError& e) {
      r.status = e.status();
      r.body = json::parse(e.to_json());
      r.retry_after = e.retry_after();
    }
    return r;
  }

  Reply post(const std::string& path, const json& body, const std::string& token = "") {
    net::Headers h;
    if (!token.empty()) {
      h.emplace_back("Authorization", "Bearer " + token);
    }
    return call("POST", path, body.dump(), h);
  }
  Reply get(const std::string& path, const std::string& token) {
    return call("GET", path, "", {{"Authorization", "Bearer " + token}});
  }

  Reply signup(const std::string& email = "Alice@Example.com",
               const std::string& password = "correct horse 1") {
    return post("/api/v1/auth/signup", {{"email", email}, {"password", password}, {"name", "Alice"}});
  }
  Reply login(const std::string& email = "alice@example.com",
              const std::string& password = "correct horse 1") {
    return post("/api/v1/auth/login", {{"email", email}, {"password", password}});
  }

  std::int64_t count(const std::string& table) {
    auto r = loop_.run(db_->exec("SELECT COUNT(*) AS n FROM " + table));
    return r.one().i64("n");
  }

  double counter(const std::string& needle) {
    // The sample line "name{labels} value" (HELP/TYPE lines start with '#').
    const auto text = metrics_.expose();
    const auto pos = text.find("\n" + needle + " ");
    if (pos == std::string::npos) {
      return 0;
    }
    return std::stod(text.substr(pos + needle.size() + 2));
  }

  static std::string error_code(const Reply& r) { return r.body["error"]["code"].get<std::string>(); }

  Loop loop_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(1'700'000'000'000);
  metrics::Registry metrics_;
  Config config_;
  std::string url_;
  std::string schema_;
  std::filesystem::path dir_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr coord_;
  app::ServicePtr service_;
  app::ServiceContext ctx_;
  net::Router router_;
};

inline std::string engine_name(const ::testing::TestParamInfo<store::Engine>& info) {
  return info.param == store::Engine::sqlite ? "sqlite" : "postgres";
}

}  // namespace tiketi::auth::testing
