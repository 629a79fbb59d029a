#include "zenith/common/circuit_breaker.h"

#include <gtest/gtest.h>

namespace zenith::common {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

CircuitBreakerOptions Opts() {
  CircuitBreakerOptions o;
  o.failure_threshold = 3;
  o.open_for = 10s;
  o.half_open_max_calls = 1;
  o.success_threshold = 2;
  return o;
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndFailsFast) {
  FakeClock clock;
  CircuitBreaker cb("kube-apiserver", Opts(), clock);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cb.Allow().ok());
    cb.RecordFailure();
  }
  ASSERT_TRUE(cb.Allow().ok());
  cb.RecordSuccess();  // a success resets the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cb.Allow().ok());
    cb.RecordFailure();
  }
  EXPECT_EQ(cb.state(), State::kOpen);
  EXPECT_EQ(cb.times_opened(), 1u);
  clock.Advance(4s);
  Status s = cb.Allow();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "circuit 'kube-apiserver' is open after 3 consecutive failures; next trial in 6000ms");
}

TEST(CircuitBreakerTest, HalfOpenAllowsLimitedTrialsAndClosesOnSuccesses) {
  FakeClock clock;
  CircuitBreaker cb("disk", Opts(), clock);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cb.Allow().ok());
    cb.RecordFailure();
  }
  clock.Advance(10s);
  ASSERT_TRUE(cb.Allow().ok());
  EXPECT_EQ(cb.state(), State::kHalfOpen);
  EXPECT_FALSE(cb.Allow().ok());  // only one trial at a time
  cb.RecordSuccess();
  EXPECT_EQ(cb.state(), State::kHalfOpen);  // needs two successes
  ASSERT_TRUE(cb.Allow().ok());
  cb.RecordSuccess();
  EXPECT_EQ(cb.state(), State::kClosed);
  EXPECT_TRUE(cb.Allow().ok());
}

TEST(CircuitBreakerTest, FailureWhileHalfOpenReopensForAFullCoolDown) {
  FakeClock clock;
  CircuitBreaker cb("disk", Opts(), clock);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cb.Allow().ok());
    cb.RecordFailure();
  }
  clock.Advance(11s);
  ASSERT_TRUE(cb.Allow().ok());
  cb.RecordFailure();
  EXPECT_EQ(cb.state(), State::kOpen);
  EXPECT_EQ(cb.times_opened(), 2u);
  clock.Advance(9s);
  EXPECT_FALSE(cb.Allow().ok());
  clock.Advance(1s);
  EXPECT_TRUE(cb.Allow().ok());
}

}  // namespace
}  // namespace zenith::common
