// A bounded single-producer single-consumer ring: one thread pushes, one thread pops, neither
// ever takes a lock. The algorithm (SpscRingView) works on a state block of plain integers, so
// SpscRing owns it in the heap and ShmSpscRing (shm_spsc_ring.h) places it in shared memory.
// It must never be used by two producers or two consumers at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <utility>

#include "zenith/runtime/futex.h"

namespace zenith::runtime {

// The shared indices and wake-up words of one ring. Indices grow without wrapping (2^64 items
// never happen); slot = index & (capacity - 1). Producer-written and consumer-written words sit
// on separate cache lines so neither side's stores invalidate the other's line needlessly.
struct SpscRingState {
  alignas(kCacheLine) std::atomic<uint64_t> tail{0};  // next index the producer writes
  alignas(kCacheLine) std::atomic<uint64_t> head{0};  // next index the consumer reads
  // A sleeping consumer waits on data_epoch; the producer bumps it after publishing.
  alignas(kCacheLine) std::atomic<uint32_t> data_epoch{0};
  std::atomic<uint32_t> consumer_sleeping{0};
  // A sleeping producer waits on space_epoch; the consumer bumps it after freeing slots.
  alignas(kCacheLine) std::atomic<uint32_t> space_epoch{0};
  std::atomic<uint32_t> producer_sleeping{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// The ring's algorithm over a state block and `capacity` slots (a power of two). Each side keeps
// a private copy of its own index and a cached copy of the other side's, so the shared index is
// read only when the cached one says the ring looks full (producer) or empty (consumer).
//
// With a `release_group` above 1, TryPop hands freed slots back to the producer a group at a
// time: it publishes its index when it finishes a group, or when it has taken every item it
// has seen. Why: a ring that runs full has the producer writing the slot the consumer has just
// read, on the cache line the consumer is still reading, so that line crosses between the cores
// on every item. Freed a group (128 bytes of slots) at a time, the producer only ever writes
// lines the consumer has finished with, and reads the consumer's index once per group. The
// cost: a consumer that stops calling TryPop while items remain holds back up to
// release_group - 1 free slots (never a slot of a drained ring). Pop and PopBulk publish at
// once, whatever the group.
//
// TryPush/TryPop and the bulk calls never block and never wake. Push/Pop block (spin, then
// sleep on a futex) and wake the other side if it sleeps. A side that sleeps is woken by the
// other side's Push/Pop; if the other side only uses the Try calls, the sleeper still rechecks
// every kSleepSlice, so mixing is correct but slow.
template <typename T>
class SpscRingView {
 public:
  static constexpr int kSpins = 256;
  static constexpr std::chrono::milliseconds kSleepSlice{10};

  // `release_group` is a power of two no larger than `capacity` (1: publish every pop).
  SpscRingView(SpscRingState* state, T* slots, uint64_t capacity, bool shared,
               uint64_t release_group = 1)
      : state_(state),
        slots_(slots),
        mask_(capacity - 1),
        group_mask_(release_group - 1),
        shared_(shared) {
    // Relaxed: a view is built before its side starts, with the state already published.
    producer_.tail = state->tail.load(std::memory_order_relaxed);
    producer_.head_cache = state->head.load(std::memory_order_relaxed);
    consumer_.head = state->head.load(std::memory_order_relaxed);
    consumer_.tail_cache = state->tail.load(std::memory_order_relaxed);
  }
  SpscRingView(const SpscRingView&) = delete;
  SpscRingView& operator=(const SpscRingView&) = delete;

  uint64_t capacity() const { return mask_ + 1; }

  // Producer side.
  template <typename U>
  bool TryPush(U&& item) {
    const uint64_t t = producer_.tail;
    if (t - producer_.head_cache > mask_ && !RefreshHead(t)) return false;
    slots_[t & mask_] = std::forward<U>(item);
    // Release: the slot's contents are visible before the consumer can see the new tail.
    state_->tail.store(t + 1, std::memory_order_release);
    producer_.tail = t + 1;
    return true;
  }

  // Pushes a prefix of `items` (as many as fit); returns how many.
  std::size_t PushBulk(std::span<const T> items) {
    const uint64_t t = producer_.tail;
    uint64_t free_slots = capacity() - (t - producer_.head_cache);
    if (free_slots < items.size()) {
      RefreshHead(t);
      free_slots = capacity() - (t - producer_.head_cache);
    }
    const std::size_t n = std::min<uint64_t>(free_slots, items.size());
    if (n == 0) return 0;
    const std::size_t first = std::min<uint64_t>(n, capacity() - (t & mask_));
    std::copy_n(items.data(), first, slots_ + (t & mask_));
    std::copy_n(items.data() + first, n - first, slots_);
    // Release: all n slots are visible before the consumer sees the tail move past them.
    state_->tail.store(t + n, std::memory_order_release);
    producer_.tail = t + n;
    return n;
  }

  // Blocks until there is room, then pushes and wakes a sleeping consumer.
  template <typename U>
  void Push(U&& item) {
    for (int spin = 0; !TryPush(item); ++spin) {
      if (spin < kSpins) {
        CpuRelax();
      } else {
        Sleep(state_->space_epoch, state_->producer_sleeping, [&] {
          // Acquire: pairs with the consumer's release of head.
          return producer_.tail - state_->head.load(std::memory_order_acquire) <= mask_;
        });
      }
    }
    Wake(state_->data_epoch, state_->consumer_sleeping);
  }

  // Consumer side.
  bool TryPop(T& out) { return Take</*kGrouped=*/true>(out); }

  // Pops up to out.size() items into `out`; returns how many.
  std::size_t PopBulk(std::span<T> out) {
    const uint64_t h = consumer_.head;
    uint64_t avail = consumer_.tail_cache - h;
    if (avail < out.size()) {
      RefreshTail(h);
      avail = consumer_.tail_cache - h;
    }
    const std::size_t n = std::min<uint64_t>(avail, out.size());
    if (n == 0) return 0;
    const std::size_t first = std::min<uint64_t>(n, capacity() - (h & mask_));
    std::move(slots_ + (h & mask_), slots_ + (h & mask_) + first, out.data());
    std::move(slots_, slots_ + (n - first), out.data() + first);
    // Release: the n slots are read before the producer may reuse them.
    state_->head.store(h + n, std::memory_order_release);
    consumer_.head = h + n;
    return n;
  }

  // Blocks until an item arrives, pops it and wakes a sleeping producer.
  void Pop(T& out) {
    for (int spin = 0; !Take</*kGrouped=*/false>(out); ++spin) {
      if (spin < kSpins) {
        CpuRelax();
      } else {
        Sleep(state_->data_epoch, state_->consumer_sleeping, [&] {
          // Acquire: pairs with the producer's release of tail.
          return state_->tail.load(std::memory_order_acquire) != consumer_.head;
        });
      }
    }
    Wake(state_->space_epoch, state_->producer_sleeping);
  }

  // Items in the ring as either side last saw them; exact only when both sides are idle (and
  // then counting up to release_group - 1 items TryPop took but has not yet handed back).
  uint64_t SizeApprox() const {
    // Relaxed: an estimate; no data is read on the strength of it.
    return state_->tail.load(std::memory_order_relaxed) -
           state_->head.load(std::memory_order_relaxed);
  }

 private:
  template <bool kGrouped>
  bool Take(T& out) {
    const uint64_t h = consumer_.head;
    if (h == consumer_.tail_cache && !RefreshTail(h)) return false;
    out = std::move(slots_[h & mask_]);
    consumer_.head = h + 1;
    if (!kGrouped || ((h + 1) & group_mask_) == 0 || h + 1 == consumer_.tail_cache) {
      // Release: we finished reading the slots before the producer may overwrite them.
      state_->head.store(h + 1, std::memory_order_release);
    }
    return true;
  }

  // Re-read the other side's index; true when at least one slot is free (producer) or full
  // (consumer) afterwards.
  bool RefreshHead(uint64_t t) {
    // Acquire: the consumer's reads of the slots it freed happen before we overwrite them.
    producer_.head_cache = state_->head.load(std::memory_order_acquire);
    return t - producer_.head_cache <= mask_;
  }
  bool RefreshTail(uint64_t h) {
    // Acquire: the producer's writes to the slots happen before we read them.
    consumer_.tail_cache = state_->tail.load(std::memory_order_acquire);
    return consumer_.tail_cache != h;
  }

  template <typename Ready>
  void Sleep(std::atomic<uint32_t>& epoch, std::atomic<uint32_t>& sleeping, Ready ready) {
    // Acquire: a bump after this read makes FutexWait return at once.
    const uint32_t e = epoch.load(std::memory_order_acquire);
    // Relaxed store + seq_cst fence: either the waker's fence orders its index store before
    // it reads this flag (so it wakes us), or our fence orders the flag before we re-read the
    // index (so ready() sees its item). This is Dekker's pattern; neither side can miss both.
    sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!ready()) FutexWait(epoch, e, shared_, kSleepSlice);
    // Relaxed: only this side sets or clears its own flag.
    sleeping.store(0, std::memory_order_relaxed);
  }
  void Wake(std::atomic<uint32_t>& epoch, std::atomic<uint32_t>& sleeping) {
    // Seq_cst fence: our index store is ordered before reading the flag (see Sleep).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Relaxed: the fence above gives the ordering.
    if (sleeping.load(std::memory_order_relaxed) != 0) {
      // Release: a sleeper that reads the new epoch also sees the published index.
      epoch.fetch_add(1, std::memory_order_release);
      FutexWakeAll(epoch, shared_);
    }
  }

  struct alignas(kCacheLine) ProducerSide {
    uint64_t tail = 0;        // our own index; the shared copy is only written
    uint64_t head_cache = 0;  // last head we read
  };
  struct alignas(kCacheLine) ConsumerSide {
    uint64_t head = 0;
    uint64_t tail_cache = 0;
  };

  SpscRingState* const state_;
  T* const slots_;
  const uint64_t mask_;
  const uint64_t group_mask_;
  const bool shared_;
  ProducerSide producer_;
  ConsumerSide consumer_;
};

// Rounds a requested capacity up to a power of two (at least 2).
inline uint64_t RingCapacityFor(uint64_t requested) {
  return std::bit_ceil(std::max<uint64_t>(requested, 2));
}

namespace detail {
// Slots start on a 128-byte boundary (a pair of cache lines, the unit the adjacent-line
// prefetcher moves), so the release groups below fall on whole lines.
inline constexpr std::size_t kSlotAlignment = 2 * kCacheLine;

template <typename T>
struct SpscRingStorage {
  explicit SpscRingStorage(uint64_t capacity)
      : state(std::make_unique<SpscRingState>()),
        slots(static_cast<T*>(
            ::operator new[](capacity * sizeof(T), std::align_val_t{kSlotAlignment}))),
        count(capacity) {
    try {
      std::uninitialized_value_construct_n(slots, count);
    } catch (...) {
      ::operator delete[](slots, std::align_val_t{kSlotAlignment});
      throw;
    }
  }
  ~SpscRingStorage() {
    std::destroy_n(slots, count);
    ::operator delete[](slots, std::align_val_t{kSlotAlignment});
  }
  SpscRingStorage(const SpscRingStorage&) = delete;
  SpscRingStorage& operator=(const SpscRingStorage&) = delete;

