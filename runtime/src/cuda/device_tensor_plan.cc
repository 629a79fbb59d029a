#include "zenith/runtime/cuda/device_tensor_plan.h"

#include <cstring>
#include <string>

namespace zenith::runtime::cuda {

Result<DType> DTypeFromNumpyDescr(std::string_view descr) {
  if (descr == "|u1" || descr == "<u1") return DType::kUint8;
  if (descr == "<f4") return DType::kFloat32;
  if (descr == "<f2") return DType::kFloat16;
  return InvalidArgumentError("dtype '" + std::string(descr) +
                              "' has no device type (the GPU path takes |u1, <f4 and <f2)");
}

Result<DeviceTensorPlan> PlanDeviceTensor(const BatchHeader& header,
                                          const std::optional<DeviceConversion>& conversion) {
  const std::string batch = "batch (epoch " + std::to_string(header.epoch) + ", step " +
                            std::to_string(header.step) + ")";
  if (header.is_tensor != 1) {
    return InvalidArgumentError(
        batch +
        " is packed bytes, not a tensor: the GPU path takes fixed-shape "
        "raw or .npy records (TFRecord/WebDataset batches stay on the host)");
  }
  if (header.ndim > kBatchMaxDims) {
    return InvalidArgumentError(batch + " has " + std::to_string(header.ndim) + " dimensions");
  }
  const std::string descr(header.dtype, strnlen(header.dtype, sizeof(header.dtype)));
  Result<DType> in = DTypeFromNumpyDescr(descr);
  if (!in.ok()) return InvalidArgumentError(batch + ": " + in.status().message());

  DeviceTensorPlan plan;
  plan.in_type = *in;
  plan.out_type = conversion ? conversion->to : *in;
  plan.convert = conversion.has_value();
  plan.data_offset = header.data_offset;
  plan.shape.push_back(header.num_samples);
  plan.elements = header.num_samples;
  for (uint32_t d = 0; d < header.ndim; ++d) {
    if (header.shape[d] < 0) {
      return InvalidArgumentError(batch + " has a negative dimension " +
                                  std::to_string(header.shape[d]));
    }
    plan.shape.push_back(header.shape[d]);
    plan.elements *= header.shape[d];
  }
  plan.in_bytes = static_cast<uint64_t>(plan.elements) * DTypeSize(plan.in_type);
  if (plan.in_bytes != header.data_bytes) {
    return InvalidArgumentError(batch + " holds " + std::to_string(header.data_bytes) +
                                " data bytes but its shape and dtype " + descr + " need " +
                                std::to_string(plan.in_bytes));
  }
  plan.out_bytes = static_cast<uint64_t>(plan.elements) * DTypeSize(plan.out_type);
  if (conversion) {
    Status valid =
        ValidateConversion(plan.in_type, conversion->to, plan.elements, conversion->norm);
    if (!valid.ok()) {
      return Status(valid.code(), batch + ": converting " + std::string(DTypeName(plan.in_type)) +
                                      " to " + std::string(DTypeName(conversion->to)) + ": " +
                                      valid.message());
    }
  }
  return plan;
}

}  // namespace zenith::runtime::cuda
