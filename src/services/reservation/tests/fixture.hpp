#pragma once
// A started reservation service without sockets: real storage (SQLite in a temp dir, or PostgreSQL
// from TIKETI_TEST_POSTGRES_URL in a fresh schema), in-process coordination, a ManualClock, and the
// service's router. Background jobs are off; tests drive the sweeper, relay and consumer by hand.
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
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "coord/coordinator.hpp"
#include "coord/outbox.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/testing/loop.hpp"
#include "core/testing/servers.hpp"
#include "net/router.hpp"
#include "services/reservation/service.hpp"
#include "services/reservation/state.hpp"
#include "store/database.hpp"

namespace tiketi::reservation::testing {

using ::tiketi::test_support::Loop;
using ::tiketi::test_support::random_suffix;

using nlohmann::json;

struct Reply {
  int status = 0;
  json body;
  std::string text;
  net::Headers headers;
  std::string header(const std::string& name) const {
    auto v = net::find_header(headers, name);
    return v ? std::string(*v) : std::string();
  }
};

inline constexpr Millis kT0 = 1'700'000'000'000;

class Fixture : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    schema_ = "res_t" + random_suffix();
    if (GetParam() == store::Engine::sqlite) {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi_res_" + random_suffix());
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(url);
      url_ = url;
    }
    config_.data_dir = dir_.empty() ? std::filesystem::temp_directory_path().string() : dir_.string();
    config_.extra["auth.jwt_secret"] = "test-secret-0123456789abcdef0123456789";
    config_.extra["auth.jwt_kid"] = "test1";
    config_.extra["queue.admission_secret"] = "admission-secret-0123456789abcdef0123";
    config_.extra["reservation.background"] = "off";
    config_.extra["reservation.quota_stripes"] = "16";
    // A moderate pool: 1,000 clients share it (the brief: keep PostgreSQL's pool moderate).
    db_ = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 16, 10'000}));
    service_ = app::make_reservation_service();
    loop_.run(store::migrate(*db_, service_->migrations()));
    coord_ = coord::make_memory_coordinator(loop_.ex(), coord::MemoryOptions{clock_});
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.metrics = &metrics_;
    ctx_.executor = loop_.ex();
    ctx_.log.service = "reservation";
    ctx_.instance_id = "test";
    service_->routes(router_);
    loop_.run(service_->start(ctx_));
    state_ = state_of(*service_);
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

  ReservationStore& store() { return *state_->store; }

