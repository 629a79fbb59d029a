// Page-locks an existing host region (the shared-memory segment) with cudaHostRegister so the
// GPU's copy engines read it directly: host-to-device copies from it run at PCIe speed and are
// truly asynchronous. Pageable memory is staged through a driver buffer and is much slower.
#pragma once

#include <cstddef>

#include "zenith/common/status.h"

namespace zenith::runtime::cuda {

class HostRegistration {
 public:
  // Registers [data, data + bytes); unregistered when the object dies.
  static Result<HostRegistration> Register(void* data, size_t bytes);

  HostRegistration(HostRegistration&& other) noexcept;
  HostRegistration& operator=(HostRegistration&& other) noexcept;
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;
  ~HostRegistration();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  HostRegistration(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// cudaMemcpyAsync host → device on `stream` (a cudaStream_t; null: the default stream).
Status CopyToDeviceAsync(void* device_dst, const void* host_src, size_t bytes, void* stream);

}  // namespace zenith::runtime::cuda
