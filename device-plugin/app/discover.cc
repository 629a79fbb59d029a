// zenith-discover: prints what a discovery backend sees on this machine, as JSON.
//   zenith-discover --backend=nvml|hwloc|fixture [--fixture=FILE]
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "zenith/common/config.h"
#include "zenith/deviceplugin/discovery.h"
#include "zenith/deviceplugin/options.h"

int main(int argc, char** argv) {
  using namespace zenith;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::cout << "usage: zenith-discover --backend=nvml|hwloc|fixture [--fixture=FILE]\n"
                   "       [--nvml-library=libnvidia-ml.so.1] [--sysfs-root=/sys]\n"
                   "Prints the node topology (GPUs, NVLink matrix, NUMA nodes, NICs) as JSON.\n";
      return 0;
    }
  }
  auto config = common::Config::Load(argc, argv);
  if (!config.ok()) {
    std::cerr << "zenith-discover: " << config.status() << "\n";
    return 2;
  }
  if (Status s = config->CheckKnownKeys({"backend", "fixture", "nvml-library", "sysfs-root"});
      !s.ok()) {
    std::cerr << "zenith-discover: " << s << "\n";
    return 2;
  }
  auto options = deviceplugin::LoadOptions(*config);
  if (!options.ok()) {
    std::cerr << "zenith-discover: " << options.status() << "\n";
    return 2;
  }
  auto discovery = deviceplugin::MakeDiscovery(*options);
  if (!discovery.ok()) {
    std::cerr << "zenith-discover: " << discovery.status() << "\n";
    return 1;
  }
  auto topology = (*discovery)->Discover();
  if (!topology.ok()) {
    std::cerr << "zenith-discover: " << topology.status() << "\n";
    return 1;
  }
  std::cout << deviceplugin::TopologyToJson(*topology).dump(2) << "\n";
  return 0;
}
