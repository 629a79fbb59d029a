// The whole device plugin, assembled from Options: discovery, one resource manager per
// advertised resource (zenith.ai/gpu, and zenith.ai/rdma when RDMA NICs exist), the health
// checkers and one kubelet-facing server per resource. main() only starts and stops it.
#pragma once

#include <memory>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/metrics.h"
#include "zenith/common/status.h"
#include "zenith/deviceplugin/health_checker.h"
#include "zenith/deviceplugin/options.h"
#include "zenith/deviceplugin/plugin_server.h"
#include "zenith/deviceplugin/resource_manager.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin {

class DevicePlugin {
 public:
  // Discovers the node, starts health checking and serving; registration with the kubelet
  // proceeds in the background (Ready says when it is done). An error when discovery fails or
  // a socket cannot be served.
  static Result<std::unique_ptr<DevicePlugin>> Start(const Options& options,
                                                     common::MetricsRegistry& metrics,
                                                     common::Clock& clock);
  ~DevicePlugin();
  // Stops the servers (their sockets are removed) and the health checkers. Idempotent.
  void Stop();

  // OK once every resource is registered with the kubelet; else the first reason it is not.
  Status Ready() const;
  // The node as discovered at start (health lives in the managers).
  const NodeTopology& topology() const { return topology_; }
  const std::vector<std::unique_ptr<ResourceManager>>& resources() const { return managers_; }

 private:
  DevicePlugin() = default;
  NodeTopology topology_;
  std::vector<std::unique_ptr<ResourceManager>> managers_;
  std::vector<std::unique_ptr<HealthChecker>> checkers_;
  std::vector<std::unique_ptr<PluginServer>> servers_;
};

}  // namespace zenith::deviceplugin
