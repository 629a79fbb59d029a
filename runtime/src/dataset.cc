#include "zenith/runtime/dataset.h"

#include <glob.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "zenith/common/log.h"

namespace zenith::runtime {

namespace fs = std::filesystem;

Result<std::vector<std::string>> ListDatasetFiles(const std::string& source) {
  std::vector<std::string> files;
  std::size_t start = 0;
  while (start <= source.size()) {
    std::size_t comma = source.find(',', start);
    if (comma == std::string::npos) comma = source.size();
    const std::string part = source.substr(start, comma - start);
    start = comma + 1;
    if (part.empty()) continue;
    if (part.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      const int rc = glob(part.c_str(), 0, nullptr, &g);
      if (rc == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
          if (fs::is_regular_file(g.gl_pathv[i])) files.emplace_back(g.gl_pathv[i]);
        }
      }
      globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) {
        return UnavailableError("source: glob '" + part + "' failed");
      }
      continue;
    }
    std::error_code ec;
    const auto status = fs::status(part, ec);
    if (ec || !fs::exists(status)) {
      return NotFoundError("source: " + part + " does not exist");
    }
    if (fs::is_directory(status)) {
      for (auto it = fs::recursive_directory_iterator(part, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (it->is_regular_file(ec) && !name.starts_with(".")) files.push_back(it->path().string());
      }
      if (ec) return UnavailableError("source: listing " + part + ": " + ec.message());
    } else {
      files.push_back(part);
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  if (files.empty()) return NotFoundError("source: '" + source + "' names no files");
  return files;
}

Result<Shard> ResolveShard(
    int flag_rank, int flag_world_size,
    const std::function<std::optional<std::string>(const std::string&)>& getenv_fn) {
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (getenv_fn) return getenv_fn(name);
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto parse = [&](const std::string& name, int flag, int fallback) -> Result<int> {
    if (flag >= 0) return flag;
    const auto v = env(name);
    if (!v || v->empty()) return fallback;
    char* end = nullptr;
    const long n = std::strtol(v->c_str(), &end, 10);
    if (*end != '\0' || n < 0 || n > 1 << 20) {
      return InvalidArgumentError("environment " + name + "='" + *v +
                                  "' is not a non-negative integer");
    }
    return static_cast<int>(n);
  };
  Shard s;
  ZENITH_ASSIGN_OR_RETURN(s.rank, parse("RANK", flag_rank, 0));
  ZENITH_ASSIGN_OR_RETURN(s.world_size, parse("WORLD_SIZE", flag_world_size, 1));
  if (s.world_size < 1 || s.rank >= s.world_size) {
    return InvalidArgumentError("rank " + std::to_string(s.rank) + " is not below world size " +
                                std::to_string(s.world_size) +
                                " (flags rank/world-size or "
                                "environment RANK/WORLD_SIZE)");
  }
  return s;
}

Result<DatasetStats> DatasetStats::Register(TelemetryRegistry& telemetry) {
  DatasetStats s;
  ZENITH_ASSIGN_OR_RETURN(s.records, telemetry.AddCounter("zenith_runtime_samples_total",
                                                          "Samples read from the dataset"));
  ZENITH_ASSIGN_OR_RETURN(s.bytes, telemetry.AddCounter("zenith_runtime_sample_bytes_total",
                                                        "Payload bytes of the samples read"));
  ZENITH_ASSIGN_OR_RETURN(
      s.skipped, telemetry.AddCounter("zenith_runtime_skipped_total",
                                      "Records or files skipped as bad input (onError: skip)"));
  return s;
}

namespace {
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

DetRng DetRng::For(uint64_t seed, uint64_t epoch, uint64_t rank) {
  return DetRng(Mix(Mix(Mix(seed) ^ epoch) + rank));
}

uint64_t DetRng::Next() {
  s_ += 0x9e3779b97f4a7c15ull;
  return Mix(s_);
}

uint64_t DetRng::Below(uint64_t n) {
  // Lemire's multiply-shift; the bias for n far below 2^64 is negligible for a shuffle.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
}

namespace {
// The sample's own copy of a record's fields, back to back; returns the payload bytes.
std::size_t CopyRecord(const Record& record, Sample& out) {
  out.offset = record.offset;
  std::size_t total = 0;
  for (const RecordField& f : record.fields) total += f.data.size();
  out.bytes.resize(total);
  out.fields.resize(record.fields.size());
  std::size_t at = 0;
  for (std::size_t i = 0; i < record.fields.size(); ++i) {
    const RecordField& f = record.fields[i];
    if (!f.data.empty()) std::memcpy(out.bytes.data() + at, f.data.data(), f.data.size());
    at += f.data.size();
    out.fields[i].first.assign(f.name);
    out.fields[i].second = at;
  }
  return total;
}

Result<std::unique_ptr<RecordReader>> OpenRecords(const DatasetOptions& options, FileReader& reader,
                                                  const std::string& path) {
  ZENITH_ASSIGN_OR_RETURN(Format format, ChooseFormat(options.format, path));
  ZENITH_ASSIGN_OR_RETURN(auto source, OpenSource(reader, path, options.source));
  return MakeRecordReader(format, std::move(source), options.format_options);
}
}  // namespace

namespace internal {

// A run of one file's samples, decoded by a worker, then what stopped the run: an error at that
// point of the file (ok: none) and whether the file ended there.
struct DecodedPiece {
  std::vector<Sample> samples;  // the first `count` are filled; the rest keep their buffers
  std::size_t count = 0;
  TensorSpec spec;
  Status error;
  bool last = false;
};

// Worker threads that each take the next file of the epoch's order and decode it into pieces;
// the stream takes pieces file by file, so the order is the sequential one whatever the timing.
// At most `threads` files are in flight and each queues a bounded number of pieces, so memory
// stays bounded; a worker never waits on another, so the file being consumed always progresses.
class DecodeAhead {
 public:
  DecodeAhead(const DatasetOptions& options, const std::vector<uint32_t>& files, unsigned threads)
      : options_(options), files_(files), queues_(files.size()), threads_(threads) {
    for (unsigned t = 0; t < threads; ++t) workers_.emplace_back([this] { Work(); });
  }
  ~DecodeAhead() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // The next piece of the k-th file of the order; waits for its worker.
  std::unique_ptr<DecodedPiece> Take(std::size_t k) {
    std::unique_lock lock(mu_);
    ready_cv_.wait(lock, [&] { return !queues_[k].empty(); });
    auto piece = std::move(queues_[k].front());
    queues_[k].pop_front();
    // Wake workers only for a file slot or when a full queue drained to half, so a worker that
    // is ahead sleeps and wakes once per several pieces, not once per piece.
    const bool wake = piece->last || queues_[k].size() == kResumeAt;
    if (piece->last) consuming_ = k + 1;
    lock.unlock();
    if (wake) work_cv_.notify_all();
    return piece;
  }
  void Recycle(std::unique_ptr<DecodedPiece> piece) {
    std::lock_guard lock(mu_);
    spare_.push_back(std::move(piece));
  }

 private:
  static constexpr std::size_t kPieceSamples = 256;
  static constexpr std::size_t kPieceBytes = 2 << 20;
  static constexpr std::size_t kQueuedPieces = 8;  // per file
  static constexpr std::size_t kResumeAt = kQueuedPieces / 2;

  std::unique_ptr<DecodedPiece> Spare() {
    std::lock_guard lock(mu_);
    if (spare_.empty()) return std::make_unique<DecodedPiece>();
    auto p = std::move(spare_.back());
    spare_.pop_back();
    return p;
  }
  // Queues a piece of file k (waiting for room); false when stopping.
  bool Push(std::size_t k, std::unique_ptr<DecodedPiece> piece) {
    {
      std::unique_lock lock(mu_);
      if (queues_[k].size() >= kQueuedPieces) {
        work_cv_.wait(lock, [&] { return stop_ || queues_[k].size() <= kResumeAt; });
      }
      if (stop_) return false;
      queues_[k].push_back(std::move(piece));
    }
    ready_cv_.notify_one();
    return true;
  }

  void Work() {
    auto made = options_.make_reader ? options_.make_reader()
                                     : Result<std::unique_ptr<FileReader>>(FailedPreconditionError(
                                           "decode threads need make_reader"));
    for (;;) {
      std::size_t k;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(
            lock, [&] { return stop_ || next_ >= files_.size() || next_ < consuming_ + threads_; });
        if (stop_ || next_ >= files_.size()) return;
        k = next_++;
      }
      if (!Decode(k, made)) return;
    }
  }

  bool Decode(std::size_t k, Result<std::unique_ptr<FileReader>>& reader) {
    const uint32_t file = files_[k];
    const std::string& path = options_.files[file];
    auto piece = Spare();
    piece->count = 0;
    piece->error = Status::Ok();
    piece->last = false;
    auto opened = reader.ok() ? OpenRecords(options_, **reader, path)
                              : Result<std::unique_ptr<RecordReader>>(reader.status());
    if (!opened.ok()) {
      piece->error = opened.status();
      piece->last = true;
      return Push(k, std::move(piece));
    }
    RecordReader& records = **opened;
    Record record;
    std::size_t bytes = 0;
    for (;;) {
      auto r = records.Next(record);
      const bool end = r.ok() && !*r;
      if (r.ok() && *r) {
        if (piece->samples.size() <= piece->count) piece->samples.emplace_back();
        Sample& s = piece->samples[piece->count++];
        s.file = file;
        bytes += CopyRecord(record, s);
        if (piece->count < kPieceSamples && bytes < kPieceBytes) continue;
      } else if (!r.ok()) {
        piece->error = r.status();
      }
      // Fail stops at the first error; skip goes on as the sequential reader does.
      piece->last = end || (!r.ok() && !options_.skip_errors);
      piece->spec = records.spec();
      const bool last = piece->last;
      if (!Push(k, std::move(piece))) return false;
      if (last) return true;
      piece = Spare();
      piece->count = 0;
      piece->error = Status::Ok();
      bytes = 0;
    }
  }

  const DatasetOptions& options_;
  const std::vector<uint32_t>& files_;
  std::mutex mu_;
  std::condition_variable work_cv_;   // workers: a file slot, room in a queue, or stop
  std::condition_variable ready_cv_;  // the stream: a piece arrived
  std::vector<std::deque<std::unique_ptr<DecodedPiece>>> queues_;  // per position in files_
  std::vector<std::unique_ptr<DecodedPiece>> spare_;
  std::size_t next_ = 0;       // the next file a worker starts
  std::size_t consuming_ = 0;  // the file the stream is handing out
  bool stop_ = false;
  const unsigned threads_;
  std::vector<std::thread> workers_;
};

}  // namespace internal

SampleStream::SampleStream(const DatasetOptions& options, uint64_t epoch, FileReader& reader,
                           DatasetStats& stats)
    : options_(options),
      reader_(reader),
      stats_(stats),
      rng_(DetRng::For(options.seed, epoch, static_cast<uint64_t>(options.shard.rank))) {
  std::vector<uint32_t> order(options.files.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options.shuffle) {
    // Seeded by (seed, epoch) only: every rank computes the same order, so shards stay disjoint.
    DetRng files_rng = DetRng::For(options.seed, epoch);
    for (std::size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[files_rng.Below(i)]);
    }
  }
  const auto world = static_cast<std::size_t>(options.shard.world_size);
  by_record_ = order.size() < world;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (by_record_ || i % world == static_cast<std::size_t>(options.shard.rank)) {
      files_.push_back(order[i]);
    }
  }
  if (options.decode_threads > 0 && !files_.empty()) {
    const auto threads =
        static_cast<unsigned>(std::min<std::size_t>(options.decode_threads, files_.size()));
    ahead_ = std::make_unique<internal::DecodeAhead>(options, files_, threads);
  }
}

