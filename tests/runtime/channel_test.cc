#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <set>
#include <thread>

#include "dataplane_test_util.h"
#include "zenith/runtime/batcher.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/channel_producer.h"

namespace zenith::runtime {
namespace {

using Consumer = ChannelConsumer;
using std::chrono::milliseconds;

// A valid one-sample batch whose payload is the 8 bytes of `value`.
uint64_t WriteBatch(std::span<std::byte> dest, uint64_t value) {
  BatchPlan plan;
  plan.step = value;
  plan.real = 1;
  Sample s;
  s.bytes.resize(8);
  std::memcpy(s.bytes.data(), &value, 8);
  s.fields = {{"", 8}};
  plan.samples.push_back(s);
  return *PackBatch(plan, {"f"}, dest);
}
uint64_t ValueOf(const Consumer::Batch& b) {
  uint64_t v;
  std::memcpy(&v, b.data + b.header().data_offset, 8);
  return v;
}

class ChannelTest : public ::testing::Test {
 protected:
  ChannelOptions Options(const std::string& name) {
    ChannelOptions o;
    o.dir = dir_.path().string();
    o.name = name;
    o.slots = 4;
    o.slot_bytes = 4096;
    o.max_consumers = 4;
    o.per_consumer_depth = 2;
    o.liveness_interval = milliseconds(5);
    return o;
  }
  std::unique_ptr<ChannelProducer> MustCreate(const ChannelOptions& o) {
    auto p = ChannelProducer::Create(o, telemetry_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  // Publishes values [from, to), serving consumers meanwhile.
  static void Produce(ChannelProducer& p, uint64_t from, uint64_t to) {
    for (uint64_t v = from; v < to; ++v) {
      auto slot = p.Acquire(nullptr);
      ASSERT_TRUE(slot.ok());
      p.Publish(*slot, WriteBatch(p.Buffer(*slot), v));
    }
  }
  // Serves until `done` or a deadline; false on the deadline.
  static bool ServeUntil(ChannelProducer& p, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      p.Serve();
      std::this_thread::sleep_for(milliseconds(1));
    }
    return true;
  }

  TelemetryRegistry telemetry_;
  testing::TempDir dir_{"channel"};
};

// A forked consumer: reads until end of data, writes the values it saw to `fd`, exits 0 when
// each arrived with a sound batch and in increasing order.
pid_t ForkReader(const std::string& path, int fd) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  Consumer::Error err;
  auto c = Consumer::Attach(path, &err);
  if (!c) _exit(10);
  uint64_t last = 0;
  bool first = true;
  for (;;) {
    Consumer::Batch b;
    err = c->Next(&b, std::chrono::seconds(10));
    if (err.code == Consumer::Code::kEndOfData) break;
    if (!err.ok()) _exit(11);
    const uint64_t v = ValueOf(b);
    if (!first && v <= last) _exit(12);
    first = false;
    last = v;
    if (write(fd, &v, 8) != 8) _exit(13);
    c->Release(b);
  }
  _exit(0);
}

TEST_F(ChannelTest, SeveralConsumersGetEveryBatchOnce) {
  auto p = MustCreate(Options("multi"));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < 3; ++i) kids.push_back(ForkReader(p->path(), fds[1]));
  close(fds[1]);
  ASSERT_TRUE(ServeUntil(*p, [&] { return p->attached() == 3; }));
  Produce(*p, 0, 500);
  ASSERT_TRUE(p->Finish(nullptr).ok());
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(k, &status, 0), k);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::multiset<uint64_t> got;
  uint64_t v;
  while (read(fds[0], &v, 8) == 8) got.insert(v);
  close(fds[0]);
  ASSERT_EQ(got.size(), 500u);
  EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()).size(), 500u);
  EXPECT_EQ(*got.rbegin(), 499u);
}

