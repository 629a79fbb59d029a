// Binds a gang's pods where a GangPlacer says, through pods/binding. Placements are serialised
// (one gang at a time) and the nodes' use counts pods bound a moment ago that the informer has
// not delivered yet ("assumed", as kube-scheduler does), so two gangs never count on the same
// GPUs. A gang whose bindings fail part-way has its bound pods deleted: nothing is left holding
// GPUs, and the controller recreates them.
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
};

class GangBinder {
 public:
  GangBinder(std::unique_ptr<GangPlacer> placer, std::unique_ptr<PodBinder> binder,
             common::Clock& clock);

  // Places and binds `gang` (pods of one job, all unbound) on `nodes`, given what every pod
  // the informer knows uses (`pods`). Error only when a bind call failed.
  Result<BindResult> PlaceAndBind(const std::string& job, const TopologySpec& topology,
                                  const std::vector<Json>& gang, const std::vector<Json>& nodes,
                                  std::vector<PodUsage> pods);

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
  };
  std::map<std::string, Assumed> assumed_;  // "ns/pod" -> where it was just bound
};

}  // namespace zenith::operator_
