#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <random>

#include "dataplane_test_util.h"
#include "zenith/runtime/crc32c.h"
#include "zenith/runtime/record_reader.h"
#include "zenith/runtime/record_writer.h"

namespace zenith::runtime {
namespace {

using testing::AsBytes;
using testing::AsString;
using testing::TempDir;

struct Read {
  std::vector<std::vector<std::pair<std::string, std::string>>> samples;  // fields per sample
  std::vector<uint64_t> offsets;
  std::vector<Status> errors;
};

// Reads every record, continuing after errors as `onError: skip` does.
Read ReadAll(RecordReader& reader) {
  Read out;
  Record rec;
  for (int guard = 0; guard < 1000000; ++guard) {
    auto r = reader.Next(rec);
    if (!r.ok()) {
      out.errors.push_back(r.status());
      continue;
    }
    if (!*r) break;
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& f : rec.fields) fields.emplace_back(std::string(f.name), AsString(f.data));
    out.samples.push_back(std::move(fields));
    out.offsets.push_back(rec.offset);
  }
  return out;
}

// Every format test runs twice: files read through the FileReader, and files mapped
// (MappedFileSource, io=mmap).
class FormatsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto r = FileReader::Create(FileReaderOptions{}, telemetry_);
    ASSERT_TRUE(r.ok()) << r.status();
    reader_ = std::move(*r);
  }
  // Opens `path` through the real file reader, with a small window so records straddle it, or
  // maps it.
  Result<std::unique_ptr<RecordReader>> Open(Format format, const std::string& path,
                                             FormatOptions options = {}) {
    FileSource::Options so;
    so.chunk_bytes = 4096;
    so.request_bytes = 1024;
    so.map = GetParam();
    so.map_cache = map_cache_;  // mappings kept between opens, as across epochs
    ZENITH_ASSIGN_OR_RETURN(auto source, OpenSource(*reader_, path, so));
    return MakeRecordReader(format, std::move(source), options);
  }
  std::unique_ptr<RecordReader> MustOpen(Format format, const std::string& path,
                                         FormatOptions options = {}) {
    auto r = Open(format, path, options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : nullptr;
  }

  TelemetryRegistry telemetry_;
  std::unique_ptr<FileReader> reader_;
  std::shared_ptr<MappingCache> map_cache_ = std::make_shared<MappingCache>(1 << 20);
  TempDir dir_{"formats"};
};

std::string RandomBytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Crc32cTest, KnownValueAndHardwareMatchesTable) {
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xe3069283u);
  EXPECT_EQ(Crc32cPortable(AsBytes("123456789")), 0xe3069283u);
  std::mt19937 rng(1);
  for (std::size_t n : {0, 1, 7, 8, 9, 63, 64, 95, 96, 97, 256, 1000, 4097, 12288, 12289, 30000}) {
    const std::string s = RandomBytes(rng, n);
    EXPECT_EQ(Crc32c(AsBytes(s)), Crc32cPortable(AsBytes(s))) << n;
    // Continuing a CRC over two halves equals the CRC of the whole.
    EXPECT_EQ(Crc32c(AsBytes(s.substr(n / 2)), Crc32c(AsBytes(s.substr(0, n / 2)))),
              Crc32c(AsBytes(s)));
  }
  // Every length and alignment around the three-chain thresholds, against the table.
  const std::string big = RandomBytes(rng, 2048);
  for (std::size_t at = 0; at < 8; ++at) {
    for (std::size_t n = 0; n + at <= 700; ++n) {
      const auto bytes = AsBytes(big).subspan(at, n);
      ASSERT_EQ(Crc32c(bytes, 0x1234567u), Crc32cPortable(bytes, 0x1234567u)) << at << " " << n;
    }
  }
}

std::string ReadMapped(const std::string& path, MappingCache* cache) {
  auto source = MappedFileSource::Open(path, cache);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return "";
  auto bytes = (*source)->Peek((*source)->size());
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? AsString(bytes->first((*source)->size())) : "";
}

