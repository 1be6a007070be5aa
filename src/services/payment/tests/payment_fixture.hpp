#pragma once
// A running payment service on real storage (SQLite temp dir, or PostgreSQL from
// TIKETI_TEST_POSTGRES_URL in a fresh schema), in-process coordination, a ManualClock, the
// gateway simulator over real HTTP on 127.0.0.1, and a fake reservation service (its internal
// route on a local net::Server, reached through net::HttpClient exactly as in production).
// Requests go straight to the matched handler with the principal set.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "coord/coordinator.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/testing/loop.hpp"
#include "core/testing/servers.hpp"
#include "net/client.hpp"
#include "net/router.hpp"
#include "net/server.hpp"
#include "services/payment/gateway/simulator.hpp"
#include "services/payment/service.hpp"
#include "services/payment/state.hpp"
#include "store/database.hpp"

namespace tiketi::payment::testing {

using ::tiketi::test_support::Loop;
using ::tiketi::test_support::random_suffix;

using nlohmann::json;

struct Reply {
  int status = 0;
  json body;
};

struct FakeReservation {
  std::string user_id;
  std::string status = "PENDING";
  std::int64_t amount = 0;
  bool payable = true;
};

class PaymentFixture : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    schema_ = "payment_t" + random_suffix();
    if (GetParam() == store::Engine::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi_payment_" + random_suffix());
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(url);
      url_ = url;
    }

    PgSimOptions so;
    so.secret_key = "test_sk_fixture";
    so.hang_ms = 1'500;
    sim_ = std::make_unique<PgSimulator>(so);
    sim_->start();

    net::Router fake;
    fake.add("GET", "/internal/v1/reservations/{id}", [this](net::Request& req) -> Task<net::Response> {
      std::lock_guard lk(mu_);
      auto it = reservations_.find(req.param("id"));
      if (it == reservations_.end()) {
        co_return net::Response::json(404, R"({"error":{"code":"not_found","message":"no"}})");
      }
      json j{{"id", it->first},
             {"userId", it->second.user_id},
             {"status", it->second.status},
             {"amount", it->second.amount},
             {"expiresAt", 0},
             {"payable", it->second.payable}};
      co_return net::Response::json(200, j.dump());
    });
    net::ServerOptions fo;
    fo.listen = "127.0.0.1:0";
    fo.threads = 1;
    fo.access_log = false;
    reservation_server_ = std::make_unique<net::Server>(fo, std::move(fake), server_metrics_);
    reservation_server_->start();
    client_ = std::make_unique<net::HttpClient>(clock_, loop_.ex());
    client_->add_local_peer("reservation", reservation_server_.get());
    sim_client_ = std::make_unique<net::HttpClient>(clock_, loop_.ex());
    sim_client_->add_remote_peer("sim", sim_->base_url());

    config_.data_dir = dir_.empty() ? std::filesystem::temp_directory_path().string() : dir_.string();
    config_.extra["auth.jwt_secret"] = "test-secret-0123456789abcdef0123456789";
    config_.extra["payment.gateway_url"] = sim_->base_url();
    config_.extra["payment.gateway_secret"] = "test_sk_fixture";
    config_.extra["payment.gateway_timeout_ms"] = "300";
    config_.extra["payment.background"] = "off";

