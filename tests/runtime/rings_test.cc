#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "zenith/runtime/mpmc_ring.h"
#include "zenith/runtime/shm_spsc_ring.h"
#include "zenith/runtime/spsc_ring.h"

namespace zenith::runtime {
namespace {

// A few random microsecond pauses, so the sides drift in and out of full/empty.
void MaybeDelay(std::mt19937& rng) {
  if (rng() % 512 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50));
  if (rng() % 64 == 0) std::this_thread::yield();
}

TEST(SpscRingTest, CapacityIsPowerOfTwoAndFullEmptyWork) {
  SpscRing<int> ring(5);
  EXPECT_EQ(ring.capacity(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(ring.TryPush(i));
  EXPECT_FALSE(ring.TryPush(99));
  int v;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(ring.TryPop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.TryPop(v));
}

TEST(SpscRingTest, BulkWrapsAround) {
  SpscRing<int> ring(8);
  std::vector<int> in = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.PushBulk(in), 6u);
  std::array<int, 4> out;
  EXPECT_EQ(ring.PopBulk(out), 4u);
  EXPECT_EQ(ring.PushBulk(in), 6u);  // wraps: 2 left + 6 = 8
  EXPECT_EQ(ring.PushBulk(in), 0u);
  std::vector<int> all(10);
  EXPECT_EQ(ring.PopBulk(all), 8u);
  EXPECT_EQ((std::vector<int>(all.begin(), all.begin() + 8)),
            (std::vector<int>{5, 6, 1, 2, 3, 4, 5, 6}));
}

TEST(SpscRingTest, StressEveryItemOnceInOrder) {
  constexpr uint64_t kItems = 300000;
  SpscRing<uint64_t> ring(64);
  std::thread producer([&] {
    std::mt19937 rng(1);
    uint64_t next = 0;
    std::vector<uint64_t> batch;
    while (next < kItems) {
      MaybeDelay(rng);
      switch (rng() % 3) {
        case 0:
          if (ring.TryPush(next)) ++next;
          break;
        case 1: {
          batch.clear();
          for (uint64_t k = 0; k < 1 + rng() % 40 && next + k < kItems; ++k)
            batch.push_back(next + k);
          next += ring.PushBulk(batch);
          break;
        }
        default:
          ring.Push(next++);
      }
    }
  });
  std::mt19937 rng(2);
  uint64_t expect = 0;
  std::vector<uint64_t> out(50);
  while (expect < kItems) {
    MaybeDelay(rng);
    if (const auto pick = rng() % 3; pick == 0) {
      uint64_t v;
      ring.Pop(v);
      ASSERT_EQ(v, expect++);
    } else if (pick == 1) {
      uint64_t v;
      if (ring.TryPop(v)) {
        ASSERT_EQ(v, expect++);
      }
    } else {
      const std::size_t n = ring.PopBulk(std::span(out.data(), 1 + rng() % out.size()));
      for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(out[k], expect++);
    }
  }
  producer.join();
  uint64_t v;
  EXPECT_FALSE(ring.TryPop(v));
}

TEST(SpscRingTest, TryPopReleasesSlotsAGroupAtATime) {
  SpscRing<uint64_t> ring(64);  // 8-byte items: groups of 16 (128 bytes)
  for (uint64_t i = 0; i < 64; ++i) ASSERT_TRUE(ring.TryPush(i));
  uint64_t v;
  ASSERT_TRUE(ring.TryPop(v));
  EXPECT_FALSE(ring.TryPush(64)) << "a slot came back before its group finished";
  for (int i = 1; i < 16; ++i) ASSERT_TRUE(ring.TryPop(v));
  for (uint64_t i = 0; i < 16; ++i) EXPECT_TRUE(ring.TryPush(64 + i)) << i;
  EXPECT_FALSE(ring.TryPush(80));
  // Pop hands its slot back at once, group or not.
  ring.Pop(v);
  EXPECT_EQ(v, 16u);
  EXPECT_TRUE(ring.TryPush(80));
  // Taking every item seen hands back the partial group too: the ring is empty again.
  for (uint64_t want = 17; want <= 80; ++want) {
    ASSERT_TRUE(ring.TryPop(v));
    ASSERT_EQ(v, want);
  }
  EXPECT_FALSE(ring.TryPop(v));
  for (uint64_t i = 0; i < 64; ++i) EXPECT_TRUE(ring.TryPush(i)) << i;
}

TEST(SpscRingTest, SmallRingsReleaseEverySlot) {
  SpscRing<uint64_t> ring(4);  // a group would be a quarter of the ring: 1
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(ring.TryPush(i));
  uint64_t v;
  ASSERT_TRUE(ring.TryPop(v));
  EXPECT_TRUE(ring.TryPush(4));
}

TEST(SpscRingTest, BlockingSidesWakeEachOther) {
  SpscRing<int> ring(2);
  std::thread consumer([&] {
    for (int i = 0; i < 2000; ++i) {
      int v;
      ring.Pop(v);
      EXPECT_EQ(v, i);
      if (i % 500 == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // producer sleeps
    }
  });
  for (int i = 0; i < 2000; ++i) {
    if (i % 700 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // consumer sleeps
    ring.Push(i);
  }
  consumer.join();
}

struct Payload {
  uint64_t seq;
  uint64_t check;
  std::array<uint8_t, 48> pad;
};

TEST(ShmSpscRingTest, TwoProcessesShareOneRing) {
  using Ring = ShmSpscRing<Payload>;
  const uint64_t bytes = Ring::RegionBytes(256);
  const int fd = memfd_create("zenith-ring-test", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(mem, MAP_FAILED);
  std::span<std::byte> region(static_cast<std::byte*>(mem), bytes);
  auto created = Ring::Create(region, 256);
  ASSERT_TRUE(created.ok()) << created.status();
  constexpr uint64_t kItems = 200000;

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The producer: its own mapping of the same memfd, attached from the header alone.
    void* m2 = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m2 == MAP_FAILED) _exit(2);
    auto ring = Ring::Attach({static_cast<std::byte*>(m2), bytes});
    if (!ring.ok()) _exit(3);
    std::mt19937 rng(3);
    for (uint64_t i = 0; i < kItems; ++i) {
      if (rng() % 4096 == 0) usleep(50);
      Payload p{i, i * 2654435761u, {}};
      p.pad[47] = static_cast<uint8_t>(i);
      (*ring)->Push(p);
    }
    _exit(0);
  }
  auto& ring = *created;
  std::mt19937 rng(4);
  for (uint64_t i = 0; i < kItems; ++i) {
    if (rng() % 4096 == 0) usleep(50);
    Payload p;
    ring->Pop(p);
    ASSERT_EQ(p.seq, i);
    ASSERT_EQ(p.check, i * 2654435761u);
    ASSERT_EQ(p.pad[47], static_cast<uint8_t>(i));
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  munmap(mem, bytes);
  close(fd);
}

TEST(ShmSpscRingTest, AttachChecksTheHeader) {
  alignas(64) static std::byte region[4096];
  std::memset(region, 0, sizeof(region));
  EXPECT_FALSE(ShmSpscRing<uint64_t>::Attach(region).ok());  // no magic yet
  ASSERT_TRUE(ShmSpscRing<uint64_t>::Create(region, 16).ok());
  auto wrong = ShmSpscRing<uint32_t>::Attach(region);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("element size 8"), std::string::npos);
  EXPECT_FALSE(ShmSpscRing<uint64_t>::Create(std::span(region, 100), 16).ok());
  EXPECT_TRUE(ShmSpscRing<uint64_t>::Attach(region).ok());
}

TEST(MpmcRingTest, FullAndEmpty) {
  MpmcRing<int> ring(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.TryPush(i));
  EXPECT_FALSE(ring.TryPush(4));
  std::vector<int> out(8);
  EXPECT_EQ(ring.PopBulk(out), 4u);
  EXPECT_EQ((std::vector<int>(out.begin(), out.begin() + 4)), (std::vector<int>{0, 1, 2, 3}));
  int v;
  EXPECT_FALSE(ring.TryPop(v));
}

TEST(MpmcRingTest, StressEveryItemExactlyOnce) {
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr uint64_t kPerProducer = 60000;
  MpmcRing<uint64_t> ring(32);
  std::vector<std::atomic<uint8_t>> seen(kProducers * kPerProducer);
  std::atomic<uint64_t> consumed{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(10 + p);
      uint64_t next = 0;
      std::vector<uint64_t> batch;
      while (next < kPerProducer) {
        MaybeDelay(rng);
        const uint64_t base = p * kPerProducer;
        if (rng() % 2) {
          if (ring.TryPush(base + next)) ++next;
        } else {
          batch.clear();
          for (uint64_t k = 0; k < 1 + rng() % 16 && next + k < kPerProducer; ++k)
            batch.push_back(base + next + k);
          next += ring.PushBulk(batch);
        }
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(20 + c);
      std::vector<uint64_t> out(16);
      // Per producer, items from one consumer's view arrive in increasing order.
      std::vector<int64_t> last(kProducers, -1);
      while (consumed.load() < kProducers * kPerProducer) {
        MaybeDelay(rng);
        std::size_t n = 0;
        if (rng() % 2) {
          n = ring.TryPop(out[0]) ? 1 : 0;
        } else {
          n = ring.PopBulk(std::span(out.data(), 1 + rng() % out.size()));
        }
        for (std::size_t k = 0; k < n; ++k) {
          const uint64_t v = out[k];
          EXPECT_EQ(seen[v].fetch_add(1), 0) << "item " << v << " delivered twice";
          const int prod = static_cast<int>(v / kPerProducer);
          EXPECT_GT(static_cast<int64_t>(v), last[prod]);
          last[prod] = static_cast<int64_t>(v);
        }
        consumed.fetch_add(n);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

}  // namespace
}  // namespace zenith::runtime
