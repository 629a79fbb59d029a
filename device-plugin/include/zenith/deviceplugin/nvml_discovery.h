// The NVML backend: GPUs, memory, PCI ids, MIG mode, CPU/NUMA locality and NVLink links as the
// driver reports them. NVLink links are folded into the GPU×GPU matrix by matching each
// link's remote PCI id to the other GPUs; a link into an NVSwitch makes every pair of
// switch-attached GPUs connected. Read-only: it never changes a device setting.
#pragma once

#include <string>

#include "zenith/deviceplugin/discovery.h"
#include "zenith/deviceplugin/nvml_api.h"

namespace zenith::deviceplugin {

class NvmlDiscovery : public Discovery {
 public:
  // `sysfs_root` supplies NUMA nodes, RDMA NICs and the locality NVML does not report.
  explicit NvmlDiscovery(nvml::Functions functions, std::string sysfs_root = "/sys")
      : nvml_(std::move(functions)), sysfs_root_(std::move(sysfs_root)) {}
  Result<NodeTopology> Discover() override;

 private:
  nvml::Functions nvml_;
  std::string sysfs_root_;
};

}  // namespace zenith::deviceplugin
