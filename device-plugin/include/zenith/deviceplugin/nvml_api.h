// The part of NVML's C API that discovery calls, declared here from NVIDIA's documented API so
// the build needs neither nvml.h nor libnvidia-ml at link time: the library is opened with
// dlopen at run time. Tests fill an NvmlFunctions table with fakes to exercise discovery
// without a GPU. Nothing here changes device state.
#pragma once

#include <memory>
#include <string>

#include "zenith/common/status.h"

namespace zenith::deviceplugin::nvml {

using Return = int;  // nvmlReturn_t
inline constexpr Return kSuccess = 0;
inline constexpr Return kErrorInvalidArgument = 2;
inline constexpr Return kErrorNotSupported = 3;
inline constexpr Return kErrorDriverNotLoaded = 9;
inline constexpr Return kErrorLibraryNotFound = 12;
inline constexpr Return kErrorTimeout = 10;
inline constexpr Return kErrorFunctionNotFound = 13;
inline constexpr Return kErrorGpuIsLost = 15;

using Device = struct nvmlDevice_st*;      // nvmlDevice_t, an opaque handle
using EventSet = struct nvmlEventSet_st*;  // nvmlEventSet_t, an opaque handle

// nvmlEventType* bits that health checking registers for.
inline constexpr unsigned long long kEventSingleBitEcc = 0x1;
inline constexpr unsigned long long kEventDoubleBitEcc = 0x2;
inline constexpr unsigned long long kEventXidCritical = 0x8;

// nvmlEventData_t
struct EventData {
  Device device;                 // null: the event concerns every device
  unsigned long long eventType;  // one kEvent* bit
  unsigned long long eventData;  // the XID for kEventXidCritical
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

inline constexpr unsigned kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr unsigned kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
inline constexpr unsigned kMaxNvlinkLinks = 18;  // NVML_NVLINK_MAX_LINKS (Hopper)
inline constexpr unsigned kFeatureEnabled = 1;   // NVML_FEATURE_ENABLED
inline constexpr unsigned kMigEnabled = 1;       // NVML_DEVICE_MIG_ENABLE
inline constexpr int kNvlinkRemoteGpu = 0;       // NVML_NVLINK_DEVICE_TYPE_GPU
inline constexpr int kNvlinkRemoteSwitch = 2;    // NVML_NVLINK_DEVICE_TYPE_SWITCH

// nvmlMemory_t
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

// nvmlPciInfo_t (the layout nvmlDeviceGetPciInfo_v3 and ..._NvLinkRemotePciInfo_v2 fill).
struct PciInfo {
  char busIdLegacy[16];  // "0000:18:00.0" (deprecated)
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;  // device id << 16 | vendor id
  unsigned int pciSubSystemId;
  char busId[32];  // "00000000:18:00.0"
};

struct Functions {
  Return (*Init)();                                         // nvmlInit_v2
  Return (*Shutdown)();                                     // nvmlShutdown
  const char* (*ErrorString)(Return);                       // nvmlErrorString
  Return (*DeviceGetCount)(unsigned int*);                  // nvmlDeviceGetCount_v2
  Return (*DeviceGetHandleByIndex)(unsigned int, Device*);  // nvmlDeviceGetHandleByIndex_v2
  Return (*DeviceGetUUID)(Device, char*, unsigned int);
  Return (*DeviceGetName)(Device, char*, unsigned int);
  Return (*DeviceGetMemoryInfo)(Device, Memory*);
  Return (*DeviceGetPciInfo)(Device, PciInfo*);  // nvmlDeviceGetPciInfo_v3
  // Optional: null when the driver's library lacks them.
  Return (*DeviceGetNvLinkState)(Device, unsigned int link, unsigned int* is_active);
  Return (*DeviceGetNvLinkRemotePciInfo)(Device, unsigned int link, PciInfo*);  // _v2
  Return (*DeviceGetNvLinkRemoteDeviceType)(Device, unsigned int link, int* type);
  Return (*DeviceGetMigMode)(Device, unsigned int* current, unsigned int* pending);
  Return (*DeviceGetCpuAffinity)(Device, unsigned int set_size, unsigned long* set);
  Return (*DeviceGetNumaNodeId)(Device, unsigned int* node);
  // Health events (optional: health checking is off without them).
  Return (*EventSetCreate)(EventSet*);
  Return (*DeviceGetSupportedEventTypes)(Device, unsigned long long* types);
  Return (*DeviceRegisterEvents)(Device, unsigned long long types, EventSet);
  Return (*EventSetWait)(EventSet, EventData*, unsigned int timeout_ms);  // nvmlEventSetWait_v2
  Return (*EventSetFree)(EventSet);

  std::shared_ptr<void> library;  // keeps the dlopen handle alive; null for fakes
};

inline constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";

// dlopens `library` and resolves the functions. UNAVAILABLE, naming the library, when it cannot
// be loaded (no NVIDIA driver on this machine) or a required function is missing.
Result<Functions> Load(const std::string& library = kDefaultLibrary);

}  // namespace zenith::deviceplugin::nvml
