// NVML discovery against the real driver, cross-checked with nvidia-smi. Runs on GPU machines;
// elsewhere it skips, saying why.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "zenith/deviceplugin/nvml_api.h"
#include "zenith/deviceplugin/nvml_discovery.h"
#include "zenith/deviceplugin/pci.h"

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

}  // namespace
}  // namespace zenith::deviceplugin
