// The one metrics registry: a thin owner of a prometheus-cpp Registry plus any extra
// collectables (per-thread telemetry aggregated at scrape time). Components take a
// MetricsRegistry& in their constructor and register what they count.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace zenith::common {

class MetricsRegistry {
 public:
  using Labels = std::map<std::string, std::string>;

  MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

  prometheus::Registry& registry() { return *registry_; }

  // Families are created once per name and shared; each call adds or finds one labelled child.
  prometheus::Counter& Counter(const std::string& name, const std::string& help,
                               const Labels& labels = {});
  prometheus::Gauge& Gauge(const std::string& name, const std::string& help,
                           const Labels& labels = {});
  prometheus::Histogram& Histogram(const std::string& name, const std::string& help,
                                   const prometheus::Histogram::BucketBoundaries& buckets,
                                   const Labels& labels = {});

  // Adds a collectable that is asked at each scrape (kept alive by the caller; a collectable
  // that has expired is skipped).
  void AddCollectable(std::weak_ptr<prometheus::Collectable> collectable);

  // The Prometheus text exposition of everything registered.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<prometheus::Collectable>> extra_;
};

// Latency buckets in seconds from 10 µs to 10 s, for request and cycle histograms.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace zenith::common
