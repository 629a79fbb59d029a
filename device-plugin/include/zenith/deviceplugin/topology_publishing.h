// The device plugin program's topology publishing, assembled from its options: the Kubernetes
// client (kubeconfig, else in-cluster), the NodePublisher and the PublishLoop. Off when
// `publish` is false or no node name is configured (a plugin run outside a cluster).
#pragma once

#include <memory>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/options.h"
#include "zenith/deviceplugin/resource_manager.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin {

// Starts publishing in the background; the returned handle stops it when released (null when
// publishing is off). An error only for a configuration that cannot work, e.g. an unreadable
// kubeconfig; an unreachable API server is retried in the background.
Result<std::shared_ptr<void>> StartTopologyPublishing(const Options& options,
                                                      const NodeTopology& topology,
                                                      const ResourceManager& gpus);

}  // namespace zenith::deviceplugin
