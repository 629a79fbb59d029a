#include "zenith/operator/binder.h"

#include <future>

#include "zenith/common/log.h"
#include "zenith/operator/reconcile.h"

namespace zenith::operator_ {

namespace {

class ApiPodBinder final : public PodBinder {
 public:
  explicit ApiPodBinder(kube::Client& client) : client_(client) {}
  Status Bind(const std::string& ns, const std::string& pod, const std::string& uid,
              const std::string& node) override {
    return client_.Bind(ns, pod, node, uid);
  }
  Status Unbind(const std::string& ns, const std::string& pod, const std::string& uid) override {
    kube::DeleteOptions opts;
    if (!uid.empty()) opts.precondition_uid = uid;
    auto r = client_.Delete(kube::resources::Pods(), ns, pod, opts);
    if (!r.ok() && !kube::IsNotFound(r.status())) return r.status();
    return Status::Ok();
  }

 private:
  kube::Client& client_;
};

// An assumed binding is dropped once the informer shows the pod bound, or after this long.
constexpr auto kAssumeTtl = std::chrono::seconds(30);

}  // namespace

std::unique_ptr<PodBinder> MakeApiPodBinder(kube::Client& client) {
  return std::make_unique<ApiPodBinder>(client);
}

GangBinder::GangBinder(std::unique_ptr<GangPlacer> placer, std::unique_ptr<PodBinder> binder,
                       common::Clock& clock)
    : placer_(std::move(placer)), binder_(std::move(binder)), clock_(clock) {}

void GangBinder::ApplyAssumed(std::vector<PodUsage>& pods, common::TimePoint now) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < pods.size(); ++i) index[pods[i].key] = i;
  for (auto it = assumed_.begin(); it != assumed_.end();) {
    const Assumed& a = it->second;
    auto found = index.find(it->first);
    bool fresh = now - a.at <= kAssumeTtl;
    if (found == index.end()) {
      // Bound pods come from the cache, so a bound pod that is no longer there is gone; a pod
      // created bound a moment ago may simply not have arrived yet.
      if (a.unseen && fresh) {
        pods.push_back({it->first, a.uid, a.node, a.gpus, true});
        ++it;
      } else {
        it = assumed_.erase(it);
      }
      continue;
    }
    // Once the cache shows the pod bound, or under a new uid, it needs no assuming; a pod
    // created bound that the cache shows at all is counted from the cache.
    PodUsage& p = pods[found->second];
    if (a.unseen || !p.node.empty() || p.uid != a.uid || !fresh) {
      it = assumed_.erase(it);
      continue;
    }
    p.node = a.node;
    ++it;
  }
}

BindResult GangBinder::PlaceNew(const std::string& job, const TopologySpec& topology,
                                std::vector<Json>& gang,
                                const std::vector<kube::SharedObject>& nodes,
                                std::vector<PodUsage> pods) {
  std::lock_guard<std::mutex> lock(mu_);
  BindResult result;
  std::vector<std::string> keys;
  for (const auto& p : gang) {
    const Json& md = Child(p, "metadata");
    keys.push_back(md.value("namespace", "") + "/" + md.value("name", ""));
    if (assumed_.count(keys.back())) {
      // Created a moment ago and not in the cache yet: this is a stale look at the gang.
      result.message = "pod " + keys.back() + " was just created; waiting for the cache";
      return result;
    }
  }
  ApplyAssumed(pods, clock_.Now());
  GangRequest request;
  request.job = job;
  request.topology = topology;
  for (const auto& p : gang) request.members.push_back(MemberOf(p));
  auto assignment = placer_->Place(request, BuildNodeCapacity(nodes, pods));
  if (!assignment.ok()) {
    result.message = assignment.status().message();
    return result;
  }
  auto now = clock_.Now();
  for (size_t i = 0; i < gang.size(); ++i) {
    const std::string& node = assignment->at(request.members[i].pod);
    gang[i]["spec"]["nodeName"] = node;
    assumed_[keys[i]] = {node, "", now, request.members[i].gpus, true};
  }
  result.placed = true;
  result.assignment = std::move(*assignment);
  result.assumed = std::move(keys);
  return result;
}

void GangBinder::Forget(const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& k : keys) assumed_.erase(k);
}

void GangBinder::Created(const std::vector<std::pair<std::string, std::string>>& pods) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, uid] : pods) {
    auto it = assumed_.find(key);
    if (it != assumed_.end() && it->second.unseen && it->second.uid.empty()) it->second.uid = uid;
  }
}

void GangBinder::Deleted(const std::string& key, const std::string& uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = assumed_.find(key);
  if (it != assumed_.end() && it->second.uid == uid) assumed_.erase(it);
}

Result<BindResult> GangBinder::PlaceAndBind(const std::string& job, const TopologySpec& topology,
                                            const std::vector<Json>& gang,
                                            const std::vector<kube::SharedObject>& nodes,
                                            std::vector<PodUsage> pods) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Now();
  // The GPUs in use: every known pod, with the bindings the informer has not shown yet.
  ApplyAssumed(pods, now);

  GangRequest request;
  request.job = job;
  request.topology = topology;
  for (const auto& p : gang) request.members.push_back(MemberOf(p));
  auto assignment = placer_->Place(request, BuildNodeCapacity(nodes, pods));
  BindResult result;
  if (!assignment.ok()) {
    result.message = assignment.status().message();
    return result;
  }

  // The gang's bindings go out together (one round trip, not one per pod); placement stays
  // serialised so the next gang is computed with these GPUs already taken.
  std::vector<std::future<Status>> binds;
  for (const auto& p : gang) {
    binds.push_back(std::async(std::launch::async, [this, &p, &assignment]() {
      const Json& md = p["metadata"];
      return binder_->Bind(md.value("namespace", ""), md.value("name", ""), md.value("uid", ""),
                           assignment->at(md.value("name", "")));
    }));
  }
  Status failed;
  std::vector<const Json*> bound;
  for (size_t i = 0; i < gang.size(); ++i) {
    Status s = binds[i].get();
    const Json& md = gang[i]["metadata"];
    if (s.ok()) {
      bound.push_back(&gang[i]);
      assumed_[kube::ObjectKey(gang[i])] = {assignment->at(md.value("name", "")),
                                            md.value("uid", ""), now, UsageOf(gang[i]).gpus};
    } else if (failed.ok()) {
      failed = s.WithContext("binding pod " + kube::ObjectKey(gang[i]) + " of " + job + " to " +
                             assignment->at(md.value("name", "")));
    }
  }
  if (!failed.ok()) {
    // All or nothing: pods already bound for this gang are removed (the controller recreates
    // them), so no GPU stays held by half a gang.
    for (const Json* b : bound) {
      const Json& bm = (*b)["metadata"];
      Status u =
          binder_->Unbind(bm.value("namespace", ""), bm.value("name", ""), bm.value("uid", ""));
      if (!u.ok())
        common::log::Warn("rollback of a partial gang failed",
                          {{"job", job}, {"pod", bm.value("name", "")}, {"error", u}});
      assumed_.erase(kube::ObjectKey(*b));
    }
    return failed;
  }
  result.placed = true;
  result.assignment = std::move(*assignment);
  return result;
}

}  // namespace zenith::operator_
