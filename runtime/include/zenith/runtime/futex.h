// Sleeping on a 32-bit word until another thread (or process) bumps it: the slow path of the
// rings' blocking calls. Never used on a hot path; a spurious wake-up is always allowed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace zenith::runtime {

// The size of one cache line on the machines Zenith runs on (x86-64 and aarch64 servers).
// std::hardware_destructive_interference_size would do, but GCC warns that its value may
// differ between compilers, which matters for a layout shared between processes.
inline constexpr std::size_t kCacheLine = 64;

// Sleeps while *word == expected, for at most `timeout`. `shared` selects a futex that works
// across processes (the word lives in shared memory); otherwise the cheaper private one.
void FutexWait(const std::atomic<uint32_t>& word, uint32_t expected, bool shared,
               std::chrono::nanoseconds timeout);
// Wakes every thread sleeping on `word`.
void FutexWakeAll(const std::atomic<uint32_t>& word, bool shared);

// One spin-loop pause (PAUSE on x86, YIELD on arm): cheaper for the sibling hyper-thread.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace zenith::runtime
