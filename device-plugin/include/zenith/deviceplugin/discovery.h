// Discovery: how the device plugin learns the node's topology. One interface, three backends
// (NVML at run time, hwloc, a fixture file), picked by Options. Backends only read; they never
// change device state, and a missing driver or library is an UNAVAILABLE error, not a crash.
#pragma once

#include <memory>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/options.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin {

class Discovery {
 public:
  virtual ~Discovery() = default;
  // A fresh, validated snapshot of the node. Safe to call repeatedly (each call re-reads).
  virtual Result<NodeTopology> Discover() = 0;
};

// Picks the backend named by options.backend ("nvml", "hwloc" or "fixture").
Result<std::unique_ptr<Discovery>> MakeDiscovery(const Options& options);

}  // namespace zenith::deviceplugin
