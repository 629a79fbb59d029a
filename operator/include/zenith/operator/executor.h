// Performs a reconcile Plan through the API client, in the order that keeps a crash harmless:
// job metadata, then status (both conditional on the cached resourceVersion, so a stale cache
// gets 409 and the key is retried), then deletions (conditional on the pod's uid), creations
// (AlreadyExists is success), and last the Events, sent by a background thread. Stops at the
// first error.
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
  Status Execute(const Json& job, const std::vector<Json>& pods, const Plan& plan);

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
