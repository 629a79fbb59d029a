// A token bucket on an injected clock: `qps` tokens a second, at most `burst` saved up. Used for
// the client's request rate and the work queue's overall retry rate. Reservations may run the
// bucket negative, so waiters are served in order and each learns its own wait.
#pragma once

#include <mutex>

#include "zenith/common/clock.h"

namespace zenith::kube {

class TokenBucket {
 public:
  // qps <= 0: unlimited.
  TokenBucket(double qps, int burst, common::Clock& clock);

  // Takes a token if one is available now.
  bool TryAccept();
  // Takes a token now or in the future; returns how long the caller must wait for it.
  common::Duration Reserve();
  // Reserve() and sleep on the clock for the wait.
  void Wait();

  double qps() const { return qps_; }

 private:
  void RefillLocked(common::TimePoint now);

  const double qps_;
  const double burst_;
  common::Clock& clock_;
  std::mutex mu_;
  double tokens_;
  common::TimePoint last_;
};

}  // namespace zenith::kube
