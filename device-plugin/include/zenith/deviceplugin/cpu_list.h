// Linux CPU lists ("0-55,112-167"), the form sysfs, hwloc and the fixtures use for CPU and NUMA
// sets. Parsing rejects anything ambiguous (reversed ranges, junk) rather than guessing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::deviceplugin {

// "0-3,8,10-11" → {0,1,2,3,8,10,11}, sorted and without duplicates. Empty text → {}.
Result<std::vector<int>> ParseCpuList(std::string_view text);

// The inverse: sorted ids, consecutive runs folded into ranges. {} → "".
std::string FormatCpuList(const std::vector<int>& cpus);

}  // namespace zenith::deviceplugin
