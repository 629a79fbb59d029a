// zenith-runtime's settings: what dataset to read, how to batch it, where the shared-memory
// channel lives. Parsing and validation only; the data plane takes the parsed struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/status.h"

namespace zenith::runtime {

struct Options {
  std::string source;           // file, directory or glob of the dataset
  std::string format = "auto";  // auto (by extension), raw, tfrecord, wds, npy
  int64_t batch_size = 32;
  uint64_t shuffle_seed = 0;
  int64_t prefetch = 4;  // batches in flight
  std::string shm_dir = "/dev/shm";
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

}  // namespace zenith::runtime
