// A circuit breaker around a dependency that can storm (the API server, a disk): after
// `failure_threshold` consecutive failures it opens and fails fast for `open_for`, then lets a
// few trial calls through (half-open); enough successes close it, one failure re-opens it.
// Thread-safe; the clock is injected.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"

namespace zenith::common {

struct CircuitBreakerOptions {
  int failure_threshold = 5;
  Duration open_for = std::chrono::seconds(30);
  int half_open_max_calls = 1;  // trial calls allowed at once while half-open
  int success_threshold = 1;    // trial successes needed to close
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(std::string name, CircuitBreakerOptions options, Clock& clock)
      : name_(std::move(name)), options_(options), clock_(clock) {}

  // OK when the call may proceed; UNAVAILABLE naming the circuit and the remaining cool-down
  // when it is open. A permitted call must be followed by RecordSuccess or RecordFailure.
  Status Allow();
  void RecordSuccess();
  void RecordFailure();

  State state() const;
  const std::string& name() const { return name_; }
  uint64_t times_opened() const;

 private:
  void OpenLocked();

  const std::string name_;
  const CircuitBreakerOptions options_;
  Clock& clock_;
  mutable std::mutex mu_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  int half_open_in_flight_ = 0;
  int half_open_successes_ = 0;
  TimePoint opened_at_{};
  uint64_t times_opened_ = 0;
};

std::string_view CircuitStateName(CircuitBreaker::State state);

}  // namespace zenith::common
