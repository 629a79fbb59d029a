#include "zenith/runtime/memory_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "zenith/runtime/aligned_buffer.h"
#include "zenith/runtime/spsc_ring.h"

namespace zenith::runtime {
namespace {

TEST(MemoryPoolTest, ClassesAndStatistics) {
  auto pool =
      MemoryPool::Create({.slab_bytes = 64 * 1024, .max_bytes = 0, .thread_cache_objects = 8})
          .value();
  EXPECT_EQ(pool->MaxObjectBytes(), 16u * 1024);
  EXPECT_EQ(pool->Allocate(0), nullptr);
  EXPECT_EQ(pool->Allocate(16 * 1024 + 1), nullptr);
  void* a = pool->Allocate(100);  // 128-byte class
  void* b = pool->Allocate(100);
  void* c = pool->Allocate(5000);  // 8 KiB class
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(pool->ObjectBytes(a), 128u);
  EXPECT_EQ(pool->ObjectBytes(c), 8192u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % 4096, 0u);
  std::memset(c, 0xab, 5000);
  auto st = pool->Stats();
  EXPECT_EQ(st.bytes_in_use, 128u * 2 + 8192u);
  EXPECT_EQ(st.failed_allocations, 2u);
  EXPECT_EQ(st.classes[3].in_use, 2u);
  EXPECT_EQ(st.classes[9].in_use, 1u);
  EXPECT_GE(st.high_water_bytes, st.bytes_in_use);
  pool->Free(a);
  pool->Free(b);
  pool->Free(c);
  st = pool->Stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.classes[3].in_use, 0u);
  // The refill brought half a cache (4); all 4 now sit in this thread's cache for reuse.
  EXPECT_EQ(st.classes[3].cached, 4u);
  EXPECT_GE(st.high_water_bytes, 128u * 2 + 8192u);
}

TEST(MemoryPoolTest, FreedObjectsAreReused) {
  auto pool =
      MemoryPool::Create({.slab_bytes = 64 * 1024, .max_bytes = 0, .thread_cache_objects = 4})
          .value();
  std::vector<void*> first;
  for (int i = 0; i < 6000; ++i) first.push_back(pool->Allocate(64));  // 6 slabs
  const uint64_t slabs_after_first = pool->Stats().slab_bytes;
  for (void* p : first) pool->Free(p);
  std::set<void*> before(first.begin(), first.end());
  int reused = 0;
  std::vector<void*> second;
  for (int i = 0; i < 6000; ++i) {
    second.push_back(pool->Allocate(64));
    reused += before.count(second.back());
  }
  // No new memory: the objects came back to their slabs (the last, part-filled slab now
  // fills up, so a few addresses are new).
  EXPECT_GT(reused, 6000 - 1023);
  EXPECT_EQ(pool->Stats().slab_bytes, slabs_after_first);
  for (void* p : second) pool->Free(p);
  // Empty slabs serve another class: 12 objects of 16 KiB fill 4 of the 5+ empty slabs.
  std::vector<void*> big;
  for (int i = 0; i < 12; ++i) big.push_back(pool->Allocate(16 * 1024));
  EXPECT_EQ(pool->Stats().slab_bytes, slabs_after_first);
  for (void* p : big) pool->Free(p);
}

// A pool carving 64 KiB slabs out of `region` only.
std::unique_ptr<MemoryPool> RegionPool(AlignedBuffer& region, std::size_t thread_cache_objects) {
  return MemoryPool::CreateInRegion(region.span(), {.slab_bytes = 64 * 1024,
                                                    .max_bytes = 0,
                                                    .thread_cache_objects = thread_cache_objects})
      .value();
}

TEST(MemoryPoolTest, CarvesACallerRegionOnly) {
  AlignedBuffer region(4 * 64 * 1024, 64 * 1024);
  auto pool = RegionPool(region, 0);
  std::vector<void*> got;
  while (void* p = pool->Allocate(4096)) {
    ASSERT_GE(static_cast<std::byte*>(p), region.data());
    ASSERT_LE(static_cast<std::byte*>(p) + 4096, region.data() + region.size());
    got.push_back(p);
  }
  EXPECT_EQ(got.size(), 4u * 15);  // 15 objects per slab after the header's page
  EXPECT_EQ(pool->Stats().failed_allocations, 1u);
  for (void* p : got) pool->Free(p);
  EXPECT_NE(pool->Allocate(4096), nullptr);
  EXPECT_FALSE(MemoryPool::CreateInRegion(std::span(region.data(), 1000)).ok());
}

// Caches of one to three objects overflow a batch of one at a time, and every object handed out
// is distinct and inside its class while the lists are cut and spliced.
TEST(MemoryPoolTest, TinyThreadCacheOverflowsIntoTheSlabs) {
  for (std::size_t cap : {1u, 2u, 3u}) {
    auto pool =
        MemoryPool::Create({.slab_bytes = 64 * 1024, .max_bytes = 0, .thread_cache_objects = cap})
            .value();
    std::mt19937 rng(static_cast<unsigned>(cap));
    std::vector<std::pair<void*, std::size_t>> live;
    std::set<void*> seen;
    for (int round = 0; round < 2000; ++round) {
      if (live.empty() || rng() % 3 != 0) {
        const std::size_t bytes = 1 + rng() % 3000;
        void* p = pool->Allocate(bytes);
        ASSERT_NE(p, nullptr);
        ASSERT_GE(pool->ObjectBytes(p), bytes);
        ASSERT_TRUE(seen.insert(p).second) << "handed out twice: " << p;
        std::memset(p, 0x5a, bytes);
        live.emplace_back(p, bytes);
      } else {
        const std::size_t i = rng() % live.size();
        seen.erase(live[i].first);
        pool->Free(live[i].first);
        live[i] = live.back();
        live.pop_back();
      }
    }
    uint64_t bytes = 0;
    for (auto& [p, n] : live) bytes += pool->ObjectBytes(p);
    auto st = pool->Stats();
    EXPECT_EQ(st.bytes_in_use, bytes) << "cap " << cap;
    for (auto& [p, n] : live) pool->Free(p);
    st = pool->Stats();
    EXPECT_EQ(st.bytes_in_use, 0u);
    for (const auto& c : st.classes) EXPECT_LE(c.cached, cap);
  }
}

// A thread that only frees hands whole batches to the transfer list; one that only allocates
// takes them back, and the statistics count them apart from what callers hold.
TEST(MemoryPoolTest, BatchesPassThroughTheTransferList) {
  auto pool =
      MemoryPool::Create({.slab_bytes = 64 * 1024, .max_bytes = 0, .thread_cache_objects = 8})
          .value();
  std::vector<void*> objs;
  for (int i = 0; i < 100; ++i) objs.push_back(pool->Allocate(64));
  std::thread([&] {
    for (void* p : objs) pool->Free(p);
  }).join();
  // 100 frees into a cache of 8: every overflow from the ninth on handed 4 over (23 batches);
  // the 8 left went back to the slabs when the freeing thread exited. The 25 refills of 4 left
  // this thread's cache empty.
  auto st = pool->Stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_cached, 0u);
  EXPECT_EQ(st.classes[2].transfer, 92u);
  EXPECT_EQ(st.bytes_in_transfer, st.classes[2].transfer * 64);
  const uint64_t parked = st.classes[2].transfer;
  // Allocating takes whole batches back: every address comes from what was freed.
  std::set<void*> freed(objs.begin(), objs.end());
  std::vector<void*> again;
  for (uint64_t i = 0; i < parked + 8; ++i) {
    again.push_back(pool->Allocate(64));
    EXPECT_TRUE(freed.contains(again.back())) << "object " << i;
  }
  st = pool->Stats();
  EXPECT_EQ(st.classes[2].transfer, 0u);
  EXPECT_EQ(st.classes[2].in_use, parked + 8);
  for (void* p : again) pool->Free(p);
}

