// NVML discovery against the real driver, cross-checked with nvidia-smi. Runs on GPU machines;
// elsewhere it skips, saying why.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "zenith/common/clock.h"
#include "zenith/deviceplugin/nvml_api.h"
#include "zenith/deviceplugin/nvml_discovery.h"
#include "zenith/deviceplugin/nvml_health.h"
#include "zenith/deviceplugin/pci.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {
namespace {

struct SmiGpu {
  std::string uuid;
  uint64_t memory_mib = 0;
  std::string bus_id;
};

std::string Trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

// nvidia-smi's view, keyed by UUID; empty when nvidia-smi is missing or fails.
std::map<std::string, SmiGpu> NvidiaSmi() {
  std::map<std::string, SmiGpu> out;
  FILE* p = popen(
      "nvidia-smi --query-gpu=uuid,memory.total,pci.bus_id --format=csv,noheader,nounits "
      "2>/dev/null",
      "r");
  if (p == nullptr) return out;
  char line[512];
  while (fgets(line, sizeof(line), p) != nullptr) {
    std::stringstream ss(line);
    std::string uuid, memory, bus;
    if (!std::getline(ss, uuid, ',') || !std::getline(ss, memory, ',') || !std::getline(ss, bus)) {
      continue;
    }
    SmiGpu g;
    g.uuid = Trim(uuid);
    g.memory_mib = std::stoull(Trim(memory));
    g.bus_id = NormalizePciBusId(Trim(bus)).value_or(Trim(bus));
    out[g.uuid] = g;
  }
  pclose(p);
  return out;
}

TEST(NvmlGpuTest, DiscoversTheRealGpusAsNvidiaSmiSeesThem) {
  auto functions = nvml::Load();
  if (!functions.ok()) {
    GTEST_SKIP() << "SKIPPED: no NVIDIA driver (libnvidia-ml.so.1 not found)";
  }
  NvmlDiscovery discovery(std::move(functions).value());
  auto t = discovery.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_GE(t->gpus.size(), 1u);
  for (const Gpu& g : t->gpus) {
    EXPECT_EQ(g.uuid.rfind("GPU-", 0), 0u) << g.uuid;
    EXPECT_GT(g.memory_bytes, 0u) << g.uuid;
    EXPECT_FALSE(g.pci_bus_id.empty()) << g.uuid;
    EXPECT_FALSE(g.name.empty()) << g.uuid;
    EXPECT_TRUE(g.healthy) << g.uuid;
    std::printf("GPU %d %s %s %llu MiB bus %s numa %d cpus %zu mig %s\n", g.index, g.uuid.c_str(),
                g.name.c_str(), static_cast<unsigned long long>(g.memory_bytes >> 20),
                g.pci_bus_id.c_str(), g.numa_node, g.cpus.size(),
                std::string(MigModeName(g.mig)).c_str());
  }
  std::printf("nvswitch %d, NUMA nodes %zu, NICs %zu\n", t->nvswitch, t->numa_nodes.size(),
              t->nics.size());

  auto smi = NvidiaSmi();
  if (smi.empty()) GTEST_SKIP() << "SKIPPED: nvidia-smi not available to cross-check";
  EXPECT_EQ(smi.size(), t->gpus.size());
  for (const Gpu& g : t->gpus) {
    auto it = smi.find(g.uuid);
    ASSERT_NE(it, smi.end()) << "nvidia-smi does not list " << g.uuid;
    EXPECT_EQ(g.memory_bytes >> 20, it->second.memory_mib) << g.uuid;
    EXPECT_EQ(g.pci_bus_id, it->second.bus_id) << g.uuid;
  }
}

// The device plugin's kubelet-side view of the real card: NVML health events register for every
// GPU and leave it Healthy, and Allocate names device nodes that exist on this machine.
TEST(NvmlGpuTest, HealthEventsRegisterAndAllocateNamesRealDeviceNodes) {
  auto functions = nvml::Load();
  if (!functions.ok()) {
    GTEST_SKIP() << "SKIPPED: no NVIDIA driver (libnvidia-ml.so.1 not found)";
  }
  auto t = NvmlDiscovery(*functions).Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  auto gpus = GpuResourceManager::Create(*t, Options{});
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  const Options defaults;
  NvmlHealthChecker checker(*functions, **gpus, defaults.ignored_xids, std::chrono::seconds(30),
                            common::SystemClock::Get());
  ASSERT_TRUE(checker.Open().ok());
  checker.Poll(std::chrono::milliseconds(200));
  for (const DeviceState& d : (*gpus)->Devices()) {
    std::printf("health %s %s %s\n", d.id.c_str(), d.healthy ? "Healthy" : "Unhealthy",
                d.reason.c_str());
    EXPECT_TRUE(d.healthy) << d.id << ": " << d.reason;
  }
  checker.Stop();

  std::vector<std::string> ids;
  for (const DeviceState& d : (*gpus)->Devices()) ids.push_back(d.id);
  auto allocation = (*gpus)->Allocate(ids);
  ASSERT_TRUE(allocation.ok()) << allocation.status();
  for (const auto& [k, v] : allocation->envs) std::printf("env %s=%s\n", k.c_str(), v.c_str());
  for (const DeviceNode& n : allocation->devices) {
    const bool exists = std::filesystem::exists(n.host_path);
    std::printf("device %s %s %s\n", n.host_path.c_str(), n.permissions.c_str(),
                exists ? "exists" : "MISSING");
    // nvidia-uvm appears only once a CUDA program loaded the module; the GPU nodes and the
    // control node are there whenever the driver is.
    if (n.host_path.find("uvm") == std::string::npos) {
      EXPECT_TRUE(exists) << n.host_path;
    }
  }
}

}  // namespace
}  // namespace zenith::deviceplugin
