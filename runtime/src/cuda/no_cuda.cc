// The device half of zenith_runtime_cuda in a build without a CUDA toolkit: every call says so.
#include "zenith/runtime/cuda/device_feeder.h"
#include "zenith/runtime/cuda/host_memory.h"
#include "zenith/runtime/cuda/precision.h"

namespace zenith::runtime::cuda {
namespace {
Status NotBuilt() {
  return UnavailableError(
      "this build of Zenith has no CUDA support (no toolkit was found at configure time; "
      "install one or run scripts/setup-cuda.sh, then configure with ZENITH_WITH_CUDA=on)");
}
}  // namespace

Status CudaDeviceAvailable() { return NotBuilt(); }

Status ConvertOnDevice(const void*, DType, void*, DType, int64_t, const Normalization&, void*) {
  return NotBuilt();
}

Result<HostRegistration> HostRegistration::Register(void*, size_t) { return NotBuilt(); }
HostRegistration::HostRegistration(HostRegistration&& other) noexcept
    : data_(other.data_), bytes_(other.bytes_) {
  other.data_ = nullptr;
  other.bytes_ = 0;
}
HostRegistration& HostRegistration::operator=(HostRegistration&& other) noexcept {
  data_ = other.data_;
  bytes_ = other.bytes_;
  other.data_ = nullptr;
  other.bytes_ = 0;
  return *this;
}
HostRegistration::~HostRegistration() = default;

Status CopyToDeviceAsync(void*, const void*, size_t, void*) { return NotBuilt(); }

// No feeder can be created here; the members exist so callers link.
Result<std::unique_ptr<DeviceFeeder>> DeviceFeeder::Create(ChannelConsumer&, DeviceFeederOptions) {
  return NotBuilt();
}
DeviceFeeder::~DeviceFeeder() = default;
Result<DeviceBatch> DeviceFeeder::Submit(const ChannelConsumer::Batch&) { return NotBuilt(); }
Status DeviceFeeder::Recycle(const DeviceBatch&, void*) { return NotBuilt(); }
Status DeviceFeeder::ReleaseCopied() { return NotBuilt(); }
Status DeviceFeeder::Drain() { return NotBuilt(); }
int DeviceFeeder::free_buffers() const { return 0; }

}  // namespace zenith::runtime::cuda
