#include "zenith/deviceplugin/nvml_health.h"

#include "zenith/common/log.h"

namespace zenith::deviceplugin {

NvmlHealthChecker::NvmlHealthChecker(nvml::Functions nvml, GpuResourceManager& gpus,
                                     std::vector<int> ignored_xids,
                                     std::chrono::nanoseconds recovery, common::Clock& clock)
    : nvml_(std::move(nvml)),
      gpus_(gpus),
      ignored_(ignored_xids.begin(), ignored_xids.end()),
      recovery_(recovery),
      clock_(clock) {}

NvmlHealthChecker::~NvmlHealthChecker() { Stop(); }

std::string NvmlHealthChecker::Error(nvml::Return r) const {
  const char* text = nvml_.ErrorString ? nvml_.ErrorString(r) : nullptr;
  return "NVML error " + std::to_string(r) + (text ? std::string(" (") + text + ")" : "");
}

Status NvmlHealthChecker::Open() {
  if (!nvml_.EventSetCreate || !nvml_.DeviceRegisterEvents || !nvml_.EventSetWait ||
      !nvml_.EventSetFree) {
    return UnavailableError(
        "NVML lacks the event API (nvmlEventSetCreate, ...): GPU health "
        "is not checked");
  }
  if (nvml::Return r = nvml_.Init(); r != nvml::kSuccess) {
    return UnavailableError("nvmlInit for health checking: " + Error(r));
  }
  initialised_ = true;
  if (nvml::Return r = nvml_.EventSetCreate(&set_); r != nvml::kSuccess) {
    return UnavailableError("nvmlEventSetCreate: " + Error(r));
  }
  const auto devices = gpus_.Devices();
  handles_.assign(devices.size(), nullptr);
  last_error_.assign(devices.size(), clock_.Now());
  ours_.assign(devices.size(), false);
  for (size_t p = 0; p < devices.size(); ++p) {
    nvml::Device d = nullptr;
    nvml::Return r = nvml_.DeviceGetHandleByIndex(static_cast<unsigned>(gpus_.IndexAt(p)), &d);
    if (r != nvml::kSuccess) {
      MarkUnhealthy(p, "no NVML handle: " + Error(r));
      continue;
    }
    unsigned long long types = nvml::kEventXidCritical | nvml::kEventDoubleBitEcc;
    if (nvml_.DeviceGetSupportedEventTypes) {
      unsigned long long supported = 0;
      if (nvml_.DeviceGetSupportedEventTypes(d, &supported) == nvml::kSuccess) types &= supported;
    }
    r = nvml_.DeviceRegisterEvents(d, types, set_);
    if (r == nvml::kErrorGpuIsLost) {
      MarkUnhealthy(p, "GPU is lost");
    } else if (r != nvml::kSuccess && r != nvml::kErrorNotSupported) {
      MarkUnhealthy(p, "cannot register for NVML events: " + Error(r));
    }
    handles_[p] = d;  // kept even when registration failed, so recovery can probe it
  }
  return Status::Ok();
}

Status NvmlHealthChecker::Start() {
  ZENITH_RETURN_IF_ERROR(Open());
  // The wait itself is the pause: 500 ms keeps Stop prompt and events are seen at once.
  thread_.Start([this] { Poll(std::chrono::milliseconds(500)); }, std::chrono::nanoseconds(0));
  common::log::Info("checking GPU health with NVML events",
                    {{"gpus", static_cast<int>(handles_.size())},
                     {"ignored_xids", static_cast<int>(ignored_.size())}});
  return Status::Ok();
}

void NvmlHealthChecker::Stop() {
  thread_.Stop();
  if (set_ && nvml_.EventSetFree) nvml_.EventSetFree(set_);
  set_ = nullptr;
  if (initialised_ && nvml_.Shutdown) nvml_.Shutdown();
  initialised_ = false;
}

void NvmlHealthChecker::MarkUnhealthy(size_t position, const std::string& reason) {
  last_error_[position] = clock_.Now();
  ours_[position] = true;
  const auto devices = gpus_.Devices();
  auto changed = gpus_.SetHealthy(devices[position].id, false, reason);
  if (changed.ok() && *changed) {
    common::log::Warn(
        "GPU unhealthy",
        {{"device", devices[position].id}, {"index", gpus_.IndexAt(position)}, {"reason", reason}});
  }
}

bool NvmlHealthChecker::Answers(size_t position) {
  nvml::Device d = nullptr;
  if (nvml_.DeviceGetHandleByIndex(static_cast<unsigned>(gpus_.IndexAt(position)), &d) !=
      nvml::kSuccess) {
    return false;
  }
  nvml::Memory memory{};
  return nvml_.DeviceGetMemoryInfo(d, &memory) == nvml::kSuccess;
}

void NvmlHealthChecker::Poll(std::chrono::milliseconds wait) {
  nvml::EventData event{};
  const nvml::Return r = set_
                             ? nvml_.EventSetWait(set_, &event, static_cast<unsigned>(wait.count()))
                             : nvml::kErrorTimeout;
  if (r == nvml::kSuccess) {
    const bool xid = (event.eventType & nvml::kEventXidCritical) != 0;
    if (xid && ignored_.count(event.eventData)) {
      common::log::Info("ignored XID", {{"xid", event.eventData}});
    } else if (xid || (event.eventType & nvml::kEventDoubleBitEcc)) {
      const std::string reason =
          xid ? "XID " + std::to_string(event.eventData) : std::string("double-bit ECC error");
      for (size_t p = 0; p < handles_.size(); ++p) {
        // A null device means the error concerns them all.
        if (event.device == nullptr || handles_[p] == event.device) MarkUnhealthy(p, reason);
      }
    }
  } else if (r != nvml::kErrorTimeout) {
    // GPU lost or an unknown failure: find out which GPUs still answer.
    for (size_t p = 0; p < handles_.size(); ++p) {
      if (!Answers(p)) MarkUnhealthy(p, "does not answer NVML after " + Error(r));
    }
  }
  const common::TimePoint now = clock_.Now();
  for (size_t p = 0; p < handles_.size(); ++p) {
    if (!ours_[p] || now - last_error_[p] < recovery_) continue;
    if (!Answers(p)) {
      last_error_[p] = now;
      continue;
    }
    ours_[p] = false;
    const std::string id = gpus_.Devices()[p].id;
    auto changed = gpus_.SetHealthy(id, true);
    if (changed.ok() && *changed) {
      common::log::Info("GPU healthy again", {{"device", id}, {"index", gpus_.IndexAt(p)}});
    }
  }
}

}  // namespace zenith::deviceplugin
