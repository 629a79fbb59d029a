// zenith-device-plugin's settings: which discovery backend, where the kubelet's sockets live,
// which node it serves. Parsing and validation only.
#pragma once

#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/status.h"

namespace zenith::deviceplugin {

struct Options {
  std::string backend = "nvml";  // nvml, hwloc or fixture
  std::string fixture;           // machine description YAML, for backend=fixture
  std::string node_name;         // the Node this plugin serves (NODE_NAME in a DaemonSet)
  std::string kubelet_dir = "/var/lib/kubelet/device-plugins";
  std::string resource_name = "zenith.ai/gpu";
  std::string kubeconfig;                          // empty: in-cluster config
  std::string nvml_library = "libnvidia-ml.so.1";  // for backend=nvml, opened with dlopen
  std::string sysfs_root = "/sys";                 // where NUMA and PCI locality are read
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

}  // namespace zenith::deviceplugin
