// zenith-discover: prints what a discovery backend sees on this machine, as JSON; with
// --choose=K also the GPU set the device plugin would prefer for a pod asking for K GPUs.
//   zenith-discover --backend=nvml|hwloc|fixture [--fixture=FILE] [--choose=K] [--available=0,2,..]
#include <charconv>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "zenith/common/config.h"
#include "zenith/deviceplugin/discovery.h"
#include "zenith/deviceplugin/gpu_set.h"
#include "zenith/deviceplugin/options.h"

int main(int argc, char** argv) {
  using namespace zenith;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::cout << "usage: zenith-discover --backend=nvml|hwloc|fixture [--fixture=FILE]\n"
                   "       [--nvml-library=libnvidia-ml.so.1] [--sysfs-root=/sys]\n"
                   "       [--choose=K [--available=0,1,...]]\n"
                   "Prints the node topology (GPUs, NVLink matrix, NUMA nodes, NICs) as JSON;\n"
                   "with --choose, the best-connected set of K of the available GPUs instead.\n";
      return 0;
    }
  }
  auto config = common::Config::Load(argc, argv);
  if (!config.ok()) {
    std::cerr << "zenith-discover: " << config.status() << "\n";
    return 2;
  }
  if (Status s = config->CheckKnownKeys(
          {"backend", "fixture", "nvml-library", "sysfs-root", "choose", "available"});
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
  auto choose = config->Int("choose", 0, 0, 64);
  if (!choose.ok()) {
    std::cerr << "zenith-discover: " << choose.status() << "\n";
    return 2;
  }
  if (*choose == 0) {
    std::cout << deviceplugin::TopologyToJson(*topology).dump(2) << "\n";
    return 0;
  }
  deviceplugin::GpuSetRequest request;
  request.size = static_cast<int>(*choose);
  auto available = config->StringList("available", {});
  if (!available.ok()) {
    std::cerr << "zenith-discover: " << available.status() << "\n";
    return 2;
  }
  for (const std::string& id : *available) {
    int index = -1;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), index);
    if (ec != std::errc() || end != id.data() + id.size()) {
      std::cerr << "zenith-discover: --available: '" << id << "' is not a GPU index\n";
      return 2;
    }
    request.available.push_back(index);
  }
  if (request.available.empty()) {
    for (const auto& gpu : topology->gpus) request.available.push_back(gpu.index);
  }
  auto chooser = deviceplugin::GpuSetChooser::Create(*topology);
  auto set =
      chooser.ok() ? chooser->Choose(request) : Result<deviceplugin::GpuSet>(chooser.status());
  if (!set.ok()) {
    std::cerr << "zenith-discover: " << set.status() << "\n";
    return 1;
  }
  nlohmann::json out = {{"gpus", set->gpus},
                        {"fully_connected", set->score.fully_connected},
                        {"nvlink_links", set->score.nvlink_links},
                        {"numa_nodes", set->score.numa_nodes},
                        {"exhaustive", set->exhaustive}};
  std::cout << out.dump() << "\n";
  return 0;
}