TEST(MappingCacheTest, KeepsMappingsAndMapsChangedFilesAfresh) {
  TempDir dir("mapcache");
  MappingCache cache(1 << 20);
  const std::string a = dir.Write("a", "first contents");
  EXPECT_EQ(ReadMapped(a, &cache), "first contents");
  EXPECT_EQ(cache.kept_files(), 1u);
  EXPECT_EQ(cache.kept_bytes(), 14u);
  auto first = MappedFileSource::Open(a, &cache);
  auto second = MappedFileSource::Open(a, &cache);
  ASSERT_TRUE(first.ok() && second.ok());
  // One mapping serves both opens: the same bytes at the same address.
  EXPECT_EQ((*first)->Peek(1)->data(), (*second)->Peek(1)->data());
  EXPECT_EQ(cache.kept_files(), 1u);

  // Rewritten in place with another size: the old mapping (14 bytes long) is not served again.
  dir.Write("a", "second, longer contents");
  EXPECT_EQ(ReadMapped(a, &cache), "second, longer contents");
  EXPECT_EQ(cache.kept_files(), 1u);
  EXPECT_EQ(cache.kept_bytes(), 23u);
  // Replaced by another file (a new inode, as dataset tools write): mapped afresh too.
  const std::string other = dir.Write("a.tmp", "third, longer contents!");
  std::filesystem::rename(other, a);
  EXPECT_EQ(ReadMapped(a, &cache), "third, longer contents!");
  EXPECT_EQ(cache.kept_files(), 1u);

  // Empty files are never kept; a missing file is an error naming it.
  EXPECT_EQ(ReadMapped(dir.Write("empty", ""), &cache), "");
  EXPECT_EQ(cache.kept_files(), 1u);
  auto missing = MappedFileSource::Open(dir.Path("nope"), &cache);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(MappingCacheTest, BudgetDropsTheLeastRecentlyUsed) {
  TempDir dir("mapcache");
  const std::string ten(10, 'x');
  const std::string a = dir.Write("a", ten), b = dir.Write("b", ten), c = dir.Write("c", ten);
  MappingCache cache(25);  // two files of 10 bytes fit, three do not
  auto held = MappedFileSource::Open(a, &cache);
  ASSERT_TRUE(held.ok());
  auto held_b = MappedFileSource::Open(b, &cache);
  ASSERT_TRUE(held_b.ok());
  ReadMapped(a, &cache);  // a is now the most recently used
  ReadMapped(c, &cache);  // drops b
  EXPECT_EQ(cache.kept_files(), 2u);
  EXPECT_EQ(cache.kept_bytes(), 20u);
  // The source still reading b keeps its mapping after the cache let go of it.
  EXPECT_EQ(AsString((*held_b)->Peek(10)->first(10)), ten);
  held_b->reset();
  auto a_again = MappedFileSource::Open(a, &cache);
  ASSERT_TRUE(a_again.ok());
  EXPECT_EQ((*a_again)->Peek(1)->data(), (*held)->Peek(1)->data());  // still kept
  auto b_again = MappedFileSource::Open(b, &cache);                  // mapped afresh, drops c
  ASSERT_TRUE(b_again.ok());
  EXPECT_EQ(AsString((*b_again)->Peek(10)->first(10)), ten);
  EXPECT_EQ(cache.kept_bytes(), 20u);

  // A file bigger than the whole budget is mapped but never kept.
  MappingCache small(5);
  EXPECT_EQ(ReadMapped(a, &small), ten);
  EXPECT_EQ(small.kept_files(), 0u);
}

TEST(ChooseFormatTest, ByExtensionOrConfig) {
  EXPECT_EQ(*ChooseFormat("auto", "a/b.tfrecord"), Format::kTfRecord);
  EXPECT_EQ(*ChooseFormat("auto", "x.tar"), Format::kWebDataset);
  EXPECT_EQ(*ChooseFormat("auto", "x.npy"), Format::kNpy);
  EXPECT_EQ(*ChooseFormat("auto", "x.bin"), Format::kRaw);
  EXPECT_EQ(*ChooseFormat("npy", "x.tar"), Format::kNpy);
  auto bad = ChooseFormat("auto", "data/x.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("data/x.csv"), std::string::npos);
}

TEST_P(FormatsTest, TfRecordRoundTripAcrossWindowRefills) {
  std::mt19937 rng(2);
  std::string file;
  std::vector<std::string> want;
  for (std::size_t n : {0, 1, 100, 4000, 9000, 256, 3}) {
    want.push_back(RandomBytes(rng, n));
    AppendTfRecord(file, want.back());
  }
  auto reader = MustOpen(Format::kTfRecord, dir_.Write("a.tfrecord", file));
  Read got = ReadAll(*reader);
  ASSERT_TRUE(got.errors.empty()) << got.errors[0];
  ASSERT_EQ(got.samples.size(), want.size());
  uint64_t at = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got.samples[i][0].second, want[i]) << i;
    EXPECT_EQ(got.offsets[i], at);
    at += 16 + want[i].size();
  }
}

