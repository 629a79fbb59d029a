#include "zenith/common/retry.h"

#include <algorithm>
#include <string>

namespace zenith::common {

Duration Backoff::Next() {
  if (current_ == Duration::zero()) {
    current_ = policy_.initial;
  } else {
    auto grown = std::chrono::duration<double, std::nano>(current_) * policy_.multiplier;
    current_ = std::min<Duration>(std::chrono::duration_cast<Duration>(grown), policy_.max);
  }
  double factor = 1.0;
  if (policy_.jitter > 0) {
    std::uniform_real_distribution<double> dist(1.0 - policy_.jitter, 1.0 + policy_.jitter);
    factor = dist(rng_);
  }
  auto wait = std::chrono::duration<double, std::nano>(current_) * factor;
  return std::min<Duration>(std::chrono::duration_cast<Duration>(wait), policy_.max);
}

RetryVerdict DefaultRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kAborted:
      return {true, std::nullopt};
    default:
      return {false, std::nullopt};
  }
}

namespace internal {

Status RetryLoop(const RetryOptions& options, const std::function<Status(int attempt)>& fn) {
  Clock& clock = options.clock ? *options.clock : SystemClock::Get();
  Backoff backoff(options.policy, options.seed);
  const TimePoint start = clock.Now();
  for (int attempt = 1;; ++attempt) {
    Status s = fn(attempt);
    if (s.ok()) return s;
    RetryVerdict verdict = options.classify ? options.classify(s) : DefaultRetryable(s);
    if (!verdict.retry) return s;
    const int max = options.policy.max_attempts;
    if (max > 0 && attempt >= max) {
      return s.WithContext("gave up after " + std::to_string(attempt) + " attempts");
    }
    Duration wait = verdict.wait ? *verdict.wait : backoff.Next();
    if (options.policy.max_elapsed > Duration::zero() &&
        clock.Now() + wait - start > options.policy.max_elapsed) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.policy.max_elapsed);
      return s.WithContext("gave up after " + std::to_string(attempt) + " attempts in " +
                           std::to_string(ms.count()) + "ms");
    }
    if (options.on_retry) options.on_retry(attempt, s, wait);
    clock.SleepFor(wait);
  }
}

}  // namespace internal
}  // namespace zenith::common
