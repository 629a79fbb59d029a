// One rank's view of the dataset for one epoch: which files it reads (its shard), in which order
// (a shuffle decided by seed and epoch alone, so every rank agrees on it), and its samples in a
// shuffle-buffer order decided by (seed, epoch, rank). Bad input follows onError: fail returns
// the error; skip counts it, logs it once, and goes on with the next record or file.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/byte_source.h"
#include "zenith/runtime/file_reader.h"
#include "zenith/runtime/record_reader.h"
#include "zenith/runtime/telemetry.h"

namespace zenith::runtime {

// The dataset's files from a file, a directory (its regular files, recursively) or a glob,
// sorted by path so every rank lists them alike; several sources may be comma-separated.
Result<std::vector<std::string>> ListDatasetFiles(const std::string& source);

struct Shard {
  int rank = 0;
  int world_size = 1;
};
// Flags win (a value >= 0); otherwise RANK and WORLD_SIZE from the environment (the operator
// injects them); otherwise rank 0 of 1. Errors name the variable or flag.
Result<Shard> ResolveShard(
    int flag_rank, int flag_world_size,
    const std::function<std::optional<std::string>(const std::string&)>& getenv = nullptr);

struct DatasetOptions {
  std::vector<std::string> files;  // from ListDatasetFiles
  std::string format = "auto";
  FormatOptions format_options;
  bool skip_errors = false;  // onError: skip
  Shard shard;
  uint64_t seed = 0;
  bool shuffle = true;                // shuffle file order and samples each epoch
  std::size_t shuffle_buffer = 1024;  // samples held for the shuffle (<= 1: file order only)
  FileSource::Options source;
  // Files decoded ahead, one worker thread per file at a time, samples still handed out in the
  // sequential order; 0 decodes on the caller's thread. Each worker reads through its own
  // FileReader from make_reader (a FileReader serves one thread), required when > 0.
  unsigned decode_threads = 0;
  std::function<Result<std::unique_ptr<FileReader>>()> make_reader;
};

// A sample owned by the stream's caller: its fields' bytes back to back.
struct Sample {
  uint32_t file = 0;                 // index into DatasetOptions::files
  uint64_t offset = 0;               // byte offset of the record in that file
  const TensorSpec* spec = nullptr;  // fixed-shape formats; lives as long as the stream
  std::vector<std::byte> bytes;
  std::vector<std::pair<std::string, uint64_t>> fields;  // name and end offset in bytes
};

// What bad input cost: counted per kind, each instance logged once per stream owner.
struct DatasetStats {
  Counter* records = nullptr;    // samples delivered
  Counter* bytes = nullptr;      // their payload bytes
  Counter* skipped = nullptr;    // records or files skipped by onError: skip
  std::set<std::string> logged;  // errors already logged (file and offset)
  static Result<DatasetStats> Register(TelemetryRegistry& telemetry);
};

// A deterministic 64-bit generator (splitmix64) whose sequence is the same on every platform,
// unlike std's distributions.
class DetRng {
 public:
  explicit DetRng(uint64_t seed) : s_(seed) {}
  static DetRng For(uint64_t seed, uint64_t epoch, uint64_t rank = ~0ull);
  uint64_t Next();
  uint64_t Below(uint64_t n);  // uniform in [0, n), n > 0

 private:
  uint64_t s_;
};

namespace internal {
class DecodeAhead;
struct DecodedPiece;
}  // namespace internal

class SampleStream {
 public:
  SampleStream(const DatasetOptions& options, uint64_t epoch, FileReader& reader,
               DatasetStats& stats);
  ~SampleStream();  // stops and joins the decode workers
  // The files this rank reads this epoch, in order (indices into options.files).
  const std::vector<uint32_t>& files() const { return files_; }
  // Moves the next sample into `out` (reusing its buffers); false at the end of the epoch.
  Result<bool> Next(Sample& out);

 private:
  Result<bool> Pull(Sample& out);       // next sample of this rank, in file order
  Result<bool> PullAhead(Sample& out);  // the same, from the decode workers
  // This rank's share when it reads every file (by_record_), and the sample's spec interned.
  bool Mine();
  const TensorSpec* Intern(const TensorSpec& spec);
  Status Failed(const Status& error);

  const DatasetOptions& options_;
  FileReader& reader_;
  DatasetStats& stats_;
  std::vector<uint32_t> files_;
  bool by_record_ = false;  // fewer files than ranks: every rank reads all, keeps every n-th
  std::size_t next_file_ = 0;
  uint64_t global_record_ = 0;
  std::unique_ptr<RecordReader> current_;
  uint32_t current_file_ = 0;
  std::deque<TensorSpec> specs_;
  Record record_;
  DetRng rng_;
  std::vector<Sample> buffer_;  // the shuffle buffer
  bool drained_input_ = false;
  std::unique_ptr<internal::DecodeAhead> ahead_;
  std::unique_ptr<internal::DecodedPiece> piece_;  // being handed out
  std::size_t piece_next_ = 0;
};

}  // namespace zenith::runtime
