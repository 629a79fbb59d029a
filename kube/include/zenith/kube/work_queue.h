// The controller's to-do list of object keys. A key is queued at most once however often it is
// added; a key being processed is never handed to a second worker (an add while it is in
// flight is replayed after Done); failed keys come back after a per-key exponential backoff,
// bounded overall by a token bucket. Time comes from an injected clock.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "zenith/common/clock.h"
#include "zenith/kube/rate_limiter.h"

namespace zenith::kube {

struct WorkQueueOptions {
  common::Duration base_delay = std::chrono::milliseconds(5);
  common::Duration max_delay = std::chrono::seconds(1000);
  double qps = 10;  // overall retry rate; <= 0: unlimited
  int burst = 100;
};

class WorkQueue {
 public:
  explicit WorkQueue(common::Clock& clock, WorkQueueOptions options = {});

  void Add(const std::string& key);
  // Adds once `delay` has passed; an earlier pending time for the same key wins.
  void AddAfter(const std::string& key, common::Duration delay);
  // Adds after the key's backoff (base * 2^failures, capped) or the bucket's wait, the longer.
  void AddRateLimited(const std::string& key);
  // The key succeeded: its backoff starts over.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;
  // The wait AddRateLimited would give the key next, without taking it.
  common::Duration PeekBackoff(const std::string& key) const;

  // Blocks until a key is ready; nullopt once shut down and drained of ready keys.
  std::optional<std::string> Get();
  // Non-blocking Get.
  std::optional<std::string> TryGet();
  // The worker is finished with `key`; it is re-queued if it was added meanwhile.
  void Done(const std::string& key);

  // Wakes every Get(); later adds are ignored.
  void ShutDown();
  bool shutting_down() const;
  size_t Len() const;      // keys ready now
  size_t Waiting() const;  // keys waiting for their time

 private:
  void AddLocked(const std::string& key);
  void PromoteDueLocked();
  std::optional<std::string> PopLocked();

  common::Clock& clock_;
  const WorkQueueOptions options_;
  TokenBucket bucket_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;       // queued or to be re-queued after Done
  std::set<std::string> processing_;  // handed to a worker
  std::map<std::string, common::TimePoint> waiting_;
  std::map<std::string, int> failures_;
  bool shutting_down_ = false;
};

}  // namespace zenith::kube
