#include "zenith/runtime/options.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "zenith/runtime/producer_engine.h"

namespace zenith::runtime {

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"source", "dataset file, directory or glob (comma-separated for several)"},
      {"format", "auto, raw, tfrecord, wds or npy (default auto: by extension)"},
      {"batch-size", "samples per batch (default 32)"},
      {"shuffle-seed", "seed of the per-epoch shuffle (default 0)"},
      {"prefetch", "finished batches queued to each consumer (default 4)"},
      {"shm-dir", "directory of the shared-memory segment, or memfd (default /dev/shm)"},
      {"record-size", "raw format: bytes per record"},
      {"record-dtype", "raw format: NumPy dtype of a record's elements (default |u1)"},
      {"record-shape", "raw format: shape of a record, e.g. 3,32,32 (default: flat)"},
      {"on-error", "fail or skip bad input (default fail)"},
      {"rank", "this worker's rank (default: RANK from the environment, else 0)"},
      {"world-size", "number of workers (default: WORLD_SIZE from the environment, else 1)"},
      {"shuffle", "shuffle files and samples each epoch (default true)"},
      {"shuffle-buffer", "samples held by the shuffle buffer (default 1024)"},
      {"epochs", "epochs to deliver, 0 for no end (default 1)"},
      {"last-batch", "keep, drop or pad the last short batch of an epoch (default keep)"},
      {"resume-epoch", "epoch to start from (default 0)"},
      {"resume-step", "batches of resume-epoch already delivered (default 0)"},
      {"channel-name", "name of the segment file <shm-dir>/<name>.zenith (default zenith)"},
      {"slots", "batch buffers in the segment (default 16)"},
      {"slot-bytes", "bytes per batch buffer (default 0: twice the first batch)"},
      {"max-consumers", "trainer processes that may attach at once (default 8)"},
      {"io",
       "auto (io_uring, else pread threads), pread, or mmap (files mapped: a sample is copied "
       "once from the page cache; for datasets that fit in memory and do not change) (default "
       "auto)"},
      {"io-map-keep-bytes",
       "io mmap: bytes of file mappings kept from one epoch to the next, least recently used "
       "dropped first (default -1: a quarter of the machine's memory; 0: unmap each file after "
       "reading it)"},
      {"queue-depth", "reads in flight (default 32)"},
      {"io-async-bytes",
       "io_uring, buffered files: reads of at least this many bytes are copied by io_uring's "
       "worker threads, on several cores (default 0: always by the reading thread)"},
      {"decode-threads",
       "threads decoding files ahead, order kept (default -1: half the CPUs, at most 4, none "
       "with 2 CPUs or fewer; 0: none)"},
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
  ZENITH_ASSIGN_OR_RETURN(o.record_size, config.Int("record-size", 0, 0, int64_t{1} << 40));
  ZENITH_ASSIGN_OR_RETURN(o.record_dtype, config.String("record-dtype", o.record_dtype));
  ZENITH_ASSIGN_OR_RETURN(auto shape, config.StringList("record-shape", {}));
  for (const std::string& d : shape) {
    char* end = nullptr;
    const long long v = std::strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end != '\0' || v <= 0) {
      return InvalidArgumentError("'record-shape' (" + config.SourceOf("record-shape") + "): '" +
                                  d + "' is not a positive integer");
    }
    o.record_shape.push_back(v);
  }
  ZENITH_ASSIGN_OR_RETURN(o.on_error, config.Enum("on-error", o.on_error, {"fail", "skip"}));
  ZENITH_ASSIGN_OR_RETURN(o.rank, config.Int("rank", -1, -1, 1 << 20));
  ZENITH_ASSIGN_OR_RETURN(o.world_size, config.Int("world-size", -1, -1, 1 << 20));
  ZENITH_ASSIGN_OR_RETURN(o.shuffle, config.Bool("shuffle", o.shuffle));
  ZENITH_ASSIGN_OR_RETURN(o.shuffle_buffer,
                          config.Int("shuffle-buffer", o.shuffle_buffer, 0, 1 << 24));
  ZENITH_ASSIGN_OR_RETURN(o.epochs, config.Int("epochs", o.epochs, 0));
  ZENITH_ASSIGN_OR_RETURN(o.last_batch,
                          config.Enum("last-batch", o.last_batch, {"keep", "drop", "pad"}));
  ZENITH_ASSIGN_OR_RETURN(o.resume_epoch, config.Int("resume-epoch", 0, 0));
  ZENITH_ASSIGN_OR_RETURN(o.resume_step, config.Int("resume-step", 0, 0));
  ZENITH_ASSIGN_OR_RETURN(o.channel_name, config.String("channel-name", o.channel_name));
  if (o.channel_name.empty() || o.channel_name.find('/') != std::string::npos) {
    return InvalidArgumentError("'channel-name' (" + config.SourceOf("channel-name") + "): '" +
                                o.channel_name + "' must be a non-empty name without '/'");
  }
  ZENITH_ASSIGN_OR_RETURN(o.slots, config.Int("slots", o.slots, 1, 1 << 16));
  ZENITH_ASSIGN_OR_RETURN(o.slot_bytes, config.Int("slot-bytes", 0, 0, int64_t{1} << 36));
  ZENITH_ASSIGN_OR_RETURN(o.max_consumers, config.Int("max-consumers", o.max_consumers, 1, 256));
  ZENITH_ASSIGN_OR_RETURN(o.io, config.Enum("io", o.io, {"auto", "pread", "mmap"}));
  ZENITH_ASSIGN_OR_RETURN(o.io_map_keep_bytes, config.Int("io-map-keep-bytes", o.io_map_keep_bytes,
                                                          -1, int64_t{1} << 50));
  ZENITH_ASSIGN_OR_RETURN(o.queue_depth, config.Int("queue-depth", o.queue_depth, 1, 4096));
  ZENITH_ASSIGN_OR_RETURN(o.io_async_bytes,
                          config.Int("io-async-bytes", o.io_async_bytes, 0, int64_t{1} << 40));
  ZENITH_ASSIGN_OR_RETURN(o.decode_threads, config.Int("decode-threads", o.decode_threads, -1, 64));
  if (o.epochs != 0 && o.resume_epoch >= o.epochs) {
    return InvalidArgumentError("resume-epoch " + std::to_string(o.resume_epoch) +
                                " is not below epochs " + std::to_string(o.epochs));
  }
  return o;
}

