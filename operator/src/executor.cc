#include "zenith/operator/executor.h"

#include <future>

#include "zenith/common/log.h"

namespace zenith::operator_ {

namespace log = common::log;

Executor::Executor(kube::Client& client, std::string component, std::string instance,
                   common::Clock& clock, ExecutorHooks hooks)
    : client_(client),
      component_(std::move(component)),
      instance_(std::move(instance)),
      clock_(clock),
      hooks_(std::move(hooks)) {
  sender_ = std::thread([this] { SendEvents(); });
}

Status Executor::Check(const std::string& verb, const Status& s) {
  if (!s.ok() && hooks_.on_api_error) hooks_.on_api_error(verb, s);
  return s;
}

Status Executor::Execute(const Json& job, const std::vector<Json>& pods, const Plan& plan) {
  const Json& md = Child(job, "metadata");
  const std::string ns = md.value("namespace", "");
  const std::string name = md.value("name", "");

  Json current = job;
  if (plan.update_job) {
    auto r = client_.Update(ZenithJobs(), ns, *plan.update_job);
    ZENITH_RETURN_IF_ERROR(Check("update zenithjob", r.status()));
    // A removed finalizer lets the API server forget the job: nothing is left to do.
    if (Child(*plan.update_job, "metadata").value("finalizers", Json::array()).empty())
      return Status::Ok();
    current = std::move(*r);  // its resourceVersion makes the status write below valid
  }
  if (plan.status) {
    Json obj = current;
    const Json old_status = current.value("status", Json::object());
    obj["status"] = *plan.status;
    // status.scheduling belongs to the gang scheduler (a merge patch of its own): keep it.
    if (old_status.contains("scheduling") && !obj["status"].contains("scheduling")) {
      obj["status"]["scheduling"] = old_status["scheduling"];
    }
    auto r = client_.UpdateStatus(ZenithJobs(), ns, obj);
    ZENITH_RETURN_IF_ERROR(Check("update zenithjob status", r.status()));
  }
  if (plan.delete_job) {
    kube::DeleteOptions opts;
    opts.precondition_uid = md.value("uid", "");
    auto r = client_.Delete(ZenithJobs(), ns, name, opts);
    if (!r.ok() && !kube::IsNotFound(r.status())) return Check("delete zenithjob", r.status());
    log::Info("finished job deleted after its TTL", {{"job", ns + "/" + name}});
  }
  if (plan.delete_service) {
    auto r = client_.Delete(kube::resources::Services(), ns, name);
    if (!r.ok() && !kube::IsNotFound(r.status())) return Check("delete service", r.status());
  }
  std::vector<std::pair<std::string, bool>> deletions;
  for (const auto& n : plan.delete_pods) deletions.emplace_back(n, false);
  for (const auto& n : plan.force_delete_pods) deletions.emplace_back(n, true);
  for (const auto& [pod_name, force] : deletions) {
    kube::DeleteOptions opts;
    if (force) opts.grace_period_seconds = 0;
    for (const auto& p : pods) {
      const Json& pm = Child(p, "metadata");
      if (pm.value("name", "") == pod_name) opts.precondition_uid = pm.value("uid", "");
    }
    if (opts.precondition_uid && opts.precondition_uid->empty()) opts.precondition_uid.reset();
    auto r = client_.Delete(kube::resources::Pods(), ns, pod_name, opts);
    // NotFound: already gone; Conflict: the name now belongs to a newer pod, which stays.
    if (!r.ok() && !kube::IsNotFound(r.status()) && kube::ApiHttpCode(r.status()) != 409)
      return Check("delete pod", r.status());
  }
  if (plan.create_service) {
    auto r = client_.Create(kube::resources::Services(), ns, *plan.create_service);
    if (!r.ok() && !kube::IsAlreadyExists(r.status())) return Check("create service", r.status());
  }
  // The gang's pods are created together: one round trip, not one per rank.
  std::vector<std::future<Status>> creates;
  for (const auto& pod : plan.create_pods) {
    creates.push_back(std::async(std::launch::async, [this, &ns, &pod]() -> Status {
      auto r = client_.Create(kube::resources::Pods(), ns, pod);
      if (!r.ok() && !kube::IsAlreadyExists(r.status())) return Check("create pod", r.status());
      return Status::Ok();
    }));
  }
  Status first;
  for (auto& f : creates) {
    Status s = f.get();
    if (first.ok() && !s.ok()) first = s;
  }
  ZENITH_RETURN_IF_ERROR(first);
  // The status that names each transition is stored; its Event is sent in the background, off
  // the reconcile's path (a lost Event is only a lost note).
  for (const auto& e : plan.events) {
    std::lock_guard<std::mutex> l(mu_);
    events_.emplace_back(current, e);
    cv_.notify_one();
  }
  return Status::Ok();
}

void Executor::SendEvents() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stopping_ || !events_.empty(); });
    if (events_.empty()) return;  // stopping, and everything sent
    auto [job, e] = std::move(events_.front());
    events_.pop_front();
    l.unlock();
    Status s = RecordEvent(job, e);
    if (!s.ok())
      log::Warn("could not record event",
                {{"job", kube::ObjectKey(job)}, {"reason", e.reason}, {"error", s}});
    l.lock();
  }
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

Status Executor::RecordEvent(const Json& job, const EventSpec& event) {
  const Json& md = Child(job, "metadata");
  std::string now = FormatTime(clock_.WallNow());
  Json ev = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"generateName", md.value("name", "") + "."}, {"namespace", md.value("namespace", "")}}},
      {"involvedObject",
       {{"apiVersion", std::string(kGroup) + "/" + kVersion},
        {"kind", kKind},
        {"name", md.value("name", "")},
        {"namespace", md.value("namespace", "")},
        {"uid", md.value("uid", "")},
        {"resourceVersion", md.value("resourceVersion", "")}}},
      {"reason", event.reason},
      {"message", event.message},
      {"type", event.type},
      {"source", {{"component", component_}}},
      {"reportingComponent", component_},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  auto r = client_.Create(kube::resources::Events(), md.value("namespace", ""), ev);
  return Check("create event", r.status());
}

}  // namespace zenith::operator_
