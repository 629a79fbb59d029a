// Assembles a scheduling Snapshot from the informer caches' objects: Nodes with their
// ZenithNode topology, bound pods counted on their nodes and grouped into running gangs,
// ZenithQueues, and the ZenithJobs waiting to be placed. An object that does not parse is
// left out and reported; one bad object never stops the cycle.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"
#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

// Pod label naming the ZenithJob (same namespace) a worker pod belongs to.
inline constexpr const char* kJobLabel = "zenith.ai/job";

// An API object as the informer caches hold it: immutable and shared, so a cycle reads the
// caches without copying them.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// Plain objects made shared (tests, callers without an informer).
std::vector<ObjectPtr> ShareObjects(std::vector<nlohmann::json> objects);

struct SnapshotObjects {
  std::vector<ObjectPtr> nodes;
  std::vector<ObjectPtr> zenith_nodes;  // matched to nodes by name
  std::vector<ObjectPtr> pods;          // all pods; bound ones hold resources
  std::vector<ObjectPtr> queues;        // ZenithQueues
  // ZenithJobs whose gangs are bound: their queue, priority and preemptibility describe the
  // running gangs (pods of jobs not listed run as priority 0, not preemptible).
  std::vector<ObjectPtr> running_jobs;
  std::vector<ObjectPtr> pending_jobs;  // ZenithJobs to place this cycle
  // Job key -> how many of its pods wait unbound beside pods already bound (replacements,
  // workers beyond minAvailable): such a job in pending_jobs is placed for these pods only,
  // next to its bound ones.
  std::map<std::string, int> partial_pods;
};

struct BuiltSnapshot {
  Snapshot snapshot;
  std::vector<std::string> problems;  // objects left out or read partly, with why
};

// Topologies parsed from ZenithNodes, kept from one cycle to the next: a ZenithNode object the
// informer still holds (the same shared object) is not parsed again. Parsing 1000 dgx-h100
// topologies took about 60 ms of every cycle. Not thread-safe: one cycle at a time.
class TopologyCache {
 public:
  // The topology in this ZenithNode object, parsed the first time the object is seen.
  const Result<deviceplugin::NodeTopology>& Get(const ObjectPtr& zenith_node);
  // Forgets the objects not asked for since the last sweep (updated or deleted ZenithNodes).
  void Sweep();
  size_t size() const { return entries_.size(); }
  uint64_t parses() const { return parses_; }

 private:
  struct Entry {
    ObjectPtr object;  // held, so its address cannot be reused while it is a key here
    Result<deviceplugin::NodeTopology> topology;
    bool used;
  };
  std::unordered_map<const nlohmann::json*, Entry> entries_;
  uint64_t parses_ = 0;
};

// `topologies` may be null (every topology parsed afresh).
BuiltSnapshot BuildSnapshot(const SnapshotObjects& objects, common::WallTime now,
                            TopologyCache* topologies = nullptr);

}  // namespace zenith::operator_::scheduler
