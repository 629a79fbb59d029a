// A slab allocator for the data plane's buffers: fixed size classes, slabs aligned to their
// size (so a pointer finds its slab by masking), a small per-thread cache per class so the
// common allocate/free touches no shared line, and freed objects going back to their own slab.
// Between the thread caches and the slabs each class keeps a short transfer list of whole
// batches (tcmalloc's transfer cache): a thread that frees more than it allocates hands a batch
// over in O(1), and one that allocates more takes it in O(1), without walking the objects.
// It carves either slabs it maps itself or a caller-supplied region (shared memory, NUMA-bound
// memory). It must never hand out memory outside its slabs, and never leak a slab.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime {

struct MemoryPoolOptions {
  std::size_t slab_bytes = 256 * 1024;    // power of two; the largest class is a quarter of it
  std::size_t max_bytes = 0;              // cap on mapped slabs (0: none); ignored for regions
  std::size_t thread_cache_objects = 32;  // per class and thread (at most 64); 0: no caches
};

struct MemoryPoolStats {
  struct SizeClass {
    std::size_t object_bytes = 0;
    uint64_t in_use = 0;    // objects held by callers
    uint64_t cached = 0;    // objects parked in per-thread caches
    uint64_t transfer = 0;  // objects parked in the class's transfer list
    uint64_t slabs = 0;     // slabs now assigned to this class
  };
  uint64_t bytes_in_use = 0;       // class bytes held by callers
  uint64_t bytes_cached = 0;       // class bytes parked in per-thread caches
  uint64_t bytes_in_transfer = 0;  // class bytes parked in the transfer lists
  uint64_t high_water_bytes = 0;   // peak of bytes out of the slabs (in use + cached + transfer)
  uint64_t slab_bytes = 0;         // bytes of slabs carved (mapped, or taken from the region)
  uint64_t failed_allocations = 0;
  std::vector<SizeClass> classes;
};

class MemoryPool {
 public:
  // Classes: 16, 32, 64, ... up to slab_bytes / 4.
  static Result<std::unique_ptr<MemoryPool>> Create(MemoryPoolOptions options = {});
  // Carves slabs out of `region` only; the region must outlive the pool.
  static Result<std::unique_ptr<MemoryPool>> CreateInRegion(std::span<std::byte> region,
                                                            MemoryPoolOptions options = {});
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // nullptr when `bytes` is 0 or above MaxObjectBytes(), or the pool is out of slabs.
  void* Allocate(std::size_t bytes);
  // `p` must come from this pool's Allocate (any thread may free it).
  void Free(void* p);

  std::size_t MaxObjectBytes() const { return max_object_bytes_; }
  // The usable size of an object from this pool.
  std::size_t ObjectBytes(const void* p) const;
  // Exact when no thread is allocating or freeing; otherwise a consistent-enough sample.
  MemoryPoolStats Stats() const;

  struct ThreadCache;  // per thread and pool; defined in memory_pool.cc

 private:
  struct Slab;
  struct Central;
  MemoryPool(MemoryPoolOptions options, std::span<std::byte> region);

  ThreadCache* CacheForThisThread();  // the slow look-up, when the last-used cache is another's
  void* AllocateSlow(ThreadCache* cache, int cls);
  void FreeSlow(ThreadCache* cache, int cls, void* p);
  Slab* NewSlab();  // caller holds slabs_mu_
  // Central free lists, under the class's lock. Objects travel as lists linked through their
  // first word, the same links the thread caches use. A list of exactly batch_ objects goes
  // through the class's transfer list when `transfer` allows and the list has room (or holds
  // one); anything else goes to or comes from the slabs.
  std::size_t Refill(int cls, void** head, std::size_t want);
  void Release(int cls, void* head, std::size_t n, bool transfer);
  // Returns every transfer list's batches to their slabs, so that emptied slabs can serve any
  // class before the pool maps (or carves) new memory. Called with no lock held.
  void DrainTransfers();

  const MemoryPoolOptions options_;
  const uint64_t id_;            // unique per pool in this process; never reused
  const std::size_t cache_cap_;  // objects per class in each thread cache
  const std::size_t batch_;      // objects moved between a thread cache and the centre at once
  const std::size_t max_object_bytes_;
  std::vector<std::size_t> class_bytes_;
  std::vector<std::unique_ptr<Central>> central_;

  mutable std::mutex slabs_mu_;
  std::span<std::byte> region_;                          // caller's region, or empty
  std::size_t region_used_ = 0;                          // bytes of the region carved into slabs
  std::vector<std::pair<void*, std::size_t>> mappings_;  // our own mmaps
  std::vector<Slab*> empty_slabs_;                       // carved but assigned to no class
  uint64_t slab_bytes_total_ = 0;
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> out_bytes_{0};  // bytes out of the slabs (callers + thread caches)
  std::atomic<uint64_t> high_water_{0};

  mutable std::mutex caches_mu_;
  std::vector<std::unique_ptr<ThreadCache>> caches_;  // live and retired threads' caches
  friend struct ThreadCacheRegistry;                  // flushes an exiting thread's caches
};

}  // namespace zenith::runtime
