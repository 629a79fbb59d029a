// Time, injected. Code that waits, times out or backs off takes a Clock&, so a test can run a
// day of retries in a millisecond with FakeClock. Production uses SystemClock::Get().
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "zenith/common/status.h"

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

// RFC 3339 in UTC as the Kubernetes API writes it, one way for the whole project.
// metav1.Time: "2026-11-27T06:30:00Z".
std::string FormatTime(WallTime t);
// metav1.MicroTime: "2024-01-02T15:04:05.000000Z".
std::string FormatMicroTime(WallTime t);
// Fractions of a second and numeric offsets included; the error quotes the text and names the
// byte where it stops making sense.
Result<WallTime> ParseTime(const std::string& text);

}  // namespace zenith::common