Result<EngineOptions> ToEngineOptions(
    const Options& o, const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  if (o.source.empty()) return InvalidArgumentError("source: no dataset given");
  EngineOptions e;
  ZENITH_ASSIGN_OR_RETURN(e.dataset.files, ListDatasetFiles(o.source));
  e.dataset.format = o.format;
  e.dataset.format_options.record_size = static_cast<uint64_t>(o.record_size);
  e.dataset.format_options.raw_dtype = o.record_dtype;
  e.dataset.format_options.raw_shape = o.record_shape;
  e.dataset.skip_errors = o.on_error == "skip";
  ZENITH_ASSIGN_OR_RETURN(e.dataset.shard, ResolveShard(static_cast<int>(o.rank),
                                                        static_cast<int>(o.world_size), getenv));
  e.dataset.seed = o.shuffle_seed;
  e.dataset.shuffle = o.shuffle;
  e.dataset.shuffle_buffer = static_cast<std::size_t>(o.shuffle_buffer);
  e.batching.batch_size = static_cast<std::size_t>(o.batch_size);
  e.batching.last = o.last_batch == "drop"  ? LastBatch::kDrop
                    : o.last_batch == "pad" ? LastBatch::kPad
                                            : LastBatch::kKeep;
  e.batching.epochs = static_cast<uint64_t>(o.epochs);
  e.batching.start_epoch = static_cast<uint64_t>(o.resume_epoch);
  e.batching.start_step = static_cast<uint64_t>(o.resume_step);
  e.channel.dir = o.shm_dir;
  e.channel.name = o.channel_name;
  e.channel.slots = static_cast<uint32_t>(o.slots);
  e.channel.slot_bytes = static_cast<uint64_t>(o.slot_bytes);
  e.channel.max_consumers = static_cast<uint32_t>(o.max_consumers);
  e.channel.per_consumer_depth = static_cast<uint32_t>(o.prefetch);
  e.reader.force_pread = o.io == "pread";
  e.dataset.source.map = o.io == "mmap";
  if (e.dataset.source.map && o.io_map_keep_bytes != 0) {
    const uint64_t keep = o.io_map_keep_bytes > 0
                              ? static_cast<uint64_t>(o.io_map_keep_bytes)
                              : static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                                    static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 4;
    e.dataset.source.map_cache = std::make_shared<MappingCache>(keep);
  }
  e.reader.queue_depth = static_cast<unsigned>(o.queue_depth);
  e.reader.async_min_bytes = static_cast<std::size_t>(o.io_async_bytes);
  // Auto: decode threads only pay with cores to spare beside the engine and the trainers; on a
  // 2-CPU machine they cost more CPU (handing samples between cores) than they save.
  const unsigned cpus = std::thread::hardware_concurrency();
  e.dataset.decode_threads = o.decode_threads >= 0 ? static_cast<unsigned>(o.decode_threads)
                             : cpus > 2            ? std::min(cpus / 2, 4u)
                                                   : 0;
  return e;
}

}  // namespace zenith::runtime
