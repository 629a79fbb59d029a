// The trainer side of the shared-memory channel, header-only (no library to link): attach to
// the sidecar's segment, take finished batches without copying (a view into the segment), give
// each back when done. A dead or stopped producer is reported as an error within one wait
// slice, never a hang; a wait longer than the caller's timeout is an error too. Attach from a
// thread that lives as long as the consumer: the liveness lock belongs to that thread.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "zenith/runtime/batch_layout.h"
#include "zenith/runtime/channel_layout.h"

namespace zenith::runtime {

class ChannelConsumer {
 public:
  enum class Code { kOk, kEndOfData, kTimeout, kProducerGone, kBadSegment, kNoSeat, kSystem };
  struct Error {
    Code code = Code::kOk;
    std::string message;
    bool ok() const { return code == Code::kOk; }
  };

  // A batch lent by the producer; valid until Release.
  struct Batch {
    uint32_t slot = 0;
    uint64_t seq = 0;
    const std::byte* data = nullptr;
    uint64_t bytes = 0;
    const BatchHeader& header() const { return *reinterpret_cast<const BatchHeader*>(data); }
  };

  static std::unique_ptr<ChannelConsumer> Attach(const std::string& path, Error* error) {
    auto c = std::unique_ptr<ChannelConsumer>(new ChannelConsumer());
    *error = c->Open(path);
    if (!error->ok()) return nullptr;
    return c;
  }

  ~ChannelConsumer() {
    if (seat_ != nullptr) {
      // Clean detach: the producer reclaims our buffers (those still queued go to others).
      seat_->state.store(static_cast<uint32_t>(SeatState::kDetached), std::memory_order_release);
      pthread_mutex_unlock(&seat_->alive);
      channel_detail::WakeProducer(header_);
    }
    if (base_ != nullptr) munmap(base_, size_);
  }
  ChannelConsumer(const ChannelConsumer&) = delete;
  ChannelConsumer& operator=(const ChannelConsumer&) = delete;

  // The next batch if one is already queued (true, with `error` set as Next would), else false
  // at once.
  bool TryNext(Batch* out, Error* error) {
    ChannelDescriptor d;
    if (!full_->TryPop(d)) return false;
    *error = Take(d, out);
    return true;
  }

  // How long Next spins for a batch before it sleeps on the futex (with one CPU to run on,
  // spinning would only delay the producer: then 128 pauses).
  static constexpr int kMinSpins = 128;
  static constexpr uint64_t kSpinNanos = 50000;