TEST_P(FormatsTest, TfRecordDataCrcMismatchIsNamedAndSkippable) {
  std::string file;
  AppendTfRecord(file, "first");
  const std::size_t second_at = file.size();
  AppendTfRecord(file, "second");
  AppendTfRecord(file, "third");
  file[second_at + 12 + 2] ^= 0x40;  // flip a bit inside the second record's data
  const std::string path = dir_.Write("crc.tfrecord", file);
  auto reader = MustOpen(Format::kTfRecord, path);
  Read got = ReadAll(*reader);
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_EQ(got.errors[0].code(), StatusCode::kDataLoss);
  EXPECT_NE(got.errors[0].message().find(path), std::string::npos) << got.errors[0];
  EXPECT_NE(got.errors[0].message().find("data CRC mismatch"), std::string::npos);
  EXPECT_NE(got.errors[0].message().find("at byte offset " + std::to_string(second_at)),
            std::string::npos)
      << got.errors[0];
  ASSERT_EQ(got.samples.size(), 2u);  // the corrupt record is never delivered
  EXPECT_EQ(got.samples[0][0].second, "first");
  EXPECT_EQ(got.samples[1][0].second, "third");
}

TEST_P(FormatsTest, TfRecordLengthCrcMismatchEndsTheFile) {
  std::string file;
  AppendTfRecord(file, "first");
  const std::size_t second_at = file.size();
  AppendTfRecord(file, "second");
  file[second_at + 1] ^= 1;  // the length no longer matches its CRC
  auto reader = MustOpen(Format::kTfRecord, dir_.Write("len.tfrecord", file));
  Read got = ReadAll(*reader);
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find("length CRC mismatch at byte offset " +
                                         std::to_string(second_at)),
            std::string::npos)
      << got.errors[0];
  EXPECT_EQ(got.samples.size(), 1u);
}

TEST_P(FormatsTest, TfRecordTruncatedRecord) {
  std::string file;
  AppendTfRecord(file, "first");
  const std::size_t second_at = file.size();
  AppendTfRecord(file, std::string(300, 'x'));
  for (std::size_t cut : {file.size() - 1, second_at + 20, second_at + 5}) {
    const std::string path =
        dir_.Write("cut" + std::to_string(cut) + ".tfrecord", file.substr(0, cut));
    auto reader = MustOpen(Format::kTfRecord, path);
    Read got = ReadAll(*reader);
    ASSERT_EQ(got.errors.size(), 1u) << cut;
    EXPECT_NE(got.errors[0].message().find("truncated"), std::string::npos) << got.errors[0];
    EXPECT_NE(got.errors[0].message().find("at byte offset " + std::to_string(second_at)),
              std::string::npos)
        << got.errors[0];
    EXPECT_EQ(got.samples.size(), 1u);
  }
}

