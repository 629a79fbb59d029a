#include "zenith/runtime/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace zenith::runtime {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "futex words must be plain 32-bit integers");

void FutexWait(const std::atomic<uint32_t>& word, uint32_t expected, bool shared,
               std::chrono::nanoseconds timeout) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
  int op = shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE;
  // EAGAIN (the word already moved), EINTR and ETIMEDOUT all mean "look again": the caller
  // re-checks its condition in a loop.
  syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&word), op, expected, &ts, nullptr, 0);
}

void FutexWakeAll(const std::atomic<uint32_t>& word, bool shared) {
  int op = shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE;
  syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&word), op, INT32_MAX, nullptr, nullptr, 0);
}

}  // namespace zenith::runtime