  // Waits up to `timeout` for the next batch. kEndOfData once the producer finished and every
  // batch was taken; kProducerGone when it died or stopped.
  Error Next(Batch* out, std::chrono::nanoseconds timeout) {
    ChannelDescriptor d;
    if (full_->TryPop(d)) return Take(d, out);
    const uint64_t start = channel_detail::MonotonicNanos();
    const uint64_t deadline = start + static_cast<uint64_t>(timeout.count());
    SpscRingState* st = full_state_;
    bool spinning = true;
    for (int spin = 0;; ++spin) {
      if (full_->TryPop(d)) {
        seat_->wait_ns.fetch_add(channel_detail::MonotonicNanos() - start,
                                 std::memory_order_relaxed);
        return Take(d, out);
      }
      // Spin before sleeping for about one batch's assembly time: a futex sleep costs the
      // producer a wake-up system call per batch, which on small samples was 6 % of its CPU.
      if (spinning) {
        if (spin < kMinSpins || spin % 64 != 0 ||
            channel_detail::MonotonicNanos() - start < spin_nanos_) {
          CpuRelax();
          continue;
        }
        spinning = false;
      }
      const auto state =
          static_cast<ProducerState>(header_->producer_state.load(std::memory_order_acquire));
      if (state != ProducerState::kRunning || (spin % 16 == 0 && ProducerGone())) {
        if (full_->TryPop(d)) return Take(d, out);  // published before it finished
        seat_->wait_ns.fetch_add(channel_detail::MonotonicNanos() - start,
                                 std::memory_order_relaxed);
        if (state == ProducerState::kFinished) return {Code::kEndOfData, "end of data"};
        std::string why(header_->error, strnlen(header_->error, sizeof(header_->error)));
        if (why.empty())
          why = "the producer (pid " + std::to_string(header_->producer_pid) + ") died";
        return {Code::kProducerGone, "zenith channel " + path_ + ": " + why};
      }
      const uint64_t now = channel_detail::MonotonicNanos();
      if (now >= deadline) {
        seat_->wait_ns.fetch_add(now - start, std::memory_order_relaxed);
        return {Code::kTimeout, "zenith channel " + path_ + ": no batch within " +
                                    std::to_string((now - start) / 1000000) + " ms"};
      }
      // Sleep on the ring's data word as SpscRingView does (Dekker with the producer's Wake),
      // in slices short enough to notice a dead producer promptly.
      const uint32_t e = st->data_epoch.load(std::memory_order_acquire);
      st->consumer_sleeping.store(1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (st->tail.load(std::memory_order_acquire) == st->head.load(std::memory_order_relaxed)) {
        channel_detail::FutexWait(
            st->data_epoch, e,
            std::chrono::nanoseconds(std::min<uint64_t>(deadline - now, 20000000)));
      }
      st->consumer_sleeping.store(0, std::memory_order_relaxed);
    }
  }

  // Gives a batch's buffer back to the producer.
  void Release(const Batch& b) {
    free_->TryPush(ChannelDescriptor{b.slot, 0, 0, b.seq});  // never full: capacity >= slots
    channel_detail::WakeProducer(header_);
  }

  // The whole segment (to register it with CUDA) and its slab of batch buffers.
  std::span<std::byte> segment() const { return {static_cast<std::byte*>(base_), size_}; }
  const ChannelHeader& header() const { return *header_; }
  int seat() const { return seat_index_; }

 private:
  ChannelConsumer() = default;

  bool ProducerGone() { return channel_detail::HolderGone(&header_->producer_alive); }

  Error Take(const ChannelDescriptor& d, Batch* out) {
    if (d.slot >= header_->num_slots || d.bytes > header_->slot_bytes) {
      return {Code::kBadSegment, "zenith channel " + path_ + ": descriptor out of range"};
    }
    out->slot = d.slot;
    out->seq = d.seq;
    out->bytes = d.bytes;
    out->data = static_cast<const std::byte*>(base_) + header_->slab_offset +
                uint64_t{d.slot} * header_->slot_bytes;
    if (const char* why = CheckBatch(out->data, d.bytes)) {
      Release(*out);
      return {Code::kBadSegment,
              "zenith channel " + path_ + ": slot " + std::to_string(d.slot) + ": " + why};
    }
    seat_->batches.fetch_add(1, std::memory_order_relaxed);
    return {};
  }

  Error Open(const std::string& path) {
    path_ = path;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) < 2) spin_nanos_ = 0;
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return {Code::kSystem, "opening zenith channel " + path + ": " + std::strerror(errno)};
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < sizeof(ChannelHeader)) {
      close(fd);
      return {Code::kBadSegment, "zenith channel " + path + ": too small for a header"};
    }
    size_ = static_cast<std::size_t>(st.st_size);
    base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      return {Code::kSystem, "mapping zenith channel " + path + ": " + std::strerror(errno)};
    }
    header_ = static_cast<ChannelHeader*>(base_);
    if (header_->magic.load(std::memory_order_acquire) != ChannelHeader::kMagic) {
      return {Code::kBadSegment, "zenith channel " + path + ": bad magic"};
    }
    if (header_->version != ChannelHeader::kVersion) {
      return {Code::kBadSegment, "zenith channel " + path + ": version " +
                                     std::to_string(header_->version) + ", this client speaks " +
                                     std::to_string(ChannelHeader::kVersion)};
    }
    const uint64_t rings = 2 * ChannelRingBytes(header_->ring_capacity);
    if (header_->segment_bytes != size_ || header_->num_slots > header_->ring_capacity ||
        header_->seats_offset + header_->max_consumers * (sizeof(ChannelSeat) + rings) >
            header_->slab_offset ||
        header_->slab_offset + uint64_t{header_->num_slots} * header_->slot_bytes > size_) {
      return {Code::kBadSegment, "zenith channel " + path + ": header does not fit the segment"};
    }
    auto* seats =
        reinterpret_cast<ChannelSeat*>(static_cast<std::byte*>(base_) + header_->seats_offset);
    for (uint32_t i = 0; i < header_->max_consumers; ++i) {
      uint32_t expected = static_cast<uint32_t>(SeatState::kFree);
      if (!seats[i].state.compare_exchange_strong(
              expected, static_cast<uint32_t>(SeatState::kAttaching), std::memory_order_acq_rel)) {
        continue;
      }
      // Trylock: a seat whose lock a live thread still holds (a consumer of this process that
      // was destroyed from another thread) stays unusable until that thread ends.
      int rc = pthread_mutex_trylock(&seats[i].alive);
      if (rc == EOWNERDEAD) rc = pthread_mutex_consistent(&seats[i].alive);
      if (rc != 0) {
        seats[i].state.store(static_cast<uint32_t>(SeatState::kFree), std::memory_order_release);
        continue;
      }
      seat_ = &seats[i];
      seat_index_ = static_cast<int>(i);
      auto* full = static_cast<std::byte*>(base_) + seats[i].full_ring_offset;
      auto* free = static_cast<std::byte*>(base_) + seats[i].free_ring_offset;
      full_state_ = reinterpret_cast<SpscRingState*>(full);
      full_ = std::make_unique<SpscRingView<ChannelDescriptor>>(
          full_state_, ChannelRingSlots(full), header_->ring_capacity, /*shared=*/true);
      free_ = std::make_unique<SpscRingView<ChannelDescriptor>>(
          reinterpret_cast<SpscRingState*>(free), ChannelRingSlots(free), header_->ring_capacity,
          /*shared=*/true);
      seat_->pid = static_cast<int32_t>(getpid());
      seat_->generation.fetch_add(1, std::memory_order_relaxed);
      // Release: the producer that sees kAttached sees the rings as we found them.
      seat_->state.store(static_cast<uint32_t>(SeatState::kAttached), std::memory_order_release);
      channel_detail::WakeProducer(header_);
      return {};
    }
    return {Code::kNoSeat, "zenith channel " + path + ": all " +
                               std::to_string(header_->max_consumers) + " consumer seats taken"};
  }

  std::string path_;
  uint64_t spin_nanos_ = kSpinNanos;
  void* base_ = nullptr;
  std::size_t size_ = 0;
  ChannelHeader* header_ = nullptr;
  ChannelSeat* seat_ = nullptr;
  int seat_index_ = -1;
  SpscRingState* full_state_ = nullptr;
  std::unique_ptr<SpscRingView<ChannelDescriptor>> full_;
  std::unique_ptr<SpscRingView<ChannelDescriptor>> free_;
};

}  // namespace zenith::runtime
