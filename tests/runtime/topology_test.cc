#include "zenith/runtime/topology.h"

#include <gtest/gtest.h>

#include "zenith/runtime/numa_memory.h"

namespace zenith::runtime {
namespace {

TEST(TopologyTest, ThisMachineHasCpusAndMemory) {
  auto t = DiscoverTopology();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_GE(t->packages, 1);
  ASSERT_GE(t->numa_nodes.size(), 1u);
  EXPECT_GT(t->numa_nodes[0].memory_bytes, 0u);
  EXPECT_FALSE(t->pus.empty());
  EXPECT_FALSE(t->cores.empty());
  for (const auto& d : t->pci_devices) {
    if (d.vendor_id == kNvidiaVendorId && (d.class_id >> 8) == 0x03) {
      EXPECT_EQ(d.kind, "gpu");
    }
    if ((d.class_id >> 8) == 0x02) {
      EXPECT_EQ(d.kind, "nic");
    }
  }
}

TEST(TopologyTest, JsonParsesBack) {
  auto t = DiscoverTopology().value();
  const std::size_t gpus = t.Gpus().size();  // the GPU machine has real ones
  t.pci_devices.push_back({"0000:3b:00.0", kNvidiaVendorId, 0x2330, 0x0302, "gpu", 1, ""});
  const std::string text = nlohmann::json(t).dump(2);
  auto back = TopologyFromJson(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(nlohmann::json(*back), nlohmann::json(t));
  ASSERT_EQ(back->Gpus().size(), gpus + 1);
  EXPECT_EQ(back->Gpus().back()->numa_node, 1);
  auto bad = TopologyFromJson(R"({"packages": 1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("numa_nodes"), std::string::npos);
}

TEST(TopologyTest, SyntheticTwoNodeMachine) {
  auto t = DiscoverTopology({.io_devices = false, .synthetic = "package:2 numa:1 core:2 pu:2"});
  if (!t.ok() && t.status().code() == StatusCode::kUnimplemented) GTEST_SKIP() << t.status();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->packages, 2);
  ASSERT_EQ(t->numa_nodes.size(), 2u);
  EXPECT_EQ(t->cores.size(), 4u);
  EXPECT_EQ(t->pus.size(), 8u);
  EXPECT_EQ(t->CpusOfNode(1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(t->cores[3].numa_node, 1);
}

TEST(NumaAllocatorTest, AllocatesOnEveryNodeAndDegradesOnOne) {
  auto alloc = NumaAllocator::Create();
  ASSERT_TRUE(alloc.ok()) << alloc.status();
  for (int node = 0; node < (*alloc)->node_count(); ++node) {
    auto buf = (*alloc)->Allocate(3 * 4096 + 5, node);
    ASSERT_TRUE(buf.ok()) << buf.status();
    EXPECT_EQ(buf->size(), 4u * 4096);
    EXPECT_EQ(buf->node(), node);
    if ((*alloc)->node_count() == 1) {
      EXPECT_FALSE(buf->bound());
    }
    buf->data()[buf->size() - 1] = std::byte{7};
  }
  EXPECT_FALSE((*alloc)->Allocate(0, 0).ok());
}

}  // namespace
}  // namespace zenith::runtime
