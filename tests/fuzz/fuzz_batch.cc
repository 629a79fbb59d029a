// libFuzzer target: CheckBatch, which consumers run on every buffer before trusting it; a
// batch it accepts must be readable everywhere its index points.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "zenith/runtime/batch_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zenith::runtime;
  std::vector<std::byte> buf(size);
  if (size > 0) std::memcpy(buf.data(), data, size);
  if (CheckBatch(buf.data(), buf.size()) != nullptr) return 0;
  BatchHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  for (uint64_t i = 0; i < uint64_t{h.num_samples} * h.num_fields; ++i) {
    BatchIndexEntry e;
    std::memcpy(&e, buf.data() + h.index_offset + i * sizeof e, sizeof e);
    if (e.offset == BatchIndexEntry::kMissing) continue;
    std::byte x{};
    for (uint64_t k = 0; k < e.length; ++k) x ^= buf[h.data_offset + e.offset + k];
    volatile std::byte sink = x;
    (void)sink;
  }
  return 0;
}
