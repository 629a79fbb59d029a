// The gang scheduler's loop: informers on Nodes, Pods, ZenithNodes, ZenithQueues and
// ZenithJobs; a cycle (after informer events, rate-limited, and on a periodic tick) builds the
// snapshot from the caches, runs the pure scheduler::RunCycle, and carries its decisions out:
// binds each placed gang through pods/binding (the chosen GPU indices travel as the pod
// annotation zenith.ai/gpu-indices in the same Binding), deletes the pods of preempted gangs,
// and explains waiting jobs with an Event and status.scheduling. It never leaves part of a
// gang bound: when one bind fails, the pods of that gang already bound are deleted (the
// controller recreates them). Binds never queue behind notes: Events and status writes go
// through a second client with its own rate limiter, as kube-scheduler's event broadcaster
// has its own client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/metrics.h"
#include "zenith/common/status.h"
#include "zenith/kube/client.h"
#include "zenith/kube/informer.h"
#include "zenith/operator/gang/cycle_inputs.h"
#include "zenith/operator/gang/event_recorder.h"
#include "zenith/operator/scheduler/cycle.h"
#include "zenith/operator/scheduler/snapshot_builder.h"

namespace zenith::operator_::gang {

struct GangSchedulerOptions {
  std::string scheduler_name = "zenith";       // pods with this spec.schedulerName are ours
  std::string component = "zenith-scheduler";  // Events' source.component
  std::string namespace_;                      // pods and ZenithJobs watched; empty: all namespaces
  std::string node_selector;                   // label selector on the Nodes used; empty: all nodes
  // At most one cycle per this interval: a burst of informer events becomes one cycle.
  std::chrono::milliseconds min_interval{100};
  // A cycle at least this often even without events (maximum waits expire, quotas change).
  std::chrono::milliseconds tick{5000};
  // Concurrent binding requests (gangs bound side by side; each gang's pods in rank order).
  int bind_parallelism = 16;
  // Grace period for deleting victims and rolled-back pods; unset: the pod's own.
  std::optional<int64_t> delete_grace_seconds;
  // An assumed pod the informer never shows bound is forgotten after this long.
  std::chrono::seconds assume_ttl{60};
  // Threads writing Events and status (status.scheduling, ZenithQueue status) behind the
  // cycle: the cycle never waits on them, and only the latest word per object is written.
  int status_writers = 2;
  scheduler::SchedulerOptions cycle;
};

// What one cycle did, for tests and logs.
struct CycleReport {
  int gangs_bound = 0;
  int pods_bound = 0;
  int gangs_failed = 0;  // a bind failed; rolled back
  int gangs_evicted = 0;
  int waiting = 0;
  std::chrono::nanoseconds duration{0};
};

class GangScheduler {
 public:
  // `client` carries the informers, binds and deletions; `notes` the Events and status writes
  // (ZenithJob status.scheduling, ZenithQueue status), so they never take a bind's token.
  GangScheduler(kube::Client& client, kube::Client& notes, GangSchedulerOptions options,
                common::MetricsRegistry& metrics, common::Clock& clock);
  // One client for everything (tests).
  GangScheduler(kube::Client& client, GangSchedulerOptions options,
                common::MetricsRegistry& metrics, common::Clock& clock)
      : GangScheduler(client, client, std::move(options), metrics, clock) {}
  ~GangScheduler();
  GangScheduler(const GangScheduler&) = delete;
  GangScheduler& operator=(const GangScheduler&) = delete;

  // Starts the informers and waits for their first lists; with `run_loop`, also the cycle
  // thread (tests may instead call RunOnce).
  Status Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(60),
               bool run_loop = true);
  void Stop();
  // Waits until every queued Event and status write is done (tests, shutdown).
  void FlushWrites();
  // Readiness: every informer has synced.
  bool Ready() const;
  // One cycle now, on the caller's thread (the loop calls it too; never concurrently).
  CycleReport RunOnce();
  uint64_t cycles() const { return cycles_.load(); }

 private:
  struct Metrics;
  void Loop();
  void Trigger();
  // Binds one gang, rolling it back on failure; returns the pods bound (0 on failure).
  int BindGang(const scheduler::JobPlacement& placement, const std::vector<GangPod>& pods);
  void Evict(const scheduler::PreemptionDecision& decision, const CycleInputs& in);
  void ExplainWaiting(const scheduler::WaitingJob& waiting, const CycleInputs& in);
  void MarkScheduled(const scheduler::JobPlacement& placement, const CycleInputs& in);
  void PatchScheduling(const Json& job, const std::string& reason, const std::string& message);
  void UpdateQueues(const CycleInputs& in, const scheduler::Snapshot& snapshot,
                    const scheduler::CycleResult& result);
  void ForgetAssumed();
  Status DeletePod(const std::string& ns, const std::string& name, const std::string& uid);
  // Queues a write about `key` ("job:ns/name", "queue:name"); a newer write for the same key
  // replaces one not yet done.
  void Post(const std::string& key, std::function<void()> write);
  void Writer();

  kube::Client& client_;
  kube::Client& notes_;
  const GangSchedulerOptions options_;
  common::Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  EventRecorder events_;

  std::unique_ptr<kube::Informer> nodes_;
  std::unique_ptr<kube::Informer> pods_;
  std::unique_ptr<kube::Informer> zenith_nodes_;
  std::unique_ptr<kube::Informer> queues_;
  std::unique_ptr<kube::Informer> jobs_;

  std::mutex cycle_mu_;                  // one cycle at a time
  scheduler::TopologyCache topologies_;  // under cycle_mu_
  std::mutex assumed_mu_;
  struct Assumed {
    AssumedPod pod;
    common::TimePoint at;
  };
  std::map<std::string, Assumed> assumed_;  // "ns/pod"
  // Job key -> the waiting reason last explained, so an Event is written only on change.
  std::map<std::string, std::string> explained_;
  std::map<std::string, common::TimePoint> evicting_;  // victim job key -> when evicted
  // Job key -> when a bind of its failed and its bound pods were deleted again.
  std::map<std::string, common::TimePoint> rolled_back_;

  std::mutex writes_mu_;
  std::condition_variable writes_cv_;
  std::map<std::string, std::function<void()>> writes_;
  int writes_in_flight_ = 0;
  std::vector<std::thread> writers_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool dirty_ = true;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
  std::atomic<uint64_t> cycles_{0};
};

}  // namespace zenith::operator_::gang
