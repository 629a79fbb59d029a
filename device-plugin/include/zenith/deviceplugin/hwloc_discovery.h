// The hwloc backend: NUMA nodes, CPU sets and the PCI locality of NVIDIA GPUs and RDMA NICs,
// for nodes where NVML is not available (or to cross-check it), read from the runtime's machine
// topology. hwloc knows nothing of NVLink,
// so the link matrix is all zero, and UUIDs and memory sizes are left empty.
#pragma once

#include <string>

#include "zenith/deviceplugin/discovery.h"

namespace zenith::deviceplugin {

class HwlocDiscovery : public Discovery {
 public:
  explicit HwlocDiscovery(std::string sysfs_root = "/sys") : sysfs_root_(std::move(sysfs_root)) {}
  // UNAVAILABLE when this build has no hwloc.
  Result<NodeTopology> Discover() override;

 private:
  std::string sysfs_root_;
};

}  // namespace zenith::deviceplugin
