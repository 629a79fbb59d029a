#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "zenith/runtime/cuda/precision.h"

namespace zenith::runtime::cuda {
namespace {

uint32_t Encode(DType t, float v) {
  uint32_t bits = 0;
  EncodeFloat(t, v, &bits);
  return bits;
}

TEST(PrecisionReferenceTest, Float16KnownValues) {
  EXPECT_EQ(Encode(DType::kFloat16, 1.0f), 0x3C00u);
  EXPECT_EQ(Encode(DType::kFloat16, -2.0f), 0xC000u);
  EXPECT_EQ(Encode(DType::kFloat16, 1.0f / 3), 0x3555u);
  EXPECT_EQ(Encode(DType::kFloat16, 0.1f), 0x2E66u);
  EXPECT_EQ(Encode(DType::kFloat16, 65504.0f), 0x7BFFu);
  EXPECT_EQ(Encode(DType::kFloat16, 65519.0f), 0x7BFFu);
  EXPECT_EQ(Encode(DType::kFloat16, 65520.0f), 0x7C00u);  // ties to even: overflows to inf
  EXPECT_EQ(Encode(DType::kFloat16, 6e-8f), 0x0001u);     // smallest subnormal
  EXPECT_EQ(Encode(DType::kFloat16, 1e-8f), 0x0000u);
}

TEST(PrecisionReferenceTest, BFloat16KnownValues) {
  EXPECT_EQ(Encode(DType::kBFloat16, 1.0f), 0x3F80u);
  EXPECT_EQ(Encode(DType::kBFloat16, 1.0f / 3), 0x3EABu);
  EXPECT_EQ(Encode(DType::kBFloat16, 0.1f), 0x3DCDu);
  EXPECT_EQ(Encode(DType::kBFloat16, -448.0f), 0xC3E0u);
}

TEST(PrecisionReferenceTest, Float8E4M3KnownValuesSaturateAndTieToEven) {
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 1.0f), 0x38u);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 0.5f), 0x30u);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 0.1f), 0x1Du);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 1.0f / 3), 0x2Bu);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 448.0f), 0x7Eu);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 1000.0f), 0x7Eu);  // satfinite
  EXPECT_EQ(Encode(DType::kFloat8E4M3, -1000.0f), 0xFEu);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, INFINITY), 0x7Eu);
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 1.0625f), 0x38u);       // halfway, even mantissa 000
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 1.1875f), 0x3Au);       // halfway, even mantissa 010
  EXPECT_EQ(Encode(DType::kFloat8E4M3, 0.001953125f), 0x01u);  // 2^-9, smallest subnormal
}

TEST(PrecisionReferenceTest, EveryFiniteCodeRoundTrips) {
  for (uint32_t code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F) continue;  // NaN
    uint8_t c = static_cast<uint8_t>(code);
    EXPECT_EQ(Encode(DType::kFloat8E4M3, DecodeFloat(DType::kFloat8E4M3, &c)), code);
  }
  for (uint32_t code = 0; code < 65536; ++code) {
    uint16_t c = static_cast<uint16_t>(code);
    if ((code & 0x7C00) != 0x7C00) {
      ASSERT_EQ(Encode(DType::kFloat16, DecodeFloat(DType::kFloat16, &c)), code);
    }
    if ((code & 0x7F80) != 0x7F80) {
      ASSERT_EQ(Encode(DType::kBFloat16, DecodeFloat(DType::kBFloat16, &c)), code);
    }
  }
}

TEST(PrecisionReferenceTest, ConvertAppliesScaleMeanAndDeviationPerChannel) {
  // Two pixels of three channels, channels last.
  std::vector<uint8_t> in = {0, 128, 255, 51, 102, 153};
  Normalization norm;
  norm.scale = 1.0f / 255;
  norm.mean = {0.5f, 0.5f, 0.5f};
  norm.inv_std = {2.0f, 4.0f, 1.0f};
  std::vector<float> out(in.size());
  ASSERT_TRUE(ConvertOnHost(in.data(), DType::kUint8, out.data(), DType::kFloat32,
                            static_cast<int64_t>(in.size()), norm)
                  .ok());
  EXPECT_FLOAT_EQ(out[0], -1.0f);
  EXPECT_NEAR(out[1], (128 / 255.0f - 0.5f) * 4, 1e-6);
  EXPECT_FLOAT_EQ(out[2], 0.5f);
  EXPECT_NEAR(out[3], (0.2f - 0.5f) * 2, 1e-6);

  // Channels first: each channel is a run of channel_stride elements.
  norm.channel_stride = 2;
  ASSERT_TRUE(ConvertOnHost(in.data(), DType::kUint8, out.data(), DType::kFloat32, 6, norm).ok());
  EXPECT_FLOAT_EQ(out[0], -1.0f);                // channel 0
  EXPECT_NEAR(out[2], (1.0f - 0.5f) * 4, 1e-6);  // channel 1
  EXPECT_NEAR(out[5], (0.6f - 0.5f) * 1, 1e-6);  // channel 2
}

TEST(PrecisionReferenceTest, BadRequestsAreNamed) {
  Normalization norm;
  norm.mean = {0, 0};
  norm.inv_std = {1};
  EXPECT_NE(
      ValidateConversion(DType::kUint8, DType::kFloat16, 4, norm).message().find("2 means but 1"),
      std::string::npos);
  EXPECT_FALSE(ValidateConversion(DType::kFloat16, DType::kFloat32, 4, {}).ok());
  EXPECT_FALSE(ValidateConversion(DType::kUint8, DType::kUint8, 4, {}).ok());
  Normalization many;
  many.mean.assign(kMaxChannels + 1, 0);
  many.inv_std.assign(kMaxChannels + 1, 1);
  EXPECT_FALSE(ValidateConversion(DType::kUint8, DType::kFloat32, 4, many).ok());
  EXPECT_EQ(*ParseDType("bf16"), DType::kBFloat16);
  EXPECT_FALSE(ParseDType("int4").ok());
}

}  // namespace
}  // namespace zenith::runtime::cuda
