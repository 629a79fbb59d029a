// Health flipped through a file: listed IDs turn Unhealthy, unlisted ones Healthy again, with
// the reason carried into the device state; unknown IDs and a missing file are harmless.
#include "zenith/deviceplugin/file_health.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

namespace fs = std::filesystem;

class FileHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology_ = fixtures::LoadTopology("dgx1-v100.yaml");
    gpus_ = std::move(GpuResourceManager::Create(topology_, Options{}).value());
    rdma_ = std::move(RdmaResourceManager::Create(topology_, Options{}).value());
    path_ = fs::temp_directory_path() /
            ("zenith-health-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove(path_);
  }
  void TearDown() override { fs::remove(path_); }
  void Write(const std::string& text) {
    const fs::path tmp = path_.string() + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, path_);
  }
  bool Healthy(const ResourceManager& m, const std::string& id) {
    for (const auto& d : m.Devices()) {
      if (d.id == id) return d.healthy;
    }
    ADD_FAILURE() << "no device " << id;
    return false;
  }

  NodeTopology topology_;
  std::unique_ptr<GpuResourceManager> gpus_;
  std::unique_ptr<RdmaResourceManager> rdma_;
  fs::path path_;
};

TEST_F(FileHealthTest, ListedDevicesAreUnhealthyUntilRemoved) {
  FileHealthChecker checker(path_.string(), {gpus_.get(), rdma_.get()});
  EXPECT_EQ(checker.CheckOnce().value(), 0);  // no file: nothing listed
  const std::string gpu = topology_.gpus[3].uuid;
  Write("# comment\n\n" + gpu + " XID 79 fell off the bus\nmlx5_0\nGPU-not-here\n");
  EXPECT_EQ(checker.CheckOnce().value(), 2);
  EXPECT_FALSE(Healthy(*gpus_, gpu));
  EXPECT_FALSE(Healthy(*rdma_, "mlx5_0"));
  EXPECT_EQ(gpus_->Devices()[3].reason, "XID 79 fell off the bus");
  EXPECT_EQ(checker.CheckOnce().value(), 0);  // unchanged file, no change
  Write(gpu + "\n");
  EXPECT_EQ(checker.CheckOnce().value(), 1);
  EXPECT_TRUE(Healthy(*rdma_, "mlx5_0"));
  fs::remove(path_);
  EXPECT_EQ(checker.CheckOnce().value(), 1);
  EXPECT_TRUE(Healthy(*gpus_, gpu));
}

TEST_F(FileHealthTest, TheThreadAppliesAChangeWithoutBeingAsked) {
  FileHealthChecker checker(path_.string(), {gpus_.get()}, std::chrono::milliseconds(20));
  ASSERT_TRUE(checker.Start().ok());
  uint64_t version = 0;
  gpus_->Devices(&version);
  const auto start = std::chrono::steady_clock::now();
  Write(topology_.gpus[0].uuid + "\n");
  while (gpus_->HealthyCount() == 8 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    gpus_->WaitForChange(version, std::chrono::milliseconds(50));
  }
  EXPECT_EQ(gpus_->HealthyCount(), 7);
  checker.Stop();
  checker.Stop();  // idempotent
}

}  // namespace
}  // namespace zenith::deviceplugin
