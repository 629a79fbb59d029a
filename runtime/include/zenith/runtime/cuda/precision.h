// Batch precision conversion for the GPU path: uint8 or fp32 samples become fp32, fp16, bf16
// or fp8 (e4m3) with per-channel normalisation, on the device. The CPU reference here defines
// the exact result (round to nearest even; fp8 saturates to ±448) so a test can demand the
// kernels' bits equal it. This header needs no CUDA headers; builds without a toolkit answer
// UNAVAILABLE from every device call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime::cuda {

enum class DType : uint8_t { kUint8, kFloat32, kFloat16, kBFloat16, kFloat8E4M3 };

size_t DTypeSize(DType type);
std::string_view DTypeName(DType type);
// "uint8", "float32"/"fp32", "float16"/"fp16", "bfloat16"/"bf16", "float8_e4m3"/"fp8".
Result<DType> ParseDType(std::string_view name);

// out[i] = round_out(((in[i] * scale) - mean[c]) * inv_std[c]),
// c = (i / channel_stride) % channels; channels = mean.size() (0 or 1: one channel).
struct Normalization {
  float scale = 1.0f;          // 1/255 turns uint8 pixels into [0, 1]
  std::vector<float> mean;     // per channel
  std::vector<float> inv_std;  // per channel, 1/std
  int64_t channel_stride = 1;  // 1: channels last (HWC); H*W: channels first (CHW)
};
inline constexpr int kMaxChannels = 16;

Status ValidateConversion(DType in, DType out, int64_t count, const Normalization& norm);

// Encodes one float into `out` (DTypeSize(type) bytes) with round-to-nearest-even.
void EncodeFloat(DType type, float value, void* out);
// Decodes one element to float.
float DecodeFloat(DType type, const void* in);

// The CPU reference of ConvertOnDevice, element for element.
Status ConvertOnHost(const void* in, DType in_type, void* out, DType out_type, int64_t count,
                     const Normalization& norm);

// --- device side (CUDA builds) ---

// OK when a CUDA device is usable; otherwise UNAVAILABLE saying why (no toolkit in this build,
// no driver, no device).
Status CudaDeviceAvailable();

// Converts `count` elements already on the device; asynchronous on `stream` (a cudaStream_t,
// null for the default stream).
Status ConvertOnDevice(const void* device_in, DType in_type, void* device_out, DType out_type,
                       int64_t count, const Normalization& norm, void* stream);

}  // namespace zenith::runtime::cuda
