#include "zenith/common/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace zenith::common {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, GrowsGeometricallyUpToTheCapWithoutJitter) {
  BackoffPolicy p;
  p.initial = 100ms;
  p.max = 1s;
  p.multiplier = 2;
  p.jitter = 0;
  Backoff b(p, 1);
  std::vector<Duration> waits;
  for (int i = 0; i < 6; ++i) waits.push_back(b.Next());
  EXPECT_EQ(waits, (std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
  b.Reset();
  EXPECT_EQ(b.Next(), 100ms);
}

TEST(BackoffTest, JitterStaysInBoundsAndIsReproducibleFromTheSeed) {
  BackoffPolicy p;
  p.initial = 1s;
  p.max = 1h;
  p.multiplier = 1;
  p.jitter = 0.25;
  Backoff a(p, 42), b(p, 42), c(p, 43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    Duration wa = a.Next(), wb = b.Next(), wc = c.Next();
    EXPECT_EQ(wa, wb);
    EXPECT_GE(wa, 750ms);
    EXPECT_LE(wa, 1250ms);
    differs |= (wa != wc);
  }
  EXPECT_TRUE(differs);
}

TEST(RetryTest, RetriesTransientErrorsThenSucceeds) {
  FakeClock clock;
  RetryOptions o;
  o.clock = &clock;
  o.policy.jitter = 0;
  o.policy.initial = 100ms;
  std::vector<int> seen;
  Result<int> r = Retry(o, [&](int attempt) -> Result<int> {
    seen.push_back(attempt);
    if (attempt < 3) return UnavailableError("apiserver down");
    return 7;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(clock.Elapsed(), 300ms);  // 100ms + 200ms, slept on the fake clock
}

TEST(RetryTest, StopsAtOnceOnPermanentErrors) {
  FakeClock clock;
  RetryOptions o;
  o.clock = &clock;
  int calls = 0;
  Status s = Retry(o, [&](int) {
    ++calls;
    return NotFoundError("pod x");
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(clock.Elapsed(), 0ns);
}

TEST(RetryTest, GivesUpAfterMaxAttemptsSayingHowMany) {
  FakeClock clock;
  RetryOptions o;
  o.clock = &clock;
  o.policy.max_attempts = 4;
  int retries = 0;
  o.on_retry = [&](int, const Status&, Duration) { ++retries; };
  Status s = Retry(o, [&](int) { return UnavailableError("connection refused"); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "gave up after 4 attempts: connection refused");
  EXPECT_EQ(retries, 3);
}

TEST(RetryTest, HonoursTheWaitTheErrorNames) {
  FakeClock clock;
  RetryOptions o;
  o.clock = &clock;
  o.classify = [](const Status& s) {
    return RetryVerdict{s.code() == StatusCode::kResourceExhausted, 7s};  // Retry-After: 7
  };
  Result<int> r = Retry(o, [&](int attempt) -> Result<int> {
    if (attempt == 1) return ResourceExhaustedError("429 too many requests");
    return 1;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(clock.Elapsed(), 7s);
}

TEST(RetryTest, MaxElapsedBoundsTotalTime) {
  FakeClock clock;
  RetryOptions o;
  o.clock = &clock;
  o.policy.max_attempts = 0;  // unbounded count
  o.policy.jitter = 0;
  o.policy.initial = 1s;
  o.policy.multiplier = 1;
  o.policy.max_elapsed = 10s;
  int calls = 0;
  Status s = Retry(o, [&](int) {
    ++calls;
    return UnavailableError("down");
  });
  EXPECT_EQ(calls, 11);
  EXPECT_LE(clock.Elapsed(), 10s);
  EXPECT_NE(s.message().find("gave up after 11 attempts in 10000ms"), std::string::npos) << s;
}

}  // namespace
}  // namespace zenith::common
