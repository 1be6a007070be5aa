#pragma once
// Shared test scaffolding: an io_context on two threads, a coordinator of the requested kind, and a
// per-run key namespace so runs against one Redis never see each other's keys.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include "coord/coordinator.hpp"

namespace tiketi::coord::testing {

inline std::string random_namespace() {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  return "t" + std::to_string(rng() % 1'000'000'000'000ULL) + ":";
}

inline bool require_servers() {
  const char* v = std::getenv("TIKETI_REQUIRE_SERVERS");
  return v != nullptr && std::string(v) == "1";
}

class Loop {
 public:
  Loop() : work_(ioc_.get_executor()) {
    for (int i = 0; i < 2; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }
  ~Loop() {
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
  }
  boost::asio::io_context& ioc() { return ioc_; }
  Executor ex() { return ioc_.get_executor(); }

  template <class T>
  T run(Task<T> task) {
    return boost::asio::co_spawn(ioc_, std::move(task), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// Waits on a real timer: only for Redis, whose TTLs and idle times follow the server's clock.
inline Task<void> real_wait(std::chrono::milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::use_awaitable);
}

}  // namespace tiketi::coord::testing

// Skips (or fails under TIKETI_REQUIRE_SERVERS=1) when the Redis URL is not set.
#define TIKETI_REDIS_URL_OR_SKIP(var)                                            \
  const char* var = std::getenv("TIKETI_TEST_REDIS_URL");                        \
  if (var == nullptr || *var == '\0') {                                          \
    if (::tiketi::coord::testing::require_servers()) {                           \
      FAIL() << "TIKETI_TEST_REDIS_URL is not set but TIKETI_REQUIRE_SERVERS=1"; \
    }                                                                            \
    GTEST_SKIP() << "TIKETI_TEST_REDIS_URL not set; skipping the Redis adapter"; \
  }
