// The ZenithJob controller: informers on ZenithJobs, their pods and Services, and nodes feed a
// rate-limited work queue of job keys; N workers each take a key, run the pure Reconcile on
// what the caches show, and have the Executor carry out the plan (and the GangBinder place a
// gang that is ready). Level-triggered: any event about a job, its children or a node just
// re-queues the job, so nothing is lost when an event is missed or the operator restarts.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/metrics.h"
#include "zenith/kube/client.h"
#include "zenith/kube/informer.h"
#include "zenith/kube/work_queue.h"
#include "zenith/operator/binder.h"
#include "zenith/operator/executor.h"
#include "zenith/operator/options.h"
#include "zenith/operator/reconcile.h"

namespace zenith::operator_ {

class Controller {
 public:
  // `binder` may be null: pods are then left for another scheduler to bind.
  Controller(kube::Client& client, Options options, std::unique_ptr<GangBinder> binder,
             common::MetricsRegistry& metrics, common::Clock& clock);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the informers, waits for their first lists, then the workers.
  Status Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  void Stop();

  // Informers synced and workers running.
  bool Ready() const { return ready_.load(); }

  // One reconcile of `key` ("ns/name"), as a worker runs it; exposed for tests.
  Status Sync(const std::string& key);

 private:
  struct Metrics;
  void Worker();
  void EnqueueJob(const std::string& ns, const std::string& name);
  void EnqueueOwner(const Json& child);
  // After GPUs are freed or nodes change: every job still waiting for placement looks again.
  void EnqueueWaiting();
  void EnqueueAll();
  void IndexPod(const Json& pod, bool deleted);
  void IndexJob(const Json& job, bool deleted);

  kube::Client& client_;
  const Options options_;
  ReconcileConfig config_;
  std::unique_ptr<GangBinder> binder_;
  common::Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  Executor executor_;
  kube::WorkQueue queue_;
  std::unique_ptr<kube::Informer> jobs_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> services_;
  std::unique_ptr<kube::Informer> nodes_;
  // Indexes kept by the informer handlers, so a reconcile reads only its own job's pods and
  // a placement sees every pod's GPU use without copying the pod cache.
  std::mutex index_mu_;
  std::map<std::string, std::set<std::string>> pods_by_job_;  // "ns/job" -> pod keys
  std::map<std::string, PodUsage> usage_;                     // pod key -> what it uses
  std::set<std::string> waiting_;                             // jobs in phase Queued
  // What this operator last wrote for a job and the informers have not shown yet: until they
  // do, a reconcile would plan from stale objects (and meet 409, or create pods twice).
  struct Unseen {
    std::string job_version;        // the job's resourceVersion after the write; "" once seen
    std::set<std::string> created;  // pod keys created, until each is in the cache
    std::set<std::string> deleted;  // pod keys deleted, until each shows terminating or is gone
    common::TimePoint at;
    bool Seen() const { return job_version.empty() && created.empty() && deleted.empty(); }
  };
  std::map<std::string, Unseen> unseen_;  // job key -> its writes not yet in the caches
  std::vector<std::thread> workers_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace zenith::operator_
