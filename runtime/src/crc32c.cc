#include "zenith/runtime/crc32c.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace zenith::runtime {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}
constexpr Tables kTables = MakeTables();

#if defined(__x86_64__)
// Three independent crc32 chains hide the instruction's 3-cycle latency; the chains are then
// joined by shifting each CRC over the bytes after it: c * x^(8n) mod P, one carry-less multiply
// by x^(8n-33) (the 33 absorbs the product's bit order and the instruction's own x^32) and one
// crc32 to reduce. kShift[m] is that constant for n = 8m bytes (m up to two lanes).
constexpr std::size_t kMaxLane = 4096;  // bytes per chain in one round

constexpr uint32_t XPowMod(uint64_t n) {  // x^n mod P, reflected
  uint32_t r = 0x80000000u;               // x^0
  for (uint64_t i = 0; i < n; ++i) r = (r & 1) ? (r >> 1) ^ kPoly : r >> 1;
  return r;
}

std::array<uint32_t, 2 * kMaxLane / 8 + 1> MakeShifts() {
  std::array<uint32_t, 2 * kMaxLane / 8 + 1> k{};
  uint32_t r = XPowMod(64 - 33);
  for (std::size_t m = 1; m < k.size(); ++m) {
    k[m] = r;
    for (int i = 0; i < 64; ++i) r = (r & 1) ? (r >> 1) ^ kPoly : r >> 1;
  }
  return k;
}
const std::array<uint32_t, 2 * kMaxLane / 8 + 1> kShift = MakeShifts();

__attribute__((target("sse4.2,pclmul"))) uint64_t Shift(uint64_t crc, std::size_t lane) {
  const __m128i product = _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<int64_t>(crc)),
                                               _mm_cvtsi32_si128(kShift[lane / 8]), 0);
  return _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(product)));
}

__attribute__((target("sse4.2,pclmul"))) uint32_t Crc32cSse42(const unsigned char* p, std::size_t n,
                                                              uint32_t crc) {
  uint64_t c = ~crc;
  while (n >= 3 * 32) {
    // Lanes of a multiple of 8 bytes, as long as possible up to kMaxLane.
    const std::size_t lane = std::min(n / 3 / 8 * 8, kMaxLane);
    uint64_t c1 = 0, c2 = 0;
    const unsigned char* end = p + lane;
    for (; p < end; p += 8) {
      uint64_t v0, v1, v2;
      std::memcpy(&v0, p, 8);
      std::memcpy(&v1, p + lane, 8);
      std::memcpy(&v2, p + 2 * lane, 8);
      c = _mm_crc32_u64(c, v0);
      c1 = _mm_crc32_u64(c1, v1);
      c2 = _mm_crc32_u64(c2, v2);
    }
    c = Shift(c, 2 * lane) ^ Shift(c1, lane) ^ c2;
    p += 2 * lane;
    n -= 3 * lane;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
const bool kHaveSse42 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
#else
const bool kHaveSse42 = false;
#endif

}  // namespace

uint32_t Crc32cPortable(std::span<const std::byte> data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;  // little-endian: the first four bytes fold into the running CRC
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
        kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return ~c;
}

uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc) {
#if defined(__x86_64__)
  if (kHaveSse42) {
    return Crc32cSse42(reinterpret_cast<const unsigned char*>(data.data()), data.size(), crc);
  }
#endif
  return Crc32cPortable(data, crc);
}

bool Crc32cIsHardware() { return kHaveSse42; }

}  // namespace zenith::runtime
