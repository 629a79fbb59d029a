// What one scheduling cycle looks at: the nodes (capacity, labels, taints, published GPU
// topology, what is already taken), the gangs already running, the queues, the jobs waiting,
// and the time. Plain data with no Kubernetes client behind it, so a test builds any cluster
// in a few lines; kube_convert.h fills it from API objects.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::operator_::scheduler {

// The extended resource the device plugin advertises.
inline constexpr const char* kGpuResource = "zenith.ai/gpu";
// Node label the device plugin sets to the GPU product (spec.topology.gpuModel matches it).
inline constexpr const char* kGpuProductLabel = "zenith.ai/gpu.product";
// Pod annotation naming the GPU indices the scheduler chose ("0,1,2,3").
inline constexpr const char* kGpuIndicesAnnotation = "zenith.ai/gpu-indices";
inline constexpr const char* kDefaultQueue = "default";

struct Resources {
  int64_t gpus = 0;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  int64_t pods = 0;

  Resources& operator+=(const Resources& o);
  Resources& operator-=(const Resources& o);
  friend Resources operator*(Resources r, int64_t n);
  friend bool operator==(const Resources&, const Resources&) = default;
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
  friend bool operator==(const Taint&, const Taint&) = default;
};

struct Toleration {
  std::string key;           // empty with operator Exists: tolerates every taint
  std::string op = "Equal";  // Equal or Exists
  std::string value;
  std::string effect;  // empty: every effect
  friend bool operator==(const Toleration&, const Toleration&) = default;
};

// One matchExpression of a required node affinity term.
struct NodeSelectorRequirement {
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;
  friend bool operator==(const NodeSelectorRequirement&, const NodeSelectorRequirement&) = default;
};
// The expressions of one term all hold (AND); a node matches the affinity when any term does.
using NodeSelectorTerm = std::vector<NodeSelectorRequirement>;

struct Node {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<Taint> taints;
  Resources allocatable;  // gpus = allocatable zenith.ai/gpu
  Resources requested;    // sum of the requests of pods bound (or assumed) on the node
  // The ZenithNode topology when the device plugin published one. Without it the node's GPUs
  // are 0..allocatable.gpus-1 with no NVLink, so NVLink-requiring jobs never land there.
  std::optional<deviceplugin::NodeTopology> topology;
  std::vector<int> taken_gpus;  // GPU indices held by pods on the node
  bool unschedulable = false;   // cordoned, or not Ready
};

enum class NvlinkPolicy { kNone, kPreferred, kRequired };
enum class PlacementPolicy { kPack, kSpread };

struct TopologyRequest {
  NvlinkPolicy nvlink = NvlinkPolicy::kPreferred;  // per pod: one fully connected GPU set
  bool numa_aligned = true;                        // prefer each pod's GPUs on one NUMA node
  PlacementPolicy placement = PlacementPolicy::kPack;
  std::string same_node_label;  // every pod on nodes with one value of this label
  std::vector<std::string> preferred_nodes;
  std::vector<std::string> excluded_nodes;
  std::string gpu_model;              // value of kGpuProductLabel (or the topology's GPU name)
  uint64_t min_gpu_memory_bytes = 0;  // every GPU of the node at least this large
  bool rdma = false;                  // only nodes with an RDMA NIC
};

// A gang waiting to be placed: `pods` identical pods, all or none.
struct JobRequest {
  std::string key;  // "namespace/name"
  std::string queue = kDefaultQueue;
  int32_t priority = 0;
  bool preemptible = false;
  common::WallTime created{};
  std::optional<std::chrono::seconds> max_wait;  // unset: the scheduler's default
  int pods = 1;                                  // minAvailable
  Resources per_pod;                             // pods is implied (1 per pod)
  std::map<std::string, std::string> node_selector;
  std::vector<NodeSelectorTerm> required_affinity;  // empty: no constraint
  std::vector<Toleration> tolerations;
  TopologyRequest topology;
  // Nodes holding the job's pods already bound (a partly bound gang: `pods` more are placed
  // beside them, in the same sameNodeLabel domain, and the pack domain preferred).
  std::vector<std::string> bound_nodes;

  int64_t TotalGpus() const { return per_pod.gpus * pods; }
};

struct PodPlacement {
  std::string node;
  std::vector<int> gpus;  // sorted GPU indices on that node
  friend bool operator==(const PodPlacement&, const PodPlacement&) = default;
};

// A gang already bound; its pods are counted in the nodes' `requested` and `taken_gpus`.
struct RunningJob {
  std::string key;
  std::string queue = kDefaultQueue;
  int32_t priority = 0;
  bool preemptible = false;
  bool terminating = false;  // being evicted already: still holds resources, never a victim
  Resources per_pod;
  std::vector<PodPlacement> pods;

  int64_t TotalGpus() const { return per_pod.gpus * static_cast<int64_t>(pods.size()); }
};

struct Queue {
  std::string name;
  int weight = 1;                    // share of the cluster relative to other queues
  std::optional<int64_t> gpu_quota;  // most GPUs its running jobs may hold; unset: no limit
};

struct Snapshot {
  common::WallTime now{};
  std::vector<Node> nodes;
  std::vector<RunningJob> running;
  std::vector<Queue> queues;  // a queue named "default" is added when missing (weight 1)
  std::vector<JobRequest> pending;
};

}  // namespace zenith::operator_::scheduler
