// The kernels against the CPU reference, bit for bit, and the host-to-device bandwidth from a
// registered region against pageable memory. On a machine without a CUDA device each case says
// SKIPPED and why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "zenith/runtime/cuda/host_memory.h"
#include "zenith/runtime/cuda/precision.h"

#ifdef ZENITH_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace zenith::runtime::cuda {
namespace {

#define ZENITH_REQUIRE_GPU()                                     \
  do {                                                           \
    Status gpu = CudaDeviceAvailable();                          \
    if (!gpu.ok()) GTEST_SKIP() << "SKIPPED: " << gpu.message(); \
  } while (0)

TEST(PrecisionDeviceTest, UnavailableWithoutADeviceSaysWhy) {
  Status gpu = CudaDeviceAvailable();
  if (gpu.ok())
    GTEST_SKIP() << "SKIPPED: a CUDA device is present; this case is for machines without one";
  EXPECT_EQ(gpu.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(gpu.message().empty());
  uint8_t in = 0, out = 0;
  EXPECT_EQ(ConvertOnDevice(&in, DType::kUint8, &out, DType::kFloat8E4M3, 1, {}, nullptr).code(),
            StatusCode::kUnavailable);
}

#ifdef ZENITH_HAVE_CUDA

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(expr)

struct Case {
  DType in;
  DType out;
  Normalization norm;
  int64_t offset;  // elements; a non-zero offset misaligns the buffers and takes the scalar path
};

std::vector<uint8_t> MakeInput(DType type, int64_t count, uint64_t seed) {
  std::vector<uint8_t> bytes(count * DTypeSize(type));
  std::mt19937_64 rng(seed);
  if (type == DType::kUint8) {
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  } else {
    // Wide enough to saturate fp8 and overflow fp16, with small values for subnormals.
    std::uniform_real_distribution<float> wide(-70000.0f, 70000.0f), small(-0.01f, 0.01f);
    for (int64_t i = 0; i < count; ++i) {
      float v = (i % 3 == 0) ? small(rng) : wide(rng);
      std::memcpy(&bytes[i * 4], &v, 4);
    }
  }
  return bytes;
}

void CheckCase(const Case& c, int64_t count) {
  SCOPED_TRACE(std::string(DTypeName(c.in)) + " -> " + std::string(DTypeName(c.out)) + " offset " +
               std::to_string(c.offset) + " channels " + std::to_string(c.norm.mean.size()) +
               " stride " + std::to_string(c.norm.channel_stride));
  const size_t in_size = DTypeSize(c.in), out_size = DTypeSize(c.out);
  std::vector<uint8_t> in = MakeInput(c.in, count, 7);
  std::vector<uint8_t> want(count * out_size), got(count * out_size);
  ASSERT_TRUE(ConvertOnHost(in.data(), c.in, want.data(), c.out, count, c.norm).ok());

  void *d_in = nullptr, *d_out = nullptr;
  CUDA_OK(cudaMalloc(&d_in, (count + c.offset) * in_size));
  CUDA_OK(cudaMalloc(&d_out, (count + c.offset) * out_size));
  uint8_t* din = static_cast<uint8_t*>(d_in) + c.offset * in_size;
  uint8_t* dout = static_cast<uint8_t*>(d_out) + c.offset * out_size;
  CUDA_OK(cudaMemcpy(din, in.data(), in.size(), cudaMemcpyHostToDevice));
  Status s = ConvertOnDevice(din, c.in, dout, c.out, count, c.norm, nullptr);
  ASSERT_TRUE(s.ok()) << s;
  CUDA_OK(cudaMemcpy(got.data(), dout, got.size(), cudaMemcpyDeviceToHost));
  cudaFree(d_in);
  cudaFree(d_out);

  int64_t mismatches = 0, first = -1;
  for (int64_t i = 0; i < count; ++i) {
    if (std::memcmp(&want[i * out_size], &got[i * out_size], out_size) != 0) {
      if (first < 0) first = i;
      ++mismatches;
    }
  }
  if (first >= 0) {
    ADD_FAILURE() << mismatches << " of " << count << " elements differ; first at " << first
                  << ": input " << DecodeFloat(c.in, &in[first * in_size]) << " want "
                  << DecodeFloat(c.out, &want[first * out_size]) << " got "
                  << DecodeFloat(c.out, &got[first * out_size]);
  }
}

TEST(PrecisionDeviceTest, KernelsMatchTheCpuReferenceBitForBit) {
  ZENITH_REQUIRE_GPU();
  Normalization none;
  Normalization imagenet_hwc;
  imagenet_hwc.scale = 1.0f / 255;
  imagenet_hwc.mean = {0.485f, 0.456f, 0.406f};
  imagenet_hwc.inv_std = {1 / 0.229f, 1 / 0.224f, 1 / 0.225f};
  Normalization imagenet_chw = imagenet_hwc;
  imagenet_chw.channel_stride = 224 * 224;
  const int64_t count = 3 * 224 * 224 * 7 + 3;  // odd: exercises the scalar tail
  for (DType in : {DType::kUint8, DType::kFloat32}) {
    for (DType out : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat8E4M3}) {
      for (const Normalization* norm : {&none, &imagenet_hwc, &imagenet_chw}) {
        for (int64_t offset : {0, 1}) CheckCase({in, out, *norm, offset}, count);
      }
    }
  }
}

double MedianGBps(std::vector<float> ms, double bytes) {
  std::sort(ms.begin(), ms.end());
  return bytes / (ms[ms.size() / 2] * 1e-3) / 1e9;
}

// Times `fn` (enqueuing work on `stream`) with CUDA events: median of 9 after a warm-up.
template <typename F>
std::vector<float> TimeMs(cudaStream_t stream, F fn) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  fn();
  cudaStreamSynchronize(stream);
  std::vector<float> out;
  for (int i = 0; i < 9; ++i) {
    cudaEventRecord(start, stream);
    fn();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    out.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return out;
}

TEST(PrecisionDeviceTest, ConversionThroughputAgainstDeviceCopy) {
  ZENITH_REQUIRE_GPU();
  const int64_t count = int64_t{1} << 28;  // 256 Mi elements
  void *d_in = nullptr, *d_out = nullptr;
  CUDA_OK(cudaMalloc(&d_in, count * 4));
  CUDA_OK(cudaMalloc(&d_out, count * 4));
  cudaMemset(d_in, 0x3c, count * 4);
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  Normalization norm;
  norm.scale = 1.0f / 255;
  norm.mean = {0.485f, 0.456f, 0.406f};
  norm.inv_std = {4.37f, 4.46f, 4.44f};
  struct Pair {
    DType in, out;
  };
  for (Pair p :
       {Pair{DType::kUint8, DType::kFloat16}, Pair{DType::kUint8, DType::kBFloat16},
        Pair{DType::kUint8, DType::kFloat8E4M3}, Pair{DType::kFloat32, DType::kBFloat16}}) {
    const double bytes = static_cast<double>(count) * (DTypeSize(p.in) + DTypeSize(p.out));
    double kernel = MedianGBps(
        TimeMs(stream,
               [&] { (void)ConvertOnDevice(d_in, p.in, d_out, p.out, count, norm, stream); }),
        bytes);
    // The ceiling: a device-to-device copy moving the same number of bytes.
    double copy = MedianGBps(TimeMs(stream,
                                    [&] {
                                      cudaMemcpyAsync(d_out, d_in, static_cast<size_t>(bytes / 2),
                                                      cudaMemcpyDeviceToDevice, stream);
                                    }),
                             bytes);
    std::printf(
        "RESULT gpu_convert_%s_to_%s zenith=%.1f d2d_copy=%.1f unit=GB/s ratio=%.2f "
        "elements=%lld channels=3\n",
        std::string(DTypeName(p.in)).c_str(), std::string(DTypeName(p.out)).c_str(), kernel, copy,
        kernel / copy, static_cast<long long>(count));
    EXPECT_GT(kernel, 0);
  }
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  cudaStreamDestroy(stream);
  cudaFree(d_in);
  cudaFree(d_out);
}

TEST(PrecisionDeviceTest, RegisteredHostMemoryCopiesFasterThanPageable) {
  ZENITH_REQUIRE_GPU();
  const size_t bytes = size_t{256} << 20;
  std::vector<uint8_t> pageable(bytes, 1);
  std::vector<uint8_t> segment(bytes, 2);  // stands in for the shared-memory segment
  void* d = nullptr;
  CUDA_OK(cudaMalloc(&d, bytes));
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  double pageable_gbps = MedianGBps(
      TimeMs(stream, [&] { (void)CopyToDeviceAsync(d, pageable.data(), bytes, stream); }),
      static_cast<double>(bytes));
  auto reg = HostRegistration::Register(segment.data(), bytes);
  ASSERT_TRUE(reg.ok()) << reg.status();
  double registered_gbps =
      MedianGBps(TimeMs(stream, [&] { (void)CopyToDeviceAsync(d, segment.data(), bytes, stream); }),
                 static_cast<double>(bytes));
  std::vector<uint8_t> back(4096);
  CUDA_OK(cudaMemcpy(back.data(), d, back.size(), cudaMemcpyDeviceToHost));
  EXPECT_EQ(back[0], 2);
  EXPECT_EQ(back[4095], 2);
  std::printf("RESULT h2d_registered zenith=%.1f pageable=%.1f unit=GB/s ratio=%.2f bytes=%zu\n",
              registered_gbps, pageable_gbps, registered_gbps / pageable_gbps, bytes);
  EXPECT_GT(registered_gbps, 0);
  cudaStreamDestroy(stream);
  cudaFree(d);
}

#endif  // ZENITH_HAVE_CUDA

}  // namespace
}  // namespace zenith::runtime::cuda