TEST_F(ChannelTest, DeadConsumerIsReclaimedAndASeatCanBeRetaken) {
  auto p = MustCreate(Options("dead-consumer"));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t kid = fork();
  if (kid == 0) {
    Consumer::Error err;
    auto c = Consumer::Attach(p->path(), &err);
    if (!c) _exit(10);
    Consumer::Batch a, b;
    if (!c->Next(&a, std::chrono::seconds(10)).ok()) _exit(11);
    if (!c->Next(&b, std::chrono::seconds(10)).ok()) _exit(12);
    char x = 1;
    if (write(ready[1], &x, 1) != 1) _exit(13);
    pause();  // holds two batches until killed
    _exit(0);
  }
  ASSERT_TRUE(ServeUntil(*p, [&] { return p->attached() == 1; }));
  Produce(*p, 0, 4);  // two taken by the child, two queued to it
  char x;
  ASSERT_EQ(read(ready[0], &x, 1), 1);
  kill(kid, SIGKILL);
  int status = 0;
  waitpid(kid, &status, 0);
  ASSERT_TRUE(ServeUntil(*p, [&] { return p->attached() == 0; }));
  EXPECT_EQ(p->queued(), 2u);  // not taken: to be delivered again

  // A new consumer (this process) gets the requeued batches, then new ones.
  Consumer::Error err;
  auto c = Consumer::Attach(p->path(), &err);
  ASSERT_TRUE(c) << err.message;
  std::vector<uint64_t> got;
  std::thread producer([&] {
    Produce(*p, 4, 10);
    ASSERT_TRUE(p->Finish(nullptr).ok());
  });
  for (;;) {
    Consumer::Batch b;
    err = c->Next(&b, std::chrono::seconds(10));
    if (err.code == Consumer::Code::kEndOfData) break;
    ASSERT_TRUE(err.ok()) << err.message;
    got.push_back(ValueOf(b));
    c->Release(b);
  }
  producer.join();
  EXPECT_EQ(got, (std::vector<uint64_t>{2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(ChannelTest, DeadProducerIsAnErrorNotAHang) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const std::string path = dir_.Path("dead-producer.zenith");
  const pid_t kid = fork();
  if (kid == 0) {
    TelemetryRegistry t;
    auto o = Options("dead-producer");
    auto p = ChannelProducer::Create(o, t);
    if (!p.ok()) _exit(10);
    auto slot = (*p)->Acquire(nullptr);
    (*p)->Publish(*slot, WriteBatch((*p)->Buffer(*slot), 7));
    char x = 1;
    if (write(ready[1], &x, 1) != 1) _exit(11);
    for (;;) {
      (*p)->Serve();
      usleep(1000);
    }
  }
  char x;
  ASSERT_EQ(read(ready[0], &x, 1), 1);
  Consumer::Error err;
  auto c = Consumer::Attach(path, &err);
  ASSERT_TRUE(c) << err.message;
  Consumer::Batch b;
  ASSERT_TRUE(c->Next(&b, std::chrono::seconds(10)).ok());
  EXPECT_EQ(ValueOf(b), 7u);
  kill(kid, SIGKILL);
  int status = 0;
  waitpid(kid, &status, 0);
  const auto start = std::chrono::steady_clock::now();
  err = c->Next(&b, std::chrono::seconds(30));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(err.code, Consumer::Code::kProducerGone) << err.message;
  EXPECT_NE(err.message.find("died"), std::string::npos) << err.message;
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(ChannelTest, TimeoutStopAndMemfd) {
  auto o = Options("t");
  o.dir = "memfd";
  auto p = MustCreate(o);
  Consumer::Error err;
  auto c = Consumer::Attach(p->path(), &err);
  ASSERT_TRUE(c) << err.message;
  Consumer::Batch b;
  err = c->Next(&b, milliseconds(50));
  EXPECT_EQ(err.code, Consumer::Code::kTimeout) << err.message;
  p->Stop("SIGTERM");
  err = c->Next(&b, std::chrono::seconds(10));
  EXPECT_EQ(err.code, Consumer::Code::kProducerGone);
  EXPECT_NE(err.message.find("stopped: SIGTERM"), std::string::npos) << err.message;
}

TEST_F(ChannelTest, BadSegmentsAreRefused) {
  Consumer::Error err;
  EXPECT_FALSE(Consumer::Attach(dir_.Path("missing"), &err));
  EXPECT_EQ(err.code, Consumer::Code::kSystem);
  EXPECT_FALSE(Consumer::Attach(dir_.Write("junk", std::string(8192, 'j')), &err));
  EXPECT_EQ(err.code, Consumer::Code::kBadSegment);
  EXPECT_NE(err.message.find("bad magic"), std::string::npos);

  auto o = Options("seats");
  o.max_consumers = 1;
  auto p = MustCreate(o);
  auto c = Consumer::Attach(p->path(), &err);
  ASSERT_TRUE(c);
  EXPECT_FALSE(Consumer::Attach(p->path(), &err));
  EXPECT_EQ(err.code, Consumer::Code::kNoSeat);
}

}  // namespace
}  // namespace zenith::runtime
