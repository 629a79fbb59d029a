// The CPU reference of the precision kernels. Arithmetic is written out step by step in float
// (no fused multiply-add) so the device code, which uses the same explicitly rounded steps,
// produces identical bits.
#include "zenith/runtime/cuda/precision.h"

#include <cfenv>
#include <cmath>
#include <cstring>
#include <string>

namespace zenith::runtime::cuda {
namespace {

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// A small binary float format: `man` mantissa bits, exponent bias, largest finite value.
struct Format {
  int man;
  int bias;
  double max_finite;
  bool saturate;  // overflow gives ±max_finite (fp8 "satfinite") instead of ±inf
  uint32_t inf_bits, nan_bits, max_bits;
};
constexpr Format kHalf{10, 15, 65504.0, false, 0x7C00, 0x7E00, 0x7BFF};
constexpr Format kE4M3{3, 7, 448.0, true, 0x7E, 0x7F, 0x7E};

// Round-to-nearest-even into the format, as bits (sign in the top bit of the format).
uint32_t EncodeSmall(const Format& f, float x) {
  const int total_bits = (&f == &kHalf) ? 16 : 8;
  const uint32_t sign = std::signbit(x) ? (1u << (total_bits - 1)) : 0;
  if (std::isnan(x)) return f.nan_bits;
  double a = std::fabs(static_cast<double>(x));
  const double min_normal = std::ldexp(1.0, 1 - f.bias);
  double quantum;
  if (a < min_normal) {
    quantum = std::ldexp(1.0, 1 - f.bias - f.man);
  } else {
    int e;
    std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    quantum = std::ldexp(1.0, (e - 1) - f.man);
  }
  double r = std::isinf(a) ? a : std::nearbyint(a / quantum) * quantum;  // FE_TONEAREST: ties even
  if (r > f.max_finite) return sign | (f.saturate ? f.max_bits : f.inf_bits);
  if (r == 0) return sign;
  if (r < min_normal) {
    return sign | static_cast<uint32_t>(r / std::ldexp(1.0, 1 - f.bias - f.man));
  }
  int e;
  double m = std::frexp(r, &e);  // rounding may have carried into the next binade
  uint32_t exp_bits = static_cast<uint32_t>((e - 1) + f.bias);
  uint32_t man_bits = static_cast<uint32_t>((m * 2.0 - 1.0) * std::ldexp(1.0, f.man));
  return sign | (exp_bits << f.man) | man_bits;
}

float DecodeSmall(const Format& f, uint32_t bits, int total_bits) {
  const bool negative = bits >> (total_bits - 1);
  const uint32_t exp_mask = (1u << (total_bits - 1 - f.man)) - 1;
  const uint32_t e = (bits >> f.man) & exp_mask;
  const uint32_t m = bits & ((1u << f.man) - 1);
  double v;
  if (&f == &kHalf && e == exp_mask) {
    v = m ? NAN : INFINITY;
  } else if (&f == &kE4M3 && e == exp_mask && m == 0x7) {
    v = NAN;
  } else if (e == 0) {
    v = std::ldexp(static_cast<double>(m), 1 - f.bias - f.man);
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man), static_cast<int>(e) - f.bias);
  }
  return static_cast<float>(negative ? -v : v);
}

}  // namespace

size_t DTypeSize(DType type) {
  switch (type) {
    case DType::kUint8:
      return 1;
    case DType::kFloat32:
      return 4;
    case DType::kFloat16:
      return 2;
    case DType::kBFloat16:
      return 2;
    case DType::kFloat8E4M3:
      return 1;
  }
  return 0;
}

std::string_view DTypeName(DType type) {
  switch (type) {
    case DType::kUint8:
      return "uint8";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat8E4M3:
      return "float8_e4m3";
  }
  return "unknown";
}

Result<DType> ParseDType(std::string_view name) {
  if (name == "uint8") return DType::kUint8;
  if (name == "float32" || name == "fp32") return DType::kFloat32;
  if (name == "float16" || name == "fp16") return DType::kFloat16;
  if (name == "bfloat16" || name == "bf16") return DType::kBFloat16;
  if (name == "float8_e4m3" || name == "fp8" || name == "fp8_e4m3") return DType::kFloat8E4M3;
  return InvalidArgumentError("unknown dtype '" + std::string(name) +
                              "' (use uint8, float32, float16, bfloat16 or float8_e4m3)");
}

