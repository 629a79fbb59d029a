#include "zenith/runtime/memory_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <unordered_map>

namespace zenith::runtime {

// Lives at the start of every slab; objects follow, aligned to min(object size, 4 KiB).
struct MemoryPool::Slab {
  int cls = -1;
  uint32_t capacity = 0;  // objects in this slab
  uint32_t used = 0;      // objects out of the slab (callers and thread caches)
  uint32_t carved = 0;    // objects handed out at least once (the bump pointer)
  void* free_list = nullptr;
  std::byte* first = nullptr;
  Slab* prev = nullptr;  // in the class's list of slabs with free objects
  Slab* next = nullptr;
  bool listed = false;
};

struct alignas(64) MemoryPool::Central {
  static constexpr std::size_t kMaxBatches = 64;
  std::mutex mu;
  Slab* partial = nullptr;  // slabs of this class with at least one free object
  uint64_t slabs = 0;
  uint64_t out = 0;  // objects out of the slabs: callers, thread caches and the transfer list
  // The transfer list: whole batches of batch_ objects, each a null-terminated chain. Its
  // objects count in `out` (they are not in their slabs) and in `transfer`.
  std::size_t max_batches = 0;  // bounded in bytes, so a large class strands little memory
  std::size_t batches = 0;
  uint64_t transfer = 0;
  void* batch[kMaxBatches] = {};
};

// One per thread and pool. The hot path is a pop or push on `head`, a list linked through the
// objects' first words (as mimalloc's and tcmalloc's are): no array to shift, no atomics.
struct MemoryPool::ThreadCache {
  static constexpr std::size_t kMaxObjects = 64;
  static constexpr std::size_t kMaxClasses = 40;  // 16 B .. 8 TiB: more than any slab allows
  struct PerClass {
    void* head = nullptr;  // owner thread only
    // Written only by the owning thread; atomic so that Stats() may read it from another
    // (a relaxed load and store are plain moves).
    std::atomic<uint32_t> count{0};
  };
  PerClass per_class[kMaxClasses];
};

namespace {

std::atomic<uint64_t> g_next_pool_id{1};

// Pools alive in this process, so an exiting thread flushes its caches only into live pools.
struct LivePools {
  std::mutex mu;
  std::unordered_map<uint64_t, MemoryPool*> pools;
};
LivePools& Live() {
  static auto* live = new LivePools();  // never destroyed: threads may exit after main
  return *live;
}

// The cache this thread used last: one TLS compare finds it on the hot path.
struct LastCache {
  uint64_t pool = 0;
  MemoryPool::ThreadCache* cache = nullptr;
};
constinit thread_local LastCache t_last;

void*& NextOf(void* object) { return *static_cast<void**>(object); }

}  // namespace

// This thread's caches, one per pool it has used; flushed into live pools at thread exit.
struct ThreadCacheRegistry {
  struct Entry {
    uint64_t pool_id;
    MemoryPool::ThreadCache* cache;
  };
  std::vector<Entry> entries;

