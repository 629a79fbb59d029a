// Binds a gang's pods where a GangPlacer says, through pods/binding, or places a gang about to
// be created so its pods are created bound (no bind calls, no wait for the informer between
// create and bind). Placements are serialised (one gang at a time) and the nodes' use counts
// pods bound or created a moment ago that the informer has not delivered yet ("assumed", as
// kube-scheduler does), so two gangs never count on the same GPUs. A gang whose bindings fail
// part-way has its bound pods deleted: nothing is left holding GPUs, and the controller
// recreates them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"
#include "zenith/kube/client.h"
#include "zenith/kube/informer.h"
#include "zenith/operator/placer.h"

namespace zenith::operator_ {

// The one write a binder makes; the API client in production, a recorder in tests.
class PodBinder {
 public:
  virtual ~PodBinder() = default;
  virtual Status Bind(const std::string& ns, const std::string& pod, const std::string& uid,
                      const std::string& node) = 0;
  virtual Status Unbind(const std::string& ns, const std::string& pod, const std::string& uid) = 0;
};

// Binds with POST pods/<name>/binding and rolls back by deleting the pod.
std::unique_ptr<PodBinder> MakeApiPodBinder(kube::Client& client);

struct BindResult {
  bool placed = false;
  std::string message;  // why not, when not placed
  Assignment assignment;
  std::vector<std::string> assumed;  // PlaceNew: the pods ("ns/name") now assumed
};

class GangBinder {
 public:
  GangBinder(std::unique_ptr<GangPlacer> placer, std::unique_ptr<PodBinder> binder,
             common::Clock& clock);

  // Places and binds `gang` (pods of one job, all unbound) on `nodes`, given what every pod
  // the informer knows uses (`pods`). Error only when a bind call failed.
  Result<BindResult> PlaceAndBind(const std::string& job, const TopologySpec& topology,
                                  const std::vector<Json>& gang,
                                  const std::vector<kube::SharedObject>& nodes,
                                  std::vector<PodUsage> pods);

  // Places a gang none of whose pods exists yet: on success each pod in `gang` gets
  // spec.nodeName and counts as using its GPUs until the informer shows it (or the assumption
  // expires). The caller creates them all or none, and hands `BindResult::assumed` to Forget
  // when it could not. Not placed, with the reason, when the gang does not fit now or when one
  // of its pods is still assumed from a create the informer has not shown yet.
  BindResult PlaceNew(const std::string& job, const TopologySpec& topology, std::vector<Json>& gang,
                      const std::vector<kube::SharedObject>& nodes, std::vector<PodUsage> pods);
  // Drops the assumptions of pods that were not created after all.
  void Forget(const std::vector<std::string>& keys);
  // The uid a pod placed by PlaceNew was created with ("ns/name" -> uid).
  void Created(const std::vector<std::pair<std::string, std::string>>& pods);
  // The informer saw the pod deleted: an assumption about it (the same uid) is over. Without
  // this, a pod created bound, shown and deleted between two placements would be counted again
  // from its assumption until that expired.
  void Deleted(const std::string& key, const std::string& uid);

  std::string placer_name() const { return placer_->Name(); }

 private:
  std::unique_ptr<GangPlacer> placer_;
  std::unique_ptr<PodBinder> binder_;
  common::Clock& clock_;
  std::mutex mu_;
  struct Assumed {
    std::string node;
    std::string uid;
    common::TimePoint at;
    int64_t gpus = 0;
    // Placed before it was created: the informer has not shown it yet, and until it does
    // (or the assumption expires) the pod is counted from here.
    bool unseen = false;
  };
  // Adds the assumed bindings to `pods` (the informer's view) and drops those it no longer needs.
  void ApplyAssumed(std::vector<PodUsage>& pods, common::TimePoint now);
  std::map<std::string, Assumed> assumed_;  // "ns/pod" -> where it was just bound or created
};

}  // namespace zenith::operator_
