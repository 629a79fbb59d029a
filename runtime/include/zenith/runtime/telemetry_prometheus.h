// The bridge from the runtime's per-thread telemetry to the one metrics registry: a
// prometheus::Collectable that sums the shards at each scrape. Lives in its own small library
// (zenith_runtime_metrics) so zenith_runtime builds where prometheus-cpp is missing.
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <vector>

#include "zenith/common/metrics.h"
#include "zenith/runtime/telemetry.h"

namespace zenith::runtime {

class TelemetryCollectable : public prometheus::Collectable {
 public:
  explicit TelemetryCollectable(const TelemetryRegistry& telemetry) : telemetry_(telemetry) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const TelemetryRegistry& telemetry_;
};

// Registers `telemetry` with `metrics`; the registry asks it at every scrape for as long as the
// returned pointer is kept (and `telemetry` must outlive it).
std::shared_ptr<TelemetryCollectable> ExportTelemetry(const TelemetryRegistry& telemetry,
                                                      common::MetricsRegistry& metrics);

}  // namespace zenith::runtime
