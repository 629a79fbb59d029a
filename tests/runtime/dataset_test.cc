#include <gtest/gtest.h>

#include <map>
#include <set>

#include "dataplane_test_util.h"
#include "zenith/runtime/batcher.h"
#include "zenith/runtime/record_writer.h"

namespace zenith::runtime {
namespace {

using testing::AsString;
using testing::TempDir;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = FileReader::Create(FileReaderOptions{}, telemetry_);
    ASSERT_TRUE(r.ok()) << r.status();
    reader_ = std::move(*r);
    auto s = DatasetStats::Register(telemetry_);
    ASSERT_TRUE(s.ok());
    stats_ = std::move(*s);
  }
  // Files of TFRecords whose payloads are unique: "f<file>r<record>".
  std::vector<std::string> MakeTfRecords(const std::vector<int>& counts) {
    std::vector<std::string> paths;
    for (std::size_t f = 0; f < counts.size(); ++f) {
      std::string file;
      for (int r = 0; r < counts[f]; ++r) {
        std::string payload = "f" + std::to_string(f) + "r" + std::to_string(r);
        payload.resize(8 + (r % 5) * 3, '.');
        AppendTfRecord(file, payload);
      }
      paths.push_back(dir_.Write("part-" + std::to_string(f) + ".tfrecord", file));
    }
    all_.clear();
    for (std::size_t f = 0; f < counts.size(); ++f) {
      for (int r = 0; r < counts[f]; ++r) {
        std::string payload = "f" + std::to_string(f) + "r" + std::to_string(r);
        payload.resize(8 + (r % 5) * 3, '.');
        all_.push_back(payload);
      }
    }
    return *ListDatasetFiles(dir_.path().string());
  }
  std::vector<std::string> Epoch(const DatasetOptions& options, uint64_t epoch) {
    SampleStream stream(options, epoch, *reader_, stats_);
    std::vector<std::string> out;
    Sample s;
    for (;;) {
      auto r = stream.Next(s);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || !*r) break;
      out.push_back(AsString(s.bytes));
    }
    return out;
  }

  TelemetryRegistry telemetry_;
  std::unique_ptr<FileReader> reader_;
  DatasetStats stats_;
  TempDir dir_{"dataset"};
  std::vector<std::string> all_;
};

TEST_F(DatasetTest, ListsFilesFromDirectoryGlobAndList) {
  MakeTfRecords({1, 1, 1});
  auto files = ListDatasetFiles(dir_.path().string());
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 3u);
  EXPECT_TRUE(files->front().ends_with("part-0.tfrecord"));
  auto glob = ListDatasetFiles((dir_.path() / "part-[12].tfrecord").string());
  ASSERT_TRUE(glob.ok());
  EXPECT_EQ(glob->size(), 2u);
  auto list = ListDatasetFiles(dir_.Path("part-2.tfrecord") + "," + dir_.Path("part-0.tfrecord"));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list,
            (std::vector<std::string>{dir_.Path("part-0.tfrecord"), dir_.Path("part-2.tfrecord")}));
  auto missing = ListDatasetFiles(dir_.Path("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(ShardTest, FlagsEnvironmentAndErrors) {
  std::map<std::string, std::string> env = {{"RANK", "3"}, {"WORLD_SIZE", "8"}};
  auto getenv = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto s = ResolveShard(-1, -1, getenv);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rank, 3);
  EXPECT_EQ(s->world_size, 8);
  s = ResolveShard(1, 2, getenv);
  EXPECT_EQ(s->rank, 1);
  env["RANK"] = "x";
  s = ResolveShard(-1, -1, getenv);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("RANK"), std::string::npos);
  env["RANK"] = "8";
  EXPECT_FALSE(ResolveShard(-1, -1, getenv).ok());
  env.clear();
  s = ResolveShard(-1, -1, getenv);
  EXPECT_EQ(s->rank, 0);
  EXPECT_EQ(s->world_size, 1);
}