TEST_P(FormatsTest, RawRecordsAndTrailingPartialRecord) {
  std::mt19937 rng(3);
  const std::string data = RandomBytes(rng, 10 * 48);
  FormatOptions options;
  options.record_size = 48;
  options.raw_dtype = "<f4";
  options.raw_shape = {3, 4};
  auto reader = MustOpen(Format::kRaw, dir_.Write("a.bin", data), options);
  Read got = ReadAll(*reader);
  ASSERT_TRUE(got.errors.empty());
  ASSERT_EQ(got.samples.size(), 10u);
  EXPECT_EQ(got.samples[7][0].second, data.substr(7 * 48, 48));
  EXPECT_EQ(reader->spec(), (TensorSpec{"<f4", {3, 4}}));

  const std::string path = dir_.Write("b.bin", data + "12345");
  reader = MustOpen(Format::kRaw, path, options);
  got = ReadAll(*reader);
  EXPECT_EQ(got.samples.size(), 10u);
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find(path + ": 5 trailing bytes"), std::string::npos)
      << got.errors[0];
  EXPECT_NE(got.errors[0].message().find("at byte offset 480"), std::string::npos);

  options.raw_shape = {5};
  EXPECT_FALSE(Open(Format::kRaw, path, options).ok());  // shape disagrees with record size
}

TEST_P(FormatsTest, NpyRowsDtypeAndShape) {
  std::mt19937 rng(4);
  const std::string data = RandomBytes(rng, 5 * 3 * 4);
  const int64_t shape[] = {5, 3};
  auto reader = MustOpen(Format::kNpy, dir_.Write("a.npy", NpyFile("<f4", shape, data)));
  Read got = ReadAll(*reader);
  ASSERT_TRUE(got.errors.empty()) << got.errors[0];
  ASSERT_EQ(got.samples.size(), 5u);
  EXPECT_EQ(got.samples[4][0].second, data.substr(48, 12));
  EXPECT_EQ(reader->spec(), (TensorSpec{"<f4", {3}}));
  EXPECT_EQ(got.offsets[0], 128u);  // 64-byte-padded header of NumPy's layout
}

TEST_P(FormatsTest, NpyHeaderLyingAboutSize) {
  const std::string data(5 * 3 * 4, 'a');
  const int64_t lie[] = {6, 3};
  const std::string path = dir_.Write("lie.npy", NpyFile("<f4", lie, data));
  auto reader = MustOpen(Format::kNpy, path);
  Read got = ReadAll(*reader);
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_TRUE(got.samples.empty());
  EXPECT_NE(got.errors[0].message().find(path + ": .npy header says shape (6, 3)"),
            std::string::npos)
      << got.errors[0];
  EXPECT_NE(got.errors[0].message().find("at byte offset 128"), std::string::npos);

  std::string bad = NpyFile("<f4", lie, data);
  bad[8] = '\xff';  // header length beyond the file
  bad[9] = '\x7f';
  got = ReadAll(*MustOpen(Format::kNpy, dir_.Write("len.npy", bad)));
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find("more than the file holds"), std::string::npos);

  got = ReadAll(*MustOpen(Format::kNpy, dir_.Write("magic.npy", "not numpy at all")));
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find("bad magic) at byte offset 0"), std::string::npos);
}

std::string WdsShard(const std::vector<std::vector<std::pair<std::string, std::string>>>& samples) {
  std::string tar;
  for (const auto& s : samples) {
    for (const auto& [name, data] : s) AppendTarEntry(tar, name, data);
  }
  AppendTarEnd(tar);
  return tar;
}

