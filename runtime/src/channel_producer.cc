#include "zenith/runtime/channel_producer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "zenith/common/log.h"
#include "zenith/runtime/batch_layout.h"
#include "zenith/runtime/futex.h"

namespace zenith::runtime {
namespace {

constexpr uint64_t Align(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

Status InitRobustMutex(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  // Robust: when the holder dies the next locker gets EOWNERDEAD instead of blocking forever.
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return InternalError("initialising a robust shared mutex: " + ErrnoMessage(rc));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ChannelProducer>> ChannelProducer::Create(const ChannelOptions& options,
                                                                 TelemetryRegistry& telemetry) {
  if (options.slots == 0 || options.slots > (1u << 16)) {
    return InvalidArgumentError("channel: slots " + std::to_string(options.slots) +
                                " must be within 1..65536");
  }
  if (options.max_consumers == 0 || options.max_consumers > 256) {
    return InvalidArgumentError("channel: max consumers must be within 1..256");
  }
  if (options.slot_bytes < sizeof(BatchHeader)) {
    return InvalidArgumentError("channel: slot-bytes " + std::to_string(options.slot_bytes) +
                                " is smaller than a batch header");
  }
  auto p = std::unique_ptr<ChannelProducer>(new ChannelProducer(options, telemetry));
  ZENITH_RETURN_IF_ERROR(p->Init());
  return p;
}

ChannelSeat& ChannelProducer::Seat(uint32_t i) {
  return reinterpret_cast<ChannelSeat*>(static_cast<std::byte*>(base_) + header_->seats_offset)[i];
}

Status ChannelProducer::Init() {
  ZENITH_ASSIGN_OR_RETURN(reclaimed_,
                          telemetry_.AddCounter("zenith_runtime_channel_reclaimed_buffers_total",
                                                "Buffers taken back from consumers that left"));
  ZENITH_ASSIGN_OR_RETURN(consumer_deaths_,
                          telemetry_.AddCounter("zenith_runtime_channel_consumer_deaths_total",
                                                "Consumers found dead (their lock owner died)"));
  ZENITH_ASSIGN_OR_RETURN(consumers_gauge_,
                          telemetry_.AddGauge("zenith_runtime_channel_consumers",
                                              "Consumers attached to the shared-memory channel"));
  const uint32_t cap = static_cast<uint32_t>(RingCapacityFor(options_.slots));
  const uint64_t ring_stride = Align(ChannelRingBytes(cap), kCacheLine);
  const uint64_t seats_offset = Align(sizeof(ChannelHeader), kCacheLine);
  const uint64_t rings_offset = seats_offset + options_.max_consumers * sizeof(ChannelSeat);
  const uint64_t slab_offset = Align(rings_offset + options_.max_consumers * 2 * ring_stride, 4096);
  const uint64_t slot_bytes = Align(options_.slot_bytes, 4096);
  size_ = slab_offset + uint64_t{options_.slots} * slot_bytes;

  std::string tmp;
  if (options_.dir == "memfd") {
    fd_ = memfd_create(options_.name.c_str(), MFD_CLOEXEC);
    if (fd_ < 0) return UnavailableError("channel: memfd_create: " + ErrnoMessage(errno));
    path_ = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
  } else {
    path_ = options_.dir + "/" + options_.name + ".zenith";
    tmp = path_ + ".tmp." + std::to_string(getpid());
    unlink(tmp.c_str());
    fd_ = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      return UnavailableError("shm-dir " + options_.dir + ": creating " + tmp + ": " +
                              ErrnoMessage(errno));
    }
  }
  if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
    const int err = errno;
    if (!tmp.empty()) unlink(tmp.c_str());
    return ResourceExhaustedError("channel: sizing " + path_ + " to " + std::to_string(size_) +
                                  " bytes: " + ErrnoMessage(err));
  }
  base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    if (!tmp.empty()) unlink(tmp.c_str());
    return ResourceExhaustedError("channel: mapping " + path_ + ": " + ErrnoMessage(errno));
  }
  header_ = new (base_) ChannelHeader();
  header_->version = ChannelHeader::kVersion;
  header_->max_consumers = options_.max_consumers;
  header_->segment_bytes = size_;
  header_->num_slots = options_.slots;
  header_->ring_capacity = cap;
  header_->slot_bytes = slot_bytes;
  header_->seats_offset = seats_offset;
  header_->slab_offset = slab_offset;
  header_->producer_pid = static_cast<int32_t>(getpid());
  ZENITH_RETURN_IF_ERROR(InitRobustMutex(&header_->producer_alive));
  if (pthread_mutex_lock(&header_->producer_alive) != 0) {
    return InternalError("channel: locking the producer's liveness mutex");
  }
  seats_.resize(options_.max_consumers);
  for (uint32_t i = 0; i < options_.max_consumers; ++i) {
    auto* seat = new (&Seat(i)) ChannelSeat();
    ZENITH_RETURN_IF_ERROR(InitRobustMutex(&seat->alive));
    seat->full_ring_offset = rings_offset + (2 * i) * ring_stride;
    seat->free_ring_offset = rings_offset + (2 * i + 1) * ring_stride;
    ResetSeatRings(i);
  }
  owner_.assign(options_.slots, kNoOwner);
  for (uint32_t s = options_.slots; s-- > 0;) free_.push_back(s);
  // Release: every field above is visible to a consumer that reads the magic.
  header_->magic.store(ChannelHeader::kMagic, std::memory_order_release);
  if (!tmp.empty() && rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return UnavailableError("channel: publishing " + path_ + ": " + ErrnoMessage(err));
  }
  unlink_on_close_ = !tmp.empty();
  common::log::Info("shared-memory channel ready", {{"path", path_},
                                                    {"bytes", size_},
                                                    {"slots", options_.slots},
                                                    {"slot_bytes", slot_bytes},
                                                    {"max_consumers", options_.max_consumers}});
  return Status::Ok();
}

ChannelProducer::~ChannelProducer() {
  if (header_ != nullptr) {
    if (!closed_) Stop("the producer shut down");
    pthread_mutex_unlock(&header_->producer_alive);
  }
  if (base_ != nullptr) munmap(base_, size_);
  if (unlink_on_close_) unlink(path_.c_str());
  if (fd_ >= 0) close(fd_);
}

std::span<std::byte> ChannelProducer::Buffer(uint32_t slot) {
  return {
      static_cast<std::byte*>(base_) + header_->slab_offset + uint64_t{slot} * header_->slot_bytes,
      header_->slot_bytes};
}

void ChannelProducer::ResetSeatRings(uint32_t i) {
  auto* base = static_cast<std::byte*>(base_);
  new (base + Seat(i).full_ring_offset) SpscRingState();
  new (base + Seat(i).free_ring_offset) SpscRingState();
}

int ChannelProducer::attached() const {
  return static_cast<int>(
      std::count_if(seats_.begin(), seats_.end(), [](const SeatView& v) { return v.active; }));
}

uint64_t ChannelProducer::consumer_wait_nanos() const {
  uint64_t total = 0;
  auto* seats = reinterpret_cast<const ChannelSeat*>(static_cast<const std::byte*>(base_) +
                                                     header_->seats_offset);
  for (uint32_t i = 0; i < options_.max_consumers; ++i) {
    total += seats[i].wait_ns.load(std::memory_order_relaxed);  // Relaxed: a metric
  }
  return total;
}

uint64_t ChannelProducer::depth() const {
  uint64_t d = ready_.size();
  for (const SeatView& v : seats_) {
    if (v.active) d += v.full->SizeApprox();
  }
  return d;
}

void ChannelProducer::Reclaim(uint32_t i, bool died) {
  SeatView& v = seats_[i];
  ChannelSeat& seat = Seat(i);
  auto* base = static_cast<std::byte*>(base_);
  auto* full = base + seat.full_ring_offset;
  auto* free = base + seat.free_ring_offset;
  // Fresh views read the indices as the departed consumer left them; it no longer runs, so
  // draining its side of the rings is safe.
  SpscRingView<ChannelDescriptor> full_view(reinterpret_cast<SpscRingState*>(full),
                                            ChannelRingSlots(full), header_->ring_capacity, true);
  SpscRingView<ChannelDescriptor> free_view(reinterpret_cast<SpscRingState*>(free),
                                            ChannelRingSlots(free), header_->ring_capacity, true);
  std::vector<ChannelDescriptor> queued;
  ChannelDescriptor d;
  while (full_view.TryPop(d)) queued.push_back(d);
  for (auto it = queued.rbegin(); it != queued.rend(); ++it) {
    if (it->slot < owner_.size() && owner_[it->slot] == static_cast<int32_t>(i)) {
      owner_[it->slot] = kNoOwner;
      ready_.push_front(*it);  // not taken yet: deliver to another consumer, in order
    }
  }
  while (free_view.TryPop(d)) {
    if (d.slot < owner_.size() && owner_[d.slot] == static_cast<int32_t>(i)) {
      owner_[d.slot] = kNoOwner;
      free_.push_back(d.slot);
    }
  }
  uint64_t lost = 0;
  for (uint32_t s = 0; s < owner_.size(); ++s) {
    if (owner_[s] == static_cast<int32_t>(i)) {  // taken but never given back
      owner_[s] = kNoOwner;
      free_.push_back(s);
      ++lost;
    }
  }
  reclaimed_->Add(queued.size() + lost);
  if (died) {
    consumer_deaths_->Add();
    common::log::Warn("consumer died; its buffers were reclaimed",
                      {{"seat", i},
                       {"pid", seat.pid},
                       {"requeued_batches", queued.size()},
                       {"batches_in_use_lost", lost}});
  } else {
    common::log::Info("consumer detached",
                      {{"seat", i}, {"pid", seat.pid}, {"requeued_batches", queued.size()}});
  }
  ResetSeatRings(i);
  v = SeatView{};
  // Release: the reset rings are visible to the next consumer that claims the seat.
  seat.state.store(static_cast<uint32_t>(SeatState::kFree), std::memory_order_release);
}

void ChannelProducer::CheckConsumers() {
  const auto now = std::chrono::steady_clock::now();
  const bool probe = now - last_check_ >= options_.liveness_interval;
  if (probe) last_check_ = now;
  auto* base = static_cast<std::byte*>(base_);
  for (uint32_t i = 0; i < seats_.size(); ++i) {
    ChannelSeat& seat = Seat(i);
    // Acquire: pairs with the consumer's release when it attached or detached.
    const auto state = static_cast<SeatState>(seat.state.load(std::memory_order_acquire));
    SeatView& v = seats_[i];
    if (!v.active) {
      if (state == SeatState::kAttached) {
        auto* full = base + seat.full_ring_offset;
        auto* free = base + seat.free_ring_offset;
        v.full = std::make_unique<SpscRingView<ChannelDescriptor>>(
            reinterpret_cast<SpscRingState*>(full), ChannelRingSlots(full), header_->ring_capacity,
            true);
        v.free = std::make_unique<SpscRingView<ChannelDescriptor>>(
            reinterpret_cast<SpscRingState*>(free), ChannelRingSlots(free), header_->ring_capacity,
            true);
        v.active = true;
        common::log::Info("consumer attached", {{"seat", i}, {"pid", seat.pid}});
      }
      continue;
    }
    if (state == SeatState::kDetached) {
      Reclaim(i, false);
    } else if (probe && channel_detail::HolderGone(&seat.alive)) {
      Reclaim(i, true);
    }
  }
  consumers_gauge_->Set(attached());
}

bool ChannelProducer::CollectFree() {
  bool progress = false;
  ChannelDescriptor batch[64];
  for (uint32_t i = 0; i < seats_.size(); ++i) {
    SeatView& v = seats_[i];
    if (!v.active) continue;
    for (;;) {
      const std::size_t n = v.free->PopBulk(batch);
      for (std::size_t k = 0; k < n; ++k) {
        const uint32_t s = batch[k].slot;
        if (s < owner_.size() && owner_[s] == static_cast<int32_t>(i)) {  // else: not its to give
          owner_[s] = kNoOwner;
          free_.push_back(s);
          --v.outstanding;
          progress = true;
        }
      }
      if (n < std::size(batch)) break;
    }
  }
  return progress;
}

bool ChannelProducer::Deliver() {
  bool progress = false;
  const uint32_t n = static_cast<uint32_t>(seats_.size());
  while (!ready_.empty()) {
    int best = -1;
    uint64_t best_depth = options_.per_consumer_depth;
    for (uint32_t k = 0; k < n; ++k) {
      const uint32_t i = (next_seat_ + k) % n;
      if (!seats_[i].active) continue;
      const uint64_t depth = seats_[i].full->SizeApprox();
      if (depth < best_depth) {
        best = static_cast<int>(i);
        best_depth = depth;
      }
    }
    if (best < 0) break;
    const ChannelDescriptor d = ready_.front();
    ready_.pop_front();
    owner_[d.slot] = best;
    ++seats_[best].outstanding;
    seats_[best].full->Push(d);  // never waits: the ring holds every slot; wakes the consumer
    next_seat_ = static_cast<uint32_t>(best) + 1;
    progress = true;
  }
  return progress;
}

bool ChannelProducer::Serve() {
  bool progress = CollectFree();
  CheckConsumers();
  progress |= Deliver();
  return progress;
}

void ChannelProducer::Sleep(std::chrono::nanoseconds slice) {
  // Acquire: a consumer's bump after this read makes the wait return at once.
  const uint32_t e = header_->producer_wake.load(std::memory_order_acquire);
  header_->producer_sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // flag before re-reading the rings
  bool work = false;
  for (const SeatView& v : seats_) {
    if (v.active && v.free->SizeApprox() > 0) work = true;
  }
  if (!work) FutexWait(header_->producer_wake, e, /*shared=*/true, slice);
  header_->producer_sleeping.store(0, std::memory_order_relaxed);
}

Result<uint32_t> ChannelProducer::Acquire(const std::function<bool()>& stop) {
  for (;;) {
    Serve();
    if (!free_.empty()) {
      const uint32_t s = free_.back();
      free_.pop_back();
      return s;
    }
    if (stop && stop()) return CancelledError("channel: stopped while waiting for a free buffer");
    Sleep(options_.liveness_interval);
  }
}

void ChannelProducer::Publish(uint32_t slot, uint64_t bytes) {
  ready_.push_back(ChannelDescriptor{slot, 0, bytes, seq_++});
  Deliver();
}

Status ChannelProducer::Finish(const std::function<bool()>& stop) {
  while (Serve(), !ready_.empty()) {
    if (stop && stop()) return CancelledError("channel: stopped before every batch was taken");
    Sleep(options_.liveness_interval);
  }
  SetState(ProducerState::kFinished, "");
  return Status::Ok();
}

void ChannelProducer::Fail(const std::string& reason) {
  SetState(ProducerState::kFailed, "the producer failed: " + reason);
}

void ChannelProducer::Stop(const std::string& reason) {
  SetState(ProducerState::kStopped, "the producer stopped: " + reason);
}

void ChannelProducer::SetState(ProducerState state, const std::string& reason) {
  const std::size_t n = std::min(reason.size(), sizeof(header_->error) - 1);
  std::memcpy(header_->error, reason.data(), n);
  header_->error[n] = '\0';
  // Release: the reason is visible to a consumer that sees the new state.
  header_->producer_state.store(static_cast<uint32_t>(state), std::memory_order_release);
  closed_ = true;
  auto* base = static_cast<std::byte*>(base_);
  for (uint32_t i = 0; i < seats_.size(); ++i) {
    auto* st = reinterpret_cast<SpscRingState*>(base + Seat(i).full_ring_offset);
    st->data_epoch.fetch_add(1, std::memory_order_release);  // wake sleepers to see the state
    FutexWakeAll(st->data_epoch, /*shared=*/true);
  }
}

}  // namespace zenith::runtime
