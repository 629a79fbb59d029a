#include <memory>

#include "zenith/common/clock.h"
#include "zenith/common/program_main.h"
#include "zenith/deviceplugin/device_plugin.h"
#include "zenith/deviceplugin/options.h"
#ifdef ZENITH_DEVICEPLUGIN_PUBLISH
#include "zenith/deviceplugin/topology_publishing.h"
#endif

int main(int argc, char** argv) {
  using namespace zenith;
  common::ProgramSpec spec;
  spec.name = "zenith-device-plugin";
  spec.summary = "advertises GPUs with their NVLink and NUMA topology to the kubelet";
  spec.default_metrics_port = 9400;
  spec.keys = deviceplugin::ConfigKeys();
  spec.start = [](const common::Config& config, common::MetricsRegistry& metrics,
                  common::AdminServer& admin) -> Result<std::function<void()>> {
    ZENITH_ASSIGN_OR_RETURN(auto options, deviceplugin::LoadOptions(config));
    ZENITH_ASSIGN_OR_RETURN(auto started, deviceplugin::DevicePlugin::Start(
                                              options, metrics, common::SystemClock::Get()));
    std::shared_ptr<deviceplugin::DevicePlugin> plugin = std::move(started);
    admin.AddReadinessCheck("kubelet-registration", [plugin] { return plugin->Ready(); });
    std::shared_ptr<void> publishing;
#ifdef ZENITH_DEVICEPLUGIN_PUBLISH
    for (const auto& resource : plugin->resources()) {
      if (resource->resource_name() != options.resource_name) continue;
      ZENITH_ASSIGN_OR_RETURN(publishing, deviceplugin::StartTopologyPublishing(
                                              options, plugin->topology(), *resource));
    }
#endif
    return std::function<void()>([plugin, publishing]() mutable {
      publishing.reset();
      plugin->Stop();
    });
  };
  return common::ProgramMain(argc, argv, spec);
}