SampleStream::~SampleStream() = default;

bool SampleStream::Mine() {
  return !by_record_ || global_record_++ % static_cast<uint64_t>(options_.shard.world_size) ==
                            static_cast<uint64_t>(options_.shard.rank);
}

const TensorSpec* SampleStream::Intern(const TensorSpec& spec) {
  if (spec.dtype.empty()) return nullptr;
  if (specs_.empty() || !(specs_.back() == spec)) specs_.push_back(spec);
  return &specs_.back();
}

Status SampleStream::Failed(const Status& error) {
  if (!options_.skip_errors) return error;
  if (stats_.skipped) stats_.skipped->Add();
  if (stats_.logged.insert(error.message()).second) {
    common::log::Warn("skipping bad input (onError: skip)", {{"error", error.message()}});
  }
  return Status::Ok();
}

Result<bool> SampleStream::Pull(Sample& out) {
  if (ahead_) return PullAhead(out);
  for (;;) {
    if (!current_) {
      if (next_file_ >= files_.size()) return false;
      current_file_ = files_[next_file_++];
      auto opened = OpenRecords(options_, reader_, options_.files[current_file_]);
      if (!opened.ok()) {
        ZENITH_RETURN_IF_ERROR(Failed(opened.status()));
        continue;
      }
      current_ = std::move(*opened);
    }
    auto r = current_->Next(record_);
    if (!r.ok()) {
      ZENITH_RETURN_IF_ERROR(Failed(r.status()));
      continue;
    }
    if (!*r) {
      current_.reset();
      continue;
    }
    if (!Mine()) continue;
    out.spec = Intern(current_->spec());
    out.file = current_file_;
    const std::size_t total = CopyRecord(record_, out);
    if (stats_.records) stats_.records->Add();
    if (stats_.bytes) stats_.bytes->Add(total);
    return true;
  }
}