// The sharding property: for every world size, by file (files >= ranks) or by record (fewer
// files), one epoch's union over ranks is exactly the dataset, each record once.
TEST_F(DatasetTest, EpochUnionOverRanksIsTheDatasetOnce) {
  DatasetOptions options;
  options.files = MakeTfRecords({7, 13, 1, 20, 0, 9});
  options.shuffle_buffer = 8;
  options.seed = 42;
  const std::multiset<std::string> want(all_.begin(), all_.end());
  for (int world : {1, 2, 3, 4, 6, 7, 8, 13}) {
    for (uint64_t epoch : {0, 1, 5}) {
      std::multiset<std::string> got;
      for (int rank = 0; rank < world; ++rank) {
        options.shard = {rank, world};
        for (auto& s : Epoch(options, epoch)) got.insert(s);
      }
      EXPECT_EQ(got, want) << "world " << world << " epoch " << epoch;
    }
  }
}

TEST_F(DatasetTest, ShuffleIsDeterministicPerSeedAndEpoch) {
  DatasetOptions options;
  options.files = MakeTfRecords({30, 30, 30});
  options.shuffle_buffer = 16;
  options.seed = 7;
  const auto a = Epoch(options, 0);
  EXPECT_EQ(a, Epoch(options, 0));
  EXPECT_NE(a, Epoch(options, 1));
  options.seed = 8;
  EXPECT_NE(a, Epoch(options, 0));
  options.shuffle = false;
  EXPECT_EQ(Epoch(options, 0), all_);  // no shuffle: file order, record order
}

TEST_F(DatasetTest, OnErrorSkipCountsAndContinuesFailStops) {
  DatasetOptions options;
  options.files = MakeTfRecords({5, 5});
  options.shuffle = false;
  std::string bad;
  AppendTfRecord(bad, "good0");
  AppendTfRecord(bad, "broken");
  AppendTfRecord(bad, "good2");
  bad[21 + 12 + 2] ^= 1;  // inside "broken"'s data (after 21 bytes of "good0")
  options.files.push_back(dir_.Write("z-bad.tfrecord", bad));
  options.files.push_back(dir_.Path("z-missing.tfrecord"));

  options.skip_errors = true;
  const uint64_t skipped_before = stats_.skipped->Value();
  auto got = Epoch(options, 0);
  EXPECT_EQ(got.size(), 12u);
  EXPECT_EQ(got.back(), "good2");
  EXPECT_EQ(stats_.skipped->Value() - skipped_before, 2u);  // one record and one file

  options.skip_errors = false;
  SampleStream stream(options, 0, *reader_, stats_);
  Sample s;
  Status error;
  for (int i = 0; i < 100; ++i) {
    auto r = stream.Next(s);
    if (!r.ok()) {
      error = r.status();
      break;
    }
    ASSERT_TRUE(*r);
  }
  EXPECT_NE(error.message().find("z-bad.tfrecord"), std::string::npos) << error;
}

