// Writes the fuzz targets' seed corpora: the same well-formed files the unit tests read.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "zenith/runtime/batcher.h"
#include "zenith/runtime/record_writer.h"

using namespace zenith::runtime;

static void Put(const std::filesystem::path& dir, const std::string& name, const std::string& s) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(s.data(), static_cast<std::streamsize>(s.size()));
}

int main(int argc, char** argv) {
  const std::filesystem::path out = argc > 1 ? argv[1] : "corpus";
  std::string tf;
  for (int i = 0; i < 4; ++i)
    AppendTfRecord(tf, std::string(static_cast<std::size_t>(i * 7), 'a' + i));
  Put(out / "tfrecord", "four.tfrecord", tf);
  std::string one;
  AppendTfRecord(one, "x");
  Put(out / "tfrecord", "one.tfrecord", one);

  std::string tar;
  AppendTarEntry(tar, "s1.jpg", "JPEG");
  AppendTarEntry(tar, "s1.cls", "1");
  AppendTarEntry(tar, std::string(110, 'd') + "/s2.cls", "2");  // pax header
  AppendTarEnd(tar);
  Put(out / "tar", "shard.tar", tar);

  const int64_t shape[] = {3, 2};
  Put(out / "npy", "f4.npy", NpyFile("<f4", shape, std::string(24, '\1')));
  const int64_t scalar_shape[] = {2};
  Put(out / "npy", "u1.npy", NpyFile("|u1", scalar_shape, "ab"));

  Put(out / "raw", "r.bin", std::string(1, '\7') + std::string(21, 'r'));

  BatchPlan plan;
  plan.real = 2;
  for (int i = 0; i < 2; ++i) {
    Sample s;
    s.bytes.assign(5, std::byte{static_cast<unsigned char>(i)});
    s.fields = {{"jpg", 3}, {"cls", 5}};
    plan.samples.push_back(s);
  }
  std::string batch(PackedBatchBytes(plan), '\0');
  (void)PackBatch(plan, {"f"}, {reinterpret_cast<std::byte*>(batch.data()), batch.size()});
  Put(out / "batch", "two.batch", batch);
  return 0;
}
