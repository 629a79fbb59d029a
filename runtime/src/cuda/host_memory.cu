#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "cuda_status.h"
#include "zenith/runtime/cuda/host_memory.h"

namespace zenith::runtime::cuda {

Result<HostRegistration> HostRegistration::Register(void* data, size_t bytes) {
  if (data == nullptr || bytes == 0) {
    return InvalidArgumentError("cudaHostRegister needs a non-empty region");
  }
  // Portable: every context may use it; the segment is shared by all of a process's streams.
  cudaError_t e = cudaHostRegister(data, bytes, cudaHostRegisterPortable);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls are not blamed for it
    return CudaStatus(e, "cudaHostRegister of " + std::to_string(bytes) + " bytes");
  }
  return HostRegistration(data, bytes);
}

HostRegistration::HostRegistration(HostRegistration&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

HostRegistration& HostRegistration::operator=(HostRegistration&& other) noexcept {
  if (this != &other) {
    if (data_) cudaHostUnregister(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

HostRegistration::~HostRegistration() {
  if (data_) cudaHostUnregister(data_);
}

Status CopyToDeviceAsync(void* device_dst, const void* host_src, size_t bytes, void* stream) {
  return CudaStatus(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice,
                                    static_cast<cudaStream_t>(stream)),
                    "host-to-device copy of " + std::to_string(bytes) + " bytes");
}

}  // namespace zenith::runtime::cuda
