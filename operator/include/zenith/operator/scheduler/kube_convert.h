// Turns Kubernetes objects (Node, Pod, ZenithNode, ZenithJob as JSON) into the scheduler's
// snapshot types. Pure functions with no client behind them: the informer cache hands objects
// in, errors come back as values naming the object and the field that was wrong.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/topology.h"
#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

// A Node: name, labels, taints, status.allocatable (zenith.ai/gpu, cpu, memory, pods),
// spec.unschedulable, and the Ready condition (a node not Ready is unschedulable). `requested`,
// `taken_gpus` and `topology` stay empty: AccountPod and TopologyFromZenithNode fill them.
Result<Node> NodeFromJson(const nlohmann::json& node);

// The GPU topology the device plugin published in a ZenithNode (`.status.topology`, written by
// deviceplugin::TopologyToJson), validated.
Result<deviceplugin::NodeTopology> TopologyFromZenithNode(const nlohmann::json& zenith_node);

// What a pod holds on its node.
struct PodUsage {
  std::string key;              // namespace/name
  std::string node;             // spec.nodeName; empty when not bound
  Resources requests;           // effective requests (containers, native sidecars, init containers)
  std::vector<int> gpus;        // from the kZenithGpuIndicesAnnotation, sorted; empty when absent
  bool holds_resources = true;  // false once Succeeded or Failed
};
Result<PodUsage> PodUsageFromJson(const nlohmann::json& pod);

// Adds a bound, active pod to its node's `requested` and `taken_gpus`.
void AccountPod(Node& node, const PodUsage& pod);

// Parts of a pod spec, shared by pods and the ZenithJob template. `where` prefixes errors.
Result<std::vector<Toleration>> TolerationsFromJson(const nlohmann::json& tolerations,
                                                    std::string_view where);
// spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.
Result<std::vector<NodeSelectorTerm>> RequiredAffinityFromJson(const nlohmann::json& affinity,
                                                               std::string_view where);

// A ZenithQueue (cluster-scoped): metadata.name, spec.weight (default 1, at least 1) and
// spec.gpuQuota (optional, at least 0).
Result<Queue> QueueFromJson(const nlohmann::json& queue);

// A ZenithJob (zenith.ai/v1alpha1) as a gang request: minAvailable (default replicas) pods of
// gpusPerReplica GPUs plus the template's CPU and memory requests; node selector, affinity and
// tolerations from the template; spec.topology and spec.scheduling.
Result<JobRequest> JobRequestFromZenithJob(const nlohmann::json& job);

}  // namespace zenith::operator_::scheduler
