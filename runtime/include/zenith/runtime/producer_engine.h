// The data plane's engine: one thread reads this rank's shard (Batcher), packs each batch
// straight into a free buffer of the shared-memory channel and publishes it. Used by the
// zenith-runtime sidecar and, in-process, by the Python Loader. It records samples and bytes,
// batch assembly latency, queue depth, the trainers' wait and its own stall waiting for buffers.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "zenith/common/status.h"
#include "zenith/runtime/batcher.h"
#include "zenith/runtime/channel_producer.h"
#include "zenith/runtime/file_reader.h"

namespace zenith::runtime {

struct EngineOptions {
  DatasetOptions dataset;
  BatchingOptions batching;
  ChannelOptions channel;  // slot_bytes 0: twice the first batch (at least 64 KiB)
  FileReaderOptions reader;
};

class ProducerEngine {
 public:
  // Lists nothing and opens nothing yet; Start does the work on the engine thread.
  ProducerEngine(EngineOptions options, TelemetryRegistry& telemetry);
  ~ProducerEngine();  // Stop()

  Status Start();
  // Asks the thread to stop and joins it; consumers see "the producer stopped".
  void Stop();
  // Waits for the thread to finish on its own (every epoch done, or a failure).
  Status Wait();

  // The segment's path once the channel exists (empty before).
  std::string channel_path() const;
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  bool done() const { return done_.load(std::memory_order_acquire); }
  // OK while running or after a clean finish; the failure otherwise.
  Status status() const;

 private:
  void Run();
  Status Produce();

  EngineOptions options_;
  TelemetryRegistry& telemetry_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  Status status_;
  std::string path_;
  std::unique_ptr<ChannelProducer> channel_;
};

}  // namespace zenith::runtime
