#include "zenith/deviceplugin/options.h"

namespace zenith::deviceplugin {

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"backend", "discovery backend: nvml, hwloc or fixture (default nvml)"},
      {"fixture", "machine description YAML for backend=fixture (examples/topologies/)"},
      {"node-name", "the Node this plugin serves (env ZENITH_NODE_NAME)"},
      {"kubelet-dir", "kubelet device-plugin directory (default /var/lib/kubelet/device-plugins)"},
      {"resource-name", "extended resource advertised (default zenith.ai/gpu)"},
      {"kubeconfig", "kubeconfig file (default: in-cluster service account)"},
      {"nvml-library", "NVML library for backend=nvml (default libnvidia-ml.so.1)"},
      {"sysfs-root", "sysfs mount to read NUMA and PCI locality from (default /sys)"},
  };
  return keys;
}

Result<Options> LoadOptions(const common::Config& config) {
  Options o;
  ZENITH_ASSIGN_OR_RETURN(o.backend,
                          config.Enum("backend", o.backend, {"nvml", "hwloc", "fixture"}));
  ZENITH_ASSIGN_OR_RETURN(o.fixture, config.String("fixture", ""));
  if (o.backend == "fixture" && o.fixture.empty()) {
    return InvalidArgumentError("config key 'fixture' is required when backend is 'fixture' (" +
                                config.SourceOf("backend") + ")");
  }
  ZENITH_ASSIGN_OR_RETURN(o.node_name, config.String("node-name", ""));
  ZENITH_ASSIGN_OR_RETURN(o.kubelet_dir, config.String("kubelet-dir", o.kubelet_dir));
  ZENITH_ASSIGN_OR_RETURN(o.resource_name, config.String("resource-name", o.resource_name));
  if (o.resource_name.find('/') == std::string::npos) {
    return InvalidArgumentError("config key 'resource-name' (" + config.SourceOf("resource-name") +
                                "): '" + o.resource_name +
                                "' is not an extended resource name like zenith.ai/gpu");
  }
  ZENITH_ASSIGN_OR_RETURN(o.kubeconfig, config.String("kubeconfig", ""));
  ZENITH_ASSIGN_OR_RETURN(o.nvml_library, config.String("nvml-library", o.nvml_library));
  ZENITH_ASSIGN_OR_RETURN(o.sysfs_root, config.String("sysfs-root", o.sysfs_root));
  return o;
}

}  // namespace zenith::deviceplugin
