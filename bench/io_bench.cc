// Read bandwidth over a file set: Zenith's reader (io_uring, and its pread-thread fallback)
// against a plain pread loop (one thread, queue depth 1). fio runs from run.sh at the same
// queue depth. Files: $ZENITH_BENCH_IO_DIR/f*; O_DIRECT when ZENITH_BENCH_IO_DIRECT=1.
// Counters: bytes_per_second (sequential 1 MiB) and reads_per_second (random 4 KiB).
// Buffered runs first read their own plan once, untimed, so every contestant finds the same
// pages cached whichever ran before it (the plan is the same for all: a fixed seed).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "zenith/runtime/aligned_buffer.h"
#include "zenith/runtime/file_reader.h"

namespace zenith::bench {
namespace {

constexpr unsigned kQueueDepth = 32;
// Requests per Read call: the reader keeps kQueueDepth of them in flight, refilling as reads
// complete, so the queue drains once per call rather than once per kQueueDepth reads (fio's
// iodepth=32 never drains). A caller with many small random reads hands them over together
// (a sampler's next thousand offsets), so the random runs pass 32 queues' worth (4 MiB of
// buffers) per call; the sequential ones 4 (128 MiB of 1 MiB buffers).
constexpr unsigned BatchOf(bool sequential) { return (sequential ? 4 : 32) * kQueueDepth; }

struct FileSet {
  std::vector<std::string> paths;
  std::vector<uint64_t> sizes;
  bool direct = false;
  uint64_t seq_limit = 0;     // bytes per sequential run (0: every byte)
  uint64_t random_reads = 0;  // 4 KiB reads per random run
};

const FileSet& Files() {
  static FileSet* set = [] {
    auto* s = new FileSet();
    const char* dir = std::getenv("ZENITH_BENCH_IO_DIR");
    if (dir != nullptr) {
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.is_regular_file()) s->paths.push_back(e.path().string());
      }
      std::sort(s->paths.begin(), s->paths.end());
      for (const auto& p : s->paths) s->sizes.push_back(std::filesystem::file_size(p));
    }
    const char* direct = std::getenv("ZENITH_BENCH_IO_DIRECT");
    s->direct = direct != nullptr && std::string(direct) == "1";
    const char* limit = std::getenv("ZENITH_BENCH_IO_SEQ_BYTES");
    s->seq_limit = limit ? std::strtoull(limit, nullptr, 10) : 0;
    const char* reads = std::getenv("ZENITH_BENCH_IO_RANDOM_READS");
    s->random_reads = reads ? std::strtoull(reads, nullptr, 10) : 65536;
    return s;
  }();
  return *set;
}

// The plan of one run: (file, offset, length) in order.
struct Chunk {
  int file;
  uint64_t offset;
  std::size_t length;
};
std::vector<Chunk> Plan(bool sequential) {
  const FileSet& fs = Files();
  std::vector<Chunk> plan;
  if (sequential) {
    uint64_t total = 0;
    for (std::size_t f = 0; f < fs.paths.size(); ++f) {
      for (uint64_t off = 0; off < fs.sizes[f]; off += 1 << 20) {
        if (fs.seq_limit != 0 && total >= fs.seq_limit) return plan;
        plan.push_back({static_cast<int>(f), off, 1 << 20});
        total += 1 << 20;
      }
    }
  } else {
    std::mt19937_64 rng(99);
    for (uint64_t i = 0; i < fs.random_reads; ++i) {
      const std::size_t f = rng() % fs.paths.size();
      plan.push_back({static_cast<int>(f), (rng() % (fs.sizes[f] / 4096)) * 4096, 4096});
    }
  }
  return plan;
}

// Reads the plan's bytes once (untimed) so a buffered run starts with them in the page cache.
void WarmPageCache(const std::vector<Chunk>& plan) {
  const FileSet& fs = Files();
  if (fs.direct) return;
  std::vector<int> fds;
  for (const auto& p : fs.paths) fds.push_back(open(p.c_str(), O_RDONLY));
  std::vector<std::byte> buf(1 << 20);
  for (const Chunk& c : plan) {
    if (pread(fds[c.file], buf.data(), c.length, static_cast<off_t>(c.offset)) < 0) break;
  }
  for (int fd : fds) close(fd);
}

void Report(benchmark::State& state, bool sequential, uint64_t bytes, uint64_t reads, double s) {
  if (sequential) {
    state.counters["bytes_per_second"] = static_cast<double>(bytes) / s;
  } else {
    state.counters["reads_per_second"] = static_cast<double>(reads) / s;
  }
}

