// Turns one rank's sample streams into batches, epoch after epoch: batch_size samples each,
// never crossing an epoch; the last short batch of an epoch is kept, dropped (drop_last) or
// padded to full size by repeating its own samples (pad). Resuming from (epoch, step) replays
// the deterministic order and skips the batches already delivered. PackBatch writes a batch in
// the layout of batch_layout.h into any buffer (a shared-memory slot).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/batch_layout.h"
#include "zenith/runtime/dataset.h"

namespace zenith::runtime {

enum class LastBatch { kKeep, kDrop, kPad };

struct BatchingOptions {
  std::size_t batch_size = 32;
  LastBatch last = LastBatch::kKeep;
  uint64_t epochs = 1;  // 0: forever
  uint64_t start_epoch = 0;
  uint64_t start_step = 0;
};

struct BatchPlan {
  uint64_t epoch = 0;
  uint64_t step = 0;
  std::vector<Sample> samples;  // size() samples; the first `real` are not padding
  std::size_t real = 0;
};

class Batcher {
 public:
  Batcher(DatasetOptions dataset, BatchingOptions batching, FileReader& reader,
          DatasetStats& stats);
  // The next batch into `out` (its sample buffers are reused); false after the last epoch.
  Result<bool> Next(BatchPlan& out);

 private:
  DatasetOptions dataset_;
  BatchingOptions batching_;
  FileReader& reader_;
  DatasetStats& stats_;
  uint64_t epoch_;
  uint64_t step_ = 0;
  std::unique_ptr<SampleStream> stream_;
  bool resumed_ = false;
  bool end_of_epoch_ = false;
};

// Bytes PackBatch needs for `plan`.
uint64_t PackedBatchBytes(const BatchPlan& plan);
// Writes `plan` into `dest`; an error when it does not fit or its fixed-shape samples disagree
// (naming the files). Returns the bytes written.
Result<uint64_t> PackBatch(const BatchPlan& plan, const std::vector<std::string>& files,
                           std::span<std::byte> dest);

}  // namespace zenith::runtime
