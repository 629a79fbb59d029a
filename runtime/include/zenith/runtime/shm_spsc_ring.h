// The SPSC ring placed in a caller-supplied region (shared memory), so a producer process and a
// consumer process can share it. The region holds no pointers: a header (magic, version,
// capacity, element size, slots offset), the index block, then the slots. Elements must be
// trivially copyable; the region must outlive every view on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <type_traits>

#include "zenith/common/status.h"
#include "zenith/runtime/spsc_ring.h"

namespace zenith::runtime {

struct ShmRingHeader {
  static constexpr uint64_t kMagic = 0x314353505a4e455aULL;  // "ZENZPSC1" little-endian
  static constexpr uint32_t kVersion = 1;

  std::atomic<uint64_t> magic{0};  // written last, so a reader that sees it sees the rest
  uint32_t version = 0;
  uint32_t element_size = 0;
  uint64_t capacity = 0;
  uint64_t slots_offset = 0;  // bytes from the start of the header
  uint64_t region_bytes = 0;
  SpscRingState state;
};
static_assert(std::is_standard_layout_v<ShmRingHeader>);

template <typename T>
class ShmSpscRing : public SpscRingView<T> {
  static_assert(std::is_trivially_copyable_v<T>, "shared-memory elements are copied as bytes");

 public:
  static constexpr uint64_t SlotsOffset() {
    return (sizeof(ShmRingHeader) + kCacheLine - 1) / kCacheLine * kCacheLine;
  }
  // Bytes a region needs for a ring of RingCapacityFor(min_capacity) slots.
  static constexpr uint64_t RegionBytes(uint64_t min_capacity) {
    return SlotsOffset() + RingCapacityFor(min_capacity) * sizeof(T);
  }

  // Lays out a fresh ring in `region` (64-byte aligned, at least RegionBytes). One process
  // calls Create before the other calls Attach.
  static Result<std::unique_ptr<ShmSpscRing>> Create(std::span<std::byte> region,
                                                     uint64_t min_capacity) {
    const uint64_t capacity = RingCapacityFor(min_capacity);
    ZENITH_RETURN_IF_ERROR(CheckRegion(region, RegionBytes(capacity)));
    auto* header = new (region.data()) ShmRingHeader();
    header->version = ShmRingHeader::kVersion;
    header->element_size = sizeof(T);
    header->capacity = capacity;
    header->slots_offset = SlotsOffset();
    header->region_bytes = region.size();
    // Release: the fields above are visible to any process that reads the magic.
    header->magic.store(ShmRingHeader::kMagic, std::memory_order_release);
    return std::unique_ptr<ShmSpscRing>(new ShmSpscRing(header));
  }

  // Opens a ring another process created in `region`, checking its header.
  static Result<std::unique_ptr<ShmSpscRing>> Attach(std::span<std::byte> region) {
    ZENITH_RETURN_IF_ERROR(CheckRegion(region, sizeof(ShmRingHeader)));
    auto* header = std::launder(reinterpret_cast<ShmRingHeader*>(region.data()));
    // Acquire: pairs with Create's release of the magic.
    if (header->magic.load(std::memory_order_acquire) != ShmRingHeader::kMagic) {
      return FailedPreconditionError("shared-memory ring: bad magic (not created yet?)");
    }
    if (header->version != ShmRingHeader::kVersion) {
      return FailedPreconditionError("shared-memory ring: version " +
                                     std::to_string(header->version) + ", expected " +
                                     std::to_string(ShmRingHeader::kVersion));
    }
    if (header->element_size != sizeof(T)) {
      return InvalidArgumentError("shared-memory ring: element size " +
                                  std::to_string(header->element_size) + ", expected " +
                                  std::to_string(sizeof(T)));
    }
    if (header->capacity == 0 || (header->capacity & (header->capacity - 1)) != 0 ||
        header->slots_offset != SlotsOffset() ||
        header->slots_offset + header->capacity * sizeof(T) > region.size()) {
      return DataLossError("shared-memory ring: header does not fit the region of " +
                           std::to_string(region.size()) + " bytes");
    }
    return std::unique_ptr<ShmSpscRing>(new ShmSpscRing(header));
  }

 private:
  explicit ShmSpscRing(ShmRingHeader* header)
      : SpscRingView<T>(
            &header->state,
            reinterpret_cast<T*>(reinterpret_cast<std::byte*>(header) + header->slots_offset),
            header->capacity, /*shared=*/true) {}

  static Status CheckRegion(std::span<std::byte> region, uint64_t need) {
    if (reinterpret_cast<uintptr_t>(region.data()) % kCacheLine != 0) {
      return InvalidArgumentError("shared-memory ring: region is not 64-byte aligned");
    }
    if (region.size() < need) {
      return InvalidArgumentError("shared-memory ring: region of " + std::to_string(region.size()) +
                                  " bytes, needs " + std::to_string(need));
    }
    return Status::Ok();
  }
};

}  // namespace zenith::runtime
