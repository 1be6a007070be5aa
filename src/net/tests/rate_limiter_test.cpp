#include <gtest/gtest.h>

#include "net/middleware.hpp"

namespace tiketi::net {
namespace {

TEST(RateLimiter, BurstThenRefillAtRate) {
  RateLimiter rl(2.0, 3.0);  // 2 tokens/s, bucket of 3
  double t = 1000.0;
  EXPECT_EQ(rl.acquire("a", t), 0);
  EXPECT_EQ(rl.acquire("a", t), 0);
  EXPECT_EQ(rl.acquire("a", t), 0);
  // Empty: one token takes 0.5 s, rounded up to whole seconds (>= 1).
  EXPECT_EQ(rl.acquire("a", t), 1);
  EXPECT_EQ(rl.acquire("a", t + 0.49), 1);
  EXPECT_EQ(rl.acquire("a", t + 0.5), 0);
  EXPECT_EQ(rl.acquire("a", t + 0.5), 1);
  // Refill never exceeds the burst.
  double later = t + 100;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rl.acquire("a", later), 0) << i;
  }
  EXPECT_GE(rl.acquire("a", later), 1);
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter rl(1.0, 1.0);
  EXPECT_EQ(rl.acquire("10.0.0.1", 5.0), 0);
  EXPECT_EQ(rl.acquire("10.0.0.1", 5.0), 1);
  EXPECT_EQ(rl.acquire("10.0.0.2", 5.0), 0);
  EXPECT_EQ(rl.tracked_keys(), 2u);
}

TEST(RateLimiter, RetryAfterGrowsWithSlowRates) {
  RateLimiter rl(0.1, 1.0);  // one request per 10 s
  EXPECT_EQ(rl.acquire("k", 0.0), 0);
  EXPECT_EQ(rl.acquire("k", 0.0), 10);
  EXPECT_EQ(rl.acquire("k", 4.0), 6);
}

TEST(RateLimiter, ClockGoingBackwardsDoesNotMintTokens) {
  RateLimiter rl(1.0, 1.0);
  EXPECT_EQ(rl.acquire("k", 100.0), 0);
  EXPECT_GE(rl.acquire("k", 50.0), 1);
  EXPECT_GE(rl.acquire("k", 100.0), 1);
  EXPECT_EQ(rl.acquire("k", 101.0), 0);
}

TEST(RateLimiter, IdleBucketsAreEvictedSoMemoryIsBounded) {
  RateLimiter rl(10.0, 20.0);  // a bucket is full again 2 s after its last use
  for (int i = 0; i < 50'000; ++i) {
    rl.acquire("client-" + std::to_string(i), 0.0);
  }
  std::size_t peak = rl.tracked_keys();
  EXPECT_LE(peak, 16u * 8192u);
  // Much later every old bucket is idle; new traffic (touching every shard) sweeps them out.
  for (int i = 0; i < 5'000; ++i) {
    rl.acquire("late-" + std::to_string(i % 1000), 1000.0);
  }
  EXPECT_EQ(rl.tracked_keys(), 1000u);
}

TEST(RateLimiter, HardCapHoldsEvenWhenAllBucketsAreActive) {
  RateLimiter rl(1.0, 1000.0);  // buckets take 1000 s to refill: none is idle
  for (int i = 0; i < 200'000; ++i) {
    rl.acquire("ip-" + std::to_string(i), 1.0);
  }
  EXPECT_LE(rl.tracked_keys(), 16u * 8192u);
}

}  // namespace
}  // namespace tiketi::net
