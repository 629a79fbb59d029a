#include "zenith/kube/rate_limiter.h"

#include <algorithm>

namespace zenith::kube {

TokenBucket::TokenBucket(double qps, int burst, common::Clock& clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock.Now()) {}

void TokenBucket::RefillLocked(common::TimePoint now) {
  if (now <= last_) return;
  const double secs = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + secs * qps_);
  last_ = now;
}

bool TokenBucket::TryAccept() {
  if (qps_ <= 0) return true;
  std::lock_guard lock(mu_);
  RefillLocked(clock_.Now());
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

common::Duration TokenBucket::Reserve() {
  if (qps_ <= 0) return common::Duration::zero();
  std::lock_guard lock(mu_);
  RefillLocked(clock_.Now());
  tokens_ -= 1.0;
  if (tokens_ >= 0) return common::Duration::zero();
  return std::chrono::duration_cast<common::Duration>(
      std::chrono::duration<double>(-tokens_ / qps_));
}

void TokenBucket::Wait() {
  common::Duration d = Reserve();
  if (d > common::Duration::zero()) clock_.SleepFor(d);
}

}  // namespace zenith::kube
