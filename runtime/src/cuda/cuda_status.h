// CUDA runtime errors as Status: a missing driver or device is UNAVAILABLE (the caller may fall
// back to the CPU); anything else is INTERNAL. Internal to zenith_runtime_cuda.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "zenith/common/status.h"

namespace zenith::runtime::cuda {

inline Status CudaStatus(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  std::string message = what + ": " + cudaGetErrorString(e);
  switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

}  // namespace zenith::runtime::cuda
