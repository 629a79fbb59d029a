// Cost of recording one event: a Zenith sharded counter or histogram against one shared
// std::atomic and prometheus-cpp's Counter::Increment / Histogram::Observe. Threads(1) is the
// uncontended figure the goal (< 10 ns) is about; Threads(2) shows contention.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "bench_util.h"
#include "zenith/common/metrics.h"
#include "zenith/runtime/telemetry.h"

namespace zenith::bench {
namespace {

runtime::TelemetryRegistry& Telemetry() {
  static auto* t = new runtime::TelemetryRegistry();
  return *t;
}
prometheus::Registry& Prom() {
  static auto* r = new prometheus::Registry();
  return *r;
}

void BM_CounterZenith(benchmark::State& state) {
  static runtime::Counter* c = Telemetry().AddCounter("bench_events_total", "events").value();
  for (auto _ : state) c->Add();
  state.SetItemsProcessed(state.iterations());
}
void BM_CounterAtomic(benchmark::State& state) {
  static std::atomic<uint64_t> c{0};
  for (auto _ : state) c.fetch_add(1, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}
void BM_CounterPrometheus(benchmark::State& state) {
  static prometheus::Counter& c =
      prometheus::BuildCounter().Name("bench_events_total").Help("events").Register(Prom()).Add({});
  for (auto _ : state) c.Increment();
  state.SetItemsProcessed(state.iterations());
}
void BM_HistogramZenith(benchmark::State& state) {
  static runtime::LatencyHistogram* h =
      Telemetry().AddHistogram("bench_latency_seconds", "latency").value();
  uint64_t v = 1000;
  for (auto _ : state) h->Record(v++ & 0xffffff);
  state.SetItemsProcessed(state.iterations());
}
void BM_HistogramPrometheus(benchmark::State& state) {
  static prometheus::Histogram& h = prometheus::BuildHistogram()
                                        .Name("bench_latency_seconds")
                                        .Help("latency")
                                        .Register(Prom())
                                        .Add({}, common::LatencyBuckets());
  uint64_t v = 1000;
  for (auto _ : state) h.Observe(static_cast<double>(v++ & 0xffffff) * 1e-9);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_CounterZenith)->Name("telemetry/counter/1t/zenith")->Threads(1);
BENCHMARK(BM_CounterAtomic)->Name("telemetry/counter/1t/atomic")->Threads(1);
BENCHMARK(BM_CounterPrometheus)->Name("telemetry/counter/1t/prometheus")->Threads(1);
BENCHMARK(BM_CounterZenith)->Name("telemetry/counter/2t/zenith")->Threads(2);
BENCHMARK(BM_CounterAtomic)->Name("telemetry/counter/2t/atomic")->Threads(2);
BENCHMARK(BM_CounterPrometheus)->Name("telemetry/counter/2t/prometheus")->Threads(2);
BENCHMARK(BM_HistogramZenith)->Name("telemetry/histogram/1t/zenith")->Threads(1);
BENCHMARK(BM_HistogramPrometheus)->Name("telemetry/histogram/1t/prometheus")->Threads(1);

}  // namespace
}  // namespace zenith::bench

BENCHMARK_MAIN();