  // An on-sale event: `seats` seats "S-0001"… (price 10,000) and optionally a GA quota "ga".
  PublishedEvent make_event(const std::string& id, int seats, std::int64_t quota = 0, std::int64_t limit = 4,
                            bool waiting_room = false) {
    PublishedEvent e;
    e.info.event_id = id;
    e.info.title = "Event " + id;
    e.info.status = "on_sale";
    e.info.sale_start = kT0 - 60'000;
    e.info.sale_end = kT0 + 30LL * 24 * 3'600'000;
    e.info.performance_start = kT0 + 31LL * 24 * 3'600'000;
    e.info.per_user_limit = limit;
    e.info.hold_minutes = 10;
    e.info.waiting_room = waiting_room;
    e.ticket_types.push_back({"vip", "VIP", Kind::seated, 10'000, std::nullopt});
    if (quota > 0) {
      e.ticket_types.push_back({"ga", "Standing", Kind::general_admission, 5'000, quota});
    }
    for (int i = 0; i < seats; ++i) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", i);
      e.seats.push_back({buf, std::string("A 1-") + std::to_string(i), "vip"});
    }
    return e;
  }

  void publish(const PublishedEvent& e) {
    std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
      co_await store().apply_published(tx, e);
    };
    loop_.run(db_->transaction(std::move(work)));
    store().notify_changed(e.info.event_id);
  }

  // Delivers an event through the real stream + consumer path.
  int deliver(const std::string& topic, const std::string& id, const std::string& payload) {
    std::vector<std::pair<std::string, std::string>> fields{{"id", id},          {"topic", topic},
                                                            {"key", id},         {"payload", payload},
                                                            {"created_at", "0"}, {"trace_id", ""}};
    loop_.run(coord_->xadd(coord::stream_for_topic(topic), fields));
    return loop_.run(consume_once(*service_));
  }

  int pay(const std::string& reservation_id, const std::string& payment_id,
          std::optional<std::int64_t> amount = {}) {
    json j{{"reservation_id", reservation_id}, {"payment_id", payment_id}};
    if (amount) {
      j["amount"] = *amount;
    }
    return deliver("payment.completed", "evt-" + payment_id + "-" + random_suffix(), j.dump());
  }

  std::int64_t scalar(const std::string& sql) { return loop_.run(db_->exec(sql)).one().i64(0); }

  // The race tests' invariants, from the database (each test runs in its own schema):
  // seats that appear in more than one reservation (must be 0) …
  std::int64_t seats_in_two_reservations() {
    return scalar("SELECT COUNT(*) FROM (SELECT seat_id FROM reservation_items WHERE seat_id IS NOT NULL"
                  " GROUP BY seat_id HAVING COUNT(*) > 1) d");
  }
  // … and seated reservations that do not hold every one of their seats (must be 0: all or nothing).
  std::int64_t partly_held_reservations() {
    return scalar("SELECT COUNT(*) FROM reservations r WHERE r.kind = 'seated' AND r.quantity <>"
                  " (SELECT COUNT(*) FROM reservation_items i JOIN seats s ON s.event_id = r.event_id"
                  " AND s.seat_id = i.seat_id AND s.hold_id = r.id WHERE i.reservation_id = r.id)");
  }

  std::int64_t outbox_count(const std::string& topic) {
    return scalar("SELECT COUNT(*) FROM outbox WHERE topic = '" + topic + "'");
  }

  std::string token(const std::string& user, const std::string& role = "user") {
    const auto& codec = state_->authenticator->codec();
    return codec.sign(codec.claims_for(user, role, *clock_));
  }

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             net::Headers headers = {}) {
    net::Request req;
    req.method = method;
    req.target = target;
    net::parse_target(target, req.path, req.query);
    req.body = body;
    req.headers = std::move(headers);
    req.remote_ip = "203.0.113.7";
    auto m = router_.match(method, req.path);
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
      r.text = resp.body;
      if (!resp.body.empty() && resp.body[0] == '{') {
        r.body = json::parse(resp.body);
      }
    } catch (const ApiError& e) {
      r.status = e.status();
      r.body = json::parse(e.to_json());
    }
    return r;
  }

  Reply as(const std::string& user, const std::string& method, const std::string& target,
           const json& body = nullptr, net::Headers extra = {}, const std::string& role = "user") {
    extra.emplace_back("Authorization", "Bearer " + token(user, role));
    return call(method, target, body.is_null() ? "" : body.dump(), std::move(extra));
  }

  static std::string code(const Reply& r) { return r.body["error"]["code"].get<std::string>(); }

  Loop loop_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kT0);
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
  State* state_ = nullptr;
};

inline std::string engine_name(const ::testing::TestParamInfo<store::Engine>& info) {
  return info.param == store::Engine::sqlite ? "sqlite" : "postgres";
}

#define TIKETI_RESERVATION_ENGINES(Suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Engines, Suite,                                                    \
                           ::testing::Values(store::Engine::sqlite, store::Engine::postgres), \
                           ::tiketi::reservation::testing::engine_name)

// 1 = held, 0 = refused with `expected_code`; anything else is a test failure (rethrown).
inline Task<int> try_seats(ReservationStore* store, SeatHold h, std::string expected_code) {
  try {
    co_await store->hold_seats(h);
    co_return 1;
  } catch (const ApiError& e) {
    if (e.code() != expected_code) {
      throw;
    }
    co_return 0;
  }
}

inline Task<int> try_quota(ReservationStore* store, QuotaHold h, std::string expected_code) {
  try {
    co_await store->hold_quota(h);
    co_return 1;
  } catch (const ApiError& e) {
    if (e.code() != expected_code) {
      throw;
    }
    co_return 0;
  }
}

}  // namespace tiketi::reservation::testing
