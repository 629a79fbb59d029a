#include "zenith/runtime/options.h"

namespace zenith::runtime {

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"source", "dataset file, directory or glob"},
      {"format", "auto, raw, tfrecord, wds or npy (default auto: by extension)"},
      {"batch-size", "samples per batch (default 32)"},
      {"shuffle-seed", "seed of the per-epoch shuffle (default 0)"},
      {"prefetch", "batches in flight (default 4)"},
      {"shm-dir", "directory of the shared-memory segment (default /dev/shm)"},
  };
  return keys;
}

Result<Options> LoadOptions(const common::Config& config) {
  Options o;
  ZENITH_ASSIGN_OR_RETURN(o.source, config.String("source", ""));
  ZENITH_ASSIGN_OR_RETURN(
      o.format, config.Enum("format", o.format, {"auto", "raw", "tfrecord", "wds", "npy"}));
  ZENITH_ASSIGN_OR_RETURN(o.batch_size, config.Int("batch-size", o.batch_size, 1, 1 << 24));
  ZENITH_ASSIGN_OR_RETURN(int64_t seed, config.Int("shuffle-seed", 0, 0));
  o.shuffle_seed = static_cast<uint64_t>(seed);
  ZENITH_ASSIGN_OR_RETURN(o.prefetch, config.Int("prefetch", o.prefetch, 1, 1024));
  ZENITH_ASSIGN_OR_RETURN(o.shm_dir, config.String("shm-dir", o.shm_dir));
  return o;
}

}  // namespace zenith::runtime
