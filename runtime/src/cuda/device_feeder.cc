#include "zenith/runtime/cuda/device_feeder.h"

#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "cuda_status.h"

namespace zenith::runtime::cuda {
namespace {

cudaStream_t AsStream(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t AsEvent(void* e) { return static_cast<cudaEvent_t>(e); }

Status NewEvent(void** out, const std::string& what) {
  cudaEvent_t e = nullptr;
  ZENITH_RETURN_IF_ERROR(
      CudaStatus(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "creating " + what));
  *out = e;
  return Status::Ok();
}

std::string Named(const ChannelConsumer::Batch& b) {
  return "batch seq " + std::to_string(b.seq) + " (slot " + std::to_string(b.slot) + ")";
}

}  // namespace

Result<std::unique_ptr<DeviceFeeder>> DeviceFeeder::Create(ChannelConsumer& consumer,
                                                           DeviceFeederOptions options) {
  if (options.buffers < 1) {
    return InvalidArgumentError("DeviceFeeder needs at least one device buffer, got " +
                                std::to_string(options.buffers));
  }
  if (options.conversion) {
    // The input type is known only per batch; check what does not depend on it now.
    ZENITH_RETURN_IF_ERROR(
        ValidateConversion(DType::kUint8, options.conversion->to, 0, options.conversion->norm));
  }
  ZENITH_RETURN_IF_ERROR(CudaDeviceAvailable());
  auto feeder = std::unique_ptr<DeviceFeeder>(new DeviceFeeder(consumer, std::move(options)));
  ZENITH_RETURN_IF_ERROR(feeder->Init());
  return feeder;
}

Status DeviceFeeder::Init() {
  std::span<std::byte> segment = consumer_.segment();
  Result<HostRegistration> reg = HostRegistration::Register(segment.data(), segment.size());
  if (!reg.ok()) {
    return Status(reg.status().code(),
                  "registering the channel segment with CUDA: " + reg.status().message());
  }
  registration_.emplace(std::move(*reg));

  if (options_.stream != nullptr) {
    stream_ = options_.stream;
  } else {
    cudaStream_t s = nullptr;
    ZENITH_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                                      "creating the feeder's stream"));
    stream_ = s;
    own_stream_ = true;
  }

  const uint64_t max_in =
      options_.max_batch_bytes != 0 ? options_.max_batch_bytes : consumer_.header().slot_bytes;
  ring_.resize(options_.buffers);
  for (size_t i = 0; i < ring_.size(); ++i) {
    Buffer& b = ring_[i];
    const std::string name = "device buffer " + std::to_string(i);
    b.staging_bytes = max_in;
    ZENITH_RETURN_IF_ERROR(
        CudaStatus(cudaMalloc(&b.staging, max_in),
                   "allocating " + name + " (" + std::to_string(max_in) + " bytes)"));
    if (options_.conversion) {
      // Worst case: every input byte a uint8 element.
      b.output_bytes = max_in * DTypeSize(options_.conversion->to);
      ZENITH_RETURN_IF_ERROR(CudaStatus(
          cudaMalloc(&b.output, b.output_bytes),
          "allocating the converted " + name + " (" + std::to_string(b.output_bytes) + " bytes)"));
    }
    ZENITH_RETURN_IF_ERROR(NewEvent(&b.copied, "the copy event of " + name));
    ZENITH_RETURN_IF_ERROR(NewEvent(&b.ready, "the ready event of " + name));
    ZENITH_RETURN_IF_ERROR(NewEvent(&b.recycled, "the recycle event of " + name));
  }
  return Status::Ok();
}

DeviceFeeder::~DeviceFeeder() {
  // The copies read the segment: they end before its buffers go back or it is unregistered.
  if (stream_ != nullptr) cudaStreamSynchronize(AsStream(stream_));
  for (const PendingRelease& p : pending_) consumer_.Release(p.host);
  pending_.clear();
  for (Buffer& b : ring_) {
    if (b.recycle_pending) cudaEventSynchronize(AsEvent(b.recycled));
    if (b.staging) cudaFree(b.staging);
    if (b.output) cudaFree(b.output);
    for (void* e : {b.copied, b.ready, b.recycled}) {
      if (e) cudaEventDestroy(AsEvent(e));
    }
  }
  if (own_stream_) cudaStreamDestroy(AsStream(stream_));
  registration_.reset();
}

Status DeviceFeeder::ReleaseCopied() {
  while (!pending_.empty()) {
    const cudaError_t e = cudaEventQuery(AsEvent(pending_.front().copied));
    if (e == cudaErrorNotReady) return Status::Ok();
    if (e != cudaSuccess) {
      cudaGetLastError();
      return CudaStatus(e, "waiting for the copy of " + Named(pending_.front().host));
    }
    consumer_.Release(pending_.front().host);
    pending_.pop_front();
  }
  return Status::Ok();
}

