// Time to discover the machine: Zenith's DiscoverTopology (hwloc for CPUs and caches, sysfs for
// PCI devices, converted to a plain struct) against a bare hwloc_topology_load keeping the
// important I/O objects; and TopologyCache::Get (a sysfs fingerprint check, then a copy of the
// last discovery) against the same cold hwloc load, since hwloc has no checked cache.
#include <hwloc.h>

#include "bench_util.h"
#include "zenith/runtime/topology.h"

namespace zenith::bench {
namespace {

void BM_DiscoverZenith(benchmark::State& state) {
  const bool io = state.range(0) != 0;
  for (auto _ : state) {
    auto t = runtime::DiscoverTopology({.io_devices = io, .synthetic = ""});
    if (!t.ok()) state.SkipWithError(t.status().ToString().c_str());
    benchmark::DoNotOptimize(t);
  }
}
void BM_DiscoverHwloc(benchmark::State& state) {
  const bool io = state.range(0) != 0;
  for (auto _ : state) {
    hwloc_topology_t topo;
    hwloc_topology_init(&topo);
    if (io) hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    hwloc_topology_load(topo);
    benchmark::DoNotOptimize(topo);
    hwloc_topology_destroy(topo);
  }
}
void BM_CachedZenith(benchmark::State& state) {
  runtime::TopologyCache cache;
  if (!cache.Get().ok()) state.SkipWithError("discovery failed");
  for (auto _ : state) {
    auto t = cache.Get();
    benchmark::DoNotOptimize(t);
  }
  if (cache.discoveries() != 1) state.SkipWithError("the machine changed during the run");
}
BENCHMARK(BM_CachedZenith)->Name("topology/cached/zenith")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DiscoverHwloc)->Name("topology/cached/hwloc")->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DiscoverZenith)
    ->Name("topology/with_io/zenith")
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DiscoverHwloc)->Name("topology/with_io/hwloc")->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DiscoverZenith)
    ->Name("topology/cpus_only/zenith")
    ->Arg(0)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DiscoverHwloc)
    ->Name("topology/cpus_only/hwloc")
    ->Arg(0)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace zenith::bench

BENCHMARK_MAIN();
