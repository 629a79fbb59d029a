// The data plane's counters, gauges and latency histograms. Recording touches only the calling
// thread's own shard (a block of plain words no other thread writes), so it costs a few
// nanoseconds and no cache-line transfer; the shards are summed when the registry is scraped.
// Recording must never lock, allocate (after a thread's first event) or block.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime {

namespace detail {
// Words per thread shard; every counter takes one, every histogram kHistogramBuckets + 1.
inline constexpr std::size_t kShardWords = 8192;
struct alignas(64) ShardBlock {
  std::atomic<uint64_t> words[kShardWords] = {};
};
// This thread's shard, created (and registered for scraping) at its first event.
constinit inline thread_local ShardBlock* t_shard = nullptr;
ShardBlock* RegisterThisThread();

inline void AddToShard(std::size_t word, uint64_t n) {
  ShardBlock* b = t_shard;
  if (b == nullptr) [[unlikely]]
    b = RegisterThisThread();
  std::atomic<uint64_t>& w = b->words[word];
  // Relaxed load and store, no read-modify-write: only this thread writes the word, and the
  // scraper's relaxed load sees some recent value, which is all a metric needs.
  w.store(w.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace detail

using TelemetryLabels = std::map<std::string, std::string>;

class Counter {
 public:
  void Add(uint64_t n = 1) { detail::AddToShard(word_, n); }
  uint64_t Value() const;  // sums every thread's shard (slow; for scrapes and tests)

 private:
  friend class TelemetryRegistry;
  explicit Counter(std::size_t word) : word_(word) {}
  const std::size_t word_;
};

// A gauge is set from one place at a time and read at scrape; it is one shared atomic, not
// sharded, so keep it off per-item paths.
class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }  // Relaxed: a sample
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latencies in nanoseconds, in power-of-two buckets: bucket k holds values of bit width k,
// i.e. [2^(k-1), 2^k - 1]; the last bucket holds everything above (about 275 s).
inline constexpr std::size_t kHistogramBuckets = 39;

class LatencyHistogram {
 public:
  void Record(uint64_t nanos) {
    const std::size_t k = std::min<std::size_t>(std::bit_width(nanos), kHistogramBuckets - 1);
    detail::AddToShard(first_word_ + k, 1);
    detail::AddToShard(first_word_ + kHistogramBuckets, nanos);
  }
  // Upper bound (inclusive, in ns) of bucket k; the last bucket has none.
  static uint64_t BucketUpperBound(std::size_t k) { return (uint64_t{1} << k) - 1; }

  struct Snapshot {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    uint64_t count = 0;
    uint64_t sum_nanos = 0;
  };
  Snapshot Read() const;

 private:
  friend class TelemetryRegistry;
  explicit LatencyHistogram(std::size_t first_word) : first_word_(first_word) {}
  const std::size_t first_word_;
};

// Owns a component's metrics. Components take a TelemetryRegistry& in their constructor and
// register what they count; the prometheus bridge (telemetry_prometheus.h) exports a registry.
class TelemetryRegistry {
 public:
  TelemetryRegistry() = default;
  ~TelemetryRegistry();  // frees the shard words; no thread may record into its metrics after
  TelemetryRegistry(const TelemetryRegistry&) = delete;
  TelemetryRegistry& operator=(const TelemetryRegistry&) = delete;

  // Adding a metric with a name and labels already present returns the existing one.
  Result<Counter*> AddCounter(const std::string& name, const std::string& help,
                              const TelemetryLabels& labels = {});
  Result<Gauge*> AddGauge(const std::string& name, const std::string& help,
                          const TelemetryLabels& labels = {});
  Result<LatencyHistogram*> AddHistogram(const std::string& name, const std::string& help,
                                         const TelemetryLabels& labels = {});

  enum class Kind { kCounter, kGauge, kHistogram };
  struct Sample {
    Kind kind = Kind::kCounter;
    std::string name;
    std::string help;
    TelemetryLabels labels;
    uint64_t counter = 0;
    int64_t gauge = 0;
    LatencyHistogram::Snapshot histogram;
  };
  // Every metric's current value, summed over threads, in registration order.
  std::vector<Sample> Scrape() const;

 private:
  struct Entry {
    Kind kind = Kind::kCounter;
    std::string name;
    std::string help;
    TelemetryLabels labels;
    std::size_t first_word = 0;
    std::size_t words = 0;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<LatencyHistogram> histogram;
  };
  Result<Entry*> Add(Kind kind, const std::string& name, const std::string& help,
                     const TelemetryLabels& labels, std::size_t words);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace zenith::runtime
