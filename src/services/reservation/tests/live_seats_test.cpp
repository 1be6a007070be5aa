// The live seat map across replicas: two reservation service instances sharing one database and one
// coordination store (SQLite + in-process, and PostgreSQL + Redis), each with its own hub, cache and
// seat feed — what two pods of the scaled deployment are.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <thread>

#include "core/testing/servers.hpp"
#include "net/hub.hpp"
#include "net/server.hpp"
#include "net/tests/test_support.hpp"
#include "services/reservation/live_seats.hpp"
#include "services/reservation/tests/fixture.hpp"

namespace tiketi::reservation::testing {
namespace {

using namespace std::chrono_literals;

// A viewer that records what the server sends and stays connected until closed.
class FakeWs final : public net::WebSocket {
 public:
  explicit FakeWs(Executor ex) : ex_(std::move(ex)) {}
  Task<std::optional<std::string>> read() override {
    while (open_) {
      boost::asio::steady_timer t(ex_, 5ms);
      co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return std::nullopt;
  }
  void send(Message m) override {
    std::lock_guard lock(mu_);
    got_.push_back(json::parse(*m));
  }
  void close(std::uint16_t code, std::string) override {
    close_code_ = code;
    open_ = false;
  }
  bool is_open() const override { return open_; }
  Executor executor() const override { return ex_; }
  std::uint64_t id() const override { return 7; }

  std::vector<json> messages() {
    std::lock_guard lock(mu_);
    return got_;
  }
  std::vector<json> of_type(const std::string& type) {
    std::vector<json> out;
    for (auto& m : messages()) {
      if (m.value("type", "") == type) {
        out.push_back(m);
      }
    }
    return out;
  }
  int close_code() const { return close_code_; }

 private:
  Executor ex_;
  std::mutex mu_;
  std::vector<json> got_;
  std::atomic<bool> open_{true};
  std::atomic<int> close_code_{0};
};

struct Replica {
  Config config;
  app::ServicePtr service;
  app::ServiceContext ctx;
  net::Router router;
  net::Hub hub;
  metrics::Registry metrics;
  store::DatabasePtr db;
  coord::CoordinatorPtr coord;
  State* state = nullptr;
};

bool wait_until(const std::function<bool()>& ok, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) {
      return true;
    }
    std::this_thread::sleep_for(2ms);
  }
  return ok();
}

class LiveSeats : public ::testing::TestWithParam<store::Engine> {
 protected:
  bool scaled() const { return GetParam() == store::Engine::postgres; }

  void SetUp() override {
    schema_ = "res_ws" + random_suffix();
    if (!scaled()) {
      dir_ = std::filesystem::temp_directory_path() / ("tiketi_resws_" + random_suffix());
      url_ = "sqlite:" + dir_.string();
    } else {
      TIKETI_POSTGRES_URL_OR_SKIP(pg);
      TIKETI_REDIS_URL_OR_SKIP(redis);
      url_ = pg;
      redis_url_ = redis;
    }
    db_ = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 8, 10'000}));
    auto probe = app::make_reservation_service();
    loop_.run(store::migrate(*db_, probe->migrations()));
    if (!scaled()) {
      memory_ = coord::make_memory_coordinator(loop_.ex(), coord::MemoryOptions{clock_});
    }
  }