Status DeviceFeeder::Drain() {
  ZENITH_RETURN_IF_ERROR(
      CudaStatus(cudaStreamSynchronize(AsStream(stream_)), "waiting for the feeder's stream"));
  return ReleaseCopied();
}

Result<DeviceBatch> DeviceFeeder::Submit(const ChannelConsumer::Batch& batch) {
  // Refused before any copy: the host batch goes straight back.
  auto refuse = [&](const Status& s) {
    consumer_.Release(batch);
    return Status(s.code(), Named(batch) + ": " + s.message());
  };
  Status polled = ReleaseCopied();
  if (!polled.ok()) return refuse(polled);
  Result<DeviceTensorPlan> plan = PlanDeviceTensor(batch.header(), options_.conversion);
  if (!plan.ok()) return refuse(plan.status());
  const uint64_t staging_bytes = ring_.front().staging_bytes;
  if (plan->in_bytes > staging_bytes ||
      (plan->convert && plan->out_bytes > ring_.front().output_bytes)) {
    return refuse(ResourceExhaustedError(
        "tensor of " + std::to_string(plan->in_bytes) + " bytes (" +
        std::to_string(plan->out_bytes) + " converted) does not fit a device buffer of " +
        std::to_string(staging_bytes) + " (raise max_batch_bytes)"));
  }
  int index = -1;
  for (size_t k = 0; k < ring_.size(); ++k) {
    const int i = static_cast<int>((next_ + k) % ring_.size());
    if (!ring_[i].lent) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    return refuse(ResourceExhaustedError("all " + std::to_string(ring_.size()) +
                                         " device buffers are lent; Recycle one first"));
  }
  Buffer& b = ring_[index];
  cudaStream_t stream = AsStream(stream_);
  if (b.recycle_pending) {
    // GPU-side wait: the trainer's reads of the old contents come before the refill.
    Status s = CudaStatus(cudaStreamWaitEvent(stream, AsEvent(b.recycled), 0),
                          "ordering the refill of device buffer " + std::to_string(index));
    if (!s.ok()) return refuse(s);
    b.recycle_pending = false;
  }
  Status copy =
      CopyToDeviceAsync(b.staging, batch.data + plan->data_offset, plan->in_bytes, stream);
  if (!copy.ok()) return refuse(copy);
  Status recorded =
      CudaStatus(cudaEventRecord(AsEvent(b.copied), stream),
                 "recording the copy event of device buffer " + std::to_string(index));
  if (!recorded.ok()) {
    // Without an event to poll, wait for the copy here before giving the batch back.
    cudaStreamSynchronize(stream);
    return refuse(recorded);
  }
  // From here the copy may still be reading the segment: the batch goes back once it is done.
  pending_.push_back({batch, b.copied});
  auto failed = [&](const Status& s) {
    return Status(s.code(), Named(batch) + ": " + s.message());
  };

  void* out = b.staging;
  if (plan->convert) {
    Status s = ConvertOnDevice(b.staging, plan->in_type, b.output, plan->out_type, plan->elements,
                               options_.conversion->norm, stream);
    if (!s.ok()) return failed(s);
    out = b.output;
  }
  Status ready = CudaStatus(cudaEventRecord(AsEvent(b.ready), stream),
                            "recording the ready event of device buffer " + std::to_string(index));
  if (!ready.ok()) return failed(ready);
  b.lent = true;
  next_ = (index + 1) % static_cast<int>(ring_.size());

  DeviceBatch d;
  d.buffer = index;
  d.seq = batch.seq;
  d.epoch = batch.header().epoch;
  d.step = batch.header().step;
  d.data = out;
  d.dtype = plan->out_type;
  d.shape = std::move(plan->shape);
  d.bytes = plan->out_bytes;
  d.ready = b.ready;
  d.stream = stream_;
  return d;
}

int DeviceFeeder::free_buffers() const {
  int n = 0;
  for (const Buffer& b : ring_) n += b.lent ? 0 : 1;
  return n;
}

Status DeviceFeeder::Recycle(const DeviceBatch& batch, void* stream) {
  if (batch.buffer < 0 || batch.buffer >= static_cast<int>(ring_.size()) ||
      !ring_[batch.buffer].lent) {
    return InvalidArgumentError("recycling device buffer " + std::to_string(batch.buffer) +
                                " (batch seq " + std::to_string(batch.seq) +
                                "), which is not lent");
  }
  Buffer& b = ring_[batch.buffer];
  cudaStream_t s = AsStream(stream != nullptr ? stream : stream_);
  ZENITH_RETURN_IF_ERROR(CudaStatus(cudaEventRecord(AsEvent(b.recycled), s),
                                    "recycling device buffer " + std::to_string(batch.buffer) +
                                        " (batch seq " + std::to_string(batch.seq) + ")"));
  b.recycle_pending = true;
  b.lent = false;
  return ReleaseCopied();
}

}  // namespace zenith::runtime::cuda