TEST_P(FormatsTest, WebDatasetGroupsByKeyWithPaxNames) {
  const std::string long_dir(120, 'd');
  const std::string tar =
      WdsShard({{{"a/0001.jpg", "JPEG1"}, {"a/0001.cls", "3"}},
                {{"a/0002.jpg", std::string(5000, 'j')}, {"a/0002.cls", "4"}},
                {{long_dir + "/0003.seg.png", "PNG"}, {long_dir + "/0003.cls", "5"}}});
  auto reader = MustOpen(Format::kWebDataset, dir_.Write("a.tar", tar));
  Read got = ReadAll(*reader);
  ASSERT_TRUE(got.errors.empty()) << got.errors[0];
  ASSERT_EQ(got.samples.size(), 3u);
  using F = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(got.samples[0], (F{{"jpg", "JPEG1"}, {"cls", "3"}}));
  EXPECT_EQ(got.samples[1], (F{{"jpg", std::string(5000, 'j')}, {"cls", "4"}}));
  EXPECT_EQ(got.samples[2], (F{{"seg.png", "PNG"}, {"cls", "5"}}));
  EXPECT_EQ(got.offsets[0], 0u);
}

TEST_P(FormatsTest, WebDatasetCorruptHeaderAndTruncation) {
  std::string tar = WdsShard({{{"0001.txt", "one"}}, {{"0002.txt", "two"}}});
  std::string corrupt = tar;
  corrupt[1024 + 10] ^= 0x20;  // second header's name: the checksum no longer matches
  const std::string path = dir_.Write("bad.tar", corrupt);
  Read got = ReadAll(*MustOpen(Format::kWebDataset, path));
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find(path + ": corrupt tar header"), std::string::npos)
      << got.errors[0];
  EXPECT_NE(got.errors[0].message().find("at byte offset 1024"), std::string::npos);
  EXPECT_EQ(got.samples.size(), 1u);

  got =
      ReadAll(*MustOpen(Format::kWebDataset, dir_.Write("cut.tar", tar.substr(0, 1024 + 512 + 2))));
  ASSERT_EQ(got.errors.size(), 1u);
  EXPECT_NE(got.errors[0].message().find("truncated tar entry '0002.txt'"), std::string::npos)
      << got.errors[0];
  EXPECT_EQ(got.samples.size(), 1u);
}

TEST_P(FormatsTest, MissingFileAndPermissionDenied) {
  auto missing = Open(Format::kTfRecord, dir_.Path("nope.tfrecord"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.tfrecord"), std::string::npos);

  const std::string path = dir_.Write("secret.tfrecord", "x");
  chmod(path.c_str(), 0);
  // Root reads files whatever their mode, so a root test drops to "nobody" in a child first.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    auto denied = Open(Format::kTfRecord, path);
    if (denied.ok()) _exit(4);
    if (denied.status().code() != StatusCode::kPermissionDenied) _exit(5);
    if (denied.status().message().find(path) == std::string::npos) _exit(6);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: setuid failed, 4: opened, 5: wrong code, 6: no path";
}

// Byte-level corruption of every format never crashes, never loops, and each sample delivered
// is either an original one or comes with no error-free claim (spot check of the fuzz targets).
TEST_P(FormatsTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(5);
  std::string tf;
  for (int i = 0; i < 20; ++i) AppendTfRecord(tf, RandomBytes(rng, rng() % 300));
  for (int round = 0; round < 300; ++round) {
    std::string bad = tf.substr(0, rng() % (tf.size() + 1));
    for (int k = 0; k < 3 && !bad.empty(); ++k)
      bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    MemorySource* raw;
    auto src = std::make_unique<MemorySource>("mem", AsBytes(bad), 64);
    raw = src.get();
    (void)raw;
    auto reader = MakeRecordReader(Format::kTfRecord, std::move(src), {});
    ASSERT_TRUE(reader.ok());
    ReadAll(**reader);
  }
}

INSTANTIATE_TEST_SUITE_P(Sources, FormatsTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Mapped" : "Read";
                         });

}  // namespace
}  // namespace zenith::runtime
