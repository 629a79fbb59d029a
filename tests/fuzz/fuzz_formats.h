// The body shared by the format fuzz targets: parse arbitrary bytes with one record reader,
// through a small window so records straddle refills, and check the invariants every reader
// promises: no crash (ASan), every call makes progress or ends (no hang), every delivered
// field lies inside the input.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>

#include "zenith/runtime/record_reader.h"

namespace zenith::runtime::fuzz {

inline int ParseAll(Format format, const uint8_t* data, std::size_t size,
                    FormatOptions options = {}) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  auto reader =
      MakeRecordReader(format, std::make_unique<MemorySource>("fuzz", bytes, 64), options);
  if (!reader.ok()) return 0;
  Record rec;
  // Each call consumes at least one byte or ends the file, so more calls than bytes is a hang.
  for (std::size_t calls = 0;; ++calls) {
    if (calls > size + 8) std::abort();
    auto r = (*reader)->Next(rec);
    if (!r.ok()) continue;  // a named error; the reader resumes or ends
    if (!*r) break;
    if (rec.offset > size) std::abort();
    for (const RecordField& f : rec.fields) {
      uint8_t x = 0;
      for (std::byte b : f.data) x ^= static_cast<uint8_t>(b);  // ASan checks every byte
      volatile uint8_t sink = x;
      (void)sink;
    }
  }
  return 0;
}

}  // namespace zenith::runtime::fuzz
