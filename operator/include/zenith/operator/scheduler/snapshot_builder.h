// Assembles a scheduling Snapshot from the informer caches' objects: Nodes with their
// ZenithNode topology, bound pods counted on their nodes and grouped into running gangs,
// ZenithQueues, and the ZenithJobs waiting to be placed. An object that does not parse is
// left out and reported; one bad object never stops the cycle.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

// Pod label naming the ZenithJob (same namespace) a worker pod belongs to.
inline constexpr const char* kJobLabel = "zenith.ai/job";

struct SnapshotObjects {
  std::vector<nlohmann::json> nodes;
  std::vector<nlohmann::json> zenith_nodes;  // matched to nodes by name
  std::vector<nlohmann::json> pods;          // all pods; bound ones hold resources
  std::vector<nlohmann::json> queues;        // ZenithQueues
  // ZenithJobs whose gangs are bound: their queue, priority and preemptibility describe the
  // running gangs (pods of jobs not listed run as priority 0, not preemptible).
  std::vector<nlohmann::json> running_jobs;
  std::vector<nlohmann::json> pending_jobs;  // ZenithJobs to place this cycle
};

struct BuiltSnapshot {
  Snapshot snapshot;
  std::vector<std::string> problems;  // objects left out or read partly, with why
};

BuiltSnapshot BuildSnapshot(const SnapshotObjects& objects, common::WallTime now);

}  // namespace zenith::operator_::scheduler
