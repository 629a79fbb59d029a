// CRC32C (Castagnoli), the checksum TFRecord frames carry: SSE4.2's crc32 instruction on three
// interleaved chains joined with PCLMUL when the CPU has both (checked once at start-up), else a
// slicing-by-8 table. Both give identical values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zenith::runtime {

// CRC32C of `data`, continuing from `crc` (0 for a fresh checksum).
uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc = 0);
// The table implementation, always; exposed so tests can compare it with the fast one.
uint32_t Crc32cPortable(std::span<const std::byte> data, uint32_t crc = 0);
// True when Crc32c uses the SSE4.2 instruction (and PCLMUL).
bool Crc32cIsHardware();

// TFRecord's masking (a rotation plus a constant), so a CRC of data that holds CRCs stays strong.
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace zenith::runtime
