// The consumer-side GPU path: which batches the device path takes (host-only checks, run
// everywhere), and, with a CUDA device, a real channel's uint8 batches copied from the
// registered segment and converted on the device, bit for bit against the CPU reference, over
// more batches than the device ring holds. Without a device those cases say SKIPPED and why.
#include "zenith/runtime/cuda/device_feeder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "zenith/runtime/batcher.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/channel_producer.h"
#include "zenith/runtime/cuda/device_tensor_plan.h"

#ifdef ZENITH_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace zenith::runtime::cuda {
namespace {

// A batch of 4 samples of uint8 [3, 8, 8] (channels first).
constexpr uint32_t kSamples = 4;
constexpr int64_t kChannels = 3, kHeight = 8, kWidth = 8;
constexpr int64_t kSampleBytes = kChannels * kHeight * kWidth;

BatchHeader TensorHeader(const char* descr, uint64_t data_bytes) {
  BatchHeader h{};
  h.magic = BatchHeader::kMagic;
  h.version = BatchHeader::kVersion;
  h.epoch = 2;
  h.step = 7;
  h.num_samples = kSamples;
  h.real_samples = kSamples;
  h.num_fields = 1;
  h.is_tensor = 1;
  std::strncpy(h.dtype, descr, sizeof(h.dtype) - 1);
  h.ndim = 3;
  h.shape[0] = kChannels;
  h.shape[1] = kHeight;
  h.shape[2] = kWidth;
  h.data_offset = 256;
  h.data_bytes = data_bytes;
  return h;
}

Normalization ImagenetChw() {
  Normalization n;
  n.scale = 1.0f / 255;
  n.mean = {0.485f, 0.456f, 0.406f};
  n.inv_std = {1 / 0.229f, 1 / 0.224f, 1 / 0.225f};
  n.channel_stride = kHeight * kWidth;
  return n;
}

TEST(DeviceTensorPlanTest, Uint8TensorWithConversion) {
  auto plan = PlanDeviceTensor(TensorHeader("|u1", kSamples * kSampleBytes),
                               DeviceConversion{DType::kBFloat16, ImagenetChw()});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->in_type, DType::kUint8);
  EXPECT_EQ(plan->out_type, DType::kBFloat16);
  EXPECT_TRUE(plan->convert);
  EXPECT_EQ(plan->shape, (std::vector<int64_t>{kSamples, kChannels, kHeight, kWidth}));
  EXPECT_EQ(plan->elements, kSamples * kSampleBytes);
  EXPECT_EQ(plan->in_bytes, uint64_t{kSamples * kSampleBytes});
  EXPECT_EQ(plan->out_bytes, uint64_t{kSamples * kSampleBytes * 2});
  EXPECT_EQ(plan->data_offset, 256u);
}

TEST(DeviceTensorPlanTest, WithoutConversionTheTensorKeepsItsType) {
  auto plan = PlanDeviceTensor(TensorHeader("<f4", kSamples * kSampleBytes * 4), std::nullopt);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->out_type, DType::kFloat32);
  EXPECT_FALSE(plan->convert);
  EXPECT_EQ(plan->out_bytes, plan->in_bytes);
}

TEST(DeviceTensorPlanTest, DtypeWithoutADeviceTypeIsRefusedNamingIt) {
  auto plan = PlanDeviceTensor(TensorHeader("<i8", kSamples * kSampleBytes * 8),
                               DeviceConversion{DType::kFloat16, {}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("'<i8'"), std::string::npos) << plan.status();
  EXPECT_NE(plan.status().message().find("epoch 2, step 7"), std::string::npos) << plan.status();
}

TEST(DeviceTensorPlanTest, ConversionTheKernelsDoNotDoIsRefused) {
  // fp16 input: the kernels read uint8 or fp32 only.
  auto plan = PlanDeviceTensor(TensorHeader("<f2", kSamples * kSampleBytes * 2),
                               DeviceConversion{DType::kBFloat16, {}});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("float16 to bfloat16"), std::string::npos)
      << plan.status();
  // A normalisation whose means and deviations disagree.
  Normalization bad = ImagenetChw();
  bad.inv_std.pop_back();
  plan = PlanDeviceTensor(TensorHeader("|u1", kSamples * kSampleBytes),
                          DeviceConversion{DType::kFloat16, bad});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("3 means but 2"), std::string::npos) << plan.status();
}

TEST(DeviceTensorPlanTest, PackedBytesAndLyingSizesAreRefused) {
  BatchHeader packed = TensorHeader("|u1", kSamples * kSampleBytes);
  packed.is_tensor = 0;
  auto plan = PlanDeviceTensor(packed, std::nullopt);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("not a tensor"), std::string::npos) << plan.status();

  plan = PlanDeviceTensor(TensorHeader("|u1", kSamples * kSampleBytes - 1), std::nullopt);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("767 data bytes"), std::string::npos) << plan.status();
}

// --- a real channel ---

