#pragma once
// Helpers shared by the store tests: a unique suffix for schema names and a runner that drives a
// coroutine to completion on a fresh io_context.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

// ASSERT_* returns from the function, which a coroutine cannot do: this is the coroutine form.
#define CO_ASSERT_EQ(a, b) \
  do {                     \
    EXPECT_EQ(a, b);       \
    if (!((a) == (b))) {   \
      co_return;           \
    }                      \
  } while (false)

namespace tiketi::store::test_util {

inline std::string random_suffix() {
  static std::atomic<int> counter{0};
  return std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}() % 100000) + "_" +
         std::to_string(counter++);
}

// Runs a coroutine to completion on a fresh io_context with `threads` threads; rethrows its error.
template <class F>
void run(F&& make, int threads = 2) {
  boost::asio::io_context ctx(threads);
  auto fut = boost::asio::co_spawn(ctx, make(ctx.get_executor()), boost::asio::use_future);
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) {
    extra.emplace_back([&ctx] { ctx.run(); });
  }
  ctx.run();
  for (auto& t : extra) {
    t.join();
  }
  fut.get();
}

}  // namespace tiketi::store::test_util
