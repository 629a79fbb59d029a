#include "zenith/runtime/telemetry_prometheus.h"

#include <gtest/gtest.h>

namespace zenith::runtime {
namespace {

TEST(TelemetryPrometheusTest, ScrapedIntoTheOneRegistry) {
  common::MetricsRegistry metrics;
  TelemetryRegistry telemetry;
  telemetry.AddCounter("zenith_runtime_test_items_total", "items", {{"ring", "a"}})
      .value()
      ->Add(12);
  auto* h = telemetry.AddHistogram("zenith_runtime_test_wait_seconds", "wait").value();
  h->Record(500);
  h->Record(3000);
  auto keep = ExportTelemetry(telemetry, metrics);
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find("zenith_runtime_test_items_total{ring=\"a\"} 12"), std::string::npos) << text;
  EXPECT_NE(text.find("zenith_runtime_test_wait_seconds_count 2"), std::string::npos) << text;
  EXPECT_NE(text.find("zenith_runtime_test_wait_seconds_bucket{le=\"+Inf\"} 2"), std::string::npos);
}

}  // namespace
}  // namespace zenith::runtime
