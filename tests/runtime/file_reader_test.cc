#include "zenith/runtime/file_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "zenith/common/log.h"
#include "zenith/runtime/aligned_buffer.h"

namespace zenith::runtime {
namespace {

namespace fs = std::filesystem;

class CaptureSink : public common::log::Sink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class FileReaderTest : public ::testing::TestWithParam<bool> {  // param: force_pread
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zenith-reader-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::mt19937 rng(7);
    for (std::size_t size : {0ul, 1ul, 4095ul, 4096ul, 100003ul, 1048576ul + 17}) {
      const fs::path p = dir_ / ("f" + std::to_string(size));
      std::string data(size, '\0');
      for (auto& ch : data) ch = static_cast<char>(rng());
      std::ofstream(p, std::ios::binary).write(data.data(), static_cast<std::streamsize>(size));
      files_.push_back({p.string(), size});
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // What read(2) returns for the same range, the reference.
  static std::string Reference(const std::string& path, uint64_t offset, std::size_t len) {
    const int fd = open(path.c_str(), O_RDONLY);
    lseek(fd, static_cast<off_t>(offset), SEEK_SET);
    std::string out(len, '\0');
    std::size_t got = 0;
    while (got < len) {
      const ssize_t n = read(fd, out.data() + got, len - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    close(fd);
    out.resize(got);
    return out;
  }

  void CheckSameBytesAsRead(bool cached_fast_path, std::size_t async_min_bytes);

  fs::path dir_;
  std::vector<std::pair<std::string, std::size_t>> files_;
};

TEST_P(FileReaderTest, SameBytesAsReadForOddSizesAndOffsets) {
  for (bool fast : {false, true}) CheckSameBytesAsRead(fast, /*async_min_bytes=*/0);
  // Every read through io_uring's workers (IOSQE_ASYNC), as large buffered reads go.
  CheckSameBytesAsRead(false, /*async_min_bytes=*/1);
}

void FileReaderTest::CheckSameBytesAsRead(bool cached_fast_path, std::size_t async_min_bytes) {
  SCOPED_TRACE(cached_fast_path ? "cached fast path" : "every read through the ring");
  SCOPED_TRACE(async_min_bytes != 0 ? "through the ring's workers" : "copied inline");
  TelemetryRegistry telemetry;
  auto reader = FileReader::Create({.queue_depth = 8,
                                    .direct = false,
                                    .force_pread = GetParam(),
                                    .pread_threads = 3,
                                    .register_files = true,
                                    .cached_fast_path = cached_fast_path,
                                    .async_min_bytes = async_min_bytes},
                                   telemetry);
  ASSERT_TRUE(reader.ok()) << reader.status();
  if (!GetParam() && (*reader)->backend() != "io_uring") GTEST_SKIP() << "io_uring refused here";
  EXPECT_EQ((*reader)->backend(), GetParam() ? "pread" : "io_uring");
  std::vector<int> ids;
  for (const auto& f : files_) ids.push_back((*reader)->AddFile(f.first).value());

  std::mt19937 rng(11);
  AlignedBuffer arena(8 << 20, 4096);
  const std::span<std::byte> registered[] = {arena.span().subspan(0, 4 << 20)};
  ASSERT_TRUE((*reader)->RegisterBuffers(registered).ok());
  for (int round = 0; round < 5; ++round) {
    std::vector<ReadRequest> reqs;
    std::size_t used = 0;
    for (int k = 0; k < 40; ++k) {
      const std::size_t f = rng() % files_.size();
      const uint64_t offset = rng() % (files_[f].second + 100);  // sometimes past the end
      const std::size_t len = 1 + rng() % 70000;
      // Alternate between the registered half of the arena and the plain half.
      const std::size_t base = (k % 2 ? 0 : 4 << 20) + used % (3 << 20);
      used += len;
      reqs.push_back({ids[f], offset, arena.span().subspan(base, len), 0});
    }
    // Overlapping buffers would race; give each request its own copy to check.
    std::vector<std::string> got(reqs.size());
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      std::vector<ReadRequest> one = {reqs[i]};
      ASSERT_TRUE((*reader)->Read(one).ok());
      got[i].assign(reinterpret_cast<const char*>(one[0].buffer.data()), one[0].bytes_read);
    }
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const auto& f = files_[std::find(ids.begin(), ids.end(), reqs[i].file) - ids.begin()];
      ASSERT_EQ(got[i], Reference(f.first, reqs[i].offset, reqs[i].buffer.size()))
          << f.first << " @" << reqs[i].offset << " len " << reqs[i].buffer.size();
    }
  }
  // One big batch with disjoint buffers, deeper than the queue.
  std::vector<ReadRequest> batch;
  AlignedBuffer out(64 * 20000, 64);
  for (int k = 0; k < 64; ++k) {
    const std::size_t f = 4 + k % 2;
    batch.push_back({ids[f], static_cast<uint64_t>(rng() % files_[f].second),
                     out.span().subspan(static_cast<std::size_t>(k) * 20000, 1 + rng() % 19999),
                     0});
  }
  ASSERT_TRUE((*reader)->Read(batch).ok());
  for (const auto& r : batch) {
    const auto& f = files_[4 + (&r - batch.data()) % 2];
    ASSERT_EQ(std::string(reinterpret_cast<const char*>(r.buffer.data()), r.bytes_read),
              Reference(f.first, r.offset, r.buffer.size()));
  }
}

// O_DIRECT reads are submitted one by one as queue slots free up: many more than the queue
// holds, at scattered aligned offsets, still each get their own bytes.
TEST_P(FileReaderTest, ManyDirectReadsBeyondTheQueueDepthGetTheirOwnBytes) {
  TelemetryRegistry telemetry;
  auto reader = FileReader::Create({.queue_depth = 4,
                                    .direct = true,
                                    .force_pread = GetParam(),
                                    .pread_threads = 2,
                                    .register_files = true},
                                   telemetry)
                    .value();
  auto id = reader->AddFile(files_[5].first);
  if (!id.ok()) GTEST_SKIP() << id.status();
  constexpr int kReads = 61;
  AlignedBuffer buf(kReads * 4096, kDirectAlignment);
  std::vector<ReadRequest> reqs;
  for (int i = 0; i < kReads; ++i) {
    const uint64_t block = (static_cast<uint64_t>(i) * 37) % 256;  // 256 blocks of 4 KiB
    reqs.push_back({*id, block * 4096, buf.span().subspan(i * 4096, 4096), 0});
  }
  ASSERT_TRUE(reader->Read(reqs).ok());
  for (const auto& r : reqs) {
    ASSERT_EQ(r.bytes_read, 4096u) << "offset " << r.offset;
    ASSERT_EQ(std::string(reinterpret_cast<const char*>(r.buffer.data()), r.bytes_read),
              Reference(files_[5].first, r.offset, 4096))
        << "offset " << r.offset;
  }
}

TEST_P(FileReaderTest, DirectReadsWhereTheFilesystemAllows) {
  TelemetryRegistry telemetry;
  auto reader = FileReader::Create({.queue_depth = 4,
                                    .direct = true,
                                    .force_pread = GetParam(),
                                    .pread_threads = 2,
                                    .register_files = false},
                                   telemetry)
                    .value();
  auto id = reader->AddFile(files_[5].first);
  if (!id.ok()) GTEST_SKIP() << id.status();
  AlignedBuffer buf(3 * 4096, kDirectAlignment);
  std::vector<ReadRequest> reqs = {{*id, 1048576 - 4096, buf.span(), 0}};
  ASSERT_TRUE(reader->Read(reqs).ok());
  EXPECT_EQ(reqs[0].bytes_read, 4096u + 17);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), reqs[0].bytes_read),
            Reference(files_[5].first, 1048576 - 4096, 3 * 4096));
  std::vector<ReadRequest> unaligned = {{*id, 100, buf.span(), 0}};
  auto st = reader->Read(unaligned);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("offset 100"), std::string::npos) << st;
}

