#include "zenith/runtime/dataset.h"

#include <glob.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

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
  for (;;) {
    if (!current_) {
      if (next_file_ >= files_.size()) return false;
      current_file_ = files_[next_file_++];
      const std::string& path = options_.files[current_file_];
      auto opened = [&]() -> Result<std::unique_ptr<RecordReader>> {
        ZENITH_ASSIGN_OR_RETURN(Format format, ChooseFormat(options_.format, path));
        ZENITH_ASSIGN_OR_RETURN(auto source, FileSource::Open(reader_, path, options_.source));
        return MakeRecordReader(format, std::move(source), options_.format_options);
      }();
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
    if (by_record_ && global_record_++ % static_cast<uint64_t>(options_.shard.world_size) !=
                          static_cast<uint64_t>(options_.shard.rank)) {
      continue;
    }
    const TensorSpec& spec = current_->spec();
    if (spec.dtype.empty()) {
      out.spec = nullptr;
    } else {
      if (specs_.empty() || !(specs_.back() == spec)) specs_.push_back(spec);
      out.spec = &specs_.back();
    }
    out.file = current_file_;
    out.offset = record_.offset;
    std::size_t total = 0;
    for (const RecordField& f : record_.fields) total += f.data.size();
    out.bytes.resize(total);
    out.fields.resize(record_.fields.size());
    std::size_t at = 0;
    for (std::size_t i = 0; i < record_.fields.size(); ++i) {
      const RecordField& f = record_.fields[i];
      if (!f.data.empty()) std::memcpy(out.bytes.data() + at, f.data.data(), f.data.size());
      at += f.data.size();
      out.fields[i].first.assign(f.name);
      out.fields[i].second = at;
    }
    if (stats_.records) stats_.records->Add();
    if (stats_.bytes) stats_.bytes->Add(total);
    return true;
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
