#include "zenith/runtime/options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "dataplane_test_util.h"
#include "zenith/runtime/producer_engine.h"

namespace zenith::runtime {
namespace {

common::Config Load(std::vector<std::string> args) {
  common::ConfigSources s;
  s.args = std::move(args);
  s.getenv = [](const std::string&) { return std::optional<std::string>(); };
  return common::Config::Load(s).value();
}

TEST(RuntimeOptionsTest, DefaultsAndFlags) {
  auto o = LoadOptions(Load({"--source=/data/train", "--format=tfrecord", "--batch-size=256"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->source, "/data/train");
  EXPECT_EQ(o->format, "tfrecord");
  EXPECT_EQ(o->batch_size, 256);
  EXPECT_EQ(o->prefetch, 4);
  EXPECT_EQ(o->shm_dir, "/dev/shm");
}

TEST(RuntimeOptionsTest, BadValuesNameTheKey) {
  auto bad_format = LoadOptions(Load({"--format=parquet"}));
  ASSERT_FALSE(bad_format.ok());
  EXPECT_NE(bad_format.status().message().find("'format'"), std::string::npos);
  auto bad_batch = LoadOptions(Load({"--batch-size=0"}));
  ASSERT_FALSE(bad_batch.ok());
  EXPECT_NE(bad_batch.status().message().find("'batch-size'"), std::string::npos);
}

TEST(RuntimeOptionsTest, DataPlaneKeysAndEngineOptions) {
  // A dataset of its own: listing all of /tmp races with whatever else deletes files there.
  testing::TempDir dir("options");
  const std::string source = "--source=" + dir.Write("a.tfrecord", "");
  auto o = LoadOptions(
      Load({source, "--record-shape=3,4", "--on-error=skip", "--last-batch=pad", "--epochs=3",
            "--resume-epoch=1", "--resume-step=7", "--shm-dir=memfd", "--slots=8"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->record_shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(o->on_error, "skip");
  auto env = [](const std::string& k) -> std::optional<std::string> {
    if (k == "RANK") return "2";
    if (k == "WORLD_SIZE") return "4";
    return std::nullopt;
  };
  auto e = ToEngineOptions(*o, env);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->dataset.shard.rank, 2);
  EXPECT_EQ(e->dataset.shard.world_size, 4);
  EXPECT_TRUE(e->dataset.skip_errors);
  EXPECT_EQ(e->batching.last, LastBatch::kPad);
  EXPECT_EQ(e->batching.start_step, 7u);
  EXPECT_EQ(e->channel.dir, "memfd");
  const unsigned cpus = std::thread::hardware_concurrency();  // default: half, at most 4
  EXPECT_EQ(e->dataset.decode_threads, cpus > 2 ? std::min(cpus / 2, 4u) : 0u);
  auto threads = LoadOptions(Load({source, "--decode-threads=3"}));
  ASSERT_TRUE(threads.ok()) << threads.status();
  EXPECT_EQ(ToEngineOptions(*threads, env)->dataset.decode_threads, 3u);
  auto inline_decode = LoadOptions(Load({source, "--decode-threads=0"}));
  ASSERT_TRUE(inline_decode.ok()) << inline_decode.status();
  EXPECT_EQ(ToEngineOptions(*inline_decode, env)->dataset.decode_threads, 0u);
  EXPECT_EQ(e->reader.async_min_bytes, 0u);  // by default every read is copied inline
  EXPECT_FALSE(e->dataset.source.map);       // and files are read, not mapped
  auto mapped = LoadOptions(Load({source, "--io=mmap"}));
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_TRUE(ToEngineOptions(*mapped, env)->dataset.source.map);
  EXPECT_FALSE(ToEngineOptions(*mapped, env)->reader.force_pread);
  // Mapped files keep their mappings for the next epoch (by default up to a quarter of RAM),
  // unless io-map-keep-bytes is 0; read files need no cache.
  EXPECT_NE(ToEngineOptions(*mapped, env)->dataset.source.map_cache, nullptr);
  EXPECT_EQ(e->dataset.source.map_cache, nullptr);
  auto unkept = LoadOptions(Load({source, "--io=mmap", "--io-map-keep-bytes=0"}));
  ASSERT_TRUE(unkept.ok()) << unkept.status();
  EXPECT_EQ(ToEngineOptions(*unkept, env)->dataset.source.map_cache, nullptr);
  auto bad_keep = LoadOptions(Load({"--io-map-keep-bytes=-5"}));
  ASSERT_FALSE(bad_keep.ok());
  EXPECT_NE(bad_keep.status().message().find("'io-map-keep-bytes'"), std::string::npos);
  auto bad_io = LoadOptions(Load({"--io=mmapp"}));
  ASSERT_FALSE(bad_io.ok());
  EXPECT_NE(bad_io.status().message().find("'io'"), std::string::npos) << bad_io.status();
  auto worker_copies = LoadOptions(Load({source, "--io-async-bytes=262144"}));
  ASSERT_TRUE(worker_copies.ok()) << worker_copies.status();
  EXPECT_EQ(ToEngineOptions(*worker_copies, env)->reader.async_min_bytes, 256u << 10);
  auto bad_async = LoadOptions(Load({"--io-async-bytes=-1"}));
  ASSERT_FALSE(bad_async.ok());
  EXPECT_NE(bad_async.status().message().find("'io-async-bytes'"), std::string::npos);
  auto bad_threads = LoadOptions(Load({"--decode-threads=-2"}));
  ASSERT_FALSE(bad_threads.ok());
  EXPECT_NE(bad_threads.status().message().find("'decode-threads'"), std::string::npos);

  auto bad = LoadOptions(Load({"--record-shape=3,x"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'record-shape'"), std::string::npos);
  bad = LoadOptions(Load({"--on-error=ignore"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'on-error'"), std::string::npos);
  bad = LoadOptions(Load({"--epochs=2", "--resume-epoch=2"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("resume-epoch"), std::string::npos);
  auto missing = ToEngineOptions(*LoadOptions(Load({"--source=/nonexistent/data"})), env);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/data"), std::string::npos);
}

}  // namespace
}  // namespace zenith::runtime
