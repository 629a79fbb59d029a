// What one channel batch becomes on the device: its element type (from the batch's NumPy
// descr), its shape [samples, *per-sample shape] and the bytes copied in and written out. Pure
// host code, checked before any CUDA call, so a batch the GPU path cannot take is refused with
// a reason even on a machine without a device. It never touches the device.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/batch_layout.h"
#include "zenith/runtime/cuda/precision.h"

namespace zenith::runtime::cuda {

// An optional precision switch on the device: out = round_to(((in * scale) - mean) * inv_std).
struct DeviceConversion {
  DType to = DType::kFloat16;
  Normalization norm;
};

struct DeviceTensorPlan {
  DType in_type = DType::kUint8;
  DType out_type = DType::kUint8;  // in_type when there is no conversion
  std::vector<int64_t> shape;      // [num_samples, *per-sample shape]
  int64_t elements = 0;
  uint64_t data_offset = 0;  // of the tensor, from the batch start
  uint64_t in_bytes = 0;     // copied host → device
  uint64_t out_bytes = 0;    // what the trainer gets
  bool convert = false;
};

// "|u1"/"<u1" → uint8, "<f4" → float32, "<f2" → float16; any other descr is an error naming it.
Result<DType> DTypeFromNumpyDescr(std::string_view descr);

// The plan for the batch `header` describes, or why the device path cannot take it (not a
// tensor, a dtype with no device type, a conversion the kernels do not do, a data size that
// disagrees with the shape). Messages name the batch by epoch and step.
Result<DeviceTensorPlan> PlanDeviceTensor(const BatchHeader& header,
                                          const std::optional<DeviceConversion>& conversion);

}  // namespace zenith::runtime::cuda
