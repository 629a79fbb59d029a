#include "zenith/kube/rate_limiter.h"

#include <gtest/gtest.h>

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucketTest, BurstThenSteadyRate) {
  common::FakeClock clock;
  TokenBucket b(10, 3, clock);
  EXPECT_TRUE(b.TryAccept());
  EXPECT_TRUE(b.TryAccept());
  EXPECT_TRUE(b.TryAccept());
  EXPECT_FALSE(b.TryAccept());
  clock.Advance(100ms);
  EXPECT_TRUE(b.TryAccept());
  EXPECT_FALSE(b.TryAccept());
  clock.Advance(10s);  // refills only up to the burst
  int n = 0;
  while (b.TryAccept()) ++n;
  EXPECT_EQ(n, 3);
}

TEST(TokenBucketTest, ReservationsQueueUpInOrder) {
  common::FakeClock clock;
  TokenBucket b(2, 1, clock);
  EXPECT_EQ(b.Reserve(), 0ms);
  EXPECT_EQ(b.Reserve(), 500ms);
  EXPECT_EQ(b.Reserve(), 1000ms);
}

TEST(TokenBucketTest, WaitSleepsOnTheClockForASustainedRate) {
  common::FakeClock clock;
  TokenBucket b(50, 10, clock);
  for (int i = 0; i < 110; ++i) b.Wait();
  // 10 from the burst, 100 more at 50/s.
  EXPECT_NEAR(std::chrono::duration<double>(clock.Elapsed()).count(), 2.0, 0.01);
}

TEST(TokenBucketTest, ZeroQpsIsUnlimited) {
  common::FakeClock clock;
  TokenBucket b(0, 1, clock);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(b.TryAccept());
  EXPECT_EQ(b.Reserve(), 0ms);
}

}  // namespace
}  // namespace zenith::kube
