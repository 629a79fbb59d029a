// Helpers shared by the micro-benchmarks: pinning, a start line for threads, and the one
// custom counter every comparison reads (run.sh takes the median of interleaved runs).
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "zenith/runtime/cpu_affinity.h"
#include "zenith/runtime/futex.h"

namespace zenith::bench {

inline void PinTo(int cpu) {
  const auto allowed = runtime::AllowedCpus();
  if (allowed.empty()) return;
  (void)runtime::PinCurrentThread({allowed[static_cast<std::size_t>(cpu) % allowed.size()]});
}

// Spins briefly, then yields: on 2 cores with 4 threads a pure spin would starve the peer.
struct Backoff {
  int spins = 0;
  void Pause() {
    if (++spins < 64) {
      runtime::CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  void Reset() { spins = 0; }
};

using Clock = std::chrono::steady_clock;
inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace zenith::bench