class DeviceFeederTest : public ::testing::Test {
 protected:
  ChannelOptions Options() {
    ChannelOptions o;
    // memfd: shmem, as /dev/shm or a Memory emptyDir is; recent kernels may refuse long-term
    // pins (cudaHostRegister) of shared mappings of files on disk-backed filesystems.
    o.dir = "memfd";
    o.name = "feeder";
    o.slots = 4;
    o.slot_bytes = 4096;
    o.max_consumers = 1;
    o.per_consumer_depth = 2;
    o.liveness_interval = std::chrono::milliseconds(5);
    return o;
  }

  TelemetryRegistry telemetry_;
  TensorSpec spec_{"|u1", {kChannels, kHeight, kWidth}};
};

TEST_F(DeviceFeederTest, UnavailableWithoutADeviceSaysWhy) {
  if (CudaDeviceAvailable().ok()) {
    GTEST_SKIP() << "SKIPPED: a CUDA device is present; this case is for machines without one";
  }
  auto producer = ChannelProducer::Create(Options(), telemetry_);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ChannelConsumer::Error err;
  auto consumer = ChannelConsumer::Attach((*producer)->path(), &err);
  ASSERT_TRUE(consumer) << err.message;
  auto feeder = DeviceFeeder::Create(*consumer, {});
  ASSERT_FALSE(feeder.ok());
  EXPECT_EQ(feeder.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(feeder.status().message().empty());
}

#ifdef ZENITH_HAVE_CUDA

std::vector<uint8_t> BatchValues(uint64_t step) {
  std::vector<uint8_t> v(kSamples * kSampleBytes);
  std::mt19937_64 rng(step * 7919 + 1);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Packs batch `step` (BatchValues(step)) into `dest` as the sidecar would.
uint64_t WriteTensorBatch(std::span<std::byte> dest, uint64_t step, const TensorSpec* spec) {
  const std::vector<uint8_t> values = BatchValues(step);
  BatchPlan plan;
  plan.step = step;
  plan.real = kSamples;
  for (uint32_t i = 0; i < kSamples; ++i) {
    Sample s;
    s.spec = spec;
    s.offset = i * kSampleBytes;
    s.bytes.resize(kSampleBytes);
    std::memcpy(s.bytes.data(), values.data() + i * kSampleBytes, kSampleBytes);
    s.fields = {{"", kSampleBytes}};
    plan.samples.push_back(std::move(s));
  }
  return *PackBatch(plan, {"images.raw"}, dest);
}

// Runs `batches` batches through a channel and a feeder of `ring` device buffers; each device
// result must equal the CPU reference bit for bit, in order.
void FeedAndCheck(const ChannelOptions& options, TelemetryRegistry& telemetry,
                  const TensorSpec* spec, DeviceFeederOptions feeder_options, uint64_t batches) {
  auto producer = ChannelProducer::Create(options, telemetry);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ChannelProducer& p = **producer;
  ChannelConsumer::Error err;
  auto consumer = ChannelConsumer::Attach(p.path(), &err);
  ASSERT_TRUE(consumer) << err.message;
  const int ring = feeder_options.buffers;
  const std::optional<DeviceConversion> conversion = feeder_options.conversion;
  auto created = DeviceFeeder::Create(*consumer, std::move(feeder_options));
  ASSERT_TRUE(created.ok()) << created.status();
  DeviceFeeder& feeder = **created;

  // Set when the consumer side gives up, so the producer thread never waits forever.
  std::atomic<bool> abort{false};
  const std::function<bool()> stop = [&] { return abort.load(); };
  std::thread producer_thread([&] {
    for (uint64_t step = 0; step < batches; ++step) {
      auto slot = p.Acquire(stop);
      if (!slot.ok()) return;
      p.Publish(*slot, WriteTensorBatch(p.Buffer(*slot), step, spec));
    }
    (void)p.Finish(stop);
  });

  const DType out_type = conversion ? conversion->to : DType::kUint8;
  const size_t out_size = DTypeSize(out_type);
  uint64_t checked = 0;
  auto check_oldest = [&](std::deque<DeviceBatch>& lent) {
    DeviceBatch d = std::move(lent.front());
    lent.pop_front();
    SCOPED_TRACE("batch step " + std::to_string(d.step));
    EXPECT_EQ(d.step, checked);
    EXPECT_EQ(d.dtype, out_type);
    EXPECT_EQ(d.shape, (std::vector<int64_t>{kSamples, kChannels, kHeight, kWidth}));
    const std::vector<uint8_t> in = BatchValues(d.step);
    std::vector<uint8_t> want(in.size() * out_size), got(want.size());
    if (conversion) {
      ASSERT_TRUE(ConvertOnHost(in.data(), DType::kUint8, want.data(), out_type,
                                static_cast<int64_t>(in.size()), conversion->norm)
                      .ok());
    } else {
      want = in;
    }
    ASSERT_EQ(d.bytes, got.size());
    ASSERT_EQ(cudaEventSynchronize(static_cast<cudaEvent_t>(d.ready)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(got.data(), d.data, got.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
    EXPECT_EQ(mismatches, 0u) << "bytes differ from the CPU reference";
    Status recycled = feeder.Recycle(d);
    ASSERT_TRUE(recycled.ok()) << recycled;
    ++checked;
  };

  std::deque<DeviceBatch> lent;
  uint64_t max_pending = 0;
  auto consume = [&] {
    for (;;) {
      if (feeder.free_buffers() == 0) {
        check_oldest(lent);
        if (::testing::Test::HasFatalFailure()) return;
      }
      ChannelConsumer::Batch b;
      err = consumer->Next(&b, std::chrono::seconds(10));
      if (err.code == ChannelConsumer::Code::kEndOfData) break;
      ASSERT_TRUE(err.ok()) << err.message;
      auto d = feeder.Submit(b);
      ASSERT_TRUE(d.ok()) << d.status();
      lent.push_back(std::move(*d));
      max_pending = std::max<uint64_t>(max_pending, feeder.pending_host_batches());
    }
    while (!lent.empty() && !::testing::Test::HasFatalFailure()) check_oldest(lent);
    Status drained = feeder.Drain();
    ASSERT_TRUE(drained.ok()) << drained;
    EXPECT_EQ(feeder.pending_host_batches(), 0u);
  };
  consume();
  abort = true;
  producer_thread.join();
  EXPECT_EQ(checked, batches);
  EXPECT_LE(max_pending, static_cast<uint64_t>(options.slots));
  std::printf("feeder: %llu batches through %d device buffers, at most %llu host batches held\n",
              static_cast<unsigned long long>(checked), ring,
              static_cast<unsigned long long>(max_pending));
}

TEST_F(DeviceFeederTest, CopiesAndConvertsMoreBatchesThanTheRingHolds) {
  Status gpu = CudaDeviceAvailable();
  if (!gpu.ok()) GTEST_SKIP() << "SKIPPED: " << gpu.message();
  const uint64_t batches = 12;  // 3x the channel's slots, 6x the device ring
  struct Case {
    std::optional<DeviceConversion> conversion;
    bool caller_stream;
  };
  Normalization hwc = ImagenetChw();
  hwc.channel_stride = 1;
  for (const Case& c :
       {Case{std::nullopt, false}, Case{DeviceConversion{DType::kFloat16, ImagenetChw()}, false},
        Case{DeviceConversion{DType::kBFloat16, ImagenetChw()}, true},
        Case{DeviceConversion{DType::kFloat8E4M3, hwc}, false},
        Case{DeviceConversion{DType::kFloat32, {}}, true}}) {
    SCOPED_TRACE(c.conversion ? std::string(DTypeName(c.conversion->to)) : "copy only");
    cudaStream_t stream = nullptr;
    if (c.caller_stream) {
      ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    }
    DeviceFeederOptions options;
    options.buffers = 2;
    options.stream = stream;
    options.conversion = c.conversion;
    FeedAndCheck(Options(), telemetry_, &spec_, std::move(options), batches);
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (HasFatalFailure()) return;
  }
}

TEST_F(DeviceFeederTest, RefusedBatchesGoBackAndNameTheBatch) {
  Status gpu = CudaDeviceAvailable();
  if (!gpu.ok()) GTEST_SKIP() << "SKIPPED: " << gpu.message();
  auto producer = ChannelProducer::Create(Options(), telemetry_);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ChannelProducer& p = **producer;
  ChannelConsumer::Error err;
  auto consumer = ChannelConsumer::Attach(p.path(), &err);
  ASSERT_TRUE(consumer) << err.message;
  DeviceFeederOptions options;
  options.buffers = 1;
  options.conversion = DeviceConversion{DType::kFloat16, {}};
  auto feeder = DeviceFeeder::Create(*consumer, options);
  ASSERT_TRUE(feeder.ok()) << feeder.status();

  TensorSpec int64_spec{"<i8", {kSampleBytes / 8}};
  auto publish = [&](uint64_t step, const TensorSpec* spec) {
    auto slot = p.Acquire(nullptr);
    ASSERT_TRUE(slot.ok()) << slot.status();
    p.Publish(*slot, WriteTensorBatch(p.Buffer(*slot), step, spec));
  };
  publish(0, &int64_spec);
  publish(1, &spec_);
  ChannelConsumer::Batch b;
  ASSERT_TRUE(consumer->Next(&b, std::chrono::seconds(5)).ok());
  auto refused = (*feeder)->Submit(b);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("batch seq"), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("'<i8'"), std::string::npos) << refused.status();
  EXPECT_EQ((*feeder)->pending_host_batches(), 0u);  // given back at once

  ASSERT_TRUE(consumer->Next(&b, std::chrono::seconds(5)).ok());
  auto first = (*feeder)->Submit(b);
  ASSERT_TRUE(first.ok()) << first.status();
  publish(2, &spec_);
  ASSERT_TRUE(consumer->Next(&b, std::chrono::seconds(5)).ok());
  auto second = (*feeder)->Submit(b);  // the only device buffer is still lent
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted) << second.status();
  EXPECT_TRUE((*feeder)->Recycle(*first).ok());
  EXPECT_FALSE((*feeder)->Recycle(*first).ok());  // not lent any more
  EXPECT_TRUE((*feeder)->Drain().ok());
}

#endif  // ZENITH_HAVE_CUDA

}  // namespace
}  // namespace zenith::runtime::cuda
