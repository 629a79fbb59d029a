// Sorts what the informer caches hold into one cycle's input: which ZenithJobs wait for a gang
// placement (every worker pod created, none bound), which run, which run with pods still
// unbound (replacements, workers beyond minAvailable: placed beside the bound ones), and the
// unbound pods of each waiting gang in rank order, so a placement maps pod i to a real pod. Pods
// bound a moment ago but not yet seen bound by the informer ("assumed") are overlaid here, so two
// consecutive cycles never count the same GPUs twice. Pure: no client, no clock.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "zenith/operator/scheduler/snapshot_builder.h"

namespace zenith::operator_::gang {

using Json = nlohmann::json;

// Pod label with the worker's rank (the controller sets it with zenith.ai/job).
inline constexpr const char* kRankLabel = "zenith.ai/rank";

// A pod this scheduler bound whose binding the informer has not delivered yet.
struct AssumedPod {
  std::string node;
  std::vector<int> gpus;
};

// An unbound worker pod of a waiting gang.
struct GangPod {
  std::string ns;
  std::string name;
  std::string uid;
};

struct CycleInputs {
  scheduler::SnapshotObjects objects;
  // Waiting job key ("ns/name") -> its unbound pods in rank order (at least minAvailable, or
  // at least one for a partly bound gang).
  std::map<std::string, std::vector<GangPod>> gang_pods;
  // Running job key -> true when any of its pods is being deleted (an eviction in progress).
  std::map<std::string, bool> terminating;
  // Job key -> its ZenithJob object, for Events and status patches.
  std::map<std::string, const Json*> jobs;
};

struct InputFilter {
  std::string scheduler_name = "zenith";
  // Jobs whose bound pods are on their way out (a rolled-back bind, an eviction) though the
  // caches may not show it yet: their unbound pods are not placed beside them.
  std::set<std::string> hold;
};

using scheduler::ObjectPtr;

// The objects are shared, not copied (`jobs` points into them while `in.objects` lives).
// `assumed` is keyed "ns/name"; an assumed pod overrides the cached pod's node and GPU indices.
CycleInputs SortCycleInputs(std::vector<ObjectPtr> nodes, std::vector<ObjectPtr> zenith_nodes,
                            const std::vector<ObjectPtr>& pods, std::vector<ObjectPtr> queues,
                            const std::vector<ObjectPtr>& jobs,
                            const std::map<std::string, AssumedPod>& assumed,
                            const InputFilter& filter = {});

// "0,1,2,3", as the scheduler core reads kGpuIndicesAnnotation.
std::string FormatGpuIndices(const std::vector<int>& gpus);

}  // namespace zenith::operator_::gang
