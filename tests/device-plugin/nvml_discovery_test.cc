// NVML discovery against a fake driver: the function table is filled with functions that
// answer from a scripted machine, so NVLink folding, NVSwitch detection, sysfs fallbacks and
// error paths run without a GPU.
#include "zenith/deviceplugin/nvml_discovery.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace zenith::deviceplugin {
namespace {

namespace fs = std::filesystem;

struct FakeLink {
  std::string remote_bus_id;  // NVML form
  int type;                   // nvml::kNvlinkRemoteGpu / kNvlinkRemoteSwitch
};

struct FakeGpu {
  std::string uuid;
  std::string bus_id;  // NVML form, "00000000:18:00.0"
  unsigned long long memory = 80ull << 30;
  std::vector<FakeLink> links;
  int numa = -1;  // -1: nvmlDeviceGetNumaNodeId not supported
  bool lost = false;
};

struct FakeMachine {
  nvml::Return init = nvml::kSuccess;
  std::vector<FakeGpu> gpus;
  int inits = 0;
  int shutdowns = 0;
};

FakeMachine* machine = nullptr;

nvml::Device Handle(unsigned i) { return reinterpret_cast<nvml::Device>(uintptr_t{i} + 1); }
FakeGpu& Of(nvml::Device d) { return machine->gpus[reinterpret_cast<uintptr_t>(d) - 1]; }

void Fill(nvml::PciInfo* pci, const std::string& bus) {
  std::memset(pci, 0, sizeof(*pci));
  std::strncpy(pci->busId, bus.c_str(), sizeof(pci->busId) - 1);
}

nvml::Functions FakeFunctions(bool with_remote_type = true) {
  nvml::Functions f{};
  f.Init = [] {
    ++machine->inits;
    return machine->init;
  };
  f.Shutdown = [] {
    ++machine->shutdowns;
    return nvml::kSuccess;
  };
  f.ErrorString = [](nvml::Return r) {
    return r == nvml::kErrorDriverNotLoaded ? "Driver Not Loaded" : "Unknown Error";
  };
  f.DeviceGetCount = [](unsigned* n) {
    *n = static_cast<unsigned>(machine->gpus.size());
    return nvml::kSuccess;
  };
  f.DeviceGetHandleByIndex = [](unsigned i, nvml::Device* d) {
    if (i >= machine->gpus.size()) return nvml::kErrorInvalidArgument;
    *d = Handle(i);
    return machine->gpus[i].lost ? nvml::kErrorGpuIsLost : nvml::kSuccess;
  };
  f.DeviceGetUUID = [](nvml::Device d, char* buf, unsigned len) {
    std::strncpy(buf, Of(d).uuid.c_str(), len - 1);
    return nvml::kSuccess;
  };
  f.DeviceGetName = [](nvml::Device, char* buf, unsigned len) {
    std::strncpy(buf, "NVIDIA H100 80GB HBM3", len - 1);
    return nvml::kSuccess;
  };
  f.DeviceGetMemoryInfo = [](nvml::Device d, nvml::Memory* m) {
    *m = {Of(d).memory, Of(d).memory, 0};
    return nvml::kSuccess;
  };
  f.DeviceGetPciInfo = [](nvml::Device d, nvml::PciInfo* pci) {
    Fill(pci, Of(d).bus_id);
    return nvml::kSuccess;
  };
  f.DeviceGetNvLinkState = [](nvml::Device d, unsigned link, unsigned* active) {
    if (Of(d).links.empty()) return nvml::kErrorNotSupported;
    if (link >= Of(d).links.size()) return nvml::kErrorInvalidArgument;
    *active = nvml::kFeatureEnabled;
    return nvml::kSuccess;
  };
  f.DeviceGetNvLinkRemotePciInfo = [](nvml::Device d, unsigned link, nvml::PciInfo* pci) {
    Fill(pci, Of(d).links.at(link).remote_bus_id);
    return nvml::kSuccess;
  };
  if (with_remote_type) {
    f.DeviceGetNvLinkRemoteDeviceType = [](nvml::Device d, unsigned link, int* type) {
      *type = Of(d).links.at(link).type;
      return nvml::kSuccess;
    };
  }
  f.DeviceGetMigMode = [](nvml::Device, unsigned* current, unsigned* pending) {
    *current = *pending = 0;
    return nvml::kSuccess;
  };
  f.DeviceGetCpuAffinity = [](nvml::Device, unsigned size, unsigned long* set) {
    std::memset(set, 0, size * sizeof(unsigned long));
    return nvml::kErrorNotSupported;  // forces the sysfs fallback
  };
  f.DeviceGetNumaNodeId = [](nvml::Device d, unsigned* node) {
    if (Of(d).numa < 0) return nvml::kErrorNotSupported;
    *node = static_cast<unsigned>(Of(d).numa);
    return nvml::kSuccess;
  };
  return f;
}

// A fake /sys with two NUMA nodes, PCI locality for the GPUs and one RDMA NIC.
class FakeSysfs {
 public:
  FakeSysfs() {
    root_ = fs::temp_directory_path() /
            ("zenith-sysfs-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    Write("devices/system/node/node0/cpulist", "0-3\n");
    Write("devices/system/node/node1/cpulist", "4-7\n");
    Write("devices/system/node/possible", "0-1\n");  // not a node directory
    fs::create_directories(root_ / "class/infiniband/mlx5_0");
    fs::create_symlink("../../../0000:1a:00.0", root_ / "class/infiniband/mlx5_0/device");
    Write("bus/pci/devices/0000:1a:00.0/numa_node", "0\n");
  }
  ~FakeSysfs() { fs::remove_all(root_); }
  void Pci(const std::string& bus, int numa, const std::string& cpus) {
    Write("bus/pci/devices/" + bus + "/numa_node", std::to_string(numa) + "\n");
    Write("bus/pci/devices/" + bus + "/local_cpulist", cpus + "\n");
  }
  std::string root() const { return root_.string(); }

 private:
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  fs::path root_;
};

std::string NvmlBus(int bus) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "00000000:%02X:00.0", bus);
  return buf;
}

class NvmlDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { machine = &m_; }
  void TearDown() override { machine = nullptr; }
  FakeMachine m_;
  FakeSysfs sys_;
};

TEST_F(NvmlDiscoveryTest, NvswitchMakesEveryPairConnected) {
  for (int i = 0; i < 8; ++i) {
    FakeGpu g;
    g.uuid = "GPU-" + std::to_string(i);
    g.bus_id = NvmlBus(0x18 + i);
    g.numa = i < 4 ? 0 : 1;
    for (int l = 0; l < 18; ++l)
      g.links.push_back({NvmlBus(0xe0 + l % 4), nvml::kNvlinkRemoteSwitch});
    m_.gpus.push_back(g);
  }
  NvmlDiscovery d(FakeFunctions(), sys_.root());
  auto t = d.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(m_.inits, 1);
  EXPECT_EQ(m_.shutdowns, 1);
  ASSERT_EQ(t->gpus.size(), 8u);
  EXPECT_TRUE(t->nvswitch);
  for (size_t a = 0; a < 8; ++a) {
    for (size_t b = 0; b < 8; ++b) EXPECT_EQ(t->nvlink[a][b], a == b ? 0 : 18);
  }
  EXPECT_EQ(t->gpus[0].pci_bus_id, "0000:18:00.0");
  EXPECT_EQ(t->gpus[5].numa_node, 1);
  EXPECT_EQ(t->gpus[0].mig, MigMode::kDisabled);
  EXPECT_EQ(t->gpus[0].memory_bytes, 80ull << 30);
  ASSERT_EQ(t->numa_nodes.size(), 2u);
  EXPECT_EQ(t->numa_nodes[1].cpus, (std::vector<int>{4, 5, 6, 7}));
  ASSERT_EQ(t->nics.size(), 1u);
  EXPECT_EQ(t->nics[0].name, "mlx5_0");
  EXPECT_EQ(t->nics[0].pci_bus_id, "0000:1a:00.0");
  EXPECT_EQ(t->nics[0].numa_node, 0);
  EXPECT_TRUE(t->nics[0].rdma);
}

TEST_F(NvmlDiscoveryTest, UnknownRemoteWithoutTypeCallIsASwitch) {
  for (int i = 0; i < 2; ++i) {
    FakeGpu g;
    g.uuid = "GPU-" + std::to_string(i);
    g.bus_id = NvmlBus(0x18 + i);
    for (int l = 0; l < 4; ++l) g.links.push_back({NvmlBus(0xf0), nvml::kNvlinkRemoteSwitch});
    m_.gpus.push_back(g);
  }
  NvmlDiscovery d(FakeFunctions(/*with_remote_type=*/false), sys_.root());
  auto t = d.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->nvswitch);
  EXPECT_EQ(t->nvlink[0][1], 4);
}

