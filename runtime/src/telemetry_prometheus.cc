#include "zenith/runtime/telemetry_prometheus.h"

#include <map>

namespace zenith::runtime {

std::vector<prometheus::MetricFamily> TelemetryCollectable::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  std::map<std::string, std::size_t> by_name;  // one family per name, one metric per label set
  for (const auto& s : telemetry_.Scrape()) {
    auto [it, fresh] = by_name.try_emplace(s.name, families.size());
    if (fresh) {
      prometheus::MetricFamily f;
      f.name = s.name;
      f.help = s.help;
      f.type = s.kind == TelemetryRegistry::Kind::kCounter ? prometheus::MetricType::Counter
               : s.kind == TelemetryRegistry::Kind::kGauge ? prometheus::MetricType::Gauge
                                                           : prometheus::MetricType::Histogram;
      families.push_back(std::move(f));
    }
    prometheus::ClientMetric m;
    for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
    switch (s.kind) {
      case TelemetryRegistry::Kind::kCounter:
        m.counter.value = static_cast<double>(s.counter);
        break;
      case TelemetryRegistry::Kind::kGauge:
        m.gauge.value = static_cast<double>(s.gauge);
        break;
      case TelemetryRegistry::Kind::kHistogram: {
        // Power-of-two nanosecond buckets become cumulative buckets in seconds.
        uint64_t cumulative = 0;
        for (std::size_t k = 0; k < s.histogram.counts.size(); ++k) {
          cumulative += s.histogram.counts[k];
          const bool last = k + 1 == s.histogram.counts.size();
          m.histogram.bucket.push_back(
              {cumulative,
               last ? std::numeric_limits<double>::infinity()
                    : static_cast<double>(LatencyHistogram::BucketUpperBound(k)) * 1e-9});
        }
        m.histogram.sample_count = s.histogram.count;
        m.histogram.sample_sum = static_cast<double>(s.histogram.sum_nanos) * 1e-9;
        break;
      }
    }
    families[it->second].metric.push_back(std::move(m));
  }
  return families;
}

std::shared_ptr<TelemetryCollectable> ExportTelemetry(const TelemetryRegistry& telemetry,
                                                      common::MetricsRegistry& metrics) {
  auto collectable = std::make_shared<TelemetryCollectable>(telemetry);
  metrics.AddCollectable(collectable);
  return collectable;
}

}  // namespace zenith::runtime
