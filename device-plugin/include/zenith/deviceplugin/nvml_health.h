// GPU health from NVML events: a critical XID (other than the ignored ones) or a double-bit ECC
// error marks the GPU Unhealthy at once, a lost GPU too; an Unhealthy GPU is Healthy again once
// it answers NVML and no new error came for the recovery period. Runs through the dlopen'd NVML
// table, so tests drive it with fakes and a FakeClock.
#pragma once

#include <chrono>
#include <set>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/deviceplugin/health_checker.h"
#include "zenith/deviceplugin/nvml_api.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {

class NvmlHealthChecker final : public HealthChecker {
 public:
  NvmlHealthChecker(nvml::Functions nvml, GpuResourceManager& gpus, std::vector<int> ignored_xids,
                    std::chrono::nanoseconds recovery, common::Clock& clock);
  ~NvmlHealthChecker() override;

  // Initialises NVML and registers every GPU for events. UNAVAILABLE when this NVML has no
  // event API; a GPU that cannot be registered is marked Unhealthy, not an error.
  Status Start() override;
  void Stop() override;

  // Start without the thread, for tests; then call Poll.
  Status Open();
  // Waits up to `wait` for one event and applies it, then probes Unhealthy GPUs for recovery.
  void Poll(std::chrono::milliseconds wait);

 private:
  void MarkUnhealthy(size_t position, const std::string& reason);
  bool Answers(size_t position);
  std::string Error(nvml::Return r) const;

  nvml::Functions nvml_;
  GpuResourceManager& gpus_;
  std::set<unsigned long long> ignored_;
  std::chrono::nanoseconds recovery_;
  common::Clock& clock_;
  bool initialised_ = false;
  nvml::EventSet set_ = nullptr;
  std::vector<nvml::Device> handles_;          // by position; null when not registered
  std::vector<common::TimePoint> last_error_;  // by position
  std::vector<bool> ours_;                     // by position: Unhealthy because of NVML
  CheckerThread thread_;
};

}  // namespace zenith::deviceplugin
