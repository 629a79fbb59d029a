#include <gtest/gtest.h>

#include "zenith/deviceplugin/cpu_list.h"
#include "zenith/deviceplugin/pci.h"

namespace zenith::deviceplugin {
namespace {

TEST(CpuListTest, ParsesAndFormats) {
  auto cpus = ParseCpuList("0-3,8,10-11\n");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_EQ(*cpus, (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(FormatCpuList(*cpus), "0-3,8,10-11");
  EXPECT_EQ(FormatCpuList({5, 1, 2, 3}), "1-3,5");
  EXPECT_TRUE(ParseCpuList("")->empty());
  EXPECT_EQ(FormatCpuList({}), "");
}

TEST(CpuListTest, RejectsJunk) {
  for (const char* bad : {"a", "3-1", "1,,2", "-1", "1-", "0-3x"}) {
    auto r = ParseCpuList(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status();
    }
  }
}

TEST(PciBusIdTest, NormalisesEveryForm) {
  EXPECT_EQ(*NormalizePciBusId("00000000:18:00.0"), "0000:18:00.0");  // NVML, nvidia-smi
  EXPECT_EQ(*NormalizePciBusId("0000:AB:00.0"), "0000:ab:00.0");
  EXPECT_EQ(*NormalizePciBusId("18:00.0"), "0000:18:00.0");
  EXPECT_EQ(*NormalizePciBusId("0001:18:1f.7\n"), "0001:18:1f.7");
  EXPECT_EQ(*NormalizePciBusId("00010000:18:00.0"), "10000:18:00.0");
  for (const char* bad : {"", "18", "zz:00.0", "0000:18:20.0", "0000:18:00.8", "1:2:3:4"}) {
    EXPECT_FALSE(NormalizePciBusId(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace zenith::deviceplugin
