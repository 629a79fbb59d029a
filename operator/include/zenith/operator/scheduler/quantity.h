// Kubernetes resource quantities ("500m", "2", "16Gi", "1.5G", "1e3") turned into integers the
// scheduler can add and compare exactly: CPU in millicores, memory in bytes. Pure parsing; it
// never rounds down, so a request is never under-counted.
#pragma once

#include <cstdint>
#include <string_view>

#include "zenith/common/status.h"

namespace zenith::operator_::scheduler {

// The quantity times `scale`, rounded up to an integer: ParseQuantity("500m", 1000) == 500
// (millicores), ParseQuantity("1Gi", 1) == 1073741824 (bytes). Accepts the decimal (k, M, G,
// T, P, E, m) and binary (Ki … Ei) suffixes and a decimal exponent (e3). INVALID_ARGUMENT for
// malformed text, a negative value, or a result beyond int64.
Result<int64_t> ParseQuantity(std::string_view text, int64_t scale = 1);

inline Result<int64_t> ParseCpuMillis(std::string_view text) { return ParseQuantity(text, 1000); }
inline Result<int64_t> ParseBytes(std::string_view text) { return ParseQuantity(text, 1); }

}  // namespace zenith::operator_::scheduler
