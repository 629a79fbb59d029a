// PCI bus ids in one canonical form, so a GPU seen by NVML ("00000000:18:00.0"), by sysfs
// ("0000:18:00.0") and by nvidia-smi compares equal. Canonical: lower-case hex, 4-digit domain
// (wider only when the domain needs it), "dddd:bb:dd.f".
#pragma once

#include <string>
#include <string_view>

#include "zenith/common/status.h"

namespace zenith::deviceplugin {

// Accepts "[domain:]bus:device[.function]" in any case and any domain width; a missing domain
// is 0 and a missing function is 0.
Result<std::string> NormalizePciBusId(std::string_view text);

}  // namespace zenith::deviceplugin