  void TearDown() override {
    for (auto* r : {a_.get(), b_.get()}) {
      if (r != nullptr && r->service) {
        loop_.run(r->service->stop());
      }
    }
    for (auto* r : {a_.get(), b_.get()}) {
      if (r != nullptr && scaled()) {
        if (r->coord) {
          r->coord->close();
        }
        if (r->db && r->db != db_) {
          r->db->close();
        }
      }
    }
    if (db_ && scaled()) {
      loop_.run(db_->exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE"));
    }
    if (db_) {
      db_->close();
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // A replica with its own pool (PostgreSQL) or the shared SQLite handle, its own Redis connection
  // (or the shared in-process store), hub, cache and feed.
  std::unique_ptr<Replica> start_replica(const std::string& name, Millis tick_ms) {
    auto r = std::make_unique<Replica>();
    r->config.extra["auth.jwt_secret"] = "test-secret-0123456789abcdef0123456789";
    r->config.extra["auth.jwt_kid"] = "test1";
    r->config.extra["queue.admission_secret"] = "admission-secret-0123456789abcdef0123";
    r->config.extra["reservation.background"] = "off";
    r->config.extra["reservation.seat_feed_tick_ms"] = std::to_string(tick_ms);
    r->config.extra["reservation.seat_cache_ms"] = "60000";  // only invalidation refreshes the map
    if (scaled()) {
      r->db = loop_.run(store::open(loop_.ex(), store::OpenOptions{url_, schema_, 8, 10'000}));
      r->coord = loop_.run(coord::open(loop_.ex(), redis_url_));
    } else {
      r->db = db_;
      r->coord = memory_;
    }
    r->service = app::make_reservation_service();
    r->ctx.config = &r->config;
    r->ctx.db = r->db;
    r->ctx.coord = r->coord;
    r->ctx.clock = clock_;
    r->ctx.metrics = &r->metrics;
    r->ctx.hub = &r->hub;
    r->ctx.executor = loop_.ex();
    r->ctx.log.service = "reservation";
    r->ctx.instance_id = name;
    r->service->routes(r->router);
    loop_.run(r->service->start(r->ctx));
    r->state = state_of(*r->service);
    return r;
  }

  void publish_event(Replica& r, const std::string& id, int seats, std::int64_t quota = 0) {
    PublishedEvent e;
    e.info.event_id = id;
    e.info.title = "Event " + id;
    e.info.status = "on_sale";
    e.info.sale_start = kT0 - 60'000;
    e.info.sale_end = kT0 + 30LL * 24 * 3'600'000;
    e.info.performance_start = kT0 + 31LL * 24 * 3'600'000;
    e.info.per_user_limit = 4;
    e.info.hold_minutes = 10;
    e.ticket_types.push_back({"vip", "VIP", Kind::seated, 10'000, std::nullopt});
    if (quota > 0) {
      e.ticket_types.push_back({"ga", "Standing", Kind::general_admission, 5'000, quota});
    }
    for (int i = 0; i < seats; ++i) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "S-%04d", i);
      e.seats.push_back({buf, std::string("A 1-") + std::to_string(i), "vip"});
    }
    std::function<Task<void>(store::Tx&)> work = [&](store::Tx& tx) -> Task<void> {
      co_await r.state->store->apply_published(tx, e);
    };
    loop_.run(r.db->transaction(std::move(work)));
  }

  std::string token(Replica& r, const std::string& user) {
    const auto& codec = r.state->authenticator->codec();
    return codec.sign(codec.claims_for(user, "user", *clock_));
  }

  Reply call(Replica& r, const std::string& user, const std::string& method, const std::string& target,
             const json& body = nullptr) {
    net::Request req;
    req.method = method;
    req.target = target;
    net::parse_target(target, req.path, req.query);
    req.body = body.is_null() ? "" : body.dump();
    if (!user.empty()) {
      req.headers.emplace_back("Authorization", "Bearer " + token(r, user));
    }
    req.remote_ip = "203.0.113.7";
    auto m = r.router.match(method, req.path);
    Reply out;
    if (m.route == nullptr) {
      out.status = 404;
      return out;
    }
    req.params = m.params;
    req.route = m.route->templ;
    try {
      auto resp = loop_.run(m.route->handler(req));
      out.status = resp.status;
      out.headers = resp.headers;
      out.text = resp.body;
      if (!resp.body.empty() && resp.body[0] == '{') {
        out.body = json::parse(resp.body);
      }
    } catch (const ApiError& e) {
      out.status = e.status();
      out.body = json::parse(e.to_json());
    }
    return out;
  }

  // Connects a viewer to `r` the way the server does after the upgrade; returns once subscribed.
  std::shared_ptr<FakeWs> view(Replica& r, const std::string& event_id) {
    auto ws = std::make_shared<FakeWs>(loop_.ex());
    const std::string target = "/api/v1/events/" + event_id + "/seats/ws";
    auto m = r.router.match("GET", target);
    EXPECT_NE(m.route, nullptr);
    auto req = std::make_shared<net::Request>();
    req->method = "GET";
    req->target = target;
    req->path = target;
    req->params = m.params;
    req->route = m.route->templ;
    viewers_.push_back(loop_.spawn(m.route->ws_handler(*req, ws)));
    requests_.push_back(req);
    sockets_.push_back(ws);
    const std::string topic = SeatFeed::topic(event_id);
    EXPECT_TRUE(wait_until([&] { return r.hub.subscribers(topic) > 0 || !ws->is_open(); }));
    return ws;
  }

  void disconnect_all() {
    for (auto& ws : sockets_) {
      ws->close(1000, {});
    }
    for (auto& f : viewers_) {
      f.get();
    }
    viewers_.clear();
  }

  static std::map<std::string, std::string> seats_of(const json& msg) {
    std::map<std::string, std::string> out;
    for (const auto& s : msg["seats"]) {
      out[s["id"].get<std::string>()] = s["status"].get<std::string>();
    }
    return out;
  }

  std::string seat_status(Replica& r, const std::string& event_id, const std::string& seat) {
    auto got = call(r, "", "GET", "/api/v1/events/" + event_id + "/seats");
    EXPECT_EQ(got.status, 200) << got.text;
    for (const auto& s : got.body["seats"]) {
      if (s["id"] == seat) {
        return s["status"].get<std::string>();
      }
    }
    return "?";
  }

  Loop loop_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kT0);
  std::string url_, redis_url_, schema_;
  std::filesystem::path dir_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr memory_;
  std::unique_ptr<Replica> a_, b_;
  std::vector<std::future<void>> viewers_;
  std::vector<std::shared_ptr<net::Request>> requests_;
  std::vector<std::shared_ptr<FakeWs>> sockets_;
};

TEST_P(LiveSeats, HoldOnOneReplicaReachesViewersAndCacheOfTheOther) {
  constexpr Millis kTick = 100;
  a_ = start_replica("a", kTick);
  b_ = start_replica("b", kTick);
  publish_event(*a_, "ev1", 20);
  // B serves (and caches) the map before the hold: only the pub/sub signal can refresh it.
  EXPECT_EQ(seat_status(*b_, "ev1", "S-0003"), "available");
  auto ws = view(*b_, "ev1");

  const auto started = std::chrono::steady_clock::now();
  auto held = call(*a_, "u1", "POST", "/api/v1/reservations", json{{"eventId", "ev1"}, {"seatIds", {"S-0003", "S-0004"}}});
  ASSERT_EQ(held.status, 201) << held.text;
  std::map<std::string, std::string> seen;
  ASSERT_TRUE(wait_until([&] {
    for (const auto& m : ws->of_type("seats")) {
      for (const auto& [k, v] : seats_of(m)) {
        seen[k] = v;
      }
    }
    return seen.count("S-0003") && seen.count("S-0004");
  }));
  const auto latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  std::printf("hold on A seen by a viewer on B after %lld ms (tick %lld ms)\n", static_cast<long long>(latency),
              static_cast<long long>(kTick));
  EXPECT_EQ(seen["S-0003"], "held");
  EXPECT_EQ(seen["S-0004"], "held");
  EXPECT_LE(latency, 10 * kTick);  // a tick or two; generous for a loaded 2-core machine
  EXPECT_EQ(seat_status(*b_, "ev1", "S-0003"), "held");

  // The message format.
  auto msgs = ws->of_type("seats");
  ASSERT_FALSE(msgs.empty());
  const json& m = msgs.back();
  EXPECT_EQ(m["eventId"], "ev1");
  EXPECT_TRUE(m["seq"].is_number_integer());
  EXPECT_TRUE(m["at"].is_number_integer());
  EXPECT_EQ(m["at"].get<Millis>(), kT0);

  // A release (cancel) on A comes back as available.
  const std::string rid = held.body["id"].get<std::string>();
  ASSERT_EQ(call(*a_, "u1", "POST", "/api/v1/reservations/" + rid + "/cancel").status, 200);
  ASSERT_TRUE(wait_until([&] {
    auto all = ws->of_type("seats");
    return !all.empty() && seats_of(all.back()).count("S-0003") && seats_of(all.back())["S-0003"] == "available";
  }));
  EXPECT_EQ(seat_status(*b_, "ev1", "S-0003"), "available");
  // Sequence numbers increase by one per message on this replica.
  auto all = ws->of_type("seats");
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(all[i]["seq"].get<std::int64_t>(), all[i - 1]["seq"].get<std::int64_t>() + 1);
  }
  disconnect_all();
}

TEST_P(LiveSeats, ManyChangesInOneTickAreOneMessageWithEachSeatOnce) {
  a_ = start_replica("a", 10'000);  // the tick never fires by itself here: flush() by hand
  b_ = start_replica("b", 10'000);
  publish_event(*a_, "ev2", 100);
  auto ws = view(*b_, "ev2");
  b_->state->feed->flush();
  const auto before = ws->messages().size();
  const auto received_before = b_->state->feed->received();

  // 20 holds of 2 seats, on both replicas, and one of them cancelled again within the same tick.
  std::string cancel_id;
  int commits = 0;
  for (int i = 0; i < 20; ++i) {
    Replica& r = i % 2 == 0 ? *a_ : *b_;
    char s1[16], s2[16];
    std::snprintf(s1, sizeof s1, "S-%04d", 2 * i);
    std::snprintf(s2, sizeof s2, "S-%04d", 2 * i + 1);
    auto got = call(r, "user" + std::to_string(i), "POST", "/api/v1/reservations",
                    json{{"eventId", "ev2"}, {"seatIds", {s1, s2}}});
    ASSERT_EQ(got.status, 201) << got.text;
    ++commits;
    if (i == 4) {
      cancel_id = got.body["id"].get<std::string>();
    }
  }
  ASSERT_EQ(call(*a_, "user4", "POST", "/api/v1/reservations/" + cancel_id + "/cancel").status, 200);
  ++commits;
  ASSERT_TRUE(wait_until([&] { return b_->state->feed->received() >= received_before + commits; }));
  EXPECT_EQ(b_->state->feed->pending_seats("ev2"), 40u);

  EXPECT_EQ(b_->state->feed->flush(), 1);
  auto after = ws->messages();
  ASSERT_EQ(after.size(), before + 1);
  const json& msg = after.back();
  EXPECT_EQ(msg["type"], "seats");
  EXPECT_EQ(msg["seats"].size(), 40u);  // each changed seat once
  auto seats = seats_of(msg);
  EXPECT_EQ(seats.size(), 40u);
  EXPECT_EQ(seats["S-0008"], "available");  // held then released in the same tick: latest status
  EXPECT_EQ(seats["S-0009"], "available");
  EXPECT_EQ(seats["S-0000"], "held");
  EXPECT_EQ(seats["S-0039"], "held");
  // Nothing new: no message.
  EXPECT_EQ(b_->state->feed->flush(), 0);
  EXPECT_EQ(ws->messages().size(), before + 1);

  // A late or duplicated delivery of an older version never overwrites a newer status.
  loop_.run(b_->coord->publish(SeatFeed::channel("ev2"), R"({"s":[["S-0008",1,1]]})"));
  ASSERT_TRUE(wait_until([&] { return b_->state->feed->received() >= received_before + commits + 1; }));
  EXPECT_EQ(b_->state->feed->flush(), 0);

  // An inventory change everyone must reload for: "resync".
  a_->state->store->notify_changed("ev2");
  ASSERT_TRUE(wait_until([&] { return b_->state->feed->received() >= received_before + commits + 2; }));
  EXPECT_EQ(b_->state->feed->flush(), 1);
  EXPECT_EQ(ws->messages().back(), (json{{"type", "resync"}, {"eventId", "ev2"}}));
  disconnect_all();
}

TEST_P(LiveSeats, QuotaHoldOnOneReplicaRefreshesTheOthersMap) {
  a_ = start_replica("a", 50);
  b_ = start_replica("b", 50);
  publish_event(*a_, "ev3", 0, 10);
  auto quota = [&] {
    auto got = call(*b_, "", "GET", "/api/v1/events/ev3/seats");
    return got.body["quotas"][0]["available"].get<std::int64_t>();
  };
  EXPECT_EQ(quota(), 10);
  ASSERT_EQ(call(*a_, "u1", "POST", "/api/v1/reservations", json{{"eventId", "ev3"}, {"ticketTypeId", "ga"}, {"quantity", 3}})
                .status,
            201);
  EXPECT_TRUE(wait_until([&] { return quota() == 7; }));
}

TEST_P(LiveSeats, UnknownEventIsRefusedAndNotSubscribed) {
  b_ = start_replica("b", 50);
  auto ws = std::make_shared<FakeWs>(loop_.ex());
  const std::string target = "/api/v1/events/nope/seats/ws";
  auto m = b_->router.match("GET", target);
  ASSERT_NE(m.route, nullptr);
  net::Request req;
  req.method = "GET";
  req.target = target;
  req.path = target;
  req.params = m.params;
  loop_.run(m.route->ws_handler(req, ws));
  EXPECT_EQ(ws->close_code(), 4404);
  EXPECT_EQ(b_->state->feed->watched(), 0u);
  EXPECT_EQ(call(*b_, "", "GET", "/api/v1/events/nope/seats").status, 404);
  EXPECT_EQ(b_->state->feed->watched(), 0u);
}

// Over real sockets: a viewer that stops reading is cut off by the server's bounded per-socket queue
// while a reading viewer keeps up, and the feed itself keeps nothing per socket.
TEST_P(LiveSeats, SlowViewerIsCutOffWithoutGrowingMemory) {
  b_ = start_replica("b", 10'000);
  publish_event(*b_, "ev4", 1);
  net::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.ws_send_queue_limit = 64;  // the default
  net::Router routes;
  b_->service->routes(routes);  // a second router over the same service instance
  net::Server server(o, std::move(routes), b_->metrics);
  server.start();
  const std::string target = "/api/v1/events/ev4/seats/ws";
  net::test::RawClient slow(server.port(), 4096);
  ASSERT_TRUE(slow.ws_handshake(target));
  net::test::RawClient fast(server.port());
  ASSERT_TRUE(fast.ws_handshake(target));
  const std::string topic = SeatFeed::topic("ev4");
  ASSERT_TRUE(wait_until([&] { return b_->hub.subscribers(topic) == 2; }));

  std::atomic<bool> done{false};
  std::atomic<std::int64_t> fast_last_seq{0};
  std::atomic<int> fast_messages{0};
  struct Joiner {
    std::atomic<bool>& done;
    std::thread& t;
    ~Joiner() {
      done = true;
      if (t.joinable()) {
        t.join();
      }
    }
  };
  std::thread reader([&] {
    while (!done) {
      auto text = fast.ws_read_text();
      if (!text) {
        continue;
      }
      auto j = json::parse(*text, nullptr, false);
      if (j.is_object() && j.value("type", "") == "seats") {
        fast_last_seq = j["seq"].get<std::int64_t>();
        ++fast_messages;
      }
    }
  });
  Joiner joiner{done, reader};
  // Big messages (4,000 seats each) so that the kernel buffers fill quickly.
  std::int64_t version = 0;
  int ticks = 0;
  std::int64_t last_seq = 0;
  for (; ticks < 2'000 && b_->hub.subscribers(topic) == 2; ++ticks) {
    InventoryChange c;
    c.event_id = "ev4";
    ++version;
    for (int i = 0; i < 4'000; ++i) {
      c.seats.push_back({"X-" + std::to_string(i), version % 2 ? SeatStatus::held : SeatStatus::available, version});
    }
    const auto received = b_->state->feed->received();
    b_->state->store->notify(c);
    ASSERT_TRUE(wait_until([&] { return b_->state->feed->received() > received; }));
    const int sent = b_->state->feed->flush();
    if (sent == 0 && b_->hub.subscribers(topic) < 2) {
      break;  // the slow viewer was closed during this tick (and the fast one with it?)
    }
    ASSERT_EQ(sent, 1) << "tick " << ticks << ", viewers " << b_->hub.subscribers(topic);
    ++last_seq;
    std::this_thread::sleep_for(20ms);  // a fast tick, but one a reading client keeps up with
    EXPECT_EQ(b_->state->feed->pending_seats("ev4"), 0u);
  }
  std::printf("slow viewer cut off after %d messages of ~%zu KB\n", ticks, std::size_t{4'000 * 36 / 1024});
  EXPECT_LT(ticks, 2'000) << "the slow viewer was never cut off";
  EXPECT_EQ(b_->hub.subscribers(topic), 1u);
  // The reading viewer keeps up and ends with the latest message.
  EXPECT_TRUE(wait_until([&] { return fast_last_seq.load() == last_seq; }, 20s))
      << fast_last_seq.load() << " of " << last_seq << ", " << fast_messages.load() << " messages";
  std::printf("the reading viewer got %d of %lld messages\n", fast_messages.load(), static_cast<long long>(last_seq));
  done = true;
  server.shutdown(1000);
  if (reader.joinable()) {
    reader.join();
  }
  server.join();
}

TIKETI_RESERVATION_ENGINES(LiveSeats);

}  // namespace
}  // namespace tiketi::reservation::testing
