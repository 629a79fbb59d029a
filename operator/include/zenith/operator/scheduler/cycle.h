// One scheduling cycle: take the snapshot, order the waiting gangs (starving first, then
// priority, then fair share between queues by weight, then age), and place each gang whole or
// not at all on the best-connected free GPUs, preempting cheaper gangs where priority allows.
// Pure and deterministic: the same snapshot and options always give the same decisions; it
// binds nothing and never reads a clock (Snapshot::now is the time).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

struct SchedulerOptions {
  // A job waiting longer than this (its own spec.scheduling.maxWaitSeconds wins) goes ahead of
  // every other job, and while it cannot be placed no job of lower or equal priority takes
  // GPUs, so freed GPUs gather for it. Zero: no starvation guard.
  std::chrono::seconds default_max_wait{std::chrono::hours(1)};
  // Let a job that cannot fit evict preemptible gangs of strictly lower priority.
  bool preemption = true;
  // Node labels naming a rack or NVSwitch domain: a Pack job of several pods first tries to
  // fit inside one domain of the first label the nodes carry, then anywhere.
  std::vector<std::string> pack_domain_labels = {"zenith.ai/nvswitch-domain",
                                                 "topology.kubernetes.io/rack"};
  // How many further nodes to look at for a NUMA-aligned / NVLink-connected set once a worse
  // fitting node was found; bounds the search per pod.
  int quality_lookahead = 32;
  // How many label domains to try per job (smallest that fits first).
  int max_domain_tries = 16;
  // How many victim sets to test per preempting job.
  int max_preemption_trials = 64;
};

// Why a job is still waiting after the cycle.
enum class WaitReason {
  kInvalidRequest,
  kNoEligibleNodes,        // every node filtered out (selector, affinity, taints, model, …)
  kInsufficientGpus,       // not enough free GPUs on eligible nodes
  kNoConnectedSet,         // enough GPUs, but not in NVLink-connected sets of the size asked
  kInsufficientCpuMemory,  // GPUs would fit but CPU, memory or pod slots do not
  kNoSharedDomain,         // no single value of the sameNodeLabel has room for the whole gang
  kQuotaExceeded,          // its queue's GPU quota would be exceeded
  kBlockedByStarvedJob,    // a job past its maximum wait is gathering GPUs first
  kPreempting,             // victims are being evicted; the job is nominated on their GPUs
};
std::string_view WaitReasonName(WaitReason reason);  // "InsufficientGpus", …

struct JobPlacement {
  std::string job;
  std::vector<PodPlacement> pods;  // pod i of the gang (rank order)
};

struct PreemptionDecision {
  std::string job;                   // the job that needs the room
  std::vector<std::string> victims;  // whole gangs to evict, in the order chosen
  int64_t gpus_evicted = 0;
  std::string reason;                   // for the victims' condition and Event
  std::vector<PodPlacement> nominated;  // where the job goes once the victims are gone
};

struct WaitingJob {
  std::string job;
  WaitReason reason = WaitReason::kInsufficientGpus;
  std::string message;  // in numbers: "needs 4 pods × 8 NVLink-connected GPUs; …"
};

// What the cycle did and left, for metrics: GPU allocation and fragmentation.
struct CycleStats {
  int64_t pods_placed = 0;  // bound now (nominated pods not included)
  int64_t gpus_placed = 0;
  int64_t free_gpus = 0;  // after the cycle's placements and nominations
  // Free GPUs on nodes that are partly used: the part of the free capacity a whole-node gang
  // cannot use. free_gpus_fragmented / free_gpus is the fragmentation ratio.
  int64_t free_gpus_fragmented = 0;
};

struct CycleResult {
  std::vector<JobPlacement> placed;  // bind these now, in this order
  std::vector<PreemptionDecision> preemptions;
  std::vector<WaitingJob> waiting;    // every pending job not placed, with why
  std::vector<std::string> warnings;  // snapshot problems worked around (bad topology, …)
  CycleStats stats;
};

CycleResult RunCycle(const Snapshot& snapshot, const SchedulerOptions& options = {});

}  // namespace zenith::operator_::scheduler
