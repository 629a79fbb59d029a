#include "zenith/deviceplugin/hwloc_discovery.h"

#include <gtest/gtest.h>

namespace zenith::deviceplugin {
namespace {

TEST(HwlocDiscoveryTest, FindsThisMachinesNumaNodes) {
  Options o;
  o.backend = "hwloc";
  auto d = MakeDiscovery(o);
  ASSERT_TRUE(d.ok()) << d.status();
  auto t = (*d)->Discover();
  if (!t.ok() && t.status().message().find("no hwloc") != std::string::npos) {
    GTEST_SKIP() << "SKIPPED: built without hwloc";
  }
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_GE(t->numa_nodes.size(), 1u);
  EXPECT_FALSE(t->numa_nodes[0].cpus.empty());
  EXPECT_EQ(t->source, "hwloc");
  // hwloc knows nothing of NVLink: whatever GPUs it finds, the matrix is zero.
  EXPECT_EQ(t->nvlink.size(), t->gpus.size());
  for (const auto& row : t->nvlink) {
    for (int l : row) EXPECT_EQ(l, 0);
  }
  for (const Gpu& g : t->gpus) EXPECT_FALSE(g.pci_bus_id.empty());
}

}  // namespace
}  // namespace zenith::deviceplugin
