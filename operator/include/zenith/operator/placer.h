// The seam between the job controller and whatever places a gang: a GangPlacer is given the
// gang's unbound pods and a snapshot of the nodes' free zenith.ai/gpu and answers with a node
// for every pod or with none (all-or-nothing). FirstFitPlacer is the stand-in until the
// topology-aware gang scheduler replaces it behind the same interface. Pods and nodes are read
// with the gang scheduler's own conversions (kube_convert.h), so both binders count GPUs and
// honour taints alike. Pure: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/operator/job.h"
#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_ {

struct NodeCapacity {
  std::string name;
  std::map<std::string, std::string> labels;
  int64_t allocatable_gpus = 0;
  int64_t used_gpus = 0;    // requests of pods bound there that have not finished
  bool schedulable = true;  // Ready and not cordoned
  std::vector<scheduler::Taint> taints;
  int64_t Free() const { return allocatable_gpus - used_gpus; }
};

struct GangMember {
  std::string pod;
  int64_t gpus = 0;
  std::map<std::string, std::string> node_selector;
  std::vector<scheduler::Toleration> tolerations;
};

struct GangRequest {
  std::string job;  // "ns/name", for messages
  std::vector<GangMember> members;
  TopologySpec topology;
};

// pod name -> node name, for every member.
using Assignment = std::map<std::string, std::string>;

class GangPlacer {
 public:
  virtual ~GangPlacer() = default;
  // A node for every member, or RESOURCE_EXHAUSTED saying why the gang does not fit now.
  virtual Result<Assignment> Place(const GangRequest& gang,
                                   const std::vector<NodeCapacity>& nodes) = 0;
  virtual std::string Name() const = 0;
};

// Members in order, each on the first node (by name) with enough free GPUs that its node
// selector, its tolerations (of NoSchedule and NoExecute taints) and the job's excluded nodes
// allow; nothing is assigned unless everyone fits.
class FirstFitPlacer final : public GangPlacer {
 public:
  Result<Assignment> Place(const GangRequest& gang,
                           const std::vector<NodeCapacity>& nodes) override;
  std::string Name() const override { return "first-fit"; }
};

// What a pod takes from its node: all the placer needs of it, kept small so the controller
// can hold one per pod and hand the whole set to every placement without copying pods.
struct PodUsage {
  std::string key;  // "ns/name"
  std::string uid;
  std::string node;  // empty: unbound
  int64_t gpus = 0;
  bool active = true;  // not Succeeded or Failed
};
// A pod the conversions cannot read (a malformed request) is logged with the field and counts
// no GPUs; the API server's validation keeps such pods out.
PodUsage UsageOf(const Json& pod);

// The nodes' capacity as `pods` use it: GPUs of bound pods that have not finished count as used.
// A node that does not parse is logged with the field and is not schedulable.
std::vector<NodeCapacity> BuildNodeCapacity(const std::vector<Json>& nodes,
                                            const std::vector<PodUsage>& pods);
// The same, over the informer's shared objects (no copy of the node cache).
std::vector<NodeCapacity> BuildNodeCapacity(const std::vector<std::shared_ptr<const Json>>& nodes,
                                            const std::vector<PodUsage>& pods);
// The member a pod makes (its name, GPU request, nodeSelector, tolerations).
GangMember MemberOf(const Json& pod);

}  // namespace zenith::operator_
