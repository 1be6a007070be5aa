#pragma once
// A Line on either coordinator adapter: memory (ManualClock) or Redis (TIKETI_TEST_REDIS_URL), with
// a per-test key namespace. Every line operation takes `now` as an argument, so the ManualClock
// drives both adapters; only lease expiry follows the Redis server's own clock.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include "coord/tests/coord_fixture.hpp"
#include "services/queue/storage/line.hpp"

// ASSERT_* returns void, which a coroutine cannot: fail and leave the coroutine instead.
#define CO_ASSERT(cond)                               \
  do {                                                \
    if (!(cond)) {                                    \
      ADD_FAILURE() << "assertion failed: " << #cond; \
      co_return;                                      \
    }                                                 \
  } while (0)

namespace tiketi::queue::testing {

class LineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ns_ = coord::testing::random_namespace();
    if (GetParam() == "memory") {
      coord_ = coord::make_memory_coordinator(loop_.ex(), coord::MemoryOptions{clock_});
    } else {
      TIKETI_REDIS_URL_OR_SKIP(url);
      coord_ = loop_.run(coord::open_redis(loop_.ex(), coord::RedisOptions{url}));
    }
    line_ = std::make_shared<Line>(coord_, ns_);
  }
  void TearDown() override {
    if (coord_) {
      coord_->close();
    }
  }

  bool memory() const { return GetParam() == "memory"; }
  Millis now() const { return clock_->now_ms(); }

  template <class T>
  T run(Task<T> t) {
    return loop_.run(std::move(t));
  }

  // Lets a lease of `d` expire: the ManualClock for memory, real time for Redis.
  void let_lease_expire(std::chrono::milliseconds d) {
    if (memory()) {
      clock_->advance(d.count() + 1);
      return;
    }
    run(coord::testing::real_wait(d + std::chrono::milliseconds(50)));
  }

  QueueSettings open_settings(const std::string& event) const {
    QueueSettings s;
    s.event_id = event;
    s.status = "on_sale";
    s.mode = Mode::always;
    s.sale_start = now() - 1;
    s.prequeue_ms = 3'600'000;
    s.order = Order::fifo;
    return s;
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  coord::testing::Loop loop_;
  coord::CoordinatorPtr coord_;
  std::shared_ptr<Line> line_;
  std::string ns_;
};

}  // namespace tiketi::queue::testing
