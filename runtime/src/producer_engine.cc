#include "zenith/runtime/producer_engine.h"

#include <chrono>

#include "zenith/common/log.h"

namespace zenith::runtime {
namespace {
uint64_t NanosSince(std::chrono::steady_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t)
          .count());
}
}  // namespace

ProducerEngine::ProducerEngine(EngineOptions options, TelemetryRegistry& telemetry)
    : options_(std::move(options)), telemetry_(telemetry) {}

ProducerEngine::~ProducerEngine() { Stop(); }

Status ProducerEngine::Start() {
  if (thread_.joinable()) return FailedPreconditionError("engine already started");
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ProducerEngine::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

Status ProducerEngine::Wait() {
  if (thread_.joinable()) thread_.join();
  return status();
}

std::string ProducerEngine::channel_path() const {
  std::lock_guard<std::mutex> lock(mu_);
  return path_;
}

Status ProducerEngine::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void ProducerEngine::Run() {
  Status st = Produce();
  if (!st.ok() && st.code() != StatusCode::kCancelled) {
    common::log::Error("data plane failed", {{"error", st}});
    if (!channel_) {
      // Failed before the first batch: still publish a (tiny) segment, so trainers that
      // attach learn why instead of waiting for a segment that never comes.
      ChannelOptions co = options_.channel;
      co.slots = 1;
      co.slot_bytes = 4096;
      auto ch = ChannelProducer::Create(co, telemetry_);
      if (ch.ok()) {
        channel_ = std::move(*ch);
        std::lock_guard<std::mutex> lock(mu_);
        path_ = channel_->path();
      }
    }
    if (channel_) channel_->Fail(st.message());
    ready_.store(channel_ != nullptr, std::memory_order_release);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = st.code() == StatusCode::kCancelled ? Status::Ok() : st;
  }
  // Keep the segment (and serve departures) until asked to stop, so consumers drain it.
  while (channel_ && !stop_.load(std::memory_order_acquire)) {
    channel_->Serve();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  done_.store(true, std::memory_order_release);
  channel_.reset();  // tells consumers the producer stopped, removes the segment
}

Status ProducerEngine::Produce() {
  ZENITH_ASSIGN_OR_RETURN(
      Counter * batches,
      telemetry_.AddCounter("zenith_runtime_batches_total", "Batches published to the channel"));
  ZENITH_ASSIGN_OR_RETURN(LatencyHistogram * assembly,
                          telemetry_.AddHistogram("zenith_runtime_batch_assembly_seconds",
                                                  "Time to read, shuffle and pack one batch"));
  ZENITH_ASSIGN_OR_RETURN(Gauge * depth,
                          telemetry_.AddGauge("zenith_runtime_queue_depth",
                                              "Finished batches not yet taken by a trainer"));
  ZENITH_ASSIGN_OR_RETURN(Counter * trainer_wait,
                          telemetry_.AddCounter("zenith_runtime_trainer_wait_nanoseconds_total",
                                                "Time trainers waited for a batch (starvation)"));
  ZENITH_ASSIGN_OR_RETURN(Counter * stall,
                          telemetry_.AddCounter("zenith_runtime_producer_stall_nanoseconds_total",
                                                "Time the producer waited for a free buffer"));
  ZENITH_ASSIGN_OR_RETURN(DatasetStats stats, DatasetStats::Register(telemetry_));
  ZENITH_ASSIGN_OR_RETURN(auto reader, FileReader::Create(options_.reader, telemetry_));
  const std::vector<std::string> files = options_.dataset.files;
  DatasetOptions dataset = options_.dataset;
  dataset.make_reader = [this] { return FileReader::Create(options_.reader, telemetry_); };
  Batcher batcher(std::move(dataset), options_.batching, *reader, stats);
  auto stop = [this] { return stop_.load(std::memory_order_acquire); };

  uint64_t waited_seen = 0;
  auto account_wait = [&] {
    const uint64_t w = channel_->consumer_wait_nanos();
    if (w > waited_seen) trainer_wait->Add(w - waited_seen);
    waited_seen = w;
  };

  BatchPlan plan;
  for (;;) {
    if (stop()) return CancelledError("stopped");
    auto started = std::chrono::steady_clock::now();
    ZENITH_ASSIGN_OR_RETURN(bool got, batcher.Next(plan));
    if (!got) break;
    if (!channel_) {
      const uint64_t need = PackedBatchBytes(plan);
      ChannelOptions co = options_.channel;
      if (co.slot_bytes == 0) co.slot_bytes = std::max<uint64_t>(2 * need, 64 << 10);
      ZENITH_ASSIGN_OR_RETURN(channel_, ChannelProducer::Create(co, telemetry_));
      {
        std::lock_guard<std::mutex> lock(mu_);
        path_ = channel_->path();
      }
      ready_.store(true, std::memory_order_release);
    }
    const uint64_t read_nanos = NanosSince(started);
    const auto wait_start = std::chrono::steady_clock::now();
    ZENITH_ASSIGN_OR_RETURN(uint32_t slot, channel_->Acquire(stop));
    stall->Add(NanosSince(wait_start));
    const auto pack_start = std::chrono::steady_clock::now();
    auto n = PackBatch(plan, files, channel_->Buffer(slot));
    if (!n.ok()) return n.status();
    assembly->Record(read_nanos + NanosSince(pack_start));
    channel_->Publish(slot, *n);
    batches->Add();
    depth->Set(static_cast<int64_t>(channel_->depth()));
    account_wait();
  }
  if (!channel_) {
    return FailedPreconditionError("the dataset produced no batch (every file empty or skipped)");
  }
  ZENITH_RETURN_IF_ERROR(channel_->Finish(stop));
  account_wait();
  common::log::Info("every epoch delivered", {{"epochs", options_.batching.epochs}});
  return Status::Ok();
}

}  // namespace zenith::runtime
