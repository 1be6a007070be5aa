// The queue service from outside, over a real server on port 0: join/refresh/leave, status as
// heartbeat, admission with a token the reservation service accepts, admin routes, closed and
// unknown events, WebSocket push (and malformed frames), SSE. Memory coordination + SQLite (the
// consumer's dedupe table) with a ManualClock; the admission loop is driven by hand.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "coord/outbox.hpp"
#include "coord/tests/coord_fixture.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "net/hub.hpp"
#include "net/server.hpp"
#include "net/tests/test_support.hpp"
#include "services/common/auth_verify.hpp"
#include "services/queue/admission.hpp"
#include "services/queue/live.hpp"
#include "services/queue/service.hpp"
#include "services/queue/state.hpp"
#include "services/reservation/domain/admission.hpp"
#include "store/database.hpp"

namespace tiketi::queue {
namespace {

using net::test::RawClient;
using nlohmann::json;

const std::string kAdmissionSecret = "admission-secret-0123456789abcdef0123";

class QueueServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tiketi-queue-" + ids::random_hex(6));
    std::filesystem::create_directories(dir_);
    config_.data_dir = dir_.string();
    config_.extra["auth.jwt_secret"] = "test-secret-0123456789abcdef0123456789";
    config_.extra["auth.jwt_kid"] = "test1";
    config_.extra["queue.admission_secret"] = kAdmissionSecret;
    config_.extra["queue.background"] = "off";
    db_ =
        loop_.run(store::open(loop_.ex(), store::OpenOptions{"sqlite:" + dir_.string(), "queue", 2, 10'000}));
    service_ = app::make_queue_service();
    loop_.run(store::migrate(*db_, service_->migrations()));
    coord_ = coord::make_memory_coordinator(loop_.ex(), coord::MemoryOptions{clock_});
    ctx_.config = &config_;
    ctx_.db = db_;
    ctx_.coord = coord_;
    ctx_.clock = clock_;
    ctx_.metrics = &registry_;
    ctx_.hub = &hub_;
    ctx_.executor = loop_.ex();
    ctx_.log.service = "queue";
    ctx_.instance_id = "replica-1";
    net::Router router;
    service_->routes(router);
    loop_.run(service_->start(ctx_));
    net::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.access_log = false;
    server_ = std::make_unique<net::Server>(o, std::move(router), registry_);
    server_->start();
    auth_ = common::Authenticator::from_config(config_, clock_);
  }

  void TearDown() override {
    if (server_) {
      server_->shutdown(500);
      server_->join();
    }
    if (service_) {
      loop_.run(service_->stop());
    }
    if (db_) {
      db_->close();
    }
    std::filesystem::remove_all(dir_);
  }

  std::string token(const std::string& user, const std::string& role = "user") {
    return auth_->codec().sign(auth_->codec().claims_for(user, role, *clock_));
  }

  // Delivers an event-service event through the real consumer.
  void deliver(const std::string& topic, const json& payload) {
    std::vector<std::pair<std::string, std::string>> fields{
        {"id", ids::uuid_v4()},      {"topic", topic},    {"key", payload.value("event_id", "")},
        {"payload", payload.dump()}, {"created_at", "0"}, {"trace_id", ""}};
    loop_.run(coord_->xadd(coord::stream_for_topic(topic), fields));
    ASSERT_EQ(loop_.run(consume_once(*service_)), 1);
  }

  void publish_event(const std::string& id, bool waiting_room = true, Millis sale_start_offset = -1'000) {
    deliver(
        "event.published",
        json{{"schema_version", 1},
             {"event_id", id},
             {"status", "on_sale"},
             {"sale_start", clock_->now_ms() + sale_start_offset},
             {"sale_end", clock_->now_ms() + 86'400'000},
             {"hold_minutes", 10},
             {"waiting_room", {{"enabled", waiting_room}, {"admission_per_minute", 60}, {"max_active", 100}}},
             {"published_at", clock_->now_ms()}});
    // Take leadership now (nobody waits yet), so the test's first tick admits by the rate.
    loop_.run(admitter_of(*service_)->tick(id));
  }

  struct Reply {
    int status = 0;
    json body;
  };
  Reply call(const std::string& method, const std::string& path, const std::string& tok = {},
             const std::string& body = {}) {
    RawClient c(server_->port());
    std::vector<std::string> headers;
    if (!tok.empty()) {
      headers.push_back("Authorization: Bearer " + tok);
    }
    if (!body.empty()) {
      headers.push_back("Content-Type: application/json");
    }
    auto r = c.request(method, path, body, headers);
    Reply out{r.status, json::parse(r.body, nullptr, false)};
    return out;
  }

  TickReport tick(const std::string& event, Millis advance = 1'000) {
    clock_->advance(advance);
    return loop_.run(admitter_of(*service_)->tick(event));
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  coord::testing::Loop loop_;
  std::filesystem::path dir_;
  Config config_;
  store::DatabasePtr db_;
  coord::CoordinatorPtr coord_;
  metrics::Registry registry_;
  net::Hub hub_;
  app::ServiceContext ctx_;
  app::ServicePtr service_;
  std::unique_ptr<net::Server> server_;
  std::shared_ptr<common::Authenticator> auth_;
};

TEST_F(QueueServiceTest, JoinRefreshStatusLeave) {
  publish_event("ev1");
  EXPECT_EQ(call("POST", "/api/v1/events/ev1/queue").status, 401) << "login required";
  EXPECT_EQ(call("POST", "/api/v1/events/nope/queue", token("alice")).status, 404);

  auto a = call("POST", "/api/v1/events/ev1/queue", token("alice"));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.body["state"], "waiting");
  EXPECT_EQ(a.body["position"], 1);
  EXPECT_EQ(a.body["peopleAhead"], 0);
  EXPECT_EQ(a.body["etaSeconds"], 1);
  auto b = call("POST", "/api/v1/events/ev1/queue", token("bob"));
  EXPECT_EQ(b.body["position"], 2);
  EXPECT_EQ(b.body["etaSeconds"], 2) << "rate 1/s";
  // Refresh / second tab: same place.
  auto again = call("POST", "/api/v1/events/ev1/queue", token("alice"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["position"], 1);
  EXPECT_EQ(again.body["seq"], a.body["seq"]);

  auto st = call("GET", "/api/v1/events/ev1/queue", token("bob"));
  EXPECT_EQ(st.status, 200);
  EXPECT_EQ(st.body["position"], 2);
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("carol")).status, 404) << "never joined";

  EXPECT_EQ(call("DELETE", "/api/v1/events/ev1/queue", token("alice")).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("bob")).body["position"], 1);
  EXPECT_EQ(call("DELETE", "/api/v1/events/ev1/queue", token("alice")).status, 204)
      << "leaving twice is fine";
}

TEST_F(QueueServiceTest, AdmissionGivesATokenTheReservationServiceAccepts) {
  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("alice"));
  call("POST", "/api/v1/events/ev1/queue", token("bob"));
  auto r = tick("ev1");
  ASSERT_TRUE(r.leader);
  ASSERT_EQ(r.step.admitted.size(), 1u) << "60/min = 1 per second";
  auto a = call("GET", "/api/v1/events/ev1/queue", token("alice"));
  ASSERT_EQ(a.body["state"], "admitted") << a.body;
  const std::string t = a.body["admissionToken"];
  reservation::HmacAdmissionVerifier verifier(kAdmissionSecret);
  EXPECT_EQ(verifier.verify(t, "alice", "ev1", clock_->now_ms()), std::nullopt);
  EXPECT_EQ(verifier.verify(t, "bob", "ev1", clock_->now_ms()), reservation::AdmissionError::wrong_user);
  EXPECT_EQ(verifier.verify(t, "alice", "ev1", clock_->now_ms() + 600'001),
            reservation::AdmissionError::expired)
      << "the token ends with the 10-minute session";
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("bob")).body["state"], "waiting");

  auto m = registry_.expose();
  EXPECT_NE(m.find("queue_admissions_total 1"), std::string::npos) << m;
  EXPECT_NE(m.find("queue_waiting{event=\"ev1\"} 1"), std::string::npos);
  EXPECT_NE(m.find("queue_active_shoppers{event=\"ev1\"} 1"), std::string::npos);
}

