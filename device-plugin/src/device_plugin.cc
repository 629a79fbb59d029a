#include "zenith/deviceplugin/device_plugin.h"

#include "zenith/common/log.h"
#include "zenith/deviceplugin/discovery.h"
#include "zenith/deviceplugin/file_health.h"
#include "zenith/deviceplugin/nvml_api.h"
#include "zenith/deviceplugin/nvml_health.h"

namespace zenith::deviceplugin {

Result<std::unique_ptr<DevicePlugin>> DevicePlugin::Start(const Options& options,
                                                          common::MetricsRegistry& metrics,
                                                          common::Clock& clock) {
  std::unique_ptr<DevicePlugin> plugin(new DevicePlugin());
  ZENITH_ASSIGN_OR_RETURN(auto discovery, MakeDiscovery(options));
  ZENITH_ASSIGN_OR_RETURN(plugin->topology_, discovery->Discover());
  const NodeTopology& t = plugin->topology_;
  common::log::Info("discovered node", {{"source", t.source},
                                        {"gpus", static_cast<int>(t.gpus.size())},
                                        {"nics", static_cast<int>(t.nics.size())},
                                        {"nvswitch", t.nvswitch}});

  ZENITH_ASSIGN_OR_RETURN(auto gpus, GpuResourceManager::Create(t, options));
  GpuResourceManager* gpu_manager = gpus.get();
  plugin->managers_.push_back(std::move(gpus));
  std::vector<std::string> sockets{options.socket_name};
  if (!options.rdma_resource_name.empty()) {
    auto rdma = RdmaResourceManager::Create(t, options);
    if (rdma.ok()) {
      plugin->managers_.push_back(std::move(*rdma));
      sockets.push_back(options.rdma_socket_name);
    }
  }

  if (options.backend == "nvml") {
    auto functions = nvml::Load(options.nvml_library);
    if (functions.ok()) {
      auto checker =
          std::make_unique<NvmlHealthChecker>(std::move(*functions), *gpu_manager,
                                              options.ignored_xids, options.health_recovery, clock);
      if (Status s = checker->Start(); s.ok()) {
        plugin->checkers_.push_back(std::move(checker));
      } else {
        common::log::Warn("GPU health is not checked", {{"error", s}});
      }
    }
  }
  if (!options.health_file.empty()) {
    std::vector<ResourceManager*> all;
    for (auto& m : plugin->managers_) all.push_back(m.get());
    auto checker = std::make_unique<FileHealthChecker>(options.health_file, std::move(all));
    ZENITH_RETURN_IF_ERROR(checker->Start());
    plugin->checkers_.push_back(std::move(checker));
  }

  for (size_t i = 0; i < plugin->managers_.size(); ++i) {
    PluginServerOptions so;
    so.kubelet_dir = options.kubelet_dir;
    so.socket_name = sockets[i];
    so.pre_start_required = options.pre_start_required;
    so.watch_interval = options.watch_interval;
    auto server = std::make_unique<PluginServer>(*plugin->managers_[i], so, metrics, clock);
    ZENITH_RETURN_IF_ERROR(server->Start());
    plugin->servers_.push_back(std::move(server));
  }
  return plugin;
}

DevicePlugin::~DevicePlugin() { Stop(); }

void DevicePlugin::Stop() {
  for (auto& s : servers_) s->Stop();
  for (auto& c : checkers_) c->Stop();
}

Status DevicePlugin::Ready() const {
  for (const auto& s : servers_) {
    if (Status st = s->RegistrationStatus(); !st.ok()) {
      return st.WithContext(s->resource_name() + " not registered with the kubelet");
    }
  }
  return Status::Ok();
}

}  // namespace zenith::deviceplugin
