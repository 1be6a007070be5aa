#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "net/server.hpp"
#include "net/tests/test_support.hpp"

namespace tiketi::net {
namespace {

using test::RawClient;
using namespace std::chrono_literals;

WsHandler echo_handler() {
  return [](Request&, WebSocketPtr ws) -> Task<void> {
    while (auto msg = co_await ws->read()) {
      ws->send_text(*msg);
    }
  };
}

class WebSocketTest : public ::testing::Test {
 protected:
  void start(Router r, ServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    server_ = std::make_unique<Server>(o, std::move(r), registry_);
    server_->start();
  }
  void TearDown() override {
    if (server_) {
      server_->shutdown(1000);
      server_->join();
    }
  }
  std::uint16_t port() const { return server_->port(); }

  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
};

TEST_F(WebSocketTest, EchoesMessages) {
  Router r;
  r.add_ws("/ws/echo", echo_handler());
  start(std::move(r));
  RawClient c(port());
  ASSERT_TRUE(c.ws_handshake("/ws/echo"));
  for (std::string text : {std::string("hello"), std::string(300, 'x'), std::string(9000, 'y')}) {
    ASSERT_TRUE(c.ws_send_text(text));
    EXPECT_EQ(c.ws_read_text(), text);
  }
  EXPECT_EQ(server_->websocket_connections(), 1u);
}

TEST_F(WebSocketTest, AuthenticatedSocketsDoNotKeepTheAccessTokenOrHandshakeHeaders) {
  Router r;
  r.add_ws("/ws/who", [](Request& req, WebSocketPtr ws) -> Task<void> {
    std::string sec;
    for (const auto& [k, v] : req.headers) {
      if (k.starts_with("Sec-WebSocket")) {
        sec += k;
      }
    }
    ws->send_text(nlohmann::json{{"target", req.target},
                                 {"token", req.query_param("access_token").value_or("-")},
                                 {"user", req.principal ? req.principal->user_id : "-"},
                                 {"sec", sec},
                                 {"upgrade", std::string(req.header("Upgrade").value_or("-"))}}
                      .dump());
    while (auto msg = co_await ws->read()) {
    }
  });
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  server_ = std::make_unique<Server>(o, std::move(r), registry_);
  server_->before([](Request& req) {
    if (req.query_param("access_token") == "good") {
      req.principal = Principal{"u1", "user", "t1"};
    }
  });
  server_->start();
  {
    RawClient c(port());
    ASSERT_TRUE(c.ws_handshake("/ws/who?a=1&access_token=good&b=2"));
    auto j = nlohmann::json::parse(c.ws_read_text().value_or("{}"));
    EXPECT_EQ(j["target"], "/ws/who?a=1&b=2");
    EXPECT_EQ(j["token"], "-");
    EXPECT_EQ(j["user"], "u1");
    EXPECT_EQ(j["sec"], "");
    EXPECT_EQ(j["upgrade"], "websocket");
  }
  {
    // Not authenticated: the handler still sees the token (it may authenticate by itself).
    RawClient c(port());
    ASSERT_TRUE(c.ws_handshake("/ws/who?access_token=other"));
    auto j = nlohmann::json::parse(c.ws_read_text().value_or("{}"));
    EXPECT_EQ(j["target"], "/ws/who?access_token=other");
    EXPECT_EQ(j["token"], "other");
    EXPECT_EQ(j["user"], "-");
  }
}

TEST_F(WebSocketTest, RejectedUpgradeGetsJsonErrorAndPlainGetGets426) {
  Router r;
  r.add_ws("/ws/secure", echo_handler());
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  server_ = std::make_unique<Server>(o, std::move(r), registry_);
  server_->use([](Request& req, const Next& next) -> Task<Response> {
    if (!req.query_param("token")) {
      throw errors::unauthorized();
    }
    co_return co_await next(req);
  });
  server_->start();
  {
    RawClient c(port());
    ASSERT_FALSE(c.ws_handshake("/ws/secure"));
  }
  {
    RawClient c(port());
    auto resp = c.request("GET", "/ws/secure", {},
                          {"Upgrade: websocket", "Connection: Upgrade",
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"});
    EXPECT_EQ(resp.status, 401);
    EXPECT_EQ(nlohmann::json::parse(resp.body)["error"]["code"], "unauthorized");
  }
  {
    RawClient c(port());
    EXPECT_EQ(c.request("GET", "/ws/secure?token=1").status, 426);
  }
  RawClient ok(port());
  ASSERT_TRUE(ok.ws_handshake("/ws/secure?token=1"));
  ASSERT_TRUE(ok.ws_send_text("hi"));
  EXPECT_EQ(ok.ws_read_text(), "hi");
}

TEST_F(WebSocketTest, MalformedFrameClosesOnlyThatSocket) {
  Router r;
  r.add_ws("/ws/echo", echo_handler());
  ServerOptions o;
  o.ws_max_message = 1024;
  start(std::move(r), o);
  RawClient good(port());
  ASSERT_TRUE(good.ws_handshake("/ws/echo"));
  RawClient bad(port());
  ASSERT_TRUE(bad.ws_handshake("/ws/echo"));
  // Client frames must be masked: an unmasked one is a protocol error.
  ASSERT_TRUE(bad.send_all(RawClient::ws_frame(0x1, "oops", /*mask=*/false)));
  EXPECT_FALSE(bad.ws_read_text().has_value());
  EXPECT_EQ(bad.close_code(), 1002);

  RawClient big(port());
  ASSERT_TRUE(big.ws_handshake("/ws/echo"));
  ASSERT_TRUE(big.ws_send_text(std::string(2000, 'z')));  // over ws_max_message
  EXPECT_FALSE(big.ws_read_text().has_value());
  EXPECT_EQ(big.close_code(), 1009);

  ASSERT_TRUE(good.ws_send_text("still here"));
  EXPECT_EQ(good.ws_read_text(), "still here");
}

TEST_F(WebSocketTest, SlowConsumerIsClosedAndQueueStaysBounded) {
  std::promise<WebSocketPtr> got;
  std::promise<void> ended;
  Router r;
  r.add_ws("/ws/feed", [&](Request&, WebSocketPtr ws) -> Task<void> {
    got.set_value(ws);
    while (co_await ws->read()) {
    }
    ended.set_value();
  });
  ServerOptions o;
  o.ws_send_queue_limit = 16;
  start(std::move(r), o);
  RawClient c(port(), /*rcvbuf=*/4096);
  ASSERT_TRUE(c.ws_handshake("/ws/feed"));
  auto got_f = got.get_future();
  ASSERT_EQ(got_f.wait_for(5s), std::future_status::ready);
  WebSocketPtr ws = got_f.get();

  // Count live messages: every message the socket still holds is alive.
  auto live = std::make_shared<std::atomic<int>>(0);
  auto make_msg = [live](std::size_t n) {
    live->fetch_add(1);
    return WebSocket::Message(new std::string(n, 'm'), [live](const std::string* p) {
      live->fetch_sub(1);
      delete p;
    });
  };
  // Flood from the socket's own thread: the writer cannot make progress meanwhile, which is the
  // worst case for the queue. 50k x 1 KB would be 50 MB if it were unbounded.
  std::promise<int> peak;
  boost::asio::post(ws->executor(), [&] {
    int max_live = 0;
    for (int i = 0; i < 50'000; ++i) {
      ws->send(make_msg(1024));
      max_live = std::max(max_live, live->load());
    }
    peak.set_value(max_live);
  });
  auto peak_f = peak.get_future();
  ASSERT_EQ(peak_f.wait_for(10s), std::future_status::ready);
  EXPECT_LE(peak_f.get(), 16 + 2);
  EXPECT_FALSE(ws->is_open());

  // The client never reads; the server gives up on it and the handler ends.
  auto ended_f = ended.get_future();
  ASSERT_EQ(ended_f.wait_for(10s), std::future_status::ready);
  ws.reset();
  EXPECT_EQ(live->load(), 0);
  server_->shutdown(1000);
  server_->join();
  EXPECT_EQ(server_->websocket_connections(), 0u);
}

TEST_F(WebSocketTest, SlowConsumerOverTheNetworkIsClosed) {
  std::promise<WebSocketPtr> got;
  std::promise<void> ended;
  Router r;
  r.add_ws("/ws/feed", [&](Request&, WebSocketPtr ws) -> Task<void> {
    got.set_value(ws);
    while (co_await ws->read()) {
    }
    ended.set_value();
  });
  ServerOptions o;
  o.ws_send_queue_limit = 8;
  start(std::move(r), o);
  RawClient c(port(), 4096);
  ASSERT_TRUE(c.ws_handshake("/ws/feed"));
  auto ws = got.get_future().get();
  auto msg = std::make_shared<const std::string>(16 * 1024, 'x');
  auto ended_f = ended.get_future();
  // Publish at a steady pace from another thread until the server gives up on the reader.
  for (int i = 0; i < 100'000 && ended_f.wait_for(0s) != std::future_status::ready; ++i) {
    ws->send(msg);
    if (i % 64 == 0) {
      std::this_thread::yield();
    }
  }
  ASSERT_EQ(ended_f.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(ws->is_open());
}

TEST_F(WebSocketTest, DeadPeerIsDetectedByPingTimeout) {
  std::promise<void> ended;
  Router r;
  r.add_ws("/ws/echo", [&](Request&, WebSocketPtr ws) -> Task<void> {
    while (co_await ws->read()) {
    }
    ended.set_value();
  });
  ServerOptions o;
  o.ws_idle_timeout_ms = 300;
  start(std::move(r), o);
  RawClient c(port());
  ASSERT_TRUE(c.ws_handshake("/ws/echo"));
  // The client goes silent (never answers pings).
  auto ended_f = ended.get_future();
  EXPECT_EQ(ended_f.wait_for(5s), std::future_status::ready);
}

TEST_F(WebSocketTest, ShutdownSendsGoingAway) {
  Router r;
  r.add_ws("/ws/echo", echo_handler());
  start(std::move(r));
  RawClient c(port());
  ASSERT_TRUE(c.ws_handshake("/ws/echo"));
  ASSERT_TRUE(c.ws_send_text("x"));
  ASSERT_EQ(c.ws_read_text(), "x");
  std::thread stopper([this] { server_->shutdown(2000); });
  EXPECT_FALSE(c.ws_read_text().has_value());
  EXPECT_EQ(c.close_code(), 1001);
  c.send_all(RawClient::ws_frame(0x8, std::string("\x03\xe9", 2)));  // answer the close
  stopper.join();
  server_->join();
  EXPECT_EQ(server_->websocket_connections(), 0u);
}

}  // namespace
}  // namespace tiketi::net
