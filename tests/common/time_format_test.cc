#include <gtest/gtest.h>

#include "zenith/common/clock.h"

namespace zenith::common {
namespace {

using namespace std::chrono_literals;

TEST(TimeFormatTest, TimeRoundTrips) {
  WallTime t = std::chrono::system_clock::from_time_t(1795000000);
  EXPECT_EQ(FormatTime(t), "2026-11-18T11:06:40Z");
  EXPECT_EQ(FormatTime(t + 999ms), "2026-11-18T11:06:40Z");  // whole seconds, as metav1.Time
  EXPECT_EQ(ParseTime("2026-11-18T11:06:40Z").value(), t);
  EXPECT_EQ(ParseTime("2026-11-18T12:06:40.123+01:00").value(), t + 123ms);
  EXPECT_EQ(ParseTime("2026-11-18T10:06:40-01:00").value(), t);
}

TEST(TimeFormatTest, MicroTime) {
  WallTime t{std::chrono::seconds(1700000000) + std::chrono::microseconds(42)};
  EXPECT_EQ(FormatMicroTime(t), "2023-11-14T22:13:20.000042Z");
  EXPECT_EQ(ParseTime(FormatMicroTime(t)).value(), t);
}

TEST(TimeFormatTest, ErrorsQuoteTheTextAndNameTheByte) {
  auto r = ParseTime("yesterday");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"yesterday\" is not RFC 3339"), std::string::npos)
      << r.status();
  r = ParseTime("2026-11-18T11:06:40");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no zone at byte 19"), std::string::npos) << r.status();
  r = ParseTime("2026-11-18T11:06:40+xx");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad zone offset at byte 19"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace zenith::common
