#include "zenith/runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "zenith/runtime/cpu_affinity.h"
#include "zenith/runtime/topology.h"

namespace zenith::runtime {
namespace {

TEST(ThreadPoolTest, ValuesStatusesAndExceptionsReachTheCaller) {
  ThreadPool pool({.threads = 2, .cpus = {}, .name = "test"});
  auto v = pool.Submit([] { return 42; });
  auto ok = pool.Submit([] {});
  auto bad = pool.Submit([] { return NotFoundError("no shard 7"); });
  auto res = pool.Submit([]() -> Result<std::string> { return InvalidArgumentError("bad"); });
  auto thrown = pool.Submit([]() -> int { throw std::runtime_error("disk on fire"); });
  EXPECT_EQ(v.Wait().value(), 42);
  EXPECT_TRUE(ok.Wait().ok());
  EXPECT_EQ(bad.Wait().code(), StatusCode::kNotFound);
  EXPECT_EQ(res.Wait().status().code(), StatusCode::kInvalidArgument);
  auto t = thrown.Wait();
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("disk on fire"), std::string::npos);
}

TEST(ThreadPoolTest, DrainRunsEverything) {
  std::atomic<int> ran{0};
  std::vector<TaskHandle<void>> handles;
  {
    ThreadPool pool({.threads = 3, .cpus = {}, .name = "drain"});
    for (int i = 0; i < 2000; ++i) handles.push_back(pool.Submit([&] { ran.fetch_add(1); }));
    pool.Shutdown(ShutdownMode::kDrain);
    EXPECT_EQ(pool.Submit([] {}).Wait().code(), StatusCode::kCancelled);  // after shutdown
  }
  EXPECT_EQ(ran.load(), 2000);
  for (auto& h : handles) EXPECT_TRUE(h.Wait().ok());
}

TEST(ThreadPoolTest, CancelSkipsQueuedWork) {
  std::atomic<int> ran{0};
  std::atomic<bool> started{false}, release{false};
  ThreadPool pool({.threads = 1, .cpus = {}, .name = "cancel"});
  auto blocker = pool.Submit([&] {
    started = true;
    while (!release.load()) std::this_thread::yield();
  });
  while (!started.load()) std::this_thread::yield();  // the only worker is now busy
  std::vector<TaskHandle<void>> queued;
  for (int i = 0; i < 100; ++i) queued.push_back(pool.Submit([&] { ran.fetch_add(1); }));
  std::thread stopper([&] { pool.Shutdown(ShutdownMode::kCancel); });
  for (auto& h : queued) EXPECT_EQ(h.Wait().code(), StatusCode::kCancelled);
  release = true;
  stopper.join();
  EXPECT_TRUE(blocker.Wait().ok());
  EXPECT_EQ(ran.load(), 0);
}

TEST(ThreadPoolTest, WorkersArePinnedAndStealNestedWork) {
  const auto topo = DiscoverTopology({.io_devices = false, .synthetic = ""}).value();
  ThreadPool pool({.threads = 2, .cpus = topo.CpusOfNode(0), .name = "pinned"});
  EXPECT_TRUE(pool.pin_errors().empty());
  auto where = pool.Submit([] { return sched_getcpu(); });
  const int cpu = where.Wait().value();
  EXPECT_NE(std::find(topo.pus.begin(), topo.pus.end(), cpu), topo.pus.end());
  // A task that fans out onto its own worker's queue; the idle worker steals.
  std::atomic<int> sum{0};
  auto parent = pool.Submit([&] {
    std::vector<TaskHandle<void>> kids;
    for (int i = 0; i < 50; ++i) kids.push_back(pool.Submit([&, i] { sum.fetch_add(i); }));
    return static_cast<int>(kids.size());
  });
  EXPECT_EQ(parent.Wait().value(), 50);
  pool.Shutdown(ShutdownMode::kDrain);
  EXPECT_EQ(sum.load(), 49 * 50 / 2);
}

}  // namespace
}  // namespace zenith::runtime
