#include "zenith/common/log.h"
#include "zenith/common/program_main.h"
#include "zenith/deviceplugin/options.h"

int main(int argc, char** argv) {
  using namespace zenith;
  common::ProgramSpec spec;
  spec.name = "zenith-device-plugin";
  spec.summary = "advertises GPUs with their NVLink and NUMA topology to the kubelet";
  spec.default_metrics_port = 9400;
  spec.keys = deviceplugin::ConfigKeys();
  spec.start = [](const common::Config& config, common::MetricsRegistry&,
                  common::AdminServer&) -> Result<std::function<void()>> {
    ZENITH_ASSIGN_OR_RETURN(auto options, deviceplugin::LoadOptions(config));
    common::log::Info("device plugin configured", {{"backend", options.backend},
                                                   {"node", options.node_name},
                                                   {"resource", options.resource_name}});
    return std::function<void()>([] {});
  };
  return common::ProgramMain(argc, argv, spec);
}