Status ValidateConversion(DType in, DType out, int64_t count, const Normalization& norm) {
  if (in != DType::kUint8 && in != DType::kFloat32) {
    return InvalidArgumentError("conversion input must be uint8 or float32, not " +
                                std::string(DTypeName(in)));
  }
  if (out == DType::kUint8) {
    return InvalidArgumentError("conversion output must be a float type, not uint8");
  }
  if (count < 0) return InvalidArgumentError("negative element count " + std::to_string(count));
  if (norm.mean.size() != norm.inv_std.size()) {
    return InvalidArgumentError("normalisation has " + std::to_string(norm.mean.size()) +
                                " means but " + std::to_string(norm.inv_std.size()) +
                                " inverse deviations");
  }
  if (norm.mean.size() > static_cast<size_t>(kMaxChannels)) {
    return InvalidArgumentError("normalisation has " + std::to_string(norm.mean.size()) +
                                " channels; at most " + std::to_string(kMaxChannels) +
                                " are supported");
  }
  if (norm.channel_stride < 1) {
    return InvalidArgumentError("channel_stride must be at least 1, got " +
                                std::to_string(norm.channel_stride));
  }
  return Status::Ok();
}

void EncodeFloat(DType type, float value, void* out) {
  switch (type) {
    case DType::kFloat32:
      std::memcpy(out, &value, 4);
      return;
    case DType::kFloat16: {
      uint16_t h = static_cast<uint16_t>(EncodeSmall(kHalf, value));
      std::memcpy(out, &h, 2);
      return;
    }
    case DType::kBFloat16: {
      uint32_t u = FloatBits(value);
      uint16_t b;
      if (std::isnan(value)) {
        b = static_cast<uint16_t>((u >> 16) | 0x40);  // keep it a quiet NaN
      } else {
        u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even on the dropped half
        b = static_cast<uint16_t>(u >> 16);
      }
      std::memcpy(out, &b, 2);
      return;
    }
    case DType::kFloat8E4M3: {
      uint8_t q = static_cast<uint8_t>(EncodeSmall(kE4M3, value));
      std::memcpy(out, &q, 1);
      return;
    }
    case DType::kUint8: {
      float c = std::nearbyint(std::fmin(std::fmax(value, 0.0f), 255.0f));
      uint8_t v = static_cast<uint8_t>(c);
      std::memcpy(out, &v, 1);
      return;
    }
  }
}

float DecodeFloat(DType type, const void* in) {
  switch (type) {
    case DType::kUint8:
      return static_cast<float>(*static_cast<const uint8_t*>(in));
    case DType::kFloat32: {
      float f;
      std::memcpy(&f, in, 4);
      return f;
    }
    case DType::kFloat16: {
      uint16_t h;
      std::memcpy(&h, in, 2);
      return DecodeSmall(kHalf, h, 16);
    }
    case DType::kBFloat16: {
      uint16_t b;
      std::memcpy(&b, in, 2);
      return BitsFloat(static_cast<uint32_t>(b) << 16);
    }
    case DType::kFloat8E4M3:
      return DecodeSmall(kE4M3, *static_cast<const uint8_t*>(in), 8);
  }
  return 0;
}

Status ConvertOnHost(const void* in, DType in_type, void* out, DType out_type, int64_t count,
                     const Normalization& norm) {
  ZENITH_RETURN_IF_ERROR(ValidateConversion(in_type, out_type, count, norm));
  const int64_t channels = norm.mean.empty() ? 1 : static_cast<int64_t>(norm.mean.size());
  const size_t in_size = DTypeSize(in_type), out_size = DTypeSize(out_type);
  const auto* src = static_cast<const uint8_t*>(in);
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < count; ++i) {
    float v = DecodeFloat(in_type, src + i * in_size);
    // Three separately rounded steps, matching the kernel's __fmul_rn/__fsub_rn/__fmul_rn.
    float t = v * norm.scale;
    if (!norm.mean.empty()) {
      const int64_t c = (i / norm.channel_stride) % channels;
      t = t - norm.mean[c];
      t = t * norm.inv_std[c];
    }
    EncodeFloat(out_type, t, dst + i * out_size);
  }
  return Status::Ok();
}

}  // namespace zenith::runtime::cuda
