#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "net/client.hpp"

namespace tiketi::net {
namespace {

using State = CircuitBreaker::State;

struct BreakerTest : ::testing::Test {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  CircuitBreaker breaker{{.failure_threshold = 3, .open_ms = 1'000}, clock};

  void fail_times(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(breaker.allow());
      breaker.on_failure();
    }
  }
};

TEST_F(BreakerTest, StaysClosedBelowThreshold) {
  fail_times(2);
  EXPECT_EQ(breaker.state(), State::closed);
  EXPECT_TRUE(breaker.allow());
}

TEST_F(BreakerTest, SuccessResetsConsecutiveFailures) {
  fail_times(2);
  breaker.on_success();
  fail_times(2);
  EXPECT_EQ(breaker.state(), State::closed);
  fail_times(1);
  EXPECT_EQ(breaker.state(), State::open);
}

TEST_F(BreakerTest, OpensAtThresholdAndRefusesForOpenInterval) {
  fail_times(3);
  EXPECT_EQ(breaker.state(), State::open);
  EXPECT_FALSE(breaker.allow());
  clock->advance(999);
  EXPECT_FALSE(breaker.allow());
  EXPECT_EQ(breaker.state(), State::open);
}

TEST_F(BreakerTest, HalfOpenLetsExactlyOneTrialThrough) {
  fail_times(3);
  clock->advance(1'000);
  EXPECT_TRUE(breaker.allow());
  EXPECT_EQ(breaker.state(), State::half_open);
  EXPECT_FALSE(breaker.allow());
  EXPECT_FALSE(breaker.allow());
}

TEST_F(BreakerTest, TrialSuccessCloses) {
  fail_times(3);
  clock->advance(1'000);
  ASSERT_TRUE(breaker.allow());
  breaker.on_success();
  EXPECT_EQ(breaker.state(), State::closed);
  EXPECT_TRUE(breaker.allow());
  EXPECT_TRUE(breaker.allow());
  // Closed again with a fresh failure count: it takes the full threshold to reopen.
  breaker.on_failure();
  breaker.on_failure();
  EXPECT_EQ(breaker.state(), State::closed);
}

TEST_F(BreakerTest, TrialFailureReopensForAnotherFullInterval) {
  fail_times(3);
  clock->advance(1'500);
  ASSERT_TRUE(breaker.allow());
  breaker.on_failure();
  EXPECT_EQ(breaker.state(), State::open);
  EXPECT_FALSE(breaker.allow());
  clock->advance(999);
  EXPECT_FALSE(breaker.allow());
  clock->advance(1);
  EXPECT_TRUE(breaker.allow());
  EXPECT_EQ(breaker.state(), State::half_open);
}

TEST_F(BreakerTest, LateResultsWhileOpenDoNotChangeIt) {
  // Two calls admitted while closed; the circuit opens; their late outcomes must not close it
  // or extend the open interval.
  fail_times(3);
  clock->advance(600);
  breaker.on_success();
  EXPECT_EQ(breaker.state(), State::open);
  breaker.on_failure();
  clock->advance(400);
  EXPECT_TRUE(breaker.allow());
}

TEST_F(BreakerTest, AbandonedTrialDoesNotWedgeHalfOpen) {
  fail_times(3);
  clock->advance(1'000);
  ASSERT_TRUE(breaker.allow());  // trial whose caller never reports
  clock->advance(999);
  EXPECT_FALSE(breaker.allow());
  clock->advance(1);
  EXPECT_TRUE(breaker.allow());
}

TEST_F(BreakerTest, ConcurrentCallersInHalfOpenGetOneTrial) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    fail_times(3);
    ASSERT_EQ(breaker.state(), State::open);
    clock->advance(1'000);
    std::atomic<int> admitted{0};
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 10; ++i) {
          if (breaker.allow()) {
            admitted.fetch_add(1);
          }
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    ASSERT_EQ(admitted.load(), 1) << "round " << round;
    EXPECT_EQ(breaker.state(), State::half_open);
    breaker.on_success();
    ASSERT_EQ(breaker.state(), State::closed);
  }
}

TEST(BreakerOptions, ThresholdBelowOneActsAsOne) {
  auto clock = std::make_shared<ManualClock>();
  CircuitBreaker b({.failure_threshold = 0, .open_ms = 10}, clock);
  ASSERT_TRUE(b.allow());
  b.on_failure();
  EXPECT_EQ(b.state(), State::open);
}

}  // namespace
}  // namespace tiketi::net
