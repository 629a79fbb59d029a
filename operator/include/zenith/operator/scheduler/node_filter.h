// The per-node checks that depend only on the job and the node, never on what is free:
// cordon, excluded nodes, node selector, required node affinity, taints and tolerations, GPU
// model, GPU memory, RDMA, and whether a pod could fit on the empty node at all. The cycle
// runs them once per distinct job shape; explanations count the nodes each one rejected.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

// Labels a node without a published topology can carry instead.
inline constexpr const char* kGpuMemoryLabel = "zenith.ai/gpu.memory";  // a quantity, "80Gi"
inline constexpr const char* kRdmaLabel = "zenith.ai/rdma";             // "true"

// Why a node cannot take a job's pod, in the order the checks run; kFits when it can.
enum class FilterReason {
  kFits = 0,
  kUnschedulable,
  kExcluded,
  kNodeSelector,
  kAffinity,
  kTaint,
  kGpuModel,
  kGpuMemory,
  kRdma,
  kTooSmall,  // even empty, the node has fewer GPUs, CPU, memory or pods than one pod asks
};
inline constexpr int kFilterReasonCount = 10;
// Short phrase for explanations: "node selector", "untolerated taint", …
std::string_view FilterReasonName(FilterReason reason);

FilterReason CheckNode(const Node& node, const JobRequest& job);

bool ToleratesTaint(const std::vector<Toleration>& tolerations, const Taint& taint);
// Every NoSchedule and NoExecute taint of a node is tolerated (PreferNoSchedule never filters).
bool ToleratesNodeTaints(const std::vector<Toleration>& tolerations,
                         const std::vector<Taint>& taints);
bool MatchesAffinity(const std::map<std::string, std::string>& labels,
                     const std::vector<NodeSelectorTerm>& terms);

// A key that is equal for two jobs exactly when CheckNode gives them the same answer on every
// node, so the cycle filters the cluster once per job shape rather than once per job.
std::string FilterKey(const JobRequest& job);

}  // namespace zenith::operator_::scheduler
