// Places one gang on a ClusterState: pod by pod, each on a node chosen best-fit from the
// free-GPU index (pack: fewest nodes; spread: a new node per pod when one fits), preferring a
// NUMA-aligned / NVLink-connected set, with the GPU set from the shared chooser. All or
// nothing: on failure the state is rolled back. Internal to zenith_scheduler.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "cluster_state.h"
#include "zenith/operator/scheduler/cycle.h"

namespace zenith::operator_::scheduler::internal {

struct GangRequest {
  const JobRequest* job = nullptr;
  const std::vector<char>* eligible = nullptr;  // by node id
  // When set, only these node ids are considered (a label domain, or a short eligible list);
  // otherwise the whole cluster is searched through the free-GPU index.
  const std::vector<int>* candidates = nullptr;
};

// (node id, GPU position mask) per pod, or none (state unchanged).
using GangPlacement = std::vector<std::pair<int, Mask>>;
std::optional<GangPlacement> PlaceGang(ClusterState& state, const GangRequest& request,
                                       const SchedulerOptions& options);

// How many of the job's pods the node could take now, up to `limit`. `connected` and
// `cpu_memory` say whether the NVLink requirement and the CPU/memory/pod requests count.
int PodCapacity(const ClusterState& state, int id, const JobRequest& job, int limit, bool connected,
                bool cpu_memory);

}  // namespace zenith::operator_::scheduler::internal
