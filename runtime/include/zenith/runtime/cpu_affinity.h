// Pinning the calling thread to a set of CPUs (OS indices), as the thread pool and the
// benchmarks do. A failure is reported, never fatal: a container may forbid some CPUs.
#pragma once

#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime {

Status PinCurrentThread(const std::vector<int>& cpus);
// The CPUs this process may run on.
std::vector<int> AllowedCpus();

}  // namespace zenith::runtime
