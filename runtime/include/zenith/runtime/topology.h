// The machine as the data plane sees it: packages, NUMA nodes, cores, PUs, caches and the PCI
// devices (GPUs, NICs) with the NUMA node they hang off. A plain struct discovered once (with
// hwloc where it is present) and dumped to JSON for logs and the node's status; it never
// changes the machine, and discovery never fails on a machine it cannot fully see.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime {

struct Topology {
  struct NumaNode {
    int os_index = 0;
    uint64_t memory_bytes = 0;
    std::vector<int> cpus;  // OS indices of its PUs
  };
  struct Core {
    int os_index = 0;
    int package = 0;
    int numa_node = -1;
    std::vector<int> pus;
  };
  struct Cache {
    int level = 0;
    std::string type;  // unified, data, instruction
    uint64_t bytes = 0;
    int line_bytes = 0;
    std::vector<int> cpus;
  };
  struct PciDevice {
    std::string bus_id;  // "0000:3b:00.0"
    uint16_t vendor_id = 0;
    uint16_t device_id = 0;
    uint16_t class_id = 0;  // PCI class and subclass, e.g. 0x0302 3D controller
    std::string kind;       // "gpu" (NVIDIA), "nic" (network class), or "other"
    int numa_node = -1;     // -1: unknown
    std::string name;       // OS device names (e.g. "eth0"), when known
  };

  int packages = 0;
  std::vector<NumaNode> numa_nodes;
  std::vector<Core> cores;
  std::vector<int> pus;  // OS indices of all PUs
  std::vector<Cache> caches;
  std::vector<PciDevice> pci_devices;
  std::string source;  // "hwloc", "hwloc-synthetic" or "sysconf"

  std::vector<const PciDevice*> Gpus() const;
  std::vector<const PciDevice*> Nics() const;
  // The PUs of a NUMA node; all PUs when the node is unknown.
  std::vector<int> CpusOfNode(int numa_node) const;
};

inline constexpr uint16_t kNvidiaVendorId = 0x10de;

struct TopologyOptions {
  bool io_devices = true;  // list PCI devices (from sysfs; slower than CPUs and memory alone)
  // An hwloc synthetic description ("package:2 numa:1 core:4 pu:2") instead of this machine:
  // how tests see a multi-node machine on a one-node one.
  std::string synthetic;
  // Where sysfs is mounted; PCI devices are read below it (tests point it at a fake tree).
  std::string sysfs_root = "/sys";
};

Result<Topology> DiscoverTopology(const TopologyOptions& options = {});

// Keeps the last discovery for callers that ask often (a device plugin's loops). Get() checks
// a fingerprint of what can change while the machine runs (online CPUs, online NUMA nodes, the
// PCI device list and the network interface names, read from sysfs_root) and discovers again
// when it moved. It does not notice memory hot-plug or a block, RDMA or DRM device renamed
// (rare at run time); a new TopologyCache discovers afresh. Not thread-safe: one owner.
class TopologyCache {
 public:
  explicit TopologyCache(TopologyOptions options = {}) : options_(std::move(options)) {}
  Result<Topology> Get();
  int discoveries() const { return discoveries_; }  // full discoveries so far

 private:
  std::string Fingerprint() const;
  TopologyOptions options_;
  std::string fingerprint_;
  std::optional<Topology> topology_;
  int discoveries_ = 0;
};

void to_json(nlohmann::json& j, const Topology& t);
void from_json(const nlohmann::json& j, Topology& t);
// Parses the JSON dump; errors name the field that is wrong.
Result<Topology> TopologyFromJson(const std::string& text);

}  // namespace zenith::runtime