    db_ = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 8, 5000}));
    service_ = app::make_payment_service();
    loop_.run(store::migrate(*db_, service_->migrations()));
    coord_ = loop_.run(coord::open(loop_.ex(), ""));
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.metrics = &metrics_;
    ctx_.client = client_.get();
    ctx_.executor = loop_.ex();
    ctx_.log.service = "payment";
    ctx_.instance_id = "test";
    service_->routes(router_);
    loop_.run(service_->start(ctx_));
  }

  void TearDown() override {
    if (service_) {
      loop_.run(service_->stop());
    }
    if (reservation_server_) {
      reservation_server_->shutdown(100);
      reservation_server_->join();
    }
    if (sim_) {
      sim_->shutdown();
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

  State& state() { return *state_of(*service_); }

  void add_reservation(const std::string& id, const std::string& user, std::int64_t amount,
                       std::string status = "PENDING", bool payable = true) {
    std::lock_guard lk(mu_);
    reservations_[id] = FakeReservation{user, std::move(status), amount, payable};
  }

  Task<Reply> call_async(std::string method, std::string path, std::string body, std::string user,
                         std::string idem = {}, std::string role = "user") {
    net::Request req;
    req.method = method;
    req.target = path;
    net::parse_target(path, req.path, req.query);
    req.body = std::move(body);
    if (!idem.empty()) {
      net::set_header(req.headers, "Idempotency-Key", idem);
    }
    if (!user.empty()) {
      req.principal = net::Principal{user, role, "t"};
    }
    auto m = router_.match(method, req.path);
    Reply r;
    if (m.route == nullptr) {
      r.status = m.path_known ? 405 : 404;
      co_return r;
    }
    req.params = m.params;
    try {
      auto resp = co_await m.route->handler(req);
      r.status = resp.status;
      r.body = resp.body.empty() ? json() : json::parse(resp.body);
    } catch (const ApiError& e) {
      r.status = e.status();
      r.body = json::parse(e.to_json());
    }
    co_return r;
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body,
             const std::string& user, const std::string& idem = {}, const std::string& role = "user") {
    return loop_.run(call_async(method, path, body, user, idem, role));
  }

  // Gives `user` a balance by writing a CHARGE through the ledger (as a confirmed charge would).
  void give_points(const std::string& user, std::int64_t amount) {
    auto* store = state().store.get();
    std::function<Task<void>(store::Tx&)> fn = [store, user, amount](store::Tx& tx) -> Task<void> {
      const std::string ref = "seed-" + random_suffix();
      co_await store->credit_points(tx, user, amount, PointKind::charge, ref);
    };
    loop_.run(db_->transaction(fn));
  }

  std::int64_t balance(const std::string& user) { return loop_.run(state().store->balance(user)); }

  std::int64_t count(const std::string& sql, store::Params params = {}) {
    return loop_.run(db_->exec(sql, std::move(params))).one().i64(0);
  }

  // The browser's part: submit the hosted checkout form with a test card; returns the paymentKey
  // from the success redirect (empty when redirected to failUrl).
  std::string checkout(const json& payment, const std::string& card = "4242424242424242") {
    const std::string url = payment.at("checkoutUrl");
    EXPECT_NE(url.find("/checkout?"), std::string::npos);
    net::ClientRequest req;
    req.method = "POST";
    req.path = "/checkout/pay";
    req.body = "orderId=" + payment.at("orderId").get<std::string>() +
               "&amount=" + std::to_string(payment.at("cardAmount").get<std::int64_t>()) +
               "&orderName=Test&successUrl=%2Fok&failUrl=%2Ffail&card=" + card;
    net::set_header(req.headers, "Content-Type", "application/x-www-form-urlencoded");
    auto resp = loop_.run(sim_client_->call("sim", std::move(req), LogContext{}));
    EXPECT_EQ(resp.status, 302);
    auto loc = net::find_header(resp.headers, "Location");
    if (!loc) {
      return {};
    }
    std::string path;
    std::vector<std::pair<std::string, std::string>> q;
    net::parse_target(*loc, path, q);
    if (path != "/ok") {
      return {};
    }
    for (auto& [k, v] : q) {
      if (k == "paymentKey") {
        return v;
      }
    }
    return {};
  }

  Loop loop_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  metrics::Registry metrics_;
  metrics::Registry server_metrics_;
  Config config_;
  std::filesystem::path dir_;
  std::string url_;
  std::string schema_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr coord_;
  std::unique_ptr<PgSimulator> sim_;
  std::unique_ptr<net::Server> reservation_server_;
  std::unique_ptr<net::HttpClient> client_;
  std::unique_ptr<net::HttpClient> sim_client_;
  app::ServicePtr service_;
  app::ServiceContext ctx_;
  net::Router router_;
  std::mutex mu_;
  std::map<std::string, FakeReservation> reservations_;
};

inline std::string engine_name(const ::testing::TestParamInfo<store::Engine>& info) {
  return info.param == store::Engine::sqlite ? "sqlite" : "postgres";
}

}  // namespace tiketi::payment::testing
