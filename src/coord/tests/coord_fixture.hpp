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
#include "core/testing/loop.hpp"
#include "core/testing/servers.hpp"

namespace tiketi::coord::testing {

using ::tiketi::test_support::Loop;
using ::tiketi::test_support::random_suffix;

inline std::string random_namespace() {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  return "t" + std::to_string(rng() % 1'000'000'000'000ULL) + ":";
}

using ::tiketi::test_support::require_servers;

// Waits on a real timer: only for Redis, whose TTLs and idle times follow the server's clock.
inline Task<void> real_wait(std::chrono::milliseconds d) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
  co_await t.async_wait(boost::asio::use_awaitable);
}

}  // namespace tiketi::coord::testing
