// The trainer's GPU path: takes batches from a ChannelConsumer and puts them on the device.
// The whole shared-memory segment is page-locked once (cudaHostRegister), so each batch is
// copied straight from the sidecar's buffer to a device buffer with no host copy, then
// optionally converted (fp16/bf16/fp8 with per-channel normalisation). It must never give a
// host batch back to the producer before the copy out of it has finished on the GPU.
// Single-threaded: call it from the thread that owns the consumer. No CUDA headers needed.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/cuda/device_tensor_plan.h"
#include "zenith/runtime/cuda/host_memory.h"
#include "zenith/runtime/cuda/precision.h"

namespace zenith::runtime::cuda {

struct DeviceFeederOptions {
  int buffers = 2;         // device buffers in the ring: 2 double-buffers copy against compute
  void* stream = nullptr;  // a cudaStream_t to enqueue on; null: the feeder makes its own
  std::optional<DeviceConversion> conversion;  // none: the batch's tensor as it is
  uint64_t max_batch_bytes = 0;  // largest tensor a batch holds; 0: the channel's slot size
};

// A batch on the device, lent to the trainer until Recycle.
struct DeviceBatch {
  int buffer = -1;   // which ring buffer holds it
  uint64_t seq = 0;  // the channel batch it came from
  uint64_t epoch = 0;
  uint64_t step = 0;
  void* data = nullptr;  // device pointer, complete once `ready` fires
  DType dtype = DType::kUint8;
  std::vector<int64_t> shape;  // [samples, *per-sample shape]
  uint64_t bytes = 0;
  void* ready = nullptr;   // cudaEvent_t: wait on it (cudaStreamWaitEvent) before reading `data`
  void* stream = nullptr;  // the cudaStream_t it was produced on
};

class DeviceFeeder {
 public:
  // Registers `consumer`'s segment and allocates the ring. UNAVAILABLE (with the reason) when
  // the build has no CUDA or the machine no device. `consumer` must outlive the feeder.
  static Result<std::unique_ptr<DeviceFeeder>> Create(ChannelConsumer& consumer,
                                                      DeviceFeederOptions options);
  // Waits for the copies still queued and gives their host batches back.
  ~DeviceFeeder();
  DeviceFeeder(const DeviceFeeder&) = delete;
  DeviceFeeder& operator=(const DeviceFeeder&) = delete;

  // Starts the copy (and conversion) of `batch` into a free ring buffer. The feeder owns the
  // host batch from here, whatever the result: it gives it back to the producer once the copy
  // has finished (polled by ReleaseCopied, which every Submit calls first), or at once when the
  // batch is refused before any copy. RESOURCE_EXHAUSTED when every ring buffer is still lent.
  Result<DeviceBatch> Submit(const ChannelConsumer::Batch& batch);

  // The trainer is done with `batch` once the work queued so far on `stream` (a cudaStream_t;
  // null: the feeder's stream) ends; the next copy into its buffer waits for that on the GPU,
  // never on the host. Gives back the host batches already copied, as Submit does.
  Status Recycle(const DeviceBatch& batch, void* stream = nullptr);

  // Gives back every host batch whose copy has finished (cudaEventQuery, in submission order);
  // never blocks.
  Status ReleaseCopied();
  // Waits for every queued copy, then gives every host batch back.
  Status Drain();

  // Host batches still held for an unfinished copy.
  size_t pending_host_batches() const { return pending_.size(); }
  void* stream() const { return stream_; }
  int buffers() const { return static_cast<int>(ring_.size()); }
  // Ring buffers not lent: Submit succeeds only when this is above zero.
  int free_buffers() const;

 private:
  struct Buffer {
    void* staging = nullptr;  // the bytes as copied; the output itself without a conversion
    void* output = nullptr;   // the converted tensor (conversion only)
    uint64_t staging_bytes = 0;
    uint64_t output_bytes = 0;
    void* copied = nullptr;    // cudaEvent_t recorded after the host → device copy
    void* ready = nullptr;     // cudaEvent_t recorded after the conversion
    void* recycled = nullptr;  // cudaEvent_t recorded by Recycle on the trainer's stream
    bool lent = false;
    bool recycle_pending = false;  // `recycled` was recorded: a refill must wait for it
  };
  struct PendingRelease {
    ChannelConsumer::Batch host;
    void* copied;  // the buffer's copy event (re-recorded only by later copies: still safe)
  };

  DeviceFeeder(ChannelConsumer& consumer, DeviceFeederOptions options)
      : consumer_(consumer), options_(std::move(options)) {}
  Status Init();

  ChannelConsumer& consumer_;
  DeviceFeederOptions options_;
  std::optional<HostRegistration> registration_;
  void* stream_ = nullptr;
  bool own_stream_ = false;
  std::vector<Buffer> ring_;
  int next_ = 0;
  std::deque<PendingRelease> pending_;
};

}  // namespace zenith::runtime::cuda