Result<bool> SampleStream::PullAhead(Sample& out) {
  for (;;) {
    if (!piece_) {
      if (next_file_ >= files_.size()) return false;
      piece_ = ahead_->Take(next_file_);
      piece_next_ = 0;
    }
    if (piece_next_ < piece_->count) {
      Sample& s = piece_->samples[piece_next_++];
      if (!Mine()) continue;
      std::swap(out, s);  // the piece keeps out's old buffers for its next use
      out.spec = Intern(piece_->spec);
      if (stats_.records) stats_.records->Add();
      if (stats_.bytes) stats_.bytes->Add(out.bytes.size());
      return true;
    }
    const Status error = piece_->error;
    if (piece_->last) ++next_file_;
    ahead_->Recycle(std::move(piece_));
    if (!error.ok()) ZENITH_RETURN_IF_ERROR(Failed(error));
  }
}

Result<bool> SampleStream::Next(Sample& out) {
  if (!options_.shuffle || options_.shuffle_buffer <= 1) return Pull(out);
  while (!drained_input_ && buffer_.size() < options_.shuffle_buffer) {
    Sample s;
    ZENITH_ASSIGN_OR_RETURN(bool got, Pull(s));
    if (!got) {
      drained_input_ = true;
      break;
    }
    buffer_.push_back(std::move(s));
  }
  if (buffer_.empty()) return false;
  const std::size_t j = rng_.Below(buffer_.size());
  std::swap(out, buffer_[j]);  // buffer_[j] now holds out's old buffers, reused below
  if (!drained_input_) {
    ZENITH_ASSIGN_OR_RETURN(bool got, Pull(buffer_[j]));
    if (got) return true;
    drained_input_ = true;
  }
  std::swap(buffer_[j], buffer_.back());
  buffer_.pop_back();
  return true;
}

}  // namespace zenith::runtime
