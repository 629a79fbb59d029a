#include "zenith/runtime/telemetry.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace zenith::runtime {
namespace {

TEST(TelemetryTest, CountersSumAcrossLiveAndExitedThreads) {
  TelemetryRegistry reg;
  Counter* c = reg.AddCounter("zenith_test_events_total", "events").value();
  EXPECT_EQ(reg.AddCounter("zenith_test_events_total", "events").value(), c);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Add();
    });
  }
  for (auto& t : threads) t.join();
  c->Add(5);  // this (live) thread
  EXPECT_EQ(c->Value(), 40005u);
  EXPECT_FALSE(reg.AddGauge("zenith_test_events_total", "clash").ok());
}

TEST(TelemetryTest, HistogramBucketsByPowerOfTwo) {
  TelemetryRegistry reg;
  LatencyHistogram* h = reg.AddHistogram("zenith_test_latency_seconds", "latency").value();
  h->Record(0);
  h->Record(1);
  h->Record(1000);        // bit width 10
  h->Record(1023);        // bit width 10
  h->Record(1ull << 50);  // beyond the last bound
  auto s = h->Read();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[10], 2u);
  EXPECT_EQ(s.counts[kHistogramBuckets - 1], 1u);
  EXPECT_EQ(s.sum_nanos, 1u + 1000 + 1023 + (1ull << 50));
  EXPECT_EQ(LatencyHistogram::BucketUpperBound(10), 1023u);
}

TEST(TelemetryTest, ScrapeListsEveryMetricAndWordsAreRecycled) {
  {
    TelemetryRegistry reg;
    reg.AddCounter("zenith_test_a_total", "a", {{"k", "1"}}).value()->Add(3);
    reg.AddGauge("zenith_test_g", "g").value()->Set(-7);
    auto samples = reg.Scrape();
    ASSERT_EQ(samples.size(), 2u);
    EXPECT_EQ(samples[0].counter, 3u);
    EXPECT_EQ(samples[0].labels.at("k"), "1");
    EXPECT_EQ(samples[1].gauge, -7);
  }
  // Thousands of registries come and go without running out of shard words, each from zero.
  for (int i = 0; i < 3000; ++i) {
    TelemetryRegistry reg;
    Counter* c = reg.AddCounter("zenith_test_b_total", "b").value();
    ASSERT_EQ(c->Value(), 0u);
    c->Add();
  }
}

}  // namespace
}  // namespace zenith::runtime
