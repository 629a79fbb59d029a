#include "zenith/runtime/telemetry.h"

#include <algorithm>

namespace zenith::runtime {
namespace detail {
namespace {

// Every live thread's shard, the totals of threads that exited, and which words are taken.
struct Shards {
  std::mutex mu;
  std::vector<ShardBlock*> live;
  ShardBlock retired;
  std::vector<bool> used = std::vector<bool>(kShardWords, false);
};
Shards& AllShards() {
  static auto* shards = new Shards();  // never destroyed: threads may exit after main
  return *shards;
}

// Folds the exiting thread's shard into the retired totals.
struct ShardOwner {
  ShardBlock* block = nullptr;
  ~ShardOwner() {
    if (block == nullptr) return;
    Shards& s = AllShards();
    {
      std::lock_guard lock(s.mu);
      for (std::size_t i = 0; i < kShardWords; ++i) {
        const uint64_t v = block->words[i].load(std::memory_order_relaxed);
        if (v != 0) s.retired.words[i].fetch_add(v, std::memory_order_relaxed);
      }
      std::erase(s.live, block);
    }
    t_shard = nullptr;
    delete block;
  }
};
thread_local ShardOwner t_owner;

uint64_t SumWord(Shards& s, std::size_t word) {  // caller holds s.mu
  uint64_t v = s.retired.words[word].load(std::memory_order_relaxed);
  for (const ShardBlock* b : s.live) v += b->words[word].load(std::memory_order_relaxed);
  return v;
}

}  // namespace

ShardBlock* RegisterThisThread() {
  auto* block = new ShardBlock();
  Shards& s = AllShards();
  {
    std::lock_guard lock(s.mu);
    s.live.push_back(block);
  }
  t_owner.block = block;
  t_shard = block;
  return block;
}

}  // namespace detail

uint64_t Counter::Value() const {
  auto& s = detail::AllShards();
  std::lock_guard lock(s.mu);
  return detail::SumWord(s, word_);
}

LatencyHistogram::Snapshot LatencyHistogram::Read() const {
  auto& s = detail::AllShards();
  std::lock_guard lock(s.mu);
  Snapshot snap;
  snap.counts.resize(kHistogramBuckets);
  for (std::size_t k = 0; k < kHistogramBuckets; ++k) {
    snap.counts[k] = detail::SumWord(s, first_word_ + k);
    snap.count += snap.counts[k];
  }
  snap.sum_nanos = detail::SumWord(s, first_word_ + kHistogramBuckets);
  return snap;
}

TelemetryRegistry::~TelemetryRegistry() {
  auto& s = detail::AllShards();
  std::lock_guard lock(s.mu);
  for (const auto& e : entries_) {
    for (std::size_t w = e->first_word; w < e->first_word + e->words; ++w) {
      // Zeroed so the next metric given these words starts from nothing.
      s.retired.words[w].store(0, std::memory_order_relaxed);
      for (detail::ShardBlock* b : s.live) b->words[w].store(0, std::memory_order_relaxed);
      s.used[w] = false;
    }
  }
}

Result<TelemetryRegistry::Entry*> TelemetryRegistry::Add(Kind kind, const std::string& name,
                                                         const std::string& help,
                                                         const TelemetryLabels& labels,
                                                         std::size_t words) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e->name == name && e->labels == labels) {
      if (e->kind != kind) {
        return AlreadyExistsError("telemetry: metric '" + name + "' exists with another type");
      }
      return e.get();
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = kind;
  entry->name = name;
  entry->help = help;
  entry->labels = labels;
  entry->words = words;
  if (words > 0) {
    auto& s = detail::AllShards();
    std::lock_guard shards_lock(s.mu);
    std::size_t run = 0, start = 0;
    for (std::size_t w = 0; w < detail::kShardWords && run < words; ++w) {
      if (s.used[w]) {
        run = 0;
      } else {
        if (run == 0) start = w;
        ++run;
      }
    }
    if (run < words) {
      return ResourceExhaustedError("telemetry: no room for metric '" + name + "' (" +
                                    std::to_string(detail::kShardWords) +
                                    " shard words per thread are all taken)");
    }
    for (std::size_t w = start; w < start + words; ++w) s.used[w] = true;
    entry->first_word = start;
  }
  entries_.push_back(std::move(entry));
  return entries_.back().get();
}

Result<Counter*> TelemetryRegistry::AddCounter(const std::string& name, const std::string& help,
                                               const TelemetryLabels& labels) {
  ZENITH_ASSIGN_OR_RETURN(Entry * e, Add(Kind::kCounter, name, help, labels, 1));
  std::lock_guard lock(mu_);
  if (!e->counter) e->counter.reset(new Counter(e->first_word));
  return e->counter.get();
}

Result<Gauge*> TelemetryRegistry::AddGauge(const std::string& name, const std::string& help,
                                           const TelemetryLabels& labels) {
  ZENITH_ASSIGN_OR_RETURN(Entry * e, Add(Kind::kGauge, name, help, labels, 0));
  std::lock_guard lock(mu_);
  if (!e->gauge) e->gauge = std::make_unique<Gauge>();
  return e->gauge.get();
}

Result<LatencyHistogram*> TelemetryRegistry::AddHistogram(const std::string& name,
                                                          const std::string& help,
                                                          const TelemetryLabels& labels) {
  ZENITH_ASSIGN_OR_RETURN(Entry * e,
                          Add(Kind::kHistogram, name, help, labels, kHistogramBuckets + 1));
  std::lock_guard lock(mu_);
  if (!e->histogram) e->histogram.reset(new LatencyHistogram(e->first_word));
  return e->histogram.get();
}

std::vector<TelemetryRegistry::Sample> TelemetryRegistry::Scrape() const {
  std::lock_guard lock(mu_);
  std::vector<Sample> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) {
    Sample s;
    s.kind = e->kind;
    s.name = e->name;
    s.help = e->help;
    s.labels = e->labels;
    if (e->counter) s.counter = e->counter->Value();
    if (e->gauge) s.gauge = e->gauge->Value();
    if (e->histogram) s.histogram = e->histogram->Read();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace zenith::runtime
