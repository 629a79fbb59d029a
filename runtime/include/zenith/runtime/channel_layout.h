// The shared-memory segment between one producer (the sidecar) and its consumers (the trainer
// processes): a versioned header with a magic number, one seat per consumer with two SPSC rings
// of descriptors (full batches out, free buffers back), then a slab of equal batch buffers.
// Only offsets cross the boundary. Liveness is a robust process-shared mutex per side, held for
// as long as that side is attached: when a holder dies the kernel marks it, so the other side
// notices at once (EOWNERDEAD) with no heartbeat to tune. Header-only, for the consumers.
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "zenith/runtime/spsc_ring.h"

namespace zenith::runtime {

// What travels through the rings: a buffer (slot) of the slab and the bytes used in it.
struct ChannelDescriptor {
  uint32_t slot;
  uint32_t reserved;
  uint64_t bytes;
  uint64_t seq;  // the producer's batch number, for ordering and tests
};

enum class ProducerState : uint32_t { kRunning = 0, kFinished = 1, kFailed = 2, kStopped = 3 };
enum class SeatState : uint32_t { kFree = 0, kAttaching = 1, kAttached = 2, kDetached = 3 };

struct alignas(kCacheLine) ChannelSeat {
  pthread_mutex_t alive;  // robust, process-shared: held by the attached consumer
  std::atomic<uint32_t> state;
  std::atomic<uint32_t> generation;  // bumped at each attach
  int32_t pid;
  uint32_t reserved;
  uint64_t full_ring_offset;      // producer → consumer
  uint64_t free_ring_offset;      // consumer → producer
  std::atomic<uint64_t> wait_ns;  // time the consumer waited for a batch (starvation)
  std::atomic<uint64_t> batches;  // batches it received
};

struct alignas(kCacheLine) ChannelHeader {
  static constexpr uint64_t kMagic = 0x314e4e4148435a5aULL;  // "ZZCHANN1"
  static constexpr uint32_t kVersion = 1;

  std::atomic<uint64_t> magic;  // stored last (release), so a reader that sees it sees the rest
  uint32_t version;
  uint32_t max_consumers;
  uint64_t segment_bytes;
  uint32_t num_slots;
  uint32_t ring_capacity;  // power of two >= num_slots: a push never finds a ring full
  uint64_t slot_bytes;
  uint64_t seats_offset;
  uint64_t slab_offset;            // 4096-aligned, so the slab can be registered with CUDA as is
  pthread_mutex_t producer_alive;  // robust, process-shared: held by the producer
  int32_t producer_pid;
  std::atomic<uint32_t> producer_state;
  // Consumers bump this after returning a buffer and wake the producer if it sleeps on it.
  alignas(kCacheLine) std::atomic<uint32_t> producer_wake;
  std::atomic<uint32_t> producer_sleeping;
  char error[512];  // why the producer failed or stopped, NUL-terminated
};

// Bytes of one ring region (its state block, then the descriptors).
inline constexpr uint64_t ChannelRingBytes(uint64_t capacity) {
  return (sizeof(SpscRingState) + kCacheLine - 1) / kCacheLine * kCacheLine +
         capacity * sizeof(ChannelDescriptor);
}
inline ChannelDescriptor* ChannelRingSlots(std::byte* ring) {
  return reinterpret_cast<ChannelDescriptor*>(ring + (sizeof(SpscRingState) + kCacheLine - 1) /
                                                         kCacheLine * kCacheLine);
}

namespace channel_detail {
inline void FutexWait(std::atomic<uint32_t>& word, uint32_t expected,
                      std::chrono::nanoseconds timeout) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}
inline void FutexWake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, INT32_MAX, nullptr, nullptr,
          0);
}
inline uint64_t MonotonicNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
// Whether the holder of a robust mutex is gone: true when the lock could be taken (nobody held
// it) or its owner died. Leaves the mutex unlocked and consistent either way.
inline bool HolderGone(pthread_mutex_t* m) {
  const int rc = pthread_mutex_trylock(m);
  if (rc == EBUSY) return false;
  if (rc == EOWNERDEAD) pthread_mutex_consistent(m);
  if (rc == 0 || rc == EOWNERDEAD) pthread_mutex_unlock(m);
  return rc == 0 || rc == EOWNERDEAD;
}
// Wakes the producer after a buffer came back (Dekker pairing with its sleeping flag).
inline void WakeProducer(ChannelHeader* h) {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our ring store before the flag read
  if (h->producer_sleeping.load(std::memory_order_relaxed) != 0) {
    h->producer_wake.fetch_add(1, std::memory_order_release);
    FutexWake(h->producer_wake);
  }
}
}  // namespace channel_detail

}  // namespace zenith::runtime
