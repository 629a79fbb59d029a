// Writes the data-plane benchmark's TFRecord shards: `records` records of `bytes` random bytes
// each, spread over `files` files named part-NNNNN.tfrecord in `dir`. (The .npy files are
// written by NumPy itself, in bench.py.)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "zenith/runtime/record_writer.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR RECORDS BYTES FILES\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const long records = std::atol(argv[2]), bytes = std::atol(argv[3]), files = std::atol(argv[4]);
  std::mt19937_64 rng(42);
  std::string payload(static_cast<std::size_t>(bytes), '\0');
  for (long f = 0; f < files; ++f) {
    std::string out;
    const long n = records / files + (f < records % files ? 1 : 0);
    out.reserve(static_cast<std::size_t>(n * (bytes + 16)));
    for (long r = 0; r < n; ++r) {
      for (std::size_t i = 0; i < payload.size(); i += 8) {
        const uint64_t v = rng();
        payload.replace(i, std::min<std::size_t>(8, payload.size() - i),
                        reinterpret_cast<const char*>(&v),
                        std::min<std::size_t>(8, payload.size() - i));
      }
      zenith::runtime::AppendTfRecord(out, payload);
    }
    char name[64];
    std::snprintf(name, sizeof name, "/part-%05ld.tfrecord", f);
    std::ofstream(dir + name, std::ios::binary)
        .write(out.data(), static_cast<std::streamsize>(out.size()));
  }
  return 0;
}