void BM_Zenith(benchmark::State& state, bool sequential, bool force_pread) {
  const FileSet& fs = Files();
  if (fs.paths.empty()) {
    state.SkipWithError("set ZENITH_BENCH_IO_DIR");
    return;
  }
  runtime::TelemetryRegistry telemetry;
  auto reader = runtime::FileReader::Create({.queue_depth = kQueueDepth,
                                             .direct = fs.direct,
                                             .force_pread = force_pread,
                                             .pread_threads = static_cast<int>(kQueueDepth),
                                             .register_files = true,
                                             // Many large reads in flight on idle cores: the
                                             // page-cache copies go to io_uring's workers.
                                             .async_min_bytes = 256 << 10},
                                            telemetry)
                    .value();
  for (const auto& p : fs.paths) (void)reader->AddFile(p).value();
  const std::size_t chunk = sequential ? (1 << 20) : 4096;
  const unsigned per_call = BatchOf(sequential);
  runtime::AlignedBuffer arena(per_call * chunk, 4096);
  const std::span<std::byte> whole[] = {arena.span()};
  (void)reader->RegisterBuffers(whole);
  const auto plan = Plan(sequential);
  WarmPageCache(plan);
  double seconds = 0;
  uint64_t bytes = 0, reads = 0;
  std::vector<runtime::ReadRequest> batch;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < plan.size(); i += per_call) {
      batch.clear();
      for (std::size_t k = 0; k < per_call && i + k < plan.size(); ++k) {
        const Chunk& c = plan[i + k];
        batch.push_back({c.file, c.offset, arena.span().subspan(k * chunk, c.length), 0});
      }
      auto st = reader->Read(batch);
      if (!st.ok()) {
        state.SkipWithError(st.ToString().c_str());
        return;
      }
      for (const auto& r : batch) bytes += r.bytes_read;
      reads += batch.size();
    }
    seconds += Seconds(t0, Clock::now());
  }
  Report(state, sequential, bytes, reads, seconds);
}

void BM_PreadLoop(benchmark::State& state, bool sequential) {
  const FileSet& fs = Files();
  if (fs.paths.empty()) {
    state.SkipWithError("set ZENITH_BENCH_IO_DIR");
    return;
  }
  std::vector<int> fds;
  for (const auto& p : fs.paths)
    fds.push_back(open(p.c_str(), O_RDONLY | (fs.direct ? O_DIRECT : 0)));
  // The same destination footprint as the reader's: per_call buffers used in turn.
  const std::size_t chunk = sequential ? (1 << 20) : 4096;
  const unsigned per_call = BatchOf(sequential);
  runtime::AlignedBuffer arena(per_call * chunk, 4096);
  const auto plan = Plan(sequential);
  WarmPageCache(plan);
  double seconds = 0;
  uint64_t bytes = 0, reads = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const Chunk& c = plan[i];
      std::byte* dst = arena.data() + (i % per_call) * chunk;
      const ssize_t n = pread(fds[c.file], dst, c.length, static_cast<off_t>(c.offset));
      if (n < 0) {
        state.SkipWithError("pread failed");
        return;
      }
      bytes += static_cast<uint64_t>(n);
      ++reads;
    }
    seconds += Seconds(t0, Clock::now());
  }
  for (int fd : fds) close(fd);
  Report(state, sequential, bytes, reads, seconds);
}

BENCHMARK_CAPTURE(BM_Zenith, seq_uring, true, false)->Name("io/seq/zenith")->Iterations(1);
BENCHMARK_CAPTURE(BM_Zenith, seq_pread, true, true)->Name("io/seq/zenith_pread")->Iterations(1);
BENCHMARK_CAPTURE(BM_PreadLoop, seq, true)->Name("io/seq/pread_loop")->Iterations(1);
BENCHMARK_CAPTURE(BM_Zenith, rand_uring, false, false)->Name("io/rand/zenith")->Iterations(1);
BENCHMARK_CAPTURE(BM_Zenith, rand_pread, false, true)->Name("io/rand/zenith_pread")->Iterations(1);
BENCHMARK_CAPTURE(BM_PreadLoop, rand, false)->Name("io/rand/pread_loop")->Iterations(1);

}  // namespace
}  // namespace zenith::bench

BENCHMARK_MAIN();
