// The resource managers on the example machines: device lists with NUMA, preferred sets from
// the shared scoring, Allocate's env vars and device nodes, and errors that name the ID.
#include "zenith/deviceplugin/resource_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Uuid(const NodeTopology& t, int index) { return t.gpus[t.PositionOf(index)].uuid; }

std::vector<std::string> AllIds(const ResourceManager& m) {
  std::vector<std::string> ids;
  for (const auto& d : m.Devices()) ids.push_back(d.id);
  return ids;
}

class GpuManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<GpuResourceManager> Make(const std::string& fixture, Options o = {}) {
    topology_ = fixtures::LoadTopology(fixture);
    auto m = GpuResourceManager::Create(topology_, o);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }
  NodeTopology topology_;
};

TEST_F(GpuManagerTest, AdvertisesEveryGpuByUuidWithItsNumaNode) {
  auto m = Make("dgx-h100.yaml");
  const auto devices = m->Devices();
  ASSERT_EQ(devices.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(devices[i].id, topology_.gpus[i].uuid);
    EXPECT_TRUE(devices[i].healthy);
    EXPECT_EQ(devices[i].numa_node, topology_.gpus[i].numa_node);
  }
  EXPECT_EQ(m->resource_name(), "zenith.ai/gpu");
  EXPECT_EQ(m->HealthyCount(), 8);
}

TEST_F(GpuManagerTest, PreferredOnCubeMeshIsAFullyConnectedQuad) {
  auto m = Make("dgx1-v100.yaml");
  auto chosen = m->Preferred(AllIds(*m), {}, 4);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_THAT(*chosen, ElementsAre(Uuid(topology_, 0), Uuid(topology_, 1), Uuid(topology_, 2),
                                   Uuid(topology_, 3)));
  // must_include GPU 5 → the other quad.
  chosen = m->Preferred(AllIds(*m), {Uuid(topology_, 5)}, 4);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_THAT(*chosen, UnorderedElementsAre(Uuid(topology_, 4), Uuid(topology_, 5),
                                            Uuid(topology_, 6), Uuid(topology_, 7)));
}

TEST_F(GpuManagerTest, PreferredNamesAnUnknownId) {
  auto m = Make("dgx1-v100.yaml");
  auto chosen = m->Preferred({"GPU-nope"}, {}, 1);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(chosen.status().message(), HasSubstr("'GPU-nope'"));
  chosen = m->Preferred({Uuid(topology_, 0)}, {}, 2);
  EXPECT_EQ(chosen.status().code(), StatusCode::kResourceExhausted) << chosen.status();
}

TEST_F(GpuManagerTest, AllocateReturnsEnvsAndDeviceNodes) {
  Options o;
  o.cdi = true;
  auto m = Make("dgx-h100.yaml", o);
  const std::string a = Uuid(topology_, 5), b = Uuid(topology_, 2);
  auto r = m->Allocate({a, b});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->envs.at("NVIDIA_VISIBLE_DEVICES"), b + "," + a);  // by GPU index
  EXPECT_EQ(r->envs.at("CUDA_VISIBLE_DEVICES"), b + "," + a);
  std::vector<std::string> nodes;
  for (const auto& d : r->devices) {
    EXPECT_EQ(d.container_path, d.host_path);
    EXPECT_EQ(d.permissions, "rw");
    nodes.push_back(d.host_path);
  }
  EXPECT_THAT(nodes, ElementsAre("/dev/nvidia2", "/dev/nvidia5", "/dev/nvidiactl",
                                 "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"));
  EXPECT_THAT(r->cdi_devices, ElementsAre("nvidia.com/gpu=" + b, "nvidia.com/gpu=" + a));
}

TEST_F(GpuManagerTest, AllocateRefusesUnknownRepeatedAndUnhealthyIds) {
  auto m = Make("dgx-h100.yaml");
  auto r = m->Allocate({"GPU-unknown"});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("'GPU-unknown'"));
  const std::string a = Uuid(topology_, 0);
  EXPECT_EQ(m->Allocate({a, a}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->Allocate({}).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(m->SetHealthy(a, false, "XID 79").value());
  r = m->Allocate({a});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr(a));
  EXPECT_THAT(r.status().message(), HasSubstr("XID 79"));
}

TEST_F(GpuManagerTest, HealthChangesBumpTheVersionAndWakeWaiters) {
  auto m = Make("single-h100.yaml");
  uint64_t v0 = 0;
  const std::string id = m->Devices(&v0)[0].id;
  EXPECT_FALSE(m->SetHealthy(id, true).value());  // no change, no new version
  EXPECT_EQ(m->WaitForChange(v0, std::chrono::milliseconds(1)), v0);
  std::thread flip([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)m->SetHealthy(id, false, "test");
  });
  const uint64_t v1 = m->WaitForChange(v0, std::chrono::seconds(10));
  flip.join();
  EXPECT_NE(v1, v0);
  EXPECT_FALSE(m->Devices()[0].healthy);
  EXPECT_EQ(m->HealthyCount(), 0);
  EXPECT_EQ(m->SetHealthy("GPU-other", false).status().code(), StatusCode::kNotFound);
}

TEST(RdmaManagerTest, AdvertisesRdmaNicsAndPrefersTheSameNumaNode) {
  const NodeTopology t = fixtures::LoadTopology("dgx-h100.yaml");
  Options o;
  o.sysfs_root = "/nonexistent";
  auto m = RdmaResourceManager::Create(t, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->resource_name(), "zenith.ai/rdma");
  EXPECT_EQ((*m)->Devices().size(), 8u);
  auto chosen = (*m)->Preferred(AllIds(**m), {"mlx5_5"}, 3);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_THAT(*chosen, ElementsAre("mlx5_5", "mlx5_4", "mlx5_6"));
  auto r = (*m)->Allocate({"mlx5_0", "mlx5_1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->envs.at("NCCL_IB_HCA"), "mlx5_0,mlx5_1");
  ASSERT_EQ(r->devices.size(), 1u);  // no sysfs: rdma_cm only
  EXPECT_EQ(r->devices[0].host_path, "/dev/infiniband/rdma_cm");
  EXPECT_EQ((*m)->Allocate({"mlx9"}).status().code(), StatusCode::kNotFound);
}

TEST(RdmaManagerTest, FindsVerbsDevicesInSysfs) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("zenith-rdma-" + std::to_string(getpid()));
  fs::create_directories(root / "class/infiniband/mlx5_0/device/infiniband_verbs/uverbs3");
  const NodeTopology t = fixtures::LoadTopology("dgx1-v100.yaml");
  Options o;
  o.sysfs_root = root.string();
  auto m = RdmaResourceManager::Create(t, o);
  ASSERT_TRUE(m.ok()) << m.status();
  auto r = (*m)->Allocate({"mlx5_0"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->devices.size(), 2u);
  EXPECT_EQ(r->devices[0].host_path, "/dev/infiniband/uverbs3");
  fs::remove_all(root);
}

TEST(RdmaManagerTest, NoRdmaNicsIsNotFound) {
  const NodeTopology t = fixtures::LoadTopology("single-h100.yaml");
  NodeTopology no_nics = t;
  no_nics.nics.clear();
  EXPECT_EQ(RdmaResourceManager::Create(no_nics, Options{}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace zenith::deviceplugin
