#include "net/hub.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>

#include "core/metrics.hpp"
#include "net/server.hpp"
#include "net/tests/test_support.hpp"

namespace tiketi::net {
namespace {

using namespace std::chrono_literals;

class FakeWs final : public WebSocket {
 public:
  explicit FakeWs(std::uint64_t id) : id_(id) {}
  Task<std::optional<std::string>> read() override { co_return std::nullopt; }
  void send(Message m) override { got.push_back(std::move(m)); }
  void close(std::uint16_t, std::string) override { open = false; }
  bool is_open() const override { return open; }
  Executor executor() const override { return {}; }
  std::uint64_t id() const override { return id_; }
  std::vector<Message> got;
  bool open = true;

 private:
  std::uint64_t id_;
};

TEST(Hub, PublishSharesOneBufferAndPrunesClosed) {
  Hub hub;
  auto a = std::make_shared<FakeWs>(1);
  auto b = std::make_shared<FakeWs>(2);
  auto c = std::make_shared<FakeWs>(3);
  hub.subscribe("seats:1", a);
  hub.subscribe("seats:1", b);
  hub.subscribe("seats:1", c);
  hub.subscribe("seats:2", a);
  EXPECT_EQ(hub.subscribers("seats:1"), 3u);

  auto msg = std::make_shared<const std::string>("update");
  EXPECT_EQ(hub.publish("seats:1", msg), 3u);
  ASSERT_EQ(a->got.size(), 1u);
  EXPECT_EQ(a->got[0].get(), msg.get());  // same buffer, not a copy
  EXPECT_EQ(b->got[0].get(), msg.get());

  b->open = false;  // closed socket
  c.reset();        // destroyed socket
  EXPECT_EQ(hub.publish("seats:1", msg), 1u);
  EXPECT_EQ(hub.subscribers("seats:1"), 1u);

  hub.unsubscribe("seats:1", *a);
  EXPECT_EQ(hub.subscribers("seats:1"), 0u);
  EXPECT_EQ(hub.publish("seats:1", msg), 0u);
  EXPECT_EQ(hub.publish("nobody", msg), 0u);
  EXPECT_EQ(hub.subscribers("seats:2"), 1u);
}

TEST(Hub, ConcurrentPublishAndSubscribeIsSafe) {
  Hub hub;
  std::vector<std::shared_ptr<FakeWs>> keep;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::thread pub([&] {
    auto msg = std::make_shared<const std::string>("m");
    while (!stop) {
      hub.publish("t", msg);
    }
  });
  for (int i = 0; i < 2000; ++i) {
    auto ws = std::make_shared<FakeWs>(static_cast<std::uint64_t>(i));
    ws->close(1000, {});  // closed: send() is never called on it, so no data race in the fake
    hub.subscribe("t", ws);
    std::lock_guard lock(mu);
    keep.push_back(ws);
  }
  stop = true;
  pub.join();
  EXPECT_EQ(hub.subscribers("t"), 0u);  // closed sockets are never added
}

TEST(Hub, BroadcastReachesFiftyRealSockets) {
  constexpr int kSockets = 50;
  Hub hub;
  std::atomic<int> subscribed{0};
  std::promise<void> all_in;
  Router r;
  r.add_ws("/ws/{topic}", [&](Request& req, WebSocketPtr ws) -> Task<void> {
    std::string topic = req.param("topic");
    hub.subscribe(topic, ws);
    if (++subscribed == kSockets) {
      all_in.set_value();
    }
    while (co_await ws->read()) {
    }
    hub.unsubscribe(topic, *ws);
  });
  metrics::Registry registry;
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  Server server(o, std::move(r), registry);
  server.start();

  std::vector<std::unique_ptr<test::RawClient>> clients;
  for (int i = 0; i < kSockets; ++i) {
    clients.push_back(std::make_unique<test::RawClient>(server.port()));
    ASSERT_TRUE(clients.back()->ws_handshake("/ws/news"));
  }
  ASSERT_EQ(all_in.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(server.websocket_connections(), static_cast<std::size_t>(kSockets));
  EXPECT_EQ(hub.publish("news", std::make_shared<const std::string>("{\"price\":42}")),
            static_cast<std::size_t>(kSockets));
  EXPECT_EQ(hub.publish("news", std::make_shared<const std::string>("second")),
            static_cast<std::size_t>(kSockets));
  for (auto& c : clients) {
    EXPECT_EQ(c->ws_read_text(), "{\"price\":42}");
    EXPECT_EQ(c->ws_read_text(), "second");
  }
  server.shutdown(1000);
  server.join();
}

}  // namespace
}  // namespace tiketi::net
