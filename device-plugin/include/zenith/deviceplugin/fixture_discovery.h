// The fixture backend: a machine described in YAML (examples/topologies/), so tests, demos and
// the scheduler's simulations run the same code paths as a real GPU node. Every error names
// the file, the line and column, and the field.
#pragma once

#include <string>
#include <string_view>

#include "zenith/deviceplugin/discovery.h"

namespace zenith::deviceplugin {

// The fixture format (unknown fields are errors, so a typo never silently becomes a default):
//   description: free text
//   nvswitch: true|false                      # default false
//   numa_nodes: [{id: 0, cpus: "0-55,112-167"}, ...]
//   gpus:                                     # required; indices unique and increasing
//     - index: 0                              # default: position in the list
//       uuid: GPU-...                         # required
//       name: NVIDIA H100 80GB HBM3           # required
//       memory_mib: 81559                     # or memory_bytes; one is required
//       pci_bus_id: "0000:18:00.0"            # required; any case or domain width
//       numa_node: 0                          # default -1 (unknown); must be listed above
//       cpus: "0-55"                          # default: the NUMA node's CPUs
//       mig: disabled|enabled|unsupported     # default disabled
//       healthy: true                         # default true
//   nvlink:                                   # optional n×n link counts, in gpus order;
//     - [0, 18, ...]                          # symmetric, zero diagonal
//   nics: [{name: mlx5_0, pci_bus_id: "0000:1a:00.0", numa_node: 0, rdma: true}, ...]
class FixtureDiscovery : public Discovery {
 public:
  explicit FixtureDiscovery(std::string path) : path_(std::move(path)) {}
  Result<NodeTopology> Discover() override;

 private:
  std::string path_;
};

// Parses fixture text; `file` names it in errors and in NodeTopology::source.
Result<NodeTopology> ParseFixture(std::string_view yaml, const std::string& file);

}  // namespace zenith::deviceplugin
