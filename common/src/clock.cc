#include "zenith/common/clock.h"

#include <thread>

namespace zenith::common {

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

void SystemClock::SleepFor(Duration d) { std::this_thread::sleep_for(d); }

TimePoint FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return TimePoint(elapsed_);
}

WallTime FakeClock::WallNow() const {
  std::lock_guard lock(mu_);
  return wall_start_ + std::chrono::duration_cast<WallTime::duration>(elapsed_);
}

void FakeClock::Advance(Duration d) {
  std::lock_guard lock(mu_);
  elapsed_ += d;
}

Duration FakeClock::Elapsed() const {
  std::lock_guard lock(mu_);
  return elapsed_;
}

}  // namespace zenith::common