  std::unique_ptr<SpscRingState> state;
  T* slots;
  uint64_t count;
};

// TryPop's release group for an in-process ring: 128 bytes of slots (16 of 8 bytes, 2 of 64),
// at most a quarter of the ring so a small ring still overlaps its two sides.
template <typename T>
constexpr uint64_t ReleaseGroupFor(uint64_t capacity) {
  const uint64_t per_lines = std::max<uint64_t>(1, std::bit_floor(kSlotAlignment / sizeof(T)));
  return std::max<uint64_t>(1, std::min(per_lines, capacity / 4));
}
}  // namespace detail

// An in-process ring that owns its state and slots. T must be default-constructible and
// movable; slots are constructed up front and assigned into. TryPop releases slots in groups
// (see SpscRingView).
template <typename T>
class SpscRing : private detail::SpscRingStorage<T>, public SpscRingView<T> {
 public:
  explicit SpscRing(uint64_t min_capacity)
      : detail::SpscRingStorage<T>(RingCapacityFor(min_capacity)),
        SpscRingView<T>(this->state.get(), this->slots, RingCapacityFor(min_capacity),
                        /*shared=*/false,
                        detail::ReleaseGroupFor<T>(RingCapacityFor(min_capacity))) {}
};

}  // namespace zenith::runtime
