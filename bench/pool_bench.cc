// Allocate/free throughput, the Zenith pool against glibc malloc, jemalloc and mimalloc through
// their explicit APIs. jemalloc and mimalloc replace malloc when linked, so each lives in its
// own binary (ZENITH_BENCH_JEMALLOC / ZENITH_BENCH_MIMALLOC); run.sh interleaves the binaries.
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "bench_util.h"
#include "zenith/runtime/memory_pool.h"
#include "zenith/runtime/spsc_ring.h"

#if defined(ZENITH_BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(ZENITH_BENCH_MIMALLOC)
#include <mimalloc.h>
#endif

namespace zenith::bench {
namespace {

struct ZenithPool {
  std::unique_ptr<runtime::MemoryPool> pool = runtime::MemoryPool::Create().value();
  void* Alloc(std::size_t n) { return pool->Allocate(n); }
  void Free(void* p, std::size_t) { pool->Free(p); }
};
struct Glibc {
  void* Alloc(std::size_t n) { return std::malloc(n); }
  void Free(void* p, std::size_t) { std::free(p); }
};
#if defined(ZENITH_BENCH_JEMALLOC)
struct Jemalloc {
  void* Alloc(std::size_t n) { return mallocx(n, 0); }
  void Free(void* p, std::size_t n) { sdallocx(p, n, 0); }
};
#elif defined(ZENITH_BENCH_MIMALLOC)
struct Mimalloc {
  void* Alloc(std::size_t n) { return mi_malloc(n); }
  void Free(void* p, std::size_t) { mi_free(p); }
};
#endif

// Sizes the data plane asks for: headers, small records and 4 KiB pages, 16 B .. 4 KiB.
std::vector<std::size_t> Sizes() {
  std::mt19937 rng(42);
  std::vector<std::size_t> s(4096);
  for (auto& x : s) x = std::size_t{16} << (rng() % 9);
  return s;
}

// Batches of 64 allocations then 64 frees, on one thread.
template <typename A>
void BM_AllocFree(benchmark::State& state) {
  A a;
  const auto sizes = Sizes();
  void* ptrs[64];
  std::size_t k = 0;
  for (auto _ : state) {
    for (int i = 0; i < 64; ++i) {
      ptrs[i] = a.Alloc(sizes[(k + i) & 4095]);
      static_cast<char*>(ptrs[i])[0] = 1;
    }
    for (int i = 63; i >= 0; --i) a.Free(ptrs[i], sizes[(k + i) & 4095]);
    k += 64;
  }
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 64, benchmark::Counter::kIsRate);
}

// One thread allocates, another frees (objects cross threads through an SPSC ring).
template <typename A>
void BM_CrossThread(benchmark::State& state) {
  constexpr uint64_t kObjects = 1u << 20;
  A a;
  const auto sizes = Sizes();
  double seconds = 0;
  for (auto _ : state) {
    runtime::SpscRing<void*> ring(1024);
    std::thread freer([&] {
      PinTo(1);
      void* buf[32];
      uint64_t got = 0;
      std::size_t k = 0;
      Backoff b;
      while (got < kObjects) {
        const std::size_t n = ring.PopBulk(buf);
        if (n == 0) {
          b.Pause();
          continue;
        }
        b.Reset();
        for (std::size_t i = 0; i < n; ++i) a.Free(buf[i], sizes[(k++) & 4095]);
        got += n;
      }
    });
    PinTo(0);
    const auto t0 = Clock::now();
    Backoff b;
    for (uint64_t i = 0; i < kObjects; ++i) {
      void* p = a.Alloc(sizes[i & 4095]);
      static_cast<char*>(p)[0] = 1;
      while (!ring.TryPush(p)) b.Pause();
      b.Reset();
    }
    freer.join();
    const double s = Seconds(t0, Clock::now());
    state.SetIterationTime(s);
    seconds += s;
  }
  state.counters["items_per_second"] =
      static_cast<double>(kObjects) * static_cast<double>(state.iterations()) / seconds;
}

#define POOL(A, name)                                                      \
  BENCHMARK(BM_AllocFree<A>)->Name("pool/alloc_free/" name)->MinTime(0.3); \
  BENCHMARK(BM_CrossThread<A>)->Name("pool/cross_thread/" name)->UseManualTime()->Iterations(3)
#if defined(ZENITH_BENCH_JEMALLOC)
POOL(Jemalloc, "jemalloc");
#elif defined(ZENITH_BENCH_MIMALLOC)
POOL(Mimalloc, "mimalloc");
#else
POOL(ZenithPool, "zenith");
POOL(Glibc, "glibc");
#endif

}  // namespace
}  // namespace zenith::bench

BENCHMARK_MAIN();
