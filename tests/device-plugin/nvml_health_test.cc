// NVML health checking against a fake driver and a FakeClock: a critical XID marks the GPU
// Unhealthy, ignored XIDs do not, a lost GPU is found, and a GPU that answers again after the
// recovery period is Healthy again.
#include "zenith/deviceplugin/nvml_health.h"

#include <gtest/gtest.h>

#include <deque>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

struct FakeDriver {
  std::deque<nvml::EventData> events;
  nvml::Return wait_error = nvml::kSuccess;  // returned once by the next wait when set
  std::vector<bool> answers = std::vector<bool>(8, true);
  std::vector<nvml::Return> register_result = std::vector<nvml::Return>(8, nvml::kSuccess);
  int inits = 0, shutdowns = 0, frees = 0;
};
FakeDriver* driver = nullptr;

nvml::Device Handle(unsigned i) { return reinterpret_cast<nvml::Device>(uintptr_t{i} + 1); }
unsigned IndexOf(nvml::Device d) {
  return static_cast<unsigned>(reinterpret_cast<uintptr_t>(d) - 1);
}

nvml::Functions Fake() {
  nvml::Functions f{};
  f.Init = [] { return ++driver->inits, nvml::kSuccess; };
  f.Shutdown = [] { return ++driver->shutdowns, nvml::kSuccess; };
  f.ErrorString = [](nvml::Return) { return "fake error"; };
  f.DeviceGetHandleByIndex = [](unsigned i, nvml::Device* d) {
    if (!driver->answers[i]) return nvml::kErrorGpuIsLost;
    *d = Handle(i);
    return nvml::kSuccess;
  };
  f.DeviceGetMemoryInfo = [](nvml::Device d, nvml::Memory* m) {
    *m = {};
    return driver->answers[IndexOf(d)] ? nvml::kSuccess : nvml::kErrorGpuIsLost;
  };
  f.EventSetCreate = [](nvml::EventSet* s) {
    *s = reinterpret_cast<nvml::EventSet>(uintptr_t{42});
    return nvml::kSuccess;
  };
  f.DeviceRegisterEvents = [](nvml::Device d, unsigned long long types, nvml::EventSet) {
    EXPECT_TRUE(types & nvml::kEventXidCritical);
    return driver->register_result[IndexOf(d)];
  };
  f.EventSetWait = [](nvml::EventSet, nvml::EventData* e, unsigned) {
    if (driver->wait_error != nvml::kSuccess) {
      return std::exchange(driver->wait_error, nvml::kSuccess);
    }
    if (driver->events.empty()) return nvml::kErrorTimeout;
    *e = driver->events.front();
    driver->events.pop_front();
    return nvml::kSuccess;
  };
  f.EventSetFree = [](nvml::EventSet) { return ++driver->frees, nvml::kSuccess; };
  return f;
}

class NvmlHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver = &driver_;
    topology_ = fixtures::LoadTopology("dgx-h100.yaml");
    gpus_ = std::move(GpuResourceManager::Create(topology_, Options{}).value());
  }
  void TearDown() override { driver = nullptr; }
  std::unique_ptr<NvmlHealthChecker> Make() {
    return std::make_unique<NvmlHealthChecker>(Fake(), *gpus_, std::vector<int>{13, 43},
                                               std::chrono::seconds(30), clock_);
  }
  void Xid(unsigned gpu, unsigned long long xid) {
    driver_.events.push_back({Handle(gpu), nvml::kEventXidCritical, xid, 0, 0});
  }
  bool Healthy(size_t position) { return gpus_->Devices()[position].healthy; }

  FakeDriver driver_;
  common::FakeClock clock_;
  NodeTopology topology_;
  std::unique_ptr<GpuResourceManager> gpus_;
};

TEST_F(NvmlHealthTest, CriticalXidMarksTheGpuUnhealthyAndRecoveryHealsIt) {
  auto checker = Make();
  ASSERT_TRUE(checker->Open().ok());
  Xid(3, 79);
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_FALSE(Healthy(3));
  EXPECT_EQ(gpus_->Devices()[3].reason, "XID 79");
  EXPECT_EQ(gpus_->HealthyCount(), 7);
  // Still failing after the recovery period: stays Unhealthy.
  driver_.answers[3] = false;
  clock_.Advance(std::chrono::seconds(31));
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_FALSE(Healthy(3));
  // Answers again, but the period restarted at the failed probe.
  driver_.answers[3] = true;
  clock_.Advance(std::chrono::seconds(10));
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_FALSE(Healthy(3));
  clock_.Advance(std::chrono::seconds(21));
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_TRUE(Healthy(3));
  checker->Stop();
  EXPECT_EQ(driver_.shutdowns, 1);
  EXPECT_EQ(driver_.frees, 1);
}

TEST_F(NvmlHealthTest, IgnoredXidsAndSingleBitEccChangeNothing) {
  auto checker = Make();
  ASSERT_TRUE(checker->Open().ok());
  Xid(1, 13);
  Xid(2, 43);
  driver_.events.push_back({Handle(4), nvml::kEventSingleBitEcc, 0, 0, 0});
  for (int i = 0; i < 4; ++i) checker->Poll(std::chrono::milliseconds(0));
  EXPECT_EQ(gpus_->HealthyCount(), 8);
}

TEST_F(NvmlHealthTest, AnEventForEveryDeviceAndALostGpu) {
  auto checker = Make();
  ASSERT_TRUE(checker->Open().ok());
  driver_.events.push_back({nullptr, nvml::kEventDoubleBitEcc, 0, 0, 0});
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_EQ(gpus_->HealthyCount(), 0);
  EXPECT_EQ(gpus_->Devices()[0].reason, "double-bit ECC error");
  clock_.Advance(std::chrono::seconds(30));
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_EQ(gpus_->HealthyCount(), 8);
  // The wait reports a lost GPU: only the GPU that no longer answers is marked.
  driver_.answers[6] = false;
  driver_.wait_error = nvml::kErrorGpuIsLost;
  checker->Poll(std::chrono::milliseconds(0));
  EXPECT_EQ(gpus_->HealthyCount(), 7);
  EXPECT_FALSE(Healthy(6));
}

TEST_F(NvmlHealthTest, AGpuLostAtRegistrationStartsUnhealthy) {
  driver_.register_result[2] = nvml::kErrorGpuIsLost;
  auto checker = Make();
  ASSERT_TRUE(checker->Open().ok());
  EXPECT_FALSE(Healthy(2));
  EXPECT_EQ(gpus_->Devices()[2].reason, "GPU is lost");
}

TEST_F(NvmlHealthTest, NoEventApiIsUnavailable) {
  nvml::Functions f = Fake();
  f.EventSetWait = nullptr;
  NvmlHealthChecker checker(f, *gpus_, {}, std::chrono::seconds(1), clock_);
  EXPECT_EQ(checker.Start().code(), StatusCode::kUnavailable);
}

TEST_F(NvmlHealthTest, TheThreadSeesAnEvent) {
  auto checker = Make();
  Xid(5, 48);
  ASSERT_TRUE(checker->Start().ok());
  uint64_t v = 0;
  gpus_->Devices(&v);
  for (int i = 0; i < 100 && Healthy(5); ++i)
    gpus_->WaitForChange(v, std::chrono::milliseconds(50));
  EXPECT_FALSE(Healthy(5));
  checker->Stop();
}

}  // namespace
}  // namespace zenith::deviceplugin
