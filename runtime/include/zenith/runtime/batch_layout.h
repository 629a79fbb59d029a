// The bytes of one batch as the producer writes it into a buffer and a consumer reads it: a
// header, the field names, per-sample keys (file, offset), an offsets/lengths index, then the
// data, field by field (column-major), so fixed-shape samples form one [batch, ...] tensor.
// Header-only and dependency-free: the C++ consumer and the Python module include it. Offsets
// are relative to the batch start; nothing in it is a pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace zenith::runtime {

inline constexpr std::size_t kBatchMaxDims = 8;
inline constexpr std::size_t kBatchFieldNameBytes = 32;

struct BatchHeader {
  static constexpr uint32_t kMagic = 0x5441425au;  // "ZBAT"
  static constexpr uint32_t kVersion = 1;

  uint32_t magic;
  uint32_t version;
  uint64_t bytes;  // the whole batch, header included
  uint64_t epoch;
  uint64_t step;          // batch number within the epoch
  uint32_t num_samples;   // rows of the index
  uint32_t real_samples;  // rows that are not padding (pad: the rest repeat earlier ones)
  uint32_t num_fields;
  uint32_t is_tensor;  // 1: one field, every sample `dtype` of `shape`
  char dtype[8];       // NumPy descr ("<f4"), NUL-padded; "" for bytes
  uint32_t ndim;
  uint32_t reserved;
  int64_t shape[kBatchMaxDims];  // per-sample shape
  uint64_t names_offset;         // num_fields names of kBatchFieldNameBytes, NUL-padded
  uint64_t keys_offset;          // num_samples BatchKey
  uint64_t index_offset;         // num_fields * num_samples BatchIndexEntry, field-major
  uint64_t data_offset;          // 64-byte aligned
  uint64_t data_bytes;
};

struct BatchKey {
  uint64_t file;    // index of the file in the sorted dataset listing
  uint64_t offset;  // byte offset of the record in it
};

struct BatchIndexEntry {
  static constexpr uint64_t kMissing = ~0ull;  // a sample without this field (WebDataset)
  uint64_t offset;                             // from data_offset
  uint64_t length;
};

// Checks that every table and index entry lies inside `capacity` bytes; returns null when the
// batch is sound, else the reason. A consumer calls it before trusting a buffer.
inline const char* CheckBatch(const std::byte* p, uint64_t capacity) {
  if (capacity < sizeof(BatchHeader)) return "buffer smaller than a batch header";
  BatchHeader h;
  std::memcpy(&h, p, sizeof h);
  if (h.magic != BatchHeader::kMagic) return "bad batch magic";
  if (h.version != BatchHeader::kVersion) return "unknown batch version";
  if (h.bytes > capacity || h.bytes < sizeof(BatchHeader)) return "batch size out of range";
  if (h.num_samples > (1u << 28) || h.num_fields > 4096 || h.ndim > kBatchMaxDims) {
    return "batch counts out of range";
  }
  if (h.real_samples > h.num_samples) return "more real samples than samples";
  auto inside = [&](uint64_t off, uint64_t len) { return off <= h.bytes && len <= h.bytes - off; };
  const uint64_t entries = uint64_t{h.num_samples} * h.num_fields;
  if (!inside(h.names_offset, uint64_t{h.num_fields} * kBatchFieldNameBytes) ||
      !inside(h.keys_offset, uint64_t{h.num_samples} * sizeof(BatchKey)) ||
      !inside(h.index_offset, entries * sizeof(BatchIndexEntry)) ||
      !inside(h.data_offset, h.data_bytes)) {
    return "batch table outside the buffer";
  }
  for (uint64_t i = 0; i < entries; ++i) {
    BatchIndexEntry e;
    std::memcpy(&e, p + h.index_offset + i * sizeof e, sizeof e);
    if (e.offset == BatchIndexEntry::kMissing) continue;
    if (e.offset > h.data_bytes || e.length > h.data_bytes - e.offset) {
      return "batch index entry outside the data";
    }
  }
  return nullptr;
}

}  // namespace zenith::runtime
