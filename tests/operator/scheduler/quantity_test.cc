#include "zenith/operator/scheduler/quantity.h"

#include <gtest/gtest.h>

namespace zenith::operator_::scheduler {
namespace {

TEST(QuantityTest, CpuInMillicores) {
  EXPECT_EQ(ParseCpuMillis("500m").value(), 500);
  EXPECT_EQ(ParseCpuMillis("2").value(), 2000);
  EXPECT_EQ(ParseCpuMillis("0.25").value(), 250);
  EXPECT_EQ(ParseCpuMillis("1.0001").value(), 1001);  // rounded up, never under-counted
}

TEST(QuantityTest, MemoryInBytes) {
  EXPECT_EQ(ParseBytes("16Gi").value(), int64_t{16} << 30);
  EXPECT_EQ(ParseBytes("1.5Gi").value(), int64_t{3} << 29);
  EXPECT_EQ(ParseBytes("1G").value(), 1'000'000'000);
  EXPECT_EQ(ParseBytes("128974848").value(), 128974848);
  EXPECT_EQ(ParseBytes("129e6").value(), 129'000'000);
  EXPECT_EQ(ParseBytes("1500m").value(), 2);
  EXPECT_EQ(ParseBytes("80Ki").value(), 80 * 1024);
}

TEST(QuantityTest, RejectsMalformed) {
  for (const char* bad : {"", "abc", "-1", "1Qi", "1.2.3", "9999999Ei"}) {
    auto r = ParseBytes(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("quantity"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace zenith::operator_::scheduler
