#include "zenith/kube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueueTest, DedupsKeysAndKeepsOrder) {
  common::FakeClock clock;
  WorkQueue q(clock);
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.TryGet(), "a");
  EXPECT_EQ(q.TryGet(), "b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, AKeyInFlightIsNotHandedOutTwice) {
  common::FakeClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(q.TryGet(), "a");
  q.Add("a");  // changed again while a worker holds it
  q.Add("a");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  q.Done("a");
  EXPECT_EQ(q.TryGet(), "a");  // replayed once
  q.Done("a");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, AddAfterWaitsForTheClock) {
  common::FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("late", 10s);
  q.AddAfter("later", 20s);
  q.AddAfter("late", 30s);  // the earlier time wins
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(q.Waiting(), 2u);
  clock.Advance(10s);
  EXPECT_EQ(q.TryGet(), "late");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(10s);
  EXPECT_EQ(q.TryGet(), "later");
}

TEST(WorkQueueTest, RateLimitedBackoffGrowsPerKeyUntilForget) {
  common::FakeClock clock;
  WorkQueueOptions o;
  o.base_delay = 5ms;
  o.max_delay = 40ms;
  o.qps = 0;  // per-key only
  WorkQueue q(clock, o);
  std::vector<common::Duration> waits;
  for (int i = 0; i < 5; ++i) {
    waits.push_back(q.PeekBackoff("k"));
    q.AddRateLimited("k");
  }
  EXPECT_EQ(waits, (std::vector<common::Duration>{5ms, 10ms, 20ms, 40ms, 40ms}));
  EXPECT_EQ(q.NumRequeues("k"), 5);
  EXPECT_EQ(q.PeekBackoff("other"), 5ms);
  clock.Advance(4ms);
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(1ms);
  EXPECT_EQ(q.TryGet(), "k");
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  EXPECT_EQ(q.PeekBackoff("k"), 5ms);
}

TEST(WorkQueueTest, OverallBucketBoundsRetriesAcrossKeys) {
  common::FakeClock clock;
  WorkQueueOptions o;
  o.base_delay = 1ms;
  o.qps = 10;
  o.burst = 2;
  WorkQueue q(clock, o);
  for (int i = 0; i < 4; ++i) q.AddRateLimited("k" + std::to_string(i));
  clock.Advance(1ms);
  int ready = 0;
  while (q.TryGet()) ++ready;
  EXPECT_EQ(ready, 2);  // the burst
  clock.Advance(100ms);
  EXPECT_TRUE(q.TryGet().has_value());
  clock.Advance(100ms);
  EXPECT_TRUE(q.TryGet().has_value());
}

TEST(WorkQueueTest, ShutDownWakesBlockedWorkersAndDropsLaterAdds) {
  common::FakeClock clock;
  WorkQueue q(clock);
  std::optional<std::string> got = "x";
  std::thread worker([&] { got = q.Get(); });
  std::this_thread::sleep_for(20ms);
  q.ShutDown();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
  q.Add("late");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_TRUE(q.shutting_down());
}

TEST(WorkQueueTest, BlockingGetSeesADelayedKeyWhenTheFakeClockMoves) {
  common::FakeClock clock;
  WorkQueue q(clock);
  q.AddAfter("k", 1h);
  std::optional<std::string> got;
  std::thread worker([&] { got = q.Get(); });
  std::this_thread::sleep_for(10ms);
  clock.Advance(1h);
  worker.join();
  EXPECT_EQ(got, "k");
}

TEST(WorkQueueTest, ManyWorkersNeverShareAKey) {
  common::FakeClock clock;
  WorkQueue q(clock);
  std::mutex mu;
  std::set<std::string> in_flight;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        {
          std::lock_guard lock(mu);
          if (!in_flight.insert(*key).second) overlap = true;
        }
        std::this_thread::sleep_for(100us);
        {
          std::lock_guard lock(mu);
          in_flight.erase(*key);
        }
        ++processed;
        q.Done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.Add("k" + std::to_string(i % 7));
  while (q.Len() > 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), 7);
}

}  // namespace
}  // namespace zenith::kube
