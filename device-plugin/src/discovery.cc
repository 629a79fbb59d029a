#include "zenith/deviceplugin/discovery.h"

#include "zenith/deviceplugin/fixture_discovery.h"
#include "zenith/deviceplugin/hwloc_discovery.h"
#include "zenith/deviceplugin/nvml_api.h"
#include "zenith/deviceplugin/nvml_discovery.h"

namespace zenith::deviceplugin {

Result<std::unique_ptr<Discovery>> MakeDiscovery(const Options& options) {
  if (options.backend == "fixture") {
    if (options.fixture.empty()) {
      return InvalidArgumentError("discovery backend 'fixture' needs a fixture file (--fixture)");
    }
    return std::unique_ptr<Discovery>(std::make_unique<FixtureDiscovery>(options.fixture));
  }
  if (options.backend == "hwloc") {
    return std::unique_ptr<Discovery>(std::make_unique<HwlocDiscovery>(options.sysfs_root));
  }
  if (options.backend == "nvml") {
    auto functions = nvml::Load(options.nvml_library);
    if (!functions.ok()) return functions.status().WithContext("discovery backend 'nvml'");
    return std::unique_ptr<Discovery>(
        std::make_unique<NvmlDiscovery>(std::move(functions).value(), options.sysfs_root));
  }
  return InvalidArgumentError("unknown discovery backend '" + options.backend +
                              "' (expected nvml, hwloc or fixture)");
}

}  // namespace zenith::deviceplugin