TEST_P(FileReaderTest, ErrorsNameTheFileAndOffset) {
  TelemetryRegistry telemetry;
  auto reader = FileReader::Create({.queue_depth = 4,
                                    .direct = false,
                                    .force_pread = GetParam(),
                                    .pread_threads = 2,
                                    .register_files = true},
                                   telemetry)
                    .value();
  EXPECT_EQ(reader->AddFile((dir_ / "missing").string()).status().code(), StatusCode::kNotFound);
  const int id = reader->AddFile(dir_.string()).value();  // a directory: read gives EISDIR
  std::string buf(100, '\0');
  std::vector<ReadRequest> reqs = {{id, 4242, std::as_writable_bytes(std::span(buf)), 0}};
  auto st = reader->Read(reqs);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir_.string()), std::string::npos) << st;
  EXPECT_NE(st.message().find("offset 4242"), std::string::npos) << st;
}

INSTANTIATE_TEST_SUITE_P(Backends, FileReaderTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ForcedPread" : "IoUring"; });

TEST(FileReaderFallbackTest, ForcedFallbackIsLoggedAndCounted) {
  auto sink = std::make_shared<CaptureSink>();
  common::log::Configure({.level = common::log::Level::kInfo,
                          .format = common::log::Format::kLogfmt,
                          .component = "test",
                          .sink = sink});
  TelemetryRegistry telemetry;
  auto reader = FileReader::Create({.queue_depth = 4,
                                    .direct = false,
                                    .force_pread = true,
                                    .pread_threads = 2,
                                    .register_files = true},
                                   telemetry)
                    .value();
  EXPECT_EQ(reader->backend(), "pread");
  bool counted = false;
  for (const auto& s : telemetry.Scrape()) {
    if (s.name == "zenith_runtime_reader_uring_fallback_total") counted = s.counter == 1;
  }
  EXPECT_TRUE(counted);
  ASSERT_FALSE(sink->lines.empty());
  EXPECT_NE(sink->lines.back().find("forced by option"), std::string::npos) << sink->lines.back();
  common::log::Configure({});
  EXPECT_FALSE(FileReader::Create({.queue_depth = 0,
                                   .direct = false,
                                   .force_pread = true,
                                   .pread_threads = 1,
                                   .register_files = true},
                                  telemetry)
                   .ok());
}

}  // namespace
}  // namespace zenith::runtime
