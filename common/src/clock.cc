#include "zenith/common/clock.h"

#include <cctype>
#include <cstdio>
#include <ctime>
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

namespace {

std::tm Utc(std::time_t secs) {
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

}  // namespace

std::string FormatTime(WallTime t) {
  const std::tm tm = Utc(
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t)));
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatMicroTime(WallTime t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  const std::tm tm = Utc(static_cast<std::time_t>(us.count() / 1000000));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us.count() % 1000000));
  return buf;
}

Result<WallTime> ParseTime(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return InvalidArgumentError("time \"" + text + "\" is not RFC 3339");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::chrono::nanoseconds fraction{0};
  size_t pos = static_cast<size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    int64_t scale = 100'000'000;
    for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
      fraction += std::chrono::nanoseconds((text[pos] - '0') * scale);
      scale /= 10;
    }
  }
  long offset = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &hh, &mm) != 2) {
      return InvalidArgumentError("time \"" + text + "\" has a bad zone offset at byte " +
                                  std::to_string(pos));
    }
    offset = (text[pos] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
  } else if (pos >= text.size() || (text[pos] != 'Z' && text[pos] != 'z')) {
    return InvalidArgumentError("time \"" + text + "\" has no zone at byte " + std::to_string(pos));
  }
  return WallTime(std::chrono::seconds(timegm(&tm) - offset)) +
         std::chrono::duration_cast<WallTime::duration>(fraction);
}

}  // namespace zenith::common