TEST_F(DatasetTest, DecodeThreadsKeepTheSequentialOrderSkipsAndErrors) {
  DatasetOptions options;
  options.files = MakeTfRecords({7, 13, 1, 20, 0, 9, 600});
  std::string bad;
  AppendTfRecord(bad, "good0");
  AppendTfRecord(bad, "broken");
  AppendTfRecord(bad, "good2");
  bad[21 + 12 + 2] ^= 1;  // inside "broken"'s data
  options.files.push_back(dir_.Write("part-3b.tfrecord", bad));
  options.files.push_back(dir_.Path("part-3c.tfrecord"));  // missing
  std::sort(options.files.begin(), options.files.end());
  options.shuffle_buffer = 8;
  options.seed = 3;
  options.make_reader = [this] { return FileReader::Create(FileReaderOptions{}, telemetry_); };
  // Every sample with its key, then the error that ended the epoch (if any).
  auto run = [&](const DatasetOptions& o, uint64_t* skipped) {
    const uint64_t before = stats_.skipped->Value();
    SampleStream stream(o, 1, *reader_, stats_);
    std::vector<std::string> out;
    Sample s;
    for (;;) {
      auto r = stream.Next(s);
      if (!r.ok()) {
        out.push_back("error: " + r.status().message());
        break;
      }
      if (!*r) break;
      out.push_back(std::to_string(s.file) + "@" + std::to_string(s.offset) + " " +
                    AsString(s.bytes));
    }
    *skipped = stats_.skipped->Value() - before;
    return out;
  };
  for (bool skip : {true, false}) {
    for (bool shuffle : {true, false}) {
      for (int world : {1, 3, 12}) {
        options.skip_errors = skip;
        options.shuffle = shuffle;
        options.shard = {world - 1, world};
        options.decode_threads = 0;
        uint64_t want_skipped = 0;
        const auto want = run(options, &want_skipped);
        ASSERT_FALSE(want.empty());
        for (unsigned threads : {1u, 2u, 3u, 16u}) {
          options.decode_threads = threads;
          uint64_t skipped = 0;
          EXPECT_EQ(run(options, &skipped), want)
              << "threads " << threads << " skip " << skip << " world " << world;
          EXPECT_EQ(skipped, want_skipped);
        }
      }
    }
  }
}

TEST_F(DatasetTest, DecodeThreadsStopMidEpoch) {
  DatasetOptions options;
  options.files = MakeTfRecords({500, 500, 500, 500});
  options.decode_threads = 3;
  options.make_reader = [this] { return FileReader::Create(FileReaderOptions{}, telemetry_); };
  SampleStream stream(options, 0, *reader_, stats_);
  Sample s;
  ASSERT_TRUE(*stream.Next(s));  // the workers are queueing pieces when the stream goes away
}

std::vector<std::vector<std::string>> AllBatches(Batcher& b,
                                                 std::vector<BatchPlan>* plans = nullptr) {
  std::vector<std::vector<std::string>> out;
  BatchPlan plan;
  for (;;) {
    auto r = b.Next(plan);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !*r) break;
    std::vector<std::string> batch;
    for (auto& s : plan.samples) batch.push_back(AsString(s.bytes));
    out.push_back(batch);
    if (plans) plans->push_back(plan);
  }
  return out;
}

TEST_F(DatasetTest, BatchesKeepDropPadAndEpochs) {
  DatasetOptions options;
  options.files = MakeTfRecords({20, 21});  // 41 samples
  BatchingOptions batching;
  batching.batch_size = 5;
  batching.epochs = 2;
  {
    Batcher b(options, batching, *reader_, stats_);
    std::vector<BatchPlan> plans;
    auto batches = AllBatches(b, &plans);
    ASSERT_EQ(batches.size(), 18u);
    EXPECT_EQ(batches[8].size(), 1u);
    EXPECT_EQ(plans[9].epoch, 1u);
    EXPECT_EQ(plans[9].step, 0u);
    EXPECT_EQ(plans[17].step, 8u);
  }
  batching.last = LastBatch::kDrop;
  {
    Batcher b(options, batching, *reader_, stats_);
    EXPECT_EQ(AllBatches(b).size(), 16u);
  }
  batching.last = LastBatch::kPad;
  {
    Batcher b(options, batching, *reader_, stats_);
    std::vector<BatchPlan> plans;
    auto batches = AllBatches(b, &plans);
    ASSERT_EQ(batches.size(), 18u);
    EXPECT_EQ(batches[8].size(), 5u);
    EXPECT_EQ(plans[8].real, 1u);
    EXPECT_EQ(batches[8][4], batches[8][0]);
  }
}

