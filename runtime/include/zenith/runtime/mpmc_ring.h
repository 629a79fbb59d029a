// A bounded multi-producer multi-consumer ring after Dmitry Vyukov: every slot carries a
// sequence number that says whose turn it is, so producers and consumers contend only on their
// own position counter and never on each other's. It never blocks and never allocates after
// construction; T must be default-constructible and movable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "zenith/runtime/futex.h"
#include "zenith/runtime/spsc_ring.h"

namespace zenith::runtime {

template <typename T>
class MpmcRing {
 public:
  explicit MpmcRing(uint64_t min_capacity)
      : mask_(RingCapacityFor(min_capacity) - 1), cells_(new Cell[mask_ + 1]) {
    // Relaxed: construction happens before the ring is shared with other threads.
    for (uint64_t i = 0; i <= mask_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  MpmcRing(const MpmcRing&) = delete;
  MpmcRing& operator=(const MpmcRing&) = delete;

  uint64_t capacity() const { return mask_ + 1; }

  template <typename U>
  bool TryPush(U&& item) {
    uint64_t pos;
    if (ClaimRun(enqueue_pos_, 0, 1, pos) == 0) return false;
    Cell& cell = cells_[pos & mask_];
    cell.value = std::forward<U>(item);
    // Release: the value is written before a consumer sees the slot as full.
    cell.seq.store(pos + 1, std::memory_order_release);
    return true;
  }

  bool TryPop(T& out) {
    uint64_t pos;
    if (ClaimRun(dequeue_pos_, 1, 1, pos) == 0) return false;
    Cell& cell = cells_[pos & mask_];
    out = std::move(cell.value);
    // Release: the value is read before a producer of the next lap overwrites it.
    cell.seq.store(pos + mask_ + 1, std::memory_order_release);
    return true;
  }

  // Pushes a prefix of `items` as one claimed run of consecutive slots; returns how many.
  std::size_t PushBulk(std::span<const T> items) {
    uint64_t pos;
    const std::size_t n = ClaimRun(enqueue_pos_, 0, items.size(), pos);
    for (std::size_t i = 0; i < n; ++i) {
      Cell& cell = cells_[(pos + i) & mask_];
      cell.value = items[i];
      // Release: as in TryPush, per slot, so consumers may take the first ones at once.
      cell.seq.store(pos + i + 1, std::memory_order_release);
    }
    return n;
  }

  // Pops up to out.size() items from one claimed run of consecutive slots; returns how many.
  std::size_t PopBulk(std::span<T> out) {
    uint64_t pos;
    const std::size_t n = ClaimRun(dequeue_pos_, 1, out.size(), pos);
    for (std::size_t i = 0; i < n; ++i) {
      Cell& cell = cells_[(pos + i) & mask_];
      out[i] = std::move(cell.value);
      // Release: as in TryPop.
      cell.seq.store(pos + i + mask_ + 1, std::memory_order_release);
    }
    return n;
  }

 private:
  struct Cell {
    std::atomic<uint64_t> seq;
    T value{};
  };

  // Claims up to `want` consecutive slots starting at `counter` whose sequence equals
  // position + `lag` (0: free for a producer, 1: full for a consumer). A slot that is ready
  // stays ready until its position is claimed, so counting first and then moving the counter
  // with one CAS is safe. Returns how many were claimed; their first position in `pos`.
  std::size_t ClaimRun(std::atomic<uint64_t>& counter, uint64_t lag, std::size_t want,
                       uint64_t& pos) {
    if (want == 0) return 0;
    // Relaxed: the slot's sequence number, read with acquire below, carries the ordering.
    pos = counter.load(std::memory_order_relaxed);
    for (;;) {
      std::size_t n = 0;
      while (n < want && n <= mask_) {
        // Acquire: the other side's last access to this slot happens before ours.
        const uint64_t seq = cells_[(pos + n) & mask_].seq.load(std::memory_order_acquire);
        const int64_t diff = static_cast<int64_t>(seq - (pos + n + lag));
        if (diff == 0) {
          ++n;
        } else if (diff < 0 || n > 0) {
          break;  // not ready (full/empty), or the run ends here
        } else {
          n = SIZE_MAX;  // another thread claimed pos: reload and retry
          break;
        }
      }
      if (n == SIZE_MAX) {
        pos = counter.load(std::memory_order_relaxed);
        continue;
      }
      if (n == 0) return 0;
      // Relaxed on success: ownership of the slots is decided by this CAS alone; the data
      // ordering comes from the slots' sequence numbers. On failure pos is reloaded.
      if (counter.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
        return n;
      }
    }
  }

  alignas(kCacheLine) std::atomic<uint64_t> enqueue_pos_{0};
  alignas(kCacheLine) std::atomic<uint64_t> dequeue_pos_{0};
  alignas(kCacheLine) const uint64_t mask_;
  std::unique_ptr<Cell[]> cells_;
};

}  // namespace zenith::runtime
