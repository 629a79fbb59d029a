// zenith-runtime's settings: what dataset to read, how to shard, order and batch it, where the
// shared-memory channel lives. Parsing and validation only (every error names the key);
// ToEngineOptions turns them into the engine's options (listing files, resolving the shard).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/status.h"

namespace zenith::runtime {

struct EngineOptions;

struct Options {
  std::string source;           // file, directory or glob of the dataset (comma-separated)
  std::string format = "auto";  // auto (by extension), raw, tfrecord, wds, npy
  int64_t batch_size = 32;
  uint64_t shuffle_seed = 0;
  int64_t prefetch = 4;  // batches queued to each consumer
  std::string shm_dir = "/dev/shm";
  // Formats.
  int64_t record_size = 0;  // raw
  std::string record_dtype = "|u1";
  std::vector<int64_t> record_shape;
  std::string on_error = "fail";  // fail or skip
  // Sharding and order.
  int64_t rank = -1;  // -1: RANK from the environment
  int64_t world_size = -1;
  bool shuffle = true;
  int64_t shuffle_buffer = 1024;
  int64_t epochs = 1;               // 0: forever
  std::string last_batch = "keep";  // keep, drop or pad
  int64_t resume_epoch = 0;
  int64_t resume_step = 0;
  // Channel and reader.
  std::string channel_name = "zenith";
  int64_t slots = 16;
  int64_t slot_bytes = 0;  // 0: twice the first batch
  int64_t max_consumers = 8;
  // auto (io_uring, else pread), pread, or mmap (files mapped: one copy less from the page
  // cache; a file truncated while mapped is fatal)
  std::string io = "auto";
  int64_t io_map_keep_bytes = -1;  // io mmap: mappings kept across epochs (-1: RAM/4; 0: none)
  int64_t queue_depth = 32;
  int64_t io_async_bytes = 0;   // io_uring, buffered: reads this big go to its workers (0: none)
  int64_t decode_threads = -1;  // -1: half the CPUs (at most 4; 0 with <= 2); 0: none
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

// Lists the dataset, resolves rank and world size (flags, else RANK/WORLD_SIZE) and fills the
// engine's options.
Result<EngineOptions> ToEngineOptions(
    const Options& options,
    const std::function<std::optional<std::string>(const std::string&)>& getenv = nullptr);

}  // namespace zenith::runtime
