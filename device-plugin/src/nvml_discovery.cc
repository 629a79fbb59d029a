#include "zenith/deviceplugin/nvml_discovery.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>

#include "zenith/deviceplugin/pci.h"
#include "zenith/deviceplugin/sysfs.h"

namespace zenith::deviceplugin {
namespace {

// NVML is initialised per Discover() and shut down on every path out of it.
class Session {
 public:
  explicit Session(const nvml::Functions& f) : f_(f) {}
  ~Session() {
    if (started_) f_.Shutdown();
  }
  Status Start() {
    nvml::Return r = f_.Init();
    if (r != nvml::kSuccess) {
      return UnavailableError("nvmlInit_v2 failed: " + Text(r) +
                              " (no NVIDIA driver loaded, or no GPU visible to this container?)");
    }
    started_ = true;
    return Status::Ok();
  }
  std::string Text(nvml::Return r) const {
    const char* s = f_.ErrorString ? f_.ErrorString(r) : nullptr;
    return (s ? std::string(s) : "NVML error") + " (" + std::to_string(r) + ")";
  }

 private:
  const nvml::Functions& f_;
  bool started_ = false;
};

// What one GPU's NVLinks lead to: direct peers by bus id, and links into NVSwitches.
struct GpuLinks {
  // (remote bus id, the driver said the remote is a GPU) → links.
  std::map<std::pair<std::string, bool>, int> to_bus_id;
  int to_switch = 0;
};

std::string BusIdOf(const nvml::PciInfo& pci) {
  char buf[sizeof(pci.busId) + 1] = {};
  std::memcpy(buf, pci.busId, sizeof(pci.busId));
  auto id = NormalizePciBusId(buf);
  return id.ok() ? *id : std::string(buf);
}

std::vector<int> CpusFromMask(const unsigned long* mask, size_t words) {
  std::vector<int> cpus;
  constexpr size_t kBits = sizeof(unsigned long) * CHAR_BIT;
  for (size_t w = 0; w < words; ++w) {
    for (size_t b = 0; b < kBits; ++b) {
      if (mask[w] & (1UL << b)) cpus.push_back(static_cast<int>(w * kBits + b));
    }
  }
  return cpus;
}

}  // namespace

Result<NodeTopology> NvmlDiscovery::Discover() {
  const nvml::Functions& f = nvml_;
  Session session(f);
  ZENITH_RETURN_IF_ERROR(session.Start());

  unsigned int count = 0;
  if (nvml::Return r = f.DeviceGetCount(&count); r != nvml::kSuccess) {
    return UnavailableError("nvmlDeviceGetCount_v2 failed: " + session.Text(r));
  }
  if (count > 64)
    return InternalError("NVML reports " + std::to_string(count) +
                         " GPUs; at most 64 are supported");

  NodeTopology t;
  t.source = "nvml";
  std::vector<GpuLinks> links(count);
  for (unsigned int i = 0; i < count; ++i) {
    Gpu g;
    g.index = static_cast<int>(i);
    const std::string who = "GPU " + std::to_string(i);
    // A lost GPU stays in the list, unhealthy, so the kubelet is told rather than left guessing.
    auto check = [&](nvml::Return r, const char* call) -> Status {
      if (r == nvml::kSuccess) return Status::Ok();
      if (r == nvml::kErrorGpuIsLost) {
        g.healthy = false;
        return Status::Ok();
      }
      return UnavailableError(std::string(call) + " for " + who + " failed: " + session.Text(r));
    };
    nvml::Device dev = nullptr;
    ZENITH_RETURN_IF_ERROR(
        check(f.DeviceGetHandleByIndex(i, &dev), "nvmlDeviceGetHandleByIndex_v2"));
    if (!g.healthy) {
      t.gpus.push_back(std::move(g));
      continue;
    }
    char uuid[nvml::kUuidBufferSize] = {};
    ZENITH_RETURN_IF_ERROR(check(f.DeviceGetUUID(dev, uuid, sizeof(uuid)), "nvmlDeviceGetUUID"));
    g.uuid = uuid;
    char name[nvml::kNameBufferSize] = {};
    ZENITH_RETURN_IF_ERROR(check(f.DeviceGetName(dev, name, sizeof(name)), "nvmlDeviceGetName"));
    g.name = name;
    nvml::Memory memory{};
    ZENITH_RETURN_IF_ERROR(check(f.DeviceGetMemoryInfo(dev, &memory), "nvmlDeviceGetMemoryInfo"));
    g.memory_bytes = memory.total;
    nvml::PciInfo pci{};
    ZENITH_RETURN_IF_ERROR(check(f.DeviceGetPciInfo(dev, &pci), "nvmlDeviceGetPciInfo_v3"));
    g.pci_bus_id = BusIdOf(pci);

    if (f.DeviceGetMigMode) {
      unsigned int current = 0, pending = 0;
      if (f.DeviceGetMigMode(dev, &current, &pending) == nvml::kSuccess) {
        g.mig = current == nvml::kMigEnabled ? MigMode::kEnabled : MigMode::kDisabled;
      }
    }
    unsigned int numa = 0;
    if (f.DeviceGetNumaNodeId && f.DeviceGetNumaNodeId(dev, &numa) == nvml::kSuccess &&
        numa < (1u << 16)) {
      g.numa_node = static_cast<int>(numa);
    } else if (!g.pci_bus_id.empty()) {
      g.numa_node = sysfs::ReadPciNumaNode(sysfs_root_, g.pci_bus_id);
    }
    constexpr size_t kWords = 64;  // 4096 CPUs
    unsigned long mask[kWords] = {};
    if (f.DeviceGetCpuAffinity && f.DeviceGetCpuAffinity(dev, kWords, mask) == nvml::kSuccess) {
      g.cpus = CpusFromMask(mask, kWords);
    }
    if (g.cpus.empty() && !g.pci_bus_id.empty()) {
      g.cpus = sysfs::ReadPciLocalCpus(sysfs_root_, g.pci_bus_id);
    }

    if (f.DeviceGetNvLinkState && f.DeviceGetNvLinkRemotePciInfo) {
      for (unsigned int link = 0; link < nvml::kMaxNvlinkLinks; ++link) {
        unsigned int active = 0;
        // NOT_SUPPORTED (no NVLink) and INVALID_ARGUMENT (past this GPU's last link) both
        // just mean "no link here".
        if (f.DeviceGetNvLinkState(dev, link, &active) != nvml::kSuccess ||
            active != nvml::kFeatureEnabled) {
          continue;
        }
        int type = -1;
        if (f.DeviceGetNvLinkRemoteDeviceType &&
            f.DeviceGetNvLinkRemoteDeviceType(dev, link, &type) == nvml::kSuccess &&
            type == nvml::kNvlinkRemoteSwitch) {
          ++links[i].to_switch;
          continue;
        }
        nvml::PciInfo remote{};
        if (f.DeviceGetNvLinkRemotePciInfo(dev, link, &remote) != nvml::kSuccess) continue;
        std::string remote_id = BusIdOf(remote);
        if (type == nvml::kNvlinkRemoteGpu || type == -1) {
          // Resolved against the GPU list below.
          ++links[i].to_bus_id[{remote_id, type == nvml::kNvlinkRemoteGpu}];
        }
      }
    }
    t.gpus.push_back(std::move(g));
  }

  // Fold per-link observations into the matrix. A remote of unknown type that is not one of
  // our GPUs is taken to be an NVSwitch; a GPU this process cannot see is ignored.
  ResetNvlinkMatrix(t);
  std::map<std::string, size_t> position_of_bus;
  for (size_t p = 0; p < t.gpus.size(); ++p) position_of_bus[t.gpus[p].pci_bus_id] = p;
  std::vector<std::vector<int>> direct(count, std::vector<int>(count, 0));
  for (size_t a = 0; a < count; ++a) {
    for (const auto& [remote, n] : links[a].to_bus_id) {
      const auto& [bus, known_gpu] = remote;
      auto it = position_of_bus.find(bus);
      if (it != position_of_bus.end() && it->second != a) {
        direct[a][it->second] += n;
      } else if (it == position_of_bus.end() && !known_gpu) {
        links[a].to_switch += n;
      }
    }
  }
  for (size_t a = 0; a < count; ++a) {
    if (links[a].to_switch > 0) t.nvswitch = true;
    for (size_t b = 0; b < count; ++b) {
      if (a == b) continue;
      // Both ends count the same cable; take the smaller view if they disagree (a link down).
      int n = std::min(direct[a][b], direct[b][a]);
      if (links[a].to_switch > 0 && links[b].to_switch > 0) {
        n += std::min(links[a].to_switch, links[b].to_switch);
      }
      t.nvlink[a][b] = n;
    }
  }

  t.numa_nodes = sysfs::ReadNumaNodes(sysfs_root_);
  t.nics = sysfs::ReadRdmaNics(sysfs_root_);
  // Firmware (and many VMs) leave numa_node at -1; the GPU's CPU affinity still says which
  // node it sits on when those CPUs all belong to exactly one node.
  for (Gpu& g : t.gpus) {
    if (g.numa_node >= 0 || g.cpus.empty()) continue;
    int match = -1, matches = 0;
    for (const NumaNode& n : t.numa_nodes) {
      if (std::includes(n.cpus.begin(), n.cpus.end(), g.cpus.begin(), g.cpus.end())) {
        match = n.id;
        ++matches;
      }
    }
    if (matches == 1) g.numa_node = match;
  }
  // A device may name a node sysfs hid from this container; list it rather than fail.
  auto ensure_numa = [&](int id) {
    if (id < 0 || t.numa_nodes.empty()) return;
    for (const NumaNode& n : t.numa_nodes) {
      if (n.id == id) return;
    }
    t.numa_nodes.push_back({id, {}});
  };
  for (const Gpu& g : t.gpus) ensure_numa(g.numa_node);
  for (const Nic& n : t.nics) ensure_numa(n.numa_node);
  std::sort(t.numa_nodes.begin(), t.numa_nodes.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });
  Status valid = ValidateTopology(t);
  if (!valid.ok()) return valid.WithContext("NVML discovery");
  return t;
}

}  // namespace zenith::deviceplugin
