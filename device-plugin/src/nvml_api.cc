#include "zenith/deviceplugin/nvml_api.h"

#include <dlfcn.h>

namespace zenith::deviceplugin::nvml {
namespace {

template <typename Fn>
bool Resolve(void* handle, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  return out != nullptr;
}

}  // namespace

Result<Functions> Load(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return UnavailableError("cannot load " + library + " (is the NVIDIA driver installed?): " +
                            (why ? why : "unknown dlopen error"));
  }
  Functions f{};
  f.library = std::shared_ptr<void>(handle, [](void* h) { dlclose(h); });
  struct Required {
    const char* symbol;
    bool ok;
  };
  const Required required[] = {
      {"nvmlInit_v2", Resolve(handle, "nvmlInit_v2", f.Init)},
      {"nvmlShutdown", Resolve(handle, "nvmlShutdown", f.Shutdown)},
      {"nvmlErrorString", Resolve(handle, "nvmlErrorString", f.ErrorString)},
      {"nvmlDeviceGetCount_v2", Resolve(handle, "nvmlDeviceGetCount_v2", f.DeviceGetCount)},
      {"nvmlDeviceGetHandleByIndex_v2",
       Resolve(handle, "nvmlDeviceGetHandleByIndex_v2", f.DeviceGetHandleByIndex)},
      {"nvmlDeviceGetUUID", Resolve(handle, "nvmlDeviceGetUUID", f.DeviceGetUUID)},
      {"nvmlDeviceGetName", Resolve(handle, "nvmlDeviceGetName", f.DeviceGetName)},
      {"nvmlDeviceGetMemoryInfo",
       Resolve(handle, "nvmlDeviceGetMemoryInfo", f.DeviceGetMemoryInfo)},
      {"nvmlDeviceGetPciInfo_v3", Resolve(handle, "nvmlDeviceGetPciInfo_v3", f.DeviceGetPciInfo)},
  };
  for (const Required& r : required) {
    if (!r.ok) {
      return UnavailableError(library + " lacks " + r.symbol +
                              " (driver too old for this plugin?)");
    }
  }
  Resolve(handle, "nvmlDeviceGetNvLinkState", f.DeviceGetNvLinkState);
  Resolve(handle, "nvmlDeviceGetNvLinkRemotePciInfo_v2", f.DeviceGetNvLinkRemotePciInfo);
  Resolve(handle, "nvmlDeviceGetNvLinkRemoteDeviceType", f.DeviceGetNvLinkRemoteDeviceType);
  Resolve(handle, "nvmlDeviceGetMigMode", f.DeviceGetMigMode);
  Resolve(handle, "nvmlDeviceGetCpuAffinity", f.DeviceGetCpuAffinity);
  Resolve(handle, "nvmlDeviceGetNumaNodeId", f.DeviceGetNumaNodeId);
  Resolve(handle, "nvmlEventSetCreate", f.EventSetCreate);
  Resolve(handle, "nvmlDeviceGetSupportedEventTypes", f.DeviceGetSupportedEventTypes);
  Resolve(handle, "nvmlDeviceRegisterEvents", f.DeviceRegisterEvents);
  Resolve(handle, "nvmlEventSetWait_v2", f.EventSetWait);
  Resolve(handle, "nvmlEventSetFree", f.EventSetFree);
  return f;
}

}  // namespace zenith::deviceplugin::nvml
