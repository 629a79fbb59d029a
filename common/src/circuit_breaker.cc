#include "zenith/common/circuit_breaker.h"

namespace zenith::common {

std::string_view CircuitStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "closed";
}

Status CircuitBreaker::Allow() {
  std::lock_guard lock(mu_);
  if (state_ == State::kOpen) {
    Duration since = clock_.Now() - opened_at_;
    if (since < options_.open_for) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(options_.open_for - since);
      return UnavailableError(
          "circuit '" + name_ + "' is open after " + std::to_string(options_.failure_threshold) +
          " consecutive failures; next trial in " + std::to_string(left.count()) + "ms");
    }
    state_ = State::kHalfOpen;
    half_open_in_flight_ = 0;
    half_open_successes_ = 0;
  }
  if (state_ == State::kHalfOpen) {
    if (half_open_in_flight_ >= options_.half_open_max_calls) {
      return UnavailableError("circuit '" + name_ + "' is half-open and its " +
                              std::to_string(options_.half_open_max_calls) +
                              " trial call(s) are in flight");
    }
    ++half_open_in_flight_;
  }
  return Status::Ok();
}

void CircuitBreaker::RecordSuccess() {
  std::lock_guard lock(mu_);
  consecutive_failures_ = 0;
  if (state_ == State::kHalfOpen) {
    --half_open_in_flight_;
    if (++half_open_successes_ >= options_.success_threshold) state_ = State::kClosed;
  }
}

void CircuitBreaker::RecordFailure() {
  std::lock_guard lock(mu_);
  if (state_ == State::kHalfOpen) {
    OpenLocked();
    return;
  }
  if (state_ == State::kClosed && ++consecutive_failures_ >= options_.failure_threshold) {
    OpenLocked();
  }
}

void CircuitBreaker::OpenLocked() {
  state_ = State::kOpen;
  opened_at_ = clock_.Now();
  consecutive_failures_ = 0;
  half_open_in_flight_ = 0;
  ++times_opened_;
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

uint64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mu_);
  return times_opened_;
}

}  // namespace zenith::common
