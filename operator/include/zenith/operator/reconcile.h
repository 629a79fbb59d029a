// The job controller's decision, as a pure function: from what the informer caches show (the
// job, its pods, its Service, the nodes) and the time, compute the next step toward the desired
// state as a Plan of writes. It keeps no state of its own (the job's status is its memory), so
// running it twice, or in a restarted operator, gives the same answer. The Executor performs it.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/operator/job.h"
#include "zenith/operator/job_status.h"
#include "zenith/operator/workers.h"

namespace zenith::operator_ {

// Stops the API server from forgetting a job before its pods and Service are gone (there may
// be no garbage collector to follow the owner references).
inline constexpr const char* kFinalizer = "zenith.ai/cleanup";

struct ReconcileInput {
  Json job;  // from the cache
  // Pods labelled zenith.ai/job=<name> in the job's namespace: the informer's shared objects.
  std::vector<std::shared_ptr<const Json>> pods;
  std::optional<Json> service;  // the headless Service
  std::set<std::string> nodes;  // names of the nodes that exist
  bool nodes_known = false;     // the node cache has synced: a pod's missing node is lost
  common::WallTime now;
};

struct ReconcileConfig {
  BuildOptions build;
  common::Duration max_backoff = std::chrono::minutes(10);
  // How soon to look again while waiting for something no watch event announces.
  common::Duration poll = std::chrono::seconds(1);
};

struct EventSpec {
  std::string type;  // "Normal" or "Warning"
  std::string reason;
  std::string message;
  bool operator==(const EventSpec&) const = default;
};

struct Plan {
  std::optional<Json> update_job;  // the job with changed metadata (finalizers), PUT with its rv
  bool delete_job = false;         // ttlSecondsAfterFinished has passed
  std::optional<Json> status;      // the new status, PUT to /status with the job's rv
  std::optional<Json> create_service;
  bool delete_service = false;
  std::vector<std::string> delete_pods;
  // Pods bound to a node that no longer exists: no kubelet will ever confirm their end, so
  // they are deleted at once (grace period 0), as the pod garbage collector would.
  std::vector<std::string> force_delete_pods;
  std::vector<Json> create_pods;
  // Set by the controller when it placed create_pods before creating them (they carry
  // spec.nodeName): the Executor then creates them all or none, deleting those it created when
  // another create fails, so no part of a gang holds GPUs.
  bool create_pods_bound = false;
  std::vector<EventSpec> events;   // one per phase transition, sent after the status is stored
  std::vector<std::string> place;  // names of the gang's unbound pods, ready to be placed
  std::optional<common::Duration> requeue_after;
  Phase phase = Phase::kNone;  // the phase after this step
};

Result<Plan> Reconcile(const ReconcileInput& input, const ReconcileConfig& config);

// The wait before gang restart number `retry` (1-based): backoffSeconds doubling each time.
common::Duration RestartBackoff(const RunPolicy& policy, int retry, common::Duration max);

// Pod facts the controller and the placer share.
std::string PodPhase(const Json& pod);
std::string PodNode(const Json& pod);
bool PodTerminating(const Json& pod);
bool PodReady(const Json& pod);
// "exit code 3 (Error): rank 1 fails on purpose", from the first terminated container.
std::string PodFailureReason(const Json& pod);

}  // namespace zenith::operator_
