// zenith-device-plugin's settings: which discovery backend, where the kubelet's sockets live,
// which node it serves. Parsing and validation only.
#pragma once

#include <chrono>
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

  // The kubelet side. Device IDs advertised for zenith.ai/gpu are GPU UUIDs ("GPU-…"): stable
  // across reboots and driver reloads, unlike indices, and what NVIDIA_VISIBLE_DEVICES takes.
  // RDMA device IDs are the NICs' names ("mlx5_0").
  std::string socket_name = "zenith-gpu.sock";        // the plugin's socket in kubelet_dir
  std::string rdma_resource_name = "zenith.ai/rdma";  // advertised when RDMA NICs exist; "" off
  std::string rdma_socket_name = "zenith-rdma.sock";
  bool pre_start_required = false;          // asks the kubelet to call PreStartContainer
  bool cdi = false;                         // also return CDI device names in Allocate
  std::string cdi_kind = "nvidia.com/gpu";  // CDI names are "<cdi_kind>=<GPU UUID>"
  // How often kubelet.sock and the plugin's own socket are checked for a kubelet restart or a
  // removed socket (then the plugin serves again and re-registers).
  std::chrono::nanoseconds watch_interval = std::chrono::milliseconds(500);

  // Health. NVML (backend=nvml): critical XID events mark a GPU Unhealthy, except these
  // (application errors that say nothing about the device; NVIDIA's plugin skips the same).
  std::vector<int> ignored_xids = {13, 31, 43, 45, 68, 109};
  // An Unhealthy GPU turns Healthy again when it answers NVML and no critical XID was seen for
  // this long.
  std::chrono::nanoseconds health_recovery = std::chrono::seconds(30);
  // Any backend: device IDs listed in this file (one per line, '#' comments) are Unhealthy,
  // checked every 100 ms. Empty: not watched. The fixture backend's way to flip health.
  std::string health_file;

  // Topology publishing: the node's ZenithNode and zenith.ai/gpu.* labels, written through the
  // API server when node_name is set (kubeconfig, or in-cluster), re-written on health changes
  // and every publish_resync.
  bool publish = true;
  std::chrono::nanoseconds publish_resync = std::chrono::seconds(60);
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

}  // namespace zenith::deviceplugin