TEST_F(NvmlDiscoveryTest, DirectLinksFoldIntoTheMatrixBySysfsLocality) {
  // Two NVLink-bridged pairs, (0,1) with 4 links and (2,3) with 2; 0 and 2 also share one.
  for (int i = 0; i < 4; ++i) {
    FakeGpu g;
    g.uuid = "GPU-" + std::to_string(i);
    g.bus_id = NvmlBus(0x40 + i);
    m_.gpus.push_back(g);
    sys_.Pci("0000:4" + std::to_string(i) + ":00.0", i < 2 ? 0 : 1, i < 2 ? "0-3" : "4-7");
  }
  auto link = [&](int a, int b, int n) {
    for (int k = 0; k < n; ++k) {
      m_.gpus[a].links.push_back({m_.gpus[b].bus_id, nvml::kNvlinkRemoteGpu});
      m_.gpus[b].links.push_back({m_.gpus[a].bus_id, nvml::kNvlinkRemoteGpu});
    }
  };
  link(0, 1, 4);
  link(2, 3, 2);
  link(0, 2, 1);
  // A link to a GPU this container cannot see is ignored, not mistaken for a switch.
  m_.gpus[3].links.push_back({NvmlBus(0x99), nvml::kNvlinkRemoteGpu});
  NvmlDiscovery d(FakeFunctions(), sys_.root());
  auto t = d.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->nvswitch);
  const std::vector<std::vector<int>> want = {
      {0, 4, 1, 0}, {4, 0, 0, 0}, {1, 0, 0, 2}, {0, 0, 2, 0}};
  EXPECT_EQ(t->nvlink, want);
  // NUMA and CPUs came from sysfs (NVML said "not supported").
  EXPECT_EQ(t->gpus[0].numa_node, 0);
  EXPECT_EQ(t->gpus[3].numa_node, 1);
  EXPECT_EQ(t->gpus[3].cpus, (std::vector<int>{4, 5, 6, 7}));
}

TEST_F(NvmlDiscoveryTest, LostGpuIsReportedUnhealthy) {
  FakeGpu ok;
  ok.uuid = "GPU-ok";
  ok.bus_id = NvmlBus(0x18);
  FakeGpu lost = ok;
  lost.uuid = "GPU-lost";
  lost.bus_id = NvmlBus(0x19);
  lost.lost = true;
  m_.gpus = {ok, lost};
  NvmlDiscovery d(FakeFunctions(), sys_.root());
  auto t = d.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->gpus.size(), 2u);
  EXPECT_TRUE(t->gpus[0].healthy);
  EXPECT_FALSE(t->gpus[1].healthy);
  EXPECT_EQ(t->gpus[1].index, 1);
}

TEST_F(NvmlDiscoveryTest, UnknownNumaNodeIsInferredFromCpuAffinity) {
  FakeGpu g;
  g.uuid = "GPU-0";
  g.bus_id = NvmlBus(0x60);
  m_.gpus = {g};
  sys_.Pci("0000:60:00.0", -1, "4-7");  // what a VM typically shows
  NvmlDiscovery d(FakeFunctions(), sys_.root());
  auto t = d.Discover();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->gpus[0].numa_node, 1);
  EXPECT_EQ(t->gpus[0].cpus, (std::vector<int>{4, 5, 6, 7}));
}

TEST_F(NvmlDiscoveryTest, InitFailureIsUnavailableAndNeedsNoShutdown) {
  m_.init = nvml::kErrorDriverNotLoaded;
  NvmlDiscovery d(FakeFunctions(), sys_.root());
  auto t = d.Discover();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("Driver Not Loaded"), std::string::npos) << t.status();
  EXPECT_EQ(m_.shutdowns, 0);
}

TEST(NvmlLoadTest, MissingLibraryIsUnavailableNamingIt) {
  auto f = nvml::Load("libzenith-no-such-nvml.so.1");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(f.status().message().find("libzenith-no-such-nvml.so.1"), std::string::npos);

  Options o;
  o.backend = "nvml";
  o.nvml_library = "libzenith-no-such-nvml.so.1";
  auto d = MakeDiscovery(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("libzenith-no-such-nvml.so.1"), std::string::npos);
}

}  // namespace
}  // namespace zenith::deviceplugin
