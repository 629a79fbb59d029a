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

Status Executor::Execute(const Json& job, const std::vector<std::shared_ptr<const Json>>& pods,
                         const Plan& plan, ExecuteResult* result) {
  ExecuteResult scratch;
  ExecuteResult& out = result ? *result : scratch;
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
    out.job_version = Child(current, "metadata").value("resourceVersion", "");
  }

  // The status and the creations at once: each write is its own task, and the first error is
  // returned once all have finished (none is abandoned half-way).
  std::vector<std::future<Status>> writes;
  auto spawn = [&writes](auto fn) { writes.push_back(std::async(std::launch::async, fn)); };
  if (plan.status || plan.delete_job) {
    spawn([&]() -> Status {
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
        out.job_version = Child(*r, "metadata").value("resourceVersion", "");
      }
      if (plan.delete_job) {
        kube::DeleteOptions opts;
        opts.precondition_uid = md.value("uid", "");
        auto r = client_.Delete(ZenithJobs(), ns, name, opts);
        if (!r.ok() && !kube::IsNotFound(r.status())) return Check("delete zenithjob", r.status());
        log::Info("finished job deleted after its TTL", {{"job", ns + "/" + name}});
      }
      return Status::Ok();
    });
  }
  if (plan.create_service) {
    spawn([&]() -> Status {
      auto r = client_.Create(kube::resources::Services(), ns, *plan.create_service);
      if (!r.ok() && !kube::IsAlreadyExists(r.status())) return Check("create service", r.status());
      return Status::Ok();
    });
  }
  // The uid of each pod this call created, for the rollback of a gang created bound.
  std::vector<std::string> created(plan.create_pods.size());
  const size_t first_create = writes.size();
  for (size_t i = 0; i < plan.create_pods.size(); ++i) {
    spawn([this, &ns, &plan, &created, i]() -> Status {
      auto r = client_.Create(kube::resources::Pods(), ns, plan.create_pods[i]);
      if (r.ok()) {
        created[i] = Child(*r, "metadata").value("uid", "");
        return Status::Ok();
      }
      // A gang created bound must be created whole by this call: a pod of that name that
      // already exists was not placed with it.
      if (kube::IsAlreadyExists(r.status()) && !plan.create_pods_bound) return Status::Ok();
      return Check("create pod", r.status());
    });
  }
  Status first;
  bool create_failed = false;
  for (size_t i = 0; i < writes.size(); ++i) {
    Status s = writes[i].get();
    if (!s.ok() && i >= first_create) create_failed = true;
    if (first.ok() && !s.ok()) first = s;
  }
  if (create_failed && plan.create_pods_bound) {
    // All or nothing: the pods of the gang that were created bound go again, so none holds
    // GPUs while the rest is missing; the next reconcile creates the gang anew.
    for (size_t i = 0; i < created.size(); ++i) {
      if (created[i].empty()) continue;
      kube::DeleteOptions opts;
      opts.precondition_uid = created[i];
      const std::string pod_name = Child(plan.create_pods[i], "metadata").value("name", "");
      auto r = client_.Delete(kube::resources::Pods(), ns, pod_name, opts);
      if (r.ok() || kube::IsNotFound(r.status())) {
        created[i].clear();  // gone again
      } else {
        log::Warn("rollback of a gang created in part failed",
                  {{"pod", ns + "/" + pod_name}, {"error", r.status()}});
      }
    }
  }
  for (size_t i = 0; i < created.size(); ++i)
    out.created.emplace_back(ns + "/" + Child(plan.create_pods[i], "metadata").value("name", ""),
                             created[i]);
  ZENITH_RETURN_IF_ERROR(first);

  // Deletions only once the status is stored: a gang restart counts its retry in the status,
  // and pods removed before that count was kept would look lost to the next reconcile, which
  // would count the restart a second time.
  writes.clear();
  if (plan.delete_service) {
    spawn([&]() -> Status {
      auto r = client_.Delete(kube::resources::Services(), ns, name);
      if (!r.ok() && !kube::IsNotFound(r.status())) return Check("delete service", r.status());
      return Status::Ok();
    });
  }
  std::vector<std::pair<std::string, bool>> deletions;
  for (const auto& n : plan.delete_pods) deletions.emplace_back(n, false);
  for (const auto& n : plan.force_delete_pods) deletions.emplace_back(n, true);
  for (const auto& [pod_name, force] : deletions) {
    kube::DeleteOptions opts;
    if (force) opts.grace_period_seconds = 0;
    for (const auto& p : pods) {
      const Json& pm = Child(*p, "metadata");
      if (pm.value("name", "") == pod_name) opts.precondition_uid = pm.value("uid", "");
    }
    if (opts.precondition_uid && opts.precondition_uid->empty()) opts.precondition_uid.reset();
    spawn([this, &ns, pod_name = pod_name, opts]() -> Status {
      auto r = client_.Delete(kube::resources::Pods(), ns, pod_name, opts);
      // NotFound: already gone; Conflict: the name now belongs to a newer pod, which stays.
      if (!r.ok() && !kube::IsNotFound(r.status()) && kube::ApiHttpCode(r.status()) != 409)
        return Check("delete pod", r.status());
      return Status::Ok();
    });
  }
  for (auto& f : writes) {
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
