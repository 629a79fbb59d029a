// The model of one GPU node that the device plugin publishes and the scheduler reads: GPUs,
// the NVLink link counts between them, NVSwitch presence, NUMA nodes and NICs. Plain data with
// a validity check and a JSON form; it never talks to hardware (discovery backends fill it).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::deviceplugin {

enum class MigMode { kUnsupported, kDisabled, kEnabled };
std::string_view MigModeName(MigMode mode);  // "unsupported", "disabled", "enabled"
Result<MigMode> ParseMigMode(std::string_view text);

struct Gpu {
  int index = 0;     // the driver's index (NVML / nvidia-smi order)
  std::string uuid;  // "GPU-…"
  std::string name;  // product, e.g. "NVIDIA H100 80GB HBM3"
  uint64_t memory_bytes = 0;
  std::string pci_bus_id;  // canonical form, see pci.h
  int numa_node = -1;      // -1: unknown (single-node machines, or firmware that hides it)
  std::vector<int> cpus;   // CPUs local to the GPU, sorted
  MigMode mig = MigMode::kUnsupported;
  bool healthy = true;

  friend bool operator==(const Gpu&, const Gpu&) = default;
};

struct NumaNode {
  int id = 0;
  std::vector<int> cpus;  // sorted

  friend bool operator==(const NumaNode&, const NumaNode&) = default;
};

struct Nic {
  std::string name;        // "mlx5_0", or the netdev name for a NIC without RDMA
  std::string pci_bus_id;  // canonical form
  int numa_node = -1;
  bool rdma = false;

  friend bool operator==(const Nic&, const Nic&) = default;
};

struct NodeTopology {
  std::vector<Gpu> gpus;  // ordered by index
  // nvlink[i][j]: NVLink links usable between gpus[i] and gpus[j] (positions in `gpus`, not
  // indices). Symmetric, zero diagonal. Through an NVSwitch every attached pair counts the
  // links each side has into the fabric (the smaller side), so the matrix alone says who can
  // talk over NVLink and how wide. Empty or all zero: no NVLink.
  std::vector<std::vector<int>> nvlink;
  bool nvswitch = false;
  std::vector<NumaNode> numa_nodes;
  std::vector<Nic> nics;
  std::string source;  // where it came from: "nvml", "hwloc", "fixture <path>"

  // Position of the GPU with this index in `gpus`, or -1.
  int PositionOf(int gpu_index) const;
  // Link count between two GPUs given by position; 0 when the matrix is empty.
  int Links(size_t a, size_t b) const;

  friend bool operator==(const NodeTopology&, const NodeTopology&) = default;
};

// Sizes the NVLink matrix to the GPU count, all zero. Backends call it after filling `gpus`.
void ResetNvlinkMatrix(NodeTopology& topology);

// Checks the invariants every consumer relies on: unique GPU indices in increasing order,
// unique UUIDs, a square symmetric matrix with a zero diagonal and no negative counts, NUMA
// references that exist (when NUMA nodes are listed), unique NUMA ids. The message names the
// offending GPU, NIC or matrix cell.
Status ValidateTopology(const NodeTopology& topology);

// JSON form, for publishing (ZenithNode status) and for zenith-discover. CPU sets are written
// as CPU-list strings ("0-55,112-167").
void to_json(nlohmann::json& j, const NodeTopology& topology);
// Throws nlohmann::json exceptions on a bad document (the library's convention for from_json);
// code at a module boundary calls TopologyFromJson instead.
void from_json(const nlohmann::json& j, NodeTopology& topology);

nlohmann::json TopologyToJson(const NodeTopology& topology);
// Parses and validates; errors name the JSON field.
Result<NodeTopology> TopologyFromJson(const nlohmann::json& j);

}  // namespace zenith::deviceplugin