TEST_F(QueueServiceTest, WaitingRoomOffAdmitsAtOnce) {
  publish_event("free", false);
  auto a = call("POST", "/api/v1/events/free/queue", token("alice"));
  EXPECT_EQ(a.body["state"], "admitted");
  EXPECT_TRUE(a.body["admissionToken"].is_string());
}

TEST_F(QueueServiceTest, ClosedAndNotYetOpen) {
  publish_event("later", true, 3 * 3'600'000);  // sale in 3 h, pre-queue opens 30 min before
  auto early = call("POST", "/api/v1/events/later/queue", token("alice"));
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(early.body["error"]["code"], "queue_not_open");

  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("alice"));
  deliver(
      "event.status_changed",
      json{{"event_id", "ev1"}, {"from", "on_sale"}, {"to", "closed"}, {"changed_at", clock_->now_ms() + 1}});
  auto j = call("POST", "/api/v1/events/ev1/queue", token("bob"));
  EXPECT_EQ(j.status, 409);
  EXPECT_EQ(j.body["error"]["code"], "queue_closed");
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("alice")).body["state"], "closed");
  EXPECT_FALSE(tick("ev1").leader) << "a closed sale admits nobody";
}

TEST_F(QueueServiceTest, AdminRoutes) {
  publish_event("ev1");
  for (const char* u : {"u1", "u2", "u3"}) {
    call("POST", "/api/v1/events/ev1/queue", token(u));
  }
  const auto admin = token("root", "admin");
  EXPECT_EQ(call("GET", "/api/v1/admin/queues/ev1", token("u1")).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/admin/queues/ev1").status, 401);
  auto v = call("GET", "/api/v1/admin/queues/ev1", admin);
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(v.body["length"], 3);
  EXPECT_EQ(v.body["paused"], false);

  EXPECT_EQ(call("POST", "/api/v1/admin/queues/ev1/pause", admin).body["paused"], true);
  EXPECT_TRUE(tick("ev1", 5'000).step.admitted.empty()) << "paused: nobody admitted";
  EXPECT_EQ(call("POST", "/api/v1/admin/queues/ev1/resume", admin).body["paused"], false);

  auto p = call("PATCH", "/api/v1/admin/queues/ev1", admin, R"({"rate": 10, "maxActive": 2})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.body["rate"], 10.0);
  EXPECT_EQ(p.body["maxActive"], 2);
  EXPECT_EQ(tick("ev1").step.admitted.size(), 2u) << "capacity 2 is the limit now";
  auto bad = call("PATCH", "/api/v1/admin/queues/ev1", admin, R"({"rate": -1, "mode": "sometimes"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["code"], "validation_failed");

  EXPECT_EQ(call("DELETE", "/api/v1/admin/queues/ev1/users/u3", admin).status, 204);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/queues/ev1/users/u3", admin).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/admin/queues/ev1", admin).body["length"], 0);
  EXPECT_EQ(call("GET", "/api/v1/admin/queues/nope", admin).status, 404);
}

TEST_F(QueueServiceTest, AbandonedWaitersLeaveTheLine) {
  publish_event("ev1");
  call("PATCH", "/api/v1/admin/queues/ev1", token("root", "admin"), R"({"maxActive": 1})");
  call("POST", "/api/v1/events/ev1/queue", token("first"));
  call("POST", "/api/v1/events/ev1/queue", token("quiet"));
  call("POST", "/api/v1/events/ev1/queue", token("polling"));
  tick("ev1");  // "first" takes the only slot
  clock_->advance(40'000);
  call("GET", "/api/v1/events/ev1/queue", token("polling"));  // heartbeat
  auto r = tick("ev1", 30'000);
  EXPECT_EQ(r.abandoned, 1);
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("quiet")).status, 404);
  auto polling = call("GET", "/api/v1/events/ev1/queue", token("polling"));
  EXPECT_EQ(polling.body["position"], 1);
  // The only slot is taken (first's 10-minute session runs): next in line still waits for it to end.
  EXPECT_EQ(polling.body["etaSeconds"], 600) << polling.body.dump();
}

TEST_F(QueueServiceTest, WebSocketPushesTicksAndTheAdmission) {
  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("alice"));
  call("POST", "/api/v1/events/ev1/queue", token("bob"));

  RawClient bob(server_->port());
  ASSERT_TRUE(bob.ws_handshake("/api/v1/events/ev1/queue/ws?access_token=" + token("bob")));
  auto hello = json::parse(bob.ws_read_text().value_or("{}"));
  EXPECT_EQ(hello["type"], "status");
  EXPECT_EQ(hello["position"], 2);

  // Token as the first message instead of the query parameter.
  RawClient alice(server_->port());
  ASSERT_TRUE(alice.ws_handshake("/api/v1/events/ev1/queue/ws"));
  ASSERT_TRUE(alice.ws_send_text(json{{"type", "auth"}, {"token", token("alice")}}.dump()));
  EXPECT_EQ(json::parse(alice.ws_read_text().value_or("{}"))["position"], 1);

  // Garbage does not hurt anyone.
  ASSERT_TRUE(bob.ws_send_text("not json {"));
  EXPECT_EQ(json::parse(bob.ws_read_text().value_or("{}"))["code"], "bad_message");

  tick("ev1");
  // alice gets the shared tick and her personal admission (order between the two may vary).
  bool admitted = false;
  bool ticked = false;
  for (int i = 0; i < 2; ++i) {
    auto raw = alice.ws_read_text();
    auto m = json::parse(raw.value_or("{}"));
    if (m["type"] == "admitted") {
      admitted = true;
      EXPECT_TRUE(m["admissionToken"].is_string());
    } else if (m["type"] == "tick") {
      ticked = true;
    }
  }
  EXPECT_TRUE(admitted);
  EXPECT_TRUE(ticked);
  // bob only gets the shared tick, from which he computes his place.
  auto t = json::parse(bob.ws_read_text().value_or("{}"));
  EXPECT_EQ(t["type"], "tick");
  EXPECT_EQ(t["count"], 1);
  EXPECT_FALSE(t.contains("admitted")) << "other users' ids never reach clients";
  EXPECT_EQ(hello["seq"].get<std::int64_t>() - t["head"].get<std::int64_t>() - 1, 0) << "bob is next";

  // A heartbeat is answered with the exact place.
  ASSERT_TRUE(bob.ws_send_text(R"({"type":"status"})"));
  EXPECT_EQ(json::parse(bob.ws_read_text().value_or("{}"))["position"], 1);

  // Once admitted, alice's socket is out of the position broadcasts: the next tick reaches bob
  // (and admits him), while alice's next message is the answer to her heartbeat.
  tick("ev1");
  bool bob_ticked = false;
  for (int i = 0; i < 2; ++i) {
    bob_ticked = bob_ticked || json::parse(bob.ws_read_text().value_or("{}"))["type"] == "tick";
  }
  EXPECT_TRUE(bob_ticked);
  ASSERT_TRUE(alice.ws_send_text(R"({"type":"heartbeat"})"));
  ASSERT_TRUE(alice.ws_send_text(R"({"type":"status"})"));
  auto next = json::parse(alice.ws_read_text().value_or("{}"));
  EXPECT_EQ(next["type"], "admitted") << "an admitted socket gets no more ticks: " << next.dump();

  // Unauthenticated sockets are refused cleanly, with the token's own error code as over HTTP;
  // the service keeps serving.
  RawClient anon(server_->port());
  ASSERT_TRUE(anon.ws_handshake("/api/v1/events/ev1/queue/ws"));
  ASSERT_TRUE(anon.ws_send_text(R"({"type":"auth","token":"forged"})"));
  EXPECT_EQ(json::parse(anon.ws_read_text().value_or("{}"))["code"], "token_malformed");
  RawClient none(server_->port());
  ASSERT_TRUE(none.ws_handshake("/api/v1/events/ev1/queue/ws"));
  ASSERT_TRUE(none.ws_send_text(R"({"type":"auth"})"));
  EXPECT_EQ(json::parse(none.ws_read_text().value_or("{}"))["code"], "unauthorized");
  // A refused ?access_token= is answered at once (no first message needed).
  std::string tampered = token("bob");
  char& c = tampered[tampered.rfind('.') + 5];  // inside the signature (the last char has pad bits)
  c = c == 'A' ? 'B' : 'A';
  RawClient bad(server_->port());
  ASSERT_TRUE(bad.ws_handshake("/api/v1/events/ev1/queue/ws?access_token=" + tampered));
  EXPECT_EQ(json::parse(bad.ws_read_text().value_or("{}"))["code"], "token_bad_signature");
  EXPECT_EQ(call("GET", "/api/v1/events/ev1/queue", token("bob")).status, 200);
}

TEST_F(QueueServiceTest, SharedTickPushesAreCoalescedPerBroadcastPeriod) {
  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("bob"));
  RawClient bob(server_->port());
  ASSERT_TRUE(bob.ws_handshake("/api/v1/events/ev1/queue/ws?access_token=" + token("bob")));
  ASSERT_TRUE(bob.ws_read_text().has_value());  // the status on connect
  auto* st = state_of(*service_);
  ASSERT_NE(st, nullptr);
  auto msg = [&](int head) {
    return json{{"type", "tick"},  {"event", "ev1"}, {"head", head},      {"admitted", json::array()},
                {"count", 1},      {"waiting", 1},   {"active", 0},       {"rate", 1},
                {"paused", false}, {"reshuffled", false}, {"ts", clock_->now_ms()}, {"exp", 0}}
        .dump();
  };
  st->live->on_tick_message("ev1", msg(1));  // the first tick goes out at once
  auto first = json::parse(bob.ws_read_text().value_or("{}"));
  EXPECT_EQ(first["head"], 1);
  EXPECT_EQ(first["count"], 1);
  st->live->on_tick_message("ev1", msg(2));  // within queue.broadcast_ms (1 s): held back
  clock_->advance(1'000);
  st->live->on_tick_message("ev1", msg(3));
  auto next = json::parse(bob.ws_read_text().value_or("{}"));
  EXPECT_EQ(next["head"], 3) << "the tick in between must not be pushed on its own";
  EXPECT_EQ(next["count"], 2) << "the push carries every admission since the previous one";
  // Ticks arrive with jitter: one a little short of the period still goes out (not a period later).
  clock_->advance(950);
  st->live->on_tick_message("ev1", msg(4));
  auto jittered = json::parse(bob.ws_read_text().value_or("{}"));
  EXPECT_EQ(jittered["head"], 4) << "a tick 50 ms short of queue.broadcast_ms is pushed";
  EXPECT_EQ(jittered["count"], 1);
}

TEST_F(QueueServiceTest, MalformedFramesCloseOnlyThatSocket) {
  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("alice"));
  call("POST", "/api/v1/events/ev1/queue", token("bob"));
  RawClient bad(server_->port());
  ASSERT_TRUE(bad.ws_handshake("/api/v1/events/ev1/queue/ws?access_token=" + token("alice")));
  ASSERT_TRUE(bad.ws_read_text().has_value());
  ASSERT_TRUE(bad.send_all(RawClient::ws_frame(0x3, "reserved opcode")));
  EXPECT_TRUE(bad.wait_closed());

  RawClient good(server_->port());
  ASSERT_TRUE(good.ws_handshake("/api/v1/events/ev1/queue/ws?access_token=" + token("bob")));
  EXPECT_EQ(json::parse(good.ws_read_text().value_or("{}"))["position"], 2);
  tick("ev1");
  bool ticked = false;
  for (int i = 0; i < 3 && !ticked; ++i) {
    ticked = json::parse(good.ws_read_text().value_or("{}"))["type"] == "tick";
  }
  EXPECT_TRUE(ticked) << "the service keeps serving the others";
}

TEST_F(QueueServiceTest, ServerSentEventsFallback) {
  publish_event("ev1");
  call("POST", "/api/v1/events/ev1/queue", token("alice"));
  RawClient c(server_->port());
  ASSERT_TRUE(c.send_all("GET /api/v1/events/ev1/queue/stream?access_token=" + token("alice") +
                         " HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n"));
  std::string got;
  auto read_until = [&](const std::string& needle) {
    for (int i = 0; i < 50 && got.find(needle) == std::string::npos; ++i) {
      char buf[4096];
      auto n = ::recv(c.fd(), buf, sizeof buf, 0);
      if (n <= 0) {
        return false;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got.find(needle) != std::string::npos;
  };
  ASSERT_TRUE(read_until("event: status")) << got;
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("\"position\":1"), std::string::npos) << got;
  tick("ev1");
  ASSERT_TRUE(read_until("event: admitted")) << got;
  EXPECT_NE(got.find("admissionToken"), std::string::npos);
}

}  // namespace
}  // namespace tiketi::queue
