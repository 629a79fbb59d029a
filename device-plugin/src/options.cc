#include "zenith/deviceplugin/options.h"

#include <charconv>

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
      {"socket-name", "the plugin's socket in kubelet-dir (default zenith-gpu.sock)"},
      {"rdma-resource-name",
       "resource advertised for RDMA NICs when there are any (default zenith.ai/rdma; empty: off)"},
      {"rdma-socket-name", "the RDMA resource's socket in kubelet-dir (default zenith-rdma.sock)"},
      {"pre-start-required", "ask the kubelet to call PreStartContainer (default false)"},
      {"cdi", "also return CDI device names from Allocate (default false)"},
      {"cdi-kind", "CDI vendor/class of the GPU device names (default nvidia.com/gpu)"},
      {"watch-interval",
       "how often kubelet.sock and the plugin socket are checked (default 500ms)"},
      {"ignored-xids",
       "critical XIDs that do not make a GPU Unhealthy (default 13,31,43,45,68,109)"},
      {"health-recovery",
       "quiet time after which an Unhealthy GPU that answers NVML is Healthy again (default 30s)"},
      {"health-file",
       "device IDs listed in this file (one per line) are Unhealthy (default: none)"},
      {"publish",
       "publish the node's ZenithNode and GPU labels when node-name is set (default true)"},
      {"publish-resync", "how often the ZenithNode is re-published unchanged (default 60s)"},
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
  ZENITH_ASSIGN_OR_RETURN(o.socket_name, config.String("socket-name", o.socket_name));
  ZENITH_ASSIGN_OR_RETURN(o.rdma_resource_name,
                          config.String("rdma-resource-name", o.rdma_resource_name));
  ZENITH_ASSIGN_OR_RETURN(o.rdma_socket_name,
                          config.String("rdma-socket-name", o.rdma_socket_name));
  for (const char* key : {"socket-name", "rdma-socket-name"}) {
    const std::string& name =
        std::string(key) == "socket-name" ? o.socket_name : o.rdma_socket_name;
    if (name.empty() || name.find('/') != std::string::npos || name == "kubelet.sock") {
      return InvalidArgumentError("config key '" + std::string(key) + "' (" + config.SourceOf(key) +
                                  "): '" + name +
                                  "' must be a plain file name other than kubelet.sock");
    }
  }
  if (o.socket_name == o.rdma_socket_name) {
    return InvalidArgumentError("config keys 'socket-name' and 'rdma-socket-name' are both '" +
                                o.socket_name + "'");
  }
  if (!o.rdma_resource_name.empty() && (o.rdma_resource_name.find('/') == std::string::npos ||
                                        o.rdma_resource_name == o.resource_name)) {
    return InvalidArgumentError(
        "config key 'rdma-resource-name' (" + config.SourceOf("rdma-resource-name") + "): '" +
        o.rdma_resource_name + "' must be an extended resource name other than resource-name");
  }
  ZENITH_ASSIGN_OR_RETURN(o.pre_start_required,
                          config.Bool("pre-start-required", o.pre_start_required));
  ZENITH_ASSIGN_OR_RETURN(o.cdi, config.Bool("cdi", o.cdi));
  ZENITH_ASSIGN_OR_RETURN(o.cdi_kind, config.String("cdi-kind", o.cdi_kind));
  if (o.cdi && o.cdi_kind.find('/') == std::string::npos) {
    return InvalidArgumentError("config key 'cdi-kind' (" + config.SourceOf("cdi-kind") + "): '" +
                                o.cdi_kind + "' is not a CDI kind like nvidia.com/gpu");
  }
  ZENITH_ASSIGN_OR_RETURN(o.watch_interval, config.Duration("watch-interval", o.watch_interval));
  if (o.watch_interval < std::chrono::milliseconds(10)) {
    return InvalidArgumentError("config key 'watch-interval' (" +
                                config.SourceOf("watch-interval") + "): below 10ms");
  }
  std::vector<std::string> xid_defaults;
  for (int x : o.ignored_xids) xid_defaults.push_back(std::to_string(x));
  ZENITH_ASSIGN_OR_RETURN(auto xids, config.StringList("ignored-xids", xid_defaults));
  o.ignored_xids.clear();
  for (const std::string& x : xids) {
    int value = 0;
    const auto [end, ec] = std::from_chars(x.data(), x.data() + x.size(), value);
    if (ec != std::errc() || end != x.data() + x.size() || value <= 0) {
      return InvalidArgumentError("config key 'ignored-xids' (" + config.SourceOf("ignored-xids") +
                                  "): '" + x + "' is not a positive XID number");
    }
    o.ignored_xids.push_back(value);
  }
  ZENITH_ASSIGN_OR_RETURN(o.health_recovery, config.Duration("health-recovery", o.health_recovery));
  ZENITH_ASSIGN_OR_RETURN(o.health_file, config.String("health-file", ""));
  ZENITH_ASSIGN_OR_RETURN(o.publish, config.Bool("publish", o.publish));
  ZENITH_ASSIGN_OR_RETURN(o.publish_resync, config.Duration("publish-resync", o.publish_resync));
  if (o.publish_resync < std::chrono::seconds(1)) {
    return InvalidArgumentError("config key 'publish-resync' (" +
                                config.SourceOf("publish-resync") + "): must be at least 1s");
  }
  return o;
}

}  // namespace zenith::deviceplugin
