// Precision conversion kernels: memory-bound, so each thread moves a 16-byte vector of input
// (16 uint8 or 4 float elements) with one load, and the per-channel index is carried along
// instead of divided out per element. Every arithmetic step is explicitly rounded (__fmul_rn,
// __fsub_rn) so the result is bit-identical to ConvertOnHost.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda_status.h"
#include "zenith/runtime/cuda/precision.h"

namespace zenith::runtime::cuda {
namespace {

struct Params {
  float scale;
  int channels;  // 0: no per-channel step
  int64_t channel_stride;
  float mean[kMaxChannels];
  float inv_std[kMaxChannels];
};

// Elements per thread: one 16-byte load of input.
template <typename In>
inline constexpr int kLanes = 16 / sizeof(In);

template <typename T, int N>
struct alignas(N * sizeof(T)) Vec {
  T v[N];
};

__device__ __forceinline__ float Load(uint8_t x) { return static_cast<float>(x); }
__device__ __forceinline__ float Load(float x) { return x; }

template <typename Out>
__device__ __forceinline__ Out Store(float x);
template <>
__device__ __forceinline__ float Store<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half Store<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 Store<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __nv_fp8_storage_t Store<__nv_fp8_storage_t>(float x) {
  return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
}

__device__ __forceinline__ float Apply(float v, const Params& p, int c) {
  float t = __fmul_rn(v, p.scale);
  if (p.channels > 0) t = __fmul_rn(__fsub_rn(t, p.mean[c]), p.inv_std[c]);
  return t;
}

// Channel of element i, and its position inside the current channel run.
template <typename Index>
__device__ __forceinline__ void ChannelOf(Index i, const Params& p, int& c, Index& r) {
  if (p.channels == 0) {
    c = 0;
    r = 0;
    return;
  }
  const Index stride = static_cast<Index>(p.channel_stride);
  const Index q = i / stride;
  r = i - q * stride;
  c = static_cast<int>(q % static_cast<Index>(p.channels));
}

template <typename Index>
__device__ __forceinline__ void NextChannel(const Params& p, int& c, Index& r) {
  if (p.channels == 0) return;
  if (++r == static_cast<Index>(p.channel_stride)) {
    r = 0;
    if (++c == p.channels) c = 0;
  }
}

template <typename In, typename Out, typename Index>
__global__ void ConvertVec(const Vec<In, kLanes<In>>* __restrict__ in,
                           Vec<Out, kLanes<In>>* __restrict__ out, Index vectors, Params p) {
  constexpr int N = kLanes<In>;
  const Index step = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index j = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; j < vectors;
       j += step) {
    const Vec<In, N> x = in[j];
    Vec<Out, N> y;
    int c;
    Index r;
    ChannelOf<Index>(j * N, p, c, r);
#pragma unroll
    for (int k = 0; k < N; ++k) {
      y.v[k] = Store<Out>(Apply(Load(x.v[k]), p, c));
      NextChannel<Index>(p, c, r);
    }
    out[j] = y;
  }
}

template <typename In, typename Out>
__global__ void ConvertScalar(const In* __restrict__ in, Out* __restrict__ out, int64_t begin,
                              int64_t end, Params p) {
  const int64_t i = begin + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= end) return;
  int c;
  int64_t r;
  ChannelOf<int64_t>(i, p, c, r);
  out[i] = Store<Out>(Apply(Load(in[i]), p, c));
}

int GridFor(int64_t work, int threads) {
  static int sms = [] {
    int device = 0, count = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device);
    return count > 0 ? count : 1;
  }();
  int64_t blocks = (work + threads - 1) / threads;
  int64_t cap = static_cast<int64_t>(sms) * 16;  // enough warps in flight to cover latency
  return static_cast<int>(blocks < cap ? (blocks > 0 ? blocks : 1) : cap);
}

Status LaunchError(const char* what) { return CudaStatus(cudaGetLastError(), what); }

template <typename In, typename Out>
Status Launch(const void* d_in, void* d_out, int64_t count, const Params& p, cudaStream_t s) {
  constexpr int kThreads = 256;
  constexpr int N = kLanes<In>;
  using InVec = Vec<In, N>;
  using OutVec = Vec<Out, N>;
  const auto* in = static_cast<const In*>(d_in);
  auto* out = static_cast<Out*>(d_out);
  int64_t vectorised = 0;
  const bool aligned = reinterpret_cast<uintptr_t>(in) % sizeof(InVec) == 0 &&
                       reinterpret_cast<uintptr_t>(out) % sizeof(OutVec) == 0;
  if (aligned && count >= N) {
    const int64_t vectors = count / N;
    vectorised = vectors * N;
    if (vectorised <= INT32_MAX) {
      ConvertVec<In, Out, uint32_t><<<GridFor(vectors, kThreads), kThreads, 0, s>>>(
          reinterpret_cast<const InVec*>(in), reinterpret_cast<OutVec*>(out),
          static_cast<uint32_t>(vectors), p);
    } else {
      ConvertVec<In, Out, uint64_t><<<GridFor(vectors, kThreads), kThreads, 0, s>>>(
          reinterpret_cast<const InVec*>(in), reinterpret_cast<OutVec*>(out),
          static_cast<uint64_t>(vectors), p);
    }
  }
  if (vectorised < count) {
    const int64_t rest = count - vectorised;
    ConvertScalar<In, Out><<<static_cast<int>((rest + kThreads - 1) / kThreads), kThreads, 0, s>>>(
        in, out, vectorised, count, p);
  }
  return LaunchError("precision conversion kernel launch");
}

template <typename In>
Status LaunchFor(DType out_type, const void* in, void* out, int64_t n, const Params& p,
                 cudaStream_t s) {
  switch (out_type) {
    case DType::kFloat32:
      return Launch<In, float>(in, out, n, p, s);
    case DType::kFloat16:
      return Launch<In, __half>(in, out, n, p, s);
    case DType::kBFloat16:
      return Launch<In, __nv_bfloat16>(in, out, n, p, s);
    case DType::kFloat8E4M3:
      return Launch<In, __nv_fp8_storage_t>(in, out, n, p, s);
    case DType::kUint8:
      break;
  }
  return InvalidArgumentError("conversion output must be a float type");
}

}  // namespace

Status CudaDeviceAvailable() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return UnavailableError(std::string("no usable CUDA driver: ") + cudaGetErrorString(e));
  }
  if (count == 0) return UnavailableError("no CUDA device present");
  return Status::Ok();
}

Status ConvertOnDevice(const void* device_in, DType in_type, void* device_out, DType out_type,
                       int64_t count, const Normalization& norm, void* stream) {
  ZENITH_RETURN_IF_ERROR(ValidateConversion(in_type, out_type, count, norm));
  if (count == 0) return Status::Ok();
  Params p{};
  p.scale = norm.scale;
  p.channels = static_cast<int>(norm.mean.size());
  p.channel_stride = norm.channel_stride;
  for (int c = 0; c < p.channels; ++c) {
    p.mean[c] = norm.mean[c];
    p.inv_std[c] = norm.inv_std[c];
  }
  auto s = static_cast<cudaStream_t>(stream);
  if (in_type == DType::kUint8)
    return LaunchFor<uint8_t>(out_type, device_in, device_out, count, p, s);
  return LaunchFor<float>(out_type, device_in, device_out, count, p, s);
}

}  // namespace zenith::runtime::cuda
