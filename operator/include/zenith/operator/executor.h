// Performs a reconcile Plan through the API client, in the order that keeps a crash harmless.
// The job's metadata (its finalizer) goes first, conditional on the cached resourceVersion (a
// stale cache gets 409 and the key is retried), so no child exists that a deletion could miss.
// Then the status (conditional on that resourceVersion) and the creations (AlreadyExists is
// success) go out together, one round trip for all; deletions (conditional on the pod's uid)
// only once the status is stored. Last come the Events, sent by a background thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"
#include "zenith/kube/client.h"
#include "zenith/operator/reconcile.h"

namespace zenith::operator_ {

struct ExecutorHooks {
  // Called for each failed API call (for the api-errors metric); `verb` is "create pod", ...
  std::function<void(const std::string& verb, const Status& error)> on_api_error;
};

struct ExecuteResult {
  std::string job_version;  // resourceVersion of the job's last successful write; "" if none
  // "ns/name" -> uid of each pod this call created and left in place (in plan.create_pods
  // order; "" if not created, or removed again by the rollback of a gang created bound).
  std::vector<std::pair<std::string, std::string>> created;
};

class Executor {
 public:
  Executor(kube::Client& client, std::string component, std::string instance, common::Clock& clock,
           ExecutorHooks hooks = {});
  // Sends the Events still queued, then returns.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // `job` is the cached object the plan was computed from; `pods` its cached pods (their uids
  // make deletions exact). Places nothing: the controller hands plan.place to the binder.
  // `result`, when given, learns what was written, also when an error is returned.
  Status Execute(const Json& job, const std::vector<std::shared_ptr<const Json>>& pods,
                 const Plan& plan, ExecuteResult* result = nullptr);

  // A core/v1 Event about `job` (kubectl describe shows them).
  Status RecordEvent(const Json& job, const EventSpec& event);

 private:
  Status Check(const std::string& verb, const Status& s);
  void SendEvents();

  kube::Client& client_;
  const std::string component_;
  const std::string instance_;
  common::Clock& clock_;
  ExecutorHooks hooks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Json, EventSpec>> events_;
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace zenith::operator_
