// The sidecar side of the shared-memory channel (layout in channel_layout.h): creates the
// segment (a file in a directory such as /dev/shm or a Memory emptyDir, or a memfd), hands out
// free batch buffers, delivers finished batches to the least-loaded attached consumer, takes
// buffers back, and reclaims the buffers of a consumer that died or detached (batches it had
// not taken yet go to the others). Single-threaded: one producer thread calls everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/channel_layout.h"
#include "zenith/runtime/telemetry.h"

namespace zenith::runtime {

struct ChannelOptions {
  std::string dir = "/dev/shm";  // "memfd": an anonymous memfd (path /proc/<pid>/fd/<n>)
  std::string name = "zenith";   // the segment file is <dir>/<name>.zenith
  uint32_t slots = 16;           // batch buffers
  uint64_t slot_bytes = 8 << 20;
  uint32_t max_consumers = 8;
  uint32_t per_consumer_depth = 4;  // finished batches queued to one consumer at most
  std::chrono::milliseconds liveness_interval{20};
};

class ChannelProducer {
 public:
  static Result<std::unique_ptr<ChannelProducer>> Create(const ChannelOptions& options,
                                                         TelemetryRegistry& telemetry);
  ~ChannelProducer();  // stops (if still running), unmaps and removes the segment file

  // Where consumers attach.
  const std::string& path() const { return path_; }
  uint64_t slot_bytes() const { return header_->slot_bytes; }

  // Waits for a free buffer while serving consumers; returns its slot number, or an error
  // when `stop()` turns true (Cancelled).
  Result<uint32_t> Acquire(const std::function<bool()>& stop);
  std::span<std::byte> Buffer(uint32_t slot);
  // Queues a filled buffer for delivery and delivers what it can.
  void Publish(uint32_t slot, uint64_t bytes);
  // Delivers every queued batch (waiting for consumers), then tells consumers the data ended.
  Status Finish(const std::function<bool()>& stop);
  // Tells consumers the producer failed or stopped, with the reason they will see.
  void Fail(const std::string& reason);
  void Stop(const std::string& reason);

  // One round of service: take buffers back, check consumers, deliver. Returns whether any
  // progress was made. Exposed for tests.
  bool Serve();
  int attached() const;
  // Sum of the consumers' waits for a batch, in nanoseconds, over the segment's lifetime.
  uint64_t consumer_wait_nanos() const;
  std::size_t queued() const { return ready_.size(); }
  // Finished batches no trainer has taken yet: queued here or waiting in a consumer's ring.
  uint64_t depth() const;

 private:
  struct SeatView {
    bool active = false;
    uint32_t generation = 0;
    std::unique_ptr<SpscRingView<ChannelDescriptor>> full;  // we produce
    std::unique_ptr<SpscRingView<ChannelDescriptor>> free;  // we consume
    uint32_t outstanding = 0;  // buffers the consumer holds or has queued
  };
  static constexpr int32_t kNoOwner = -1;

  ChannelProducer(const ChannelOptions& options, TelemetryRegistry& telemetry)
      : options_(options), telemetry_(telemetry) {}
  Status Init();
  ChannelSeat& Seat(uint32_t i);
  void ResetSeatRings(uint32_t i);
  void Reclaim(uint32_t i, bool died);
  void CheckConsumers();
  bool CollectFree();
  bool Deliver();
  void Sleep(std::chrono::nanoseconds slice);
  void SetState(ProducerState state, const std::string& reason);

  ChannelOptions options_;
  TelemetryRegistry& telemetry_;
  std::string path_;
  bool unlink_on_close_ = false;
  int fd_ = -1;
  void* base_ = nullptr;
  std::size_t size_ = 0;
  ChannelHeader* header_ = nullptr;
  std::vector<SeatView> seats_;
  std::vector<int32_t> owner_;           // per slot: the seat holding it, or kNoOwner
  std::vector<uint32_t> free_;           // slots we may fill
  std::deque<ChannelDescriptor> ready_;  // filled, not yet delivered
  uint64_t seq_ = 0;
  uint32_t next_seat_ = 0;
  std::chrono::steady_clock::time_point last_check_{};
  bool closed_ = false;
  Counter* reclaimed_ = nullptr;
  Counter* consumer_deaths_ = nullptr;
  Gauge* consumers_gauge_ = nullptr;
};

}  // namespace zenith::runtime
