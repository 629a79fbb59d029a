#include "zenith/runtime/cpu_affinity.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <string>

namespace zenith::runtime {

Status PinCurrentThread(const std::vector<int>& cpus) {
  if (cpus.empty()) return InvalidArgumentError("pinning a thread: empty CPU set");
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string list;
  for (int c : cpus) {
    if (c < 0 || c >= CPU_SETSIZE)
      return InvalidArgumentError("pinning a thread: bad CPU " + std::to_string(c));
    CPU_SET(c, &set);
    list += (list.empty() ? "" : ",") + std::to_string(c);
  }
  int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) {
    return InvalidArgumentError("pinning a thread to CPUs " + list + ": " + ErrnoMessage(rc));
  }
  return Status::Ok();
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

}  // namespace zenith::runtime
