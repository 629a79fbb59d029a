// The one retry helper: exponential backoff with jitter, bounded by attempts and by elapsed
// time, on an injected clock and seed so tests replay exactly. The operation decides per error
// whether to retry and may name the wait itself (an HTTP Retry-After, say).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <type_traits>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"

namespace zenith::common {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(100);
  Duration max = std::chrono::seconds(10);
  double multiplier = 2.0;
  double jitter = 0.2;   // each wait is scaled by a factor in [1 - jitter, 1 + jitter]
  int max_attempts = 5;  // total tries, the first included; 0 means unbounded
  Duration max_elapsed = Duration::zero();  // zero: no bound on total time
};

// The sequence of waits of one backoff; Reset() after a success.
class Backoff {
 public:
  Backoff(BackoffPolicy policy, uint64_t seed) : policy_(policy), rng_(seed) {}
  Duration Next();
  void Reset() { current_ = Duration::zero(); }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  Duration current_{0};
};

struct RetryVerdict {
  bool retry = false;
  std::optional<Duration> wait;  // overrides the backoff's wait (Retry-After)
};

// Retries errors that are usually transient: UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
// ABORTED. A caller with other rules passes its own classifier.
RetryVerdict DefaultRetryable(const Status& status);

struct RetryOptions {
  BackoffPolicy policy;
  uint64_t seed = 1;
  Clock* clock = nullptr;  // null: the system clock
  std::function<RetryVerdict(const Status&)> classify = DefaultRetryable;
  // Called before each wait, for logging and metrics.
  std::function<void(int attempt, const Status& error, Duration wait)> on_retry;
};

namespace internal {
// Runs the loop over a Status-returning call; the templates below adapt Result<T>.
Status RetryLoop(const RetryOptions& options, const std::function<Status(int attempt)>& fn);
}  // namespace internal

// Calls fn(attempt) until it succeeds, fails with a non-retryable error, or the policy's bounds
// are reached; then returns the last error with how many attempts were made.
template <typename F>
auto Retry(const RetryOptions& options, F&& fn) -> std::invoke_result_t<F, int> {
  using R = std::invoke_result_t<F, int>;
  if constexpr (std::is_same_v<R, Status>) {
    return internal::RetryLoop(options, fn);
  } else {
    std::optional<R> last;
    Status s = internal::RetryLoop(options, [&](int attempt) {
      last.emplace(fn(attempt));
      return last->status();
    });
    if (s.ok()) return std::move(*last);
    return s;
  }
}

}  // namespace zenith::common