// Batches parked in the transfer list do not strand a region's memory: before it would run out,
// the pool returns them to their slabs, and the emptied slabs serve another class.
TEST(MemoryPoolTest, TransferListsDrainBeforeTheRegionRunsOut) {
  AlignedBuffer region(4 * 64 * 1024, 64 * 1024);
  auto pool = RegionPool(region, 8);
  std::vector<void*> small;
  std::thread([&] {
    while (void* p = pool->Allocate(64)) small.push_back(p);
  }).join();
  ASSERT_EQ(small.size(), 4u * 1023);  // the region's four slabs, full
  std::thread([&] {
    for (void* p : small) pool->Free(p);
  }).join();
  auto st = pool->Stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_cached, 0u);
  EXPECT_GT(st.bytes_in_transfer, 0u);
  // 16 KiB objects fit three to a slab: all twelve need every slab empty.
  std::vector<void*> big;
  for (int i = 0; i < 12; ++i) {
    big.push_back(pool->Allocate(16 * 1024));
    ASSERT_NE(big.back(), nullptr) << "16 KiB object " << i;
  }
  EXPECT_EQ(pool->Stats().bytes_in_transfer, 0u);
  EXPECT_EQ(pool->Allocate(16 * 1024), nullptr);
  for (void* p : big) pool->Free(p);
}

TEST(MemoryPoolTest, CrossThreadFreesUnderStress) {
  auto pool =
      MemoryPool::Create({.slab_bytes = 64 * 1024, .max_bytes = 0, .thread_cache_objects = 16})
          .value();
  SpscRing<void*> handoff(256);
  constexpr int kObjects = 100000;
  std::thread producer([&] {
    std::mt19937 rng(5);
    for (int i = 0; i < kObjects; ++i) {
      const std::size_t bytes = 16u << (rng() % 8);
      auto* p = static_cast<uint32_t*>(pool->Allocate(bytes));
      ASSERT_NE(p, nullptr);
      p[0] = static_cast<uint32_t>(i);
      handoff.Push(static_cast<void*>(p));
      if (rng() % 1000 == 0) std::this_thread::yield();
    }
  });
  std::thread consumer([&] {
    for (int i = 0; i < kObjects; ++i) {
      void* p;
      handoff.Pop(p);
      ASSERT_EQ(static_cast<uint32_t*>(p)[0], static_cast<uint32_t>(i));
      pool->Free(p);
    }
  });
  producer.join();
  consumer.join();
  auto st = pool->Stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  for (const auto& c : st.classes) EXPECT_EQ(c.in_use, 0u);
  EXPECT_GT(st.high_water_bytes, 0u);
  // The exited threads' caches went back to the slabs.
  EXPECT_EQ(st.bytes_cached, 0u);
}

}  // namespace
}  // namespace zenith::runtime
