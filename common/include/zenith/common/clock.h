// Time, injected. Code that waits, times out or backs off takes a Clock&, so a test can run a
// day of retries in a millisecond with FakeClock. Production uses SystemClock::Get().
#pragma once

#include <chrono>
#include <mutex>

namespace zenith::common {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  virtual TimePoint Now() const = 0;
  // Calendar time, for timestamps written into objects and logs.
  virtual WallTime WallNow() const = 0;
  virtual void SleepFor(Duration d) = 0;
};

class SystemClock final : public Clock {
 public:
  static SystemClock& Get();
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration d) override;
};

// A clock that moves only when told to. SleepFor advances it at once (the sleeper is the
// only actor in a single-threaded test), so retry loops run instantly and deterministically.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime wall_start = WallTime(std::chrono::hours(24 * 365 * 56)))
      : wall_start_(wall_start) {}
  TimePoint Now() const override;
  WallTime WallNow() const override;
  void SleepFor(Duration d) override { Advance(d); }
  void Advance(Duration d);
  // Total time spent in SleepFor and Advance.
  Duration Elapsed() const;

 private:
  mutable std::mutex mu_;
  Duration elapsed_{0};
  WallTime wall_start_;
};

}  // namespace zenith::common