TEST_F(DatasetTest, ResumeFromEpochAndStepContinuesTheSameOrder) {
  DatasetOptions options;
  options.files = MakeTfRecords({20, 21, 17});
  options.shuffle_buffer = 10;
  options.seed = 3;
  BatchingOptions batching;
  batching.batch_size = 4;
  batching.epochs = 3;
  Batcher full(options, batching, *reader_, stats_);
  std::vector<BatchPlan> plans;
  auto all = AllBatches(full, &plans);
  batching.start_epoch = 1;
  batching.start_step = 6;
  Batcher resumed(options, batching, *reader_, stats_);
  auto tail = AllBatches(resumed);
  std::size_t from = 0;
  while (!(plans[from].epoch == 1 && plans[from].step == 6)) ++from;
  EXPECT_EQ(tail, std::vector<std::vector<std::string>>(all.begin() + from, all.end()));
}

TEST_F(DatasetTest, PackBatchTensorsAndFields) {
  std::string data;
  for (int i = 0; i < 6 * 2 * 3; ++i) data += static_cast<char>(i);
  const int64_t shape[] = {6, 2, 3};
  DatasetOptions options;
  options.files = {dir_.Write("a.npy", NpyFile("|u1", shape, data))};
  options.shuffle = false;
  BatchingOptions batching;
  batching.batch_size = 4;
  Batcher b(options, batching, *reader_, stats_);
  BatchPlan plan;
  ASSERT_TRUE(*b.Next(plan));
  std::vector<std::byte> buf(PackedBatchBytes(plan));
  auto n = PackBatch(plan, options.files, buf);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(CheckBatch(buf.data(), buf.size()), nullptr);
  BatchHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  EXPECT_EQ(h.is_tensor, 1u);
  EXPECT_STREQ(h.dtype, "|u1");
  EXPECT_EQ(h.ndim, 2u);
  EXPECT_EQ(h.shape[0], 2);
  EXPECT_EQ(h.shape[1], 3);
  EXPECT_EQ(h.num_samples, 4u);
  EXPECT_EQ(h.data_offset % 64, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data() + h.data_offset), h.data_bytes),
            data.substr(0, 24));  // one contiguous [4, 2, 3] tensor
  EXPECT_FALSE(PackBatch(plan, options.files, std::span(buf).first(buf.size() - 1)).ok());
  // A corrupted index is caught before a consumer trusts it.
  BatchIndexEntry e{h.data_bytes, 1};
  std::memcpy(buf.data() + h.index_offset, &e, sizeof e);
  EXPECT_NE(CheckBatch(buf.data(), buf.size()), nullptr);
}

TEST_F(DatasetTest, PackBatchWebDatasetMissingFields) {
  std::string tar;
  AppendTarEntry(tar, "s1.jpg", "J1");
  AppendTarEntry(tar, "s1.cls", "1");
  AppendTarEntry(tar, "s2.cls", "2");
  AppendTarEnd(tar);
  DatasetOptions options;
  options.files = {dir_.Write("a.tar", tar)};
  options.shuffle = false;
  BatchingOptions batching;
  batching.batch_size = 2;
  Batcher b(options, batching, *reader_, stats_);
  BatchPlan plan;
  ASSERT_TRUE(*b.Next(plan));
  std::vector<std::byte> buf(PackedBatchBytes(plan));
  ASSERT_TRUE(PackBatch(plan, options.files, buf).ok());
  ASSERT_EQ(CheckBatch(buf.data(), buf.size()), nullptr);
  BatchHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  EXPECT_EQ(h.is_tensor, 0u);
  ASSERT_EQ(h.num_fields, 2u);
  EXPECT_STREQ(reinterpret_cast<const char*>(buf.data() + h.names_offset), "jpg");
  BatchIndexEntry idx[4];
  std::memcpy(idx, buf.data() + h.index_offset, sizeof idx);
  EXPECT_EQ(idx[0].length, 2u);                         // s1.jpg
  EXPECT_EQ(idx[1].offset, BatchIndexEntry::kMissing);  // s2 has no jpg
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data() + h.data_offset + idx[3].offset),
                        idx[3].length),
            "2");
}

}  // namespace
}  // namespace zenith::runtime