  ~ThreadCacheRegistry() {
    std::lock_guard live_lock(Live().mu);
    for (const Entry& e : entries) {
      auto it = Live().pools.find(e.pool_id);
      if (it == Live().pools.end()) continue;
      MemoryPool* pool = it->second;
      for (std::size_t cls = 0; cls < pool->class_bytes_.size(); ++cls) {
        auto& pc = e.cache->per_class[cls];
        // Straight to the slabs: nobody on this thread will take a batch back.
        pool->Release(static_cast<int>(cls), pc.head, pc.count.load(std::memory_order_relaxed),
                      /*transfer=*/false);
        pc.head = nullptr;
        pc.count.store(0, std::memory_order_relaxed);
      }
    }
    t_last = {};
  }
};

namespace {
thread_local ThreadCacheRegistry t_registry;
}  // namespace

namespace {
// 16 B .. slab_bytes / 4 must fit the thread cache's fixed class table.
constexpr std::size_t kMaxSlabBytes = std::size_t{1} << 40;

Status CheckSlabBytes(std::size_t slab_bytes) {
  if (!std::has_single_bit(slab_bytes) || slab_bytes < 4096 || slab_bytes > kMaxSlabBytes) {
    return InvalidArgumentError("memory pool: slab_bytes " + std::to_string(slab_bytes) +
                                " must be a power of two from 4096 to 2^40");
  }
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<MemoryPool>> MemoryPool::Create(MemoryPoolOptions options) {
  ZENITH_RETURN_IF_ERROR(CheckSlabBytes(options.slab_bytes));
  return std::unique_ptr<MemoryPool>(new MemoryPool(options, {}));
}

Result<std::unique_ptr<MemoryPool>> MemoryPool::CreateInRegion(std::span<std::byte> region,
                                                               MemoryPoolOptions options) {
  ZENITH_RETURN_IF_ERROR(CheckSlabBytes(options.slab_bytes));
  const auto base = reinterpret_cast<uintptr_t>(region.data());
  const uintptr_t aligned = (base + options.slab_bytes - 1) & ~(options.slab_bytes - 1);
  if (region.empty() || aligned + options.slab_bytes > base + region.size()) {
    return InvalidArgumentError("memory pool: region of " + std::to_string(region.size()) +
                                " bytes holds no slab of " + std::to_string(options.slab_bytes) +
                                " bytes aligned to its size");
  }
  return std::unique_ptr<MemoryPool>(new MemoryPool(options, region));
}

MemoryPool::MemoryPool(MemoryPoolOptions options, std::span<std::byte> region)
    : options_(options),
      id_(g_next_pool_id.fetch_add(1, std::memory_order_relaxed)),
      cache_cap_(std::min(options.thread_cache_objects, ThreadCache::kMaxObjects)),
      batch_(std::max<std::size_t>(cache_cap_ / 2, 1)),
      max_object_bytes_(options.slab_bytes / 4),
      region_(region) {
  for (std::size_t b = 16; b <= options_.slab_bytes / 4; b *= 2) class_bytes_.push_back(b);
  for (std::size_t i = 0; i < class_bytes_.size(); ++i) {
    central_.push_back(std::make_unique<Central>());
    // A pool without thread caches keeps nothing parked anywhere. Otherwise up to four slabs'
    // worth of batches per class, and at least two, so a batch can always pass between threads.
    if (cache_cap_ > 0) {
      central_.back()->max_batches = std::clamp<std::size_t>(
          4 * options_.slab_bytes / (batch_ * class_bytes_[i]), 2, Central::kMaxBatches);
    }
  }
  std::lock_guard lock(Live().mu);
  Live().pools[id_] = this;
}

MemoryPool::~MemoryPool() {
  {
    // After this no exiting thread touches the pool.
    std::lock_guard lock(Live().mu);
    Live().pools.erase(id_);
  }
  for (auto& [addr, bytes] : mappings_) munmap(addr, bytes);
}

std::size_t MemoryPool::ObjectBytes(const void* p) const {
  auto* slab =
      reinterpret_cast<const Slab*>(reinterpret_cast<uintptr_t>(p) & ~(options_.slab_bytes - 1));
  return class_bytes_[slab->cls];
}

MemoryPool::ThreadCache* MemoryPool::CacheForThisThread() {
  ThreadCache* cache = nullptr;
  for (const auto& e : t_registry.entries) {
    if (e.pool_id == id_) cache = e.cache;
  }
  if (cache == nullptr) {
    {
      // Forget the caches of pools that are gone, so the list stays short.
      std::lock_guard live_lock(Live().mu);
      std::erase_if(t_registry.entries,
                    [](const auto& e) { return !Live().pools.contains(e.pool_id); });
    }
    auto owned = std::make_unique<ThreadCache>();
    cache = owned.get();
    std::lock_guard lock(caches_mu_);
    caches_.push_back(std::move(owned));
    t_registry.entries.push_back({id_, cache});
  }
  t_last = {id_, cache};
  return cache;
}

void* MemoryPool::Allocate(std::size_t bytes) {
  // One unsigned compare rejects both 0 (which wraps) and sizes above the largest class.
  if (bytes - 1 >= max_object_bytes_) [[unlikely]] {
    failed_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const int cls = std::bit_width((bytes - 1) | 15) - 4;  // ..16 -> 0, 17..32 -> 1, ...
  ThreadCache* cache = t_last.pool == id_ ? t_last.cache : CacheForThisThread();
  ThreadCache::PerClass& pc = cache->per_class[cls];
  void* p = pc.head;
  if (p == nullptr) [[unlikely]]
    return AllocateSlow(cache, cls);
  pc.head = NextOf(p);
  pc.count.store(pc.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return p;
}

void MemoryPool::Free(void* p) {
  if (p == nullptr) return;
  const int cls =
      reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(p) & ~(options_.slab_bytes - 1))->cls;
  ThreadCache* cache = t_last.pool == id_ ? t_last.cache : CacheForThisThread();
  ThreadCache::PerClass& pc = cache->per_class[cls];
  const uint32_t n = pc.count.load(std::memory_order_relaxed);
  if (n >= cache_cap_) [[unlikely]] {
    FreeSlow(cache, cls, p);
    return;
  }
  NextOf(p) = pc.head;
  pc.head = p;
  pc.count.store(n + 1, std::memory_order_relaxed);
}

__attribute__((noinline)) void* MemoryPool::AllocateSlow(ThreadCache* cache, int cls) {
  ThreadCache::PerClass& pc = cache->per_class[cls];
  void* head = nullptr;
  const auto n = static_cast<uint32_t>(Refill(cls, &head, batch_));
  if (n == 0) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  pc.head = NextOf(head);
  pc.count.store(n - 1, std::memory_order_relaxed);
  return head;
}

__attribute__((noinline)) void MemoryPool::FreeSlow(ThreadCache* cache, int cls, void* p) {
  ThreadCache::PerClass& pc = cache->per_class[cls];
  NextOf(p) = pc.head;
  const std::size_t n = pc.count.load(std::memory_order_relaxed) + 1;
  // Keep the warm part (the most recently freed, at the head); hand one batch of the coldest
  // over. Without a cache (n == 1) the one object goes.
  const std::size_t keep = n > batch_ ? n - batch_ : 0;
  if (keep == 0) {
    Release(cls, p, n, /*transfer=*/true);
    pc.head = nullptr;
    pc.count.store(0, std::memory_order_relaxed);
    return;
  }
  void* last_kept = p;
  for (std::size_t i = 1; i < keep; ++i) last_kept = NextOf(last_kept);
  Release(cls, NextOf(last_kept), n - keep, /*transfer=*/true);
  NextOf(last_kept) = nullptr;
  pc.head = p;
  pc.count.store(static_cast<uint32_t>(keep), std::memory_order_relaxed);
}

MemoryPool::Slab* MemoryPool::NewSlab() {
  const std::size_t sb = options_.slab_bytes;
  if (!empty_slabs_.empty()) {
    Slab* s = empty_slabs_.back();
    empty_slabs_.pop_back();
    return s;
  }
  std::byte* mem = nullptr;
  if (!region_.empty()) {
    const auto base = reinterpret_cast<uintptr_t>(region_.data());
    const uintptr_t start = ((base + sb - 1) & ~(sb - 1)) + region_used_;
    if (start + sb > base + region_.size()) return nullptr;
    mem = reinterpret_cast<std::byte*>(start);
    region_used_ += sb;
  } else {
    if (options_.max_bytes != 0 && slab_bytes_total_ + sb > options_.max_bytes) return nullptr;
    // Map twice the slab and trim, so the slab is aligned to its size.
    void* raw = mmap(nullptr, 2 * sb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const auto r = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t start = (r + sb - 1) & ~(sb - 1);
    if (start > r) munmap(raw, start - r);
    if (r + 2 * sb > start + sb)
      munmap(reinterpret_cast<void*>(start + sb), r + 2 * sb - (start + sb));
    mem = reinterpret_cast<std::byte*>(start);
    mappings_.emplace_back(mem, sb);
  }
  slab_bytes_total_ += sb;
  return new (mem) Slab();
}

std::size_t MemoryPool::Refill(int cls, void** head, std::size_t want) {
  Central& c = *central_[cls];
  const std::size_t obj = class_bytes_[cls];
  std::unique_lock lock(c.mu);
  if (want == batch_ && *head == nullptr && c.batches > 0) {
    // Already counted out of the slabs: only the transfer list's count changes.
    *head = c.batch[--c.batches];
    c.transfer -= want;
    return want;
  }
  std::size_t n = 0;
  bool drained = false;
  while (n < want) {
    Slab* s = c.partial;
    if (s == nullptr) {
      {
        std::unique_lock slabs_lock(slabs_mu_);
        if (empty_slabs_.empty() && !drained) {
          // Before new memory: batches parked in the transfer lists may empty whole slabs.
          slabs_lock.unlock();
          lock.unlock();
          DrainTransfers();
          drained = true;
          lock.lock();
          continue;
        }
        s = NewSlab();
      }
      if (s == nullptr) break;
      const std::size_t sb = options_.slab_bytes;
      const std::size_t align = std::min<std::size_t>(obj, 4096);
      const std::size_t offset = (sizeof(Slab) + align - 1) / align * align;
      *s = Slab();
      s->cls = cls;
      s->capacity = static_cast<uint32_t>((sb - offset) / obj);
      s->first = reinterpret_cast<std::byte*>(s) + offset;
      s->listed = true;
      c.partial = s;
      ++c.slabs;
    }
    while (n < want && s->used < s->capacity) {
      void* p;
      if (s->free_list != nullptr) {
        p = s->free_list;
        s->free_list = *static_cast<void**>(p);
      } else {
        p = s->first + static_cast<std::size_t>(s->carved++) * obj;
      }
      ++s->used;
      NextOf(p) = *head;
      *head = p;
      ++n;
    }
    if (s->used == s->capacity) {  // full: off the partial list
      c.partial = s->next;
      if (s->next) s->next->prev = nullptr;
      s->next = s->prev = nullptr;
      s->listed = false;
    }
  }
  c.out += n;
  const uint64_t now = out_bytes_.fetch_add(n * obj, std::memory_order_relaxed) + n * obj;
  uint64_t peak = high_water_.load(std::memory_order_relaxed);
  // Relaxed CAS: a statistic; only its eventual maximum matters.
  while (now > peak && !high_water_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return n;
}

void MemoryPool::Release(int cls, void* head, std::size_t n, bool transfer) {
  if (n == 0) return;
  Central& c = *central_[cls];
  std::vector<Slab*> emptied;
  {
    std::lock_guard lock(c.mu);
    if (transfer && n == batch_ && c.batches < c.max_batches) {
      c.batch[c.batches++] = head;
      c.transfer += n;
      return;
    }
    c.out -= n;
    for (std::size_t i = 0; i < n; ++i) {
      void* p = head;
      head = NextOf(p);  // read before the slab's free list overwrites the link
      auto* s =
          reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(p) & ~(options_.slab_bytes - 1));
      *static_cast<void**>(p) = s->free_list;
      s->free_list = p;
      --s->used;
      if (s->used == 0) {  // empty: back to the pool for any class
        if (s->listed) {
          if (s->prev)
            s->prev->next = s->next;
          else
            c.partial = s->next;
          if (s->next) s->next->prev = s->prev;
        }
        s->listed = false;
        --c.slabs;
        emptied.push_back(s);
      } else if (!s->listed) {
        s->prev = nullptr;
        s->next = c.partial;
        if (c.partial) c.partial->prev = s;
        c.partial = s;
        s->listed = true;
      }
    }
  }
  out_bytes_.fetch_sub(n * class_bytes_[cls], std::memory_order_relaxed);
  if (!emptied.empty()) {
    std::lock_guard slabs_lock(slabs_mu_);
    for (Slab* s : emptied) s->cls = -1;
    empty_slabs_.insert(empty_slabs_.end(), emptied.begin(), emptied.end());
  }
}

void MemoryPool::DrainTransfers() {
  void* chains[Central::kMaxBatches];
  for (std::size_t cls = 0; cls < central_.size(); ++cls) {
    Central& c = *central_[cls];
    std::size_t k;
    {
      std::lock_guard lock(c.mu);
      k = c.batches;
      std::copy_n(c.batch, k, chains);
      c.batches = 0;
      c.transfer = 0;
    }
    for (std::size_t i = 0; i < k; ++i)
      Release(static_cast<int>(cls), chains[i], batch_, /*transfer=*/false);
  }
}

MemoryPoolStats MemoryPool::Stats() const {
  MemoryPoolStats st;
  st.classes.resize(class_bytes_.size());
  for (std::size_t i = 0; i < class_bytes_.size(); ++i)
    st.classes[i].object_bytes = class_bytes_[i];
  {
    std::lock_guard lock(caches_mu_);
    for (const auto& cache : caches_) {
      for (std::size_t i = 0; i < class_bytes_.size(); ++i) {
        const auto& pc = cache->per_class[i];
        st.classes[i].cached += pc.count.load(std::memory_order_relaxed);
      }
    }
  }
  for (std::size_t i = 0; i < class_bytes_.size(); ++i) {
    auto& c = st.classes[i];
    uint64_t out;
    {
      std::lock_guard lock(central_[i]->mu);
      c.slabs = central_[i]->slabs;
      c.transfer = central_[i]->transfer;
      out = central_[i]->out;
    }
    // Caches sampled while threads work may not add up; clamp rather than wrap.
    const uint64_t parked = c.cached + c.transfer;
    c.in_use = out > parked ? out - parked : 0;
    st.bytes_in_use += c.in_use * c.object_bytes;
    st.bytes_cached += c.cached * c.object_bytes;
    st.bytes_in_transfer += c.transfer * c.object_bytes;
  }
  st.high_water_bytes = high_water_.load(std::memory_order_relaxed);
  st.failed_allocations = failed_.load(std::memory_order_relaxed);
  std::lock_guard lock(slabs_mu_);
  st.slab_bytes = slab_bytes_total_;
  return st;
}

}  // namespace zenith::runtime
