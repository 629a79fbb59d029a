#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "dataplane_test_util.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/producer_engine.h"
#include "zenith/runtime/record_writer.h"

namespace zenith::runtime {
namespace {

uint64_t CounterValue(const TelemetryRegistry& t, const std::string& name) {
  for (const auto& s : t.Scrape()) {
    if (s.name == name) return s.counter;
  }
  return ~0ull;
}

// The engine end to end in one process: files → shard → batches → channel → consumer.
TEST(ProducerEngineTest, DeliversEveryRecordThroughTheChannel) {
  testing::TempDir dir("engine");
  std::set<std::string> want;
  for (int f = 0; f < 3; ++f) {
    std::string file;
    for (int r = 0; r < 50; ++r) {
      const std::string payload = "file" + std::to_string(f) + "-record" + std::to_string(r);
      AppendTfRecord(file, payload);
      want.insert(payload);
    }
    dir.Write("part" + std::to_string(f) + ".tfrecord", file);
  }
  EngineOptions options;
  options.dataset.files = *ListDatasetFiles(dir.path().string());
  options.dataset.shuffle_buffer = 16;
  options.dataset.decode_threads = 2;  // the engine gives each worker its own reader
  options.batching.batch_size = 8;
  options.batching.epochs = 2;
  options.channel.dir = dir.path().string();
  options.channel.name = "engine";
  options.channel.slots = 4;
  TelemetryRegistry telemetry;
  ProducerEngine engine(options, telemetry);
  ASSERT_TRUE(engine.Start().ok());
  for (int i = 0; i < 1000 && !engine.ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(engine.ready());
  ChannelConsumer::Error err;
  auto c = ChannelConsumer::Attach(engine.channel_path(), &err);
  ASSERT_TRUE(c) << err.message;
  std::multiset<std::string> got[2];
  uint64_t batches = 0;
  for (;;) {
    ChannelConsumer::Batch b;
    err = c->Next(&b, std::chrono::seconds(10));
    if (err.code == ChannelConsumer::Code::kEndOfData) break;
    ASSERT_TRUE(err.ok()) << err.message;
    const BatchHeader& h = b.header();
    ASSERT_LT(h.epoch, 2u);
    BatchIndexEntry e;
    for (uint32_t i = 0; i < h.num_samples; ++i) {
      std::memcpy(&e, b.data + h.index_offset + i * sizeof e, sizeof e);
      got[h.epoch].insert(
          std::string(reinterpret_cast<const char*>(b.data + h.data_offset + e.offset), e.length));
    }
    ++batches;
    c->Release(b);
  }
  for (auto& epoch : got) EXPECT_EQ(std::set<std::string>(epoch.begin(), epoch.end()), want);
  EXPECT_EQ(got[0].size(), 150u);
  EXPECT_EQ(batches, 2u * 19);
  engine.Stop();
  EXPECT_TRUE(engine.status().ok()) << engine.status();
  EXPECT_EQ(CounterValue(telemetry, "zenith_runtime_samples_total"), 300u);
  EXPECT_EQ(CounterValue(telemetry, "zenith_runtime_batches_total"), 38u);
}

TEST(ProducerEngineTest, BadInputFailsTheChannelWithTheFileName) {
  testing::TempDir dir("engine-bad");
  std::string file;
  AppendTfRecord(file, "ok");
  AppendTfRecord(file, "broken");
  file[file.size() - 2] ^= 1;
  const std::string path = dir.Write("bad.tfrecord", file);
  EngineOptions options;
  options.dataset.files = {path};
  options.dataset.shuffle = false;
  options.batching.batch_size = 1;
  options.channel.dir = dir.path().string();
  options.channel.name = "bad";
  TelemetryRegistry telemetry;
  ProducerEngine engine(options, telemetry);
  ASSERT_TRUE(engine.Start().ok());
  for (int i = 0; i < 1000 && !engine.ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ChannelConsumer::Error err;
  auto c = ChannelConsumer::Attach(engine.channel_path(), &err);
  ASSERT_TRUE(c) << err.message;
  // The good record may or may not arrive first (it is dropped if the failure comes before
  // this consumer attached); the failure always does, naming the file.
  ChannelConsumer::Batch b;
  for (int i = 0; i < 2; ++i) {
    err = c->Next(&b, std::chrono::seconds(10));
    if (!err.ok()) break;
    c->Release(b);
  }
  EXPECT_EQ(err.code, ChannelConsumer::Code::kProducerGone);
  EXPECT_NE(err.message.find("bad.tfrecord"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("CRC mismatch"), std::string::npos) << err.message;
  engine.Stop();
  EXPECT_FALSE(engine.status().ok());
}

TEST(ProducerEngineTest, FailureBeforeTheFirstBatchStillReachesTrainers) {
  testing::TempDir dir("engine-early");
  EngineOptions options;
  options.dataset.files = {dir.Path("missing.tfrecord")};
  options.channel.dir = dir.path().string();
  options.channel.name = "early";
  TelemetryRegistry telemetry;
  ProducerEngine engine(options, telemetry);
  ASSERT_TRUE(engine.Start().ok());
  for (int i = 0; i < 1000 && !engine.ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ChannelConsumer::Error err;
  auto c = ChannelConsumer::Attach(engine.channel_path(), &err);
  ASSERT_TRUE(c) << err.message;
  ChannelConsumer::Batch b;
  err = c->Next(&b, std::chrono::seconds(10));
  EXPECT_EQ(err.code, ChannelConsumer::Code::kProducerGone);
  EXPECT_NE(err.message.find("missing.tfrecord"), std::string::npos) << err.message;
}

}  // namespace
}  // namespace zenith::runtime
