#include "zenith/operator/controller.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <unistd.h>

#include <map>

#include "zenith/common/log.h"

namespace zenith::operator_ {

namespace log = common::log;

// Counted at scrape time from the caches, so the numbers are never stale or double-counted.
class PhaseCollector final : public prometheus::Collectable {
 public:
  PhaseCollector(const kube::Informer* jobs, const kube::WorkQueue* queue)
      : jobs_(jobs), queue_(queue) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::map<std::string, double> counts;
    for (int p = static_cast<int>(Phase::kPending); p <= static_cast<int>(Phase::kTimeout); ++p)
      counts[PhaseName(static_cast<Phase>(p))] = 0;
    if (jobs_) {
      for (const auto& j : jobs_->List()) {
        std::string phase = Child(j, "status").value("phase", "");
        counts[phase.empty() ? "Pending" : phase] += 1;
      }
    }
    prometheus::MetricFamily jobs{
        "zenith_operator_jobs", "ZenithJobs by phase", prometheus::MetricType::Gauge, {}};
    for (const auto& [phase, n] : counts) {
      prometheus::ClientMetric m;
      m.label.push_back({"phase", phase});
      m.gauge.value = n;
      jobs.metric.push_back(m);
    }
    prometheus::MetricFamily depth{"zenith_operator_workqueue_depth",
                                   "Job keys waiting in the work queue (ready now, and delayed)",
                                   prometheus::MetricType::Gauge,
                                   {}};
    for (const auto& [state, n] :
         {std::pair<std::string, double>{"ready", queue_->Len()}, {"delayed", queue_->Waiting()}}) {
      prometheus::ClientMetric m;
      m.label.push_back({"state", state});
      m.gauge.value = n;
      depth.metric.push_back(m);
    }
    return {jobs, depth};
  }

 private:
  const kube::Informer* jobs_;
  const kube::WorkQueue* queue_;
};

struct Controller::Metrics {
  explicit Metrics(common::MetricsRegistry& r)
      : registry(r),
        latency(r.Histogram("zenith_operator_reconcile_duration_seconds",
                            "Time of one reconcile, from the cache read to the last write",
                            common::LatencyBuckets())),
        ok(r.Counter("zenith_operator_reconciles_total", "Reconciles by result",
                     {{"result", "ok"}})),
        failed(r.Counter("zenith_operator_reconciles_total", "Reconciles by result",
                         {{"result", "error"}})),
        binds(r.Counter("zenith_operator_gangs_bound_total", "Gangs placed and bound")),
        unplaceable(r.Counter("zenith_operator_gangs_unplaceable_total",
                              "Placement attempts that found no room for the whole gang")) {
    // Listed at zero from the start, so a dashboard sees the series before the first error.
    for (const char* verb : {"update zenithjob status", "create pod", "delete pod", "bind pod"})
      r.Counter("zenith_operator_api_errors_total", "Failed API calls by verb", {{"verb", verb}});
  }
  void ApiError(const std::string& verb) {
    registry
        .Counter("zenith_operator_api_errors_total", "Failed API calls by verb", {{"verb", verb}})
        .Increment();
  }
  common::MetricsRegistry& registry;
  prometheus::Histogram& latency;
  prometheus::Counter& ok;
  prometheus::Counter& failed;
  prometheus::Counter& binds;
  prometheus::Counter& unplaceable;
  std::shared_ptr<PhaseCollector> phases;
};

namespace {

std::string DefaultIdentity() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

// How long a reconcile waits for the cache to show the operator's own last write of a job.
constexpr auto kWriteVisibleWithin = std::chrono::seconds(5);

kube::WorkQueueOptions QueueOptions() {
  kube::WorkQueueOptions o;
  o.base_delay = std::chrono::milliseconds(20);
  o.max_delay = std::chrono::seconds(30);
  o.qps = 50;
  o.burst = 200;
  return o;
}

}  // namespace

Controller::Controller(kube::Client& client, Options options, std::unique_ptr<GangBinder> binder,
                       common::MetricsRegistry& metrics, common::Clock& clock)
    : client_(client),
      options_(std::move(options)),
      binder_(std::move(binder)),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      executor_(client, "zenith-operator",
                options_.identity.empty() ? DefaultIdentity() : options_.identity, clock,
                ExecutorHooks{
                    [this](const std::string& verb, const Status&) { metrics_->ApiError(verb); }}),
      queue_(clock, QueueOptions()) {
  config_.build.scheduler_name = options_.scheduler_name;
  config_.build.runtime_image = options_.runtime_image;
  config_.build.master_port = options_.master_port;
}

Controller::~Controller() { Stop(); }

Status Controller::Start(std::chrono::milliseconds sync_timeout) {
  kube::ResumableWatchOptions scoped;
  scoped.namespace_ = options_.watch_namespace;
  kube::ResumableWatchOptions children = scoped;
  children.label_selector = kJobLabel;  // only what the operator made
  jobs_ = std::make_unique<kube::Informer>(client_, ZenithJobs(), scoped);
  pods_ = std::make_unique<kube::Informer>(client_, kube::resources::Pods(), children);
  services_ = std::make_unique<kube::Informer>(client_, kube::resources::Services(), children);
  nodes_ = std::make_unique<kube::Informer>(client_, kube::resources::Nodes(),
                                            kube::ResumableWatchOptions{});

  jobs_->AddHandlers({[this](const Json& j) {
                        IndexJob(j, false);
                        EnqueueOwner(j);
                      },
                      [this](const Json&, const Json& j) {
                        IndexJob(j, false);
                        EnqueueOwner(j);
                      },
                      [this](const Json& j) {
                        IndexJob(j, true);
                        EnqueueOwner(j);
                      }});
  auto pod_changed = [this](const Json& old_pod, const Json& pod) {
    IndexPod(pod, false);
    const Json& labels = Child(Child(pod, "metadata"), "labels");
    EnqueueJob(Child(pod, "metadata").value("namespace", ""), labels.value(kJobLabel, ""));
    std::string before = PodPhase(old_pod), after = PodPhase(pod);
    bool freed = (after == "Succeeded" || after == "Failed") && before != after;
    if (freed) EnqueueWaiting();
  };
  pods_->AddHandlers({[pod_changed](const Json& p) { pod_changed(Json::object(), p); }, pod_changed,
                      [this](const Json& p) {
                        IndexPod(p, true);
                        const Json& labels = Child(Child(p, "metadata"), "labels");
                        EnqueueJob(Child(p, "metadata").value("namespace", ""),
                                   labels.value(kJobLabel, ""));
                        EnqueueWaiting();
                      }});
  services_->AddHandlers(
      {[this](const Json& s) {
         EnqueueJob(s["metadata"].value("namespace", ""), s["metadata"].value("name", ""));
       },
       nullptr,
       [this](const Json& s) {
         EnqueueJob(s["metadata"].value("namespace", ""), s["metadata"].value("name", ""));
       }});
  // A new node may fit a waiting gang; a lost one may break a running gang.
  nodes_->AddHandlers({[this](const Json&) { EnqueueWaiting(); },
                       [this](const Json& old_node, const Json& node) {
                         if (Child(old_node, "status").value("allocatable", Json()) !=
                                 Child(node, "status").value("allocatable", Json()) ||
                             Child(old_node, "spec") != Child(node, "spec"))
                           EnqueueWaiting();
                       },
                       [this](const Json&) { EnqueueAll(); }});

  // The controller never reads managedFields: not keeping them halves what each cache copy,
  // handler and reconcile touches.
  for (auto* inf : {nodes_.get(), pods_.get(), services_.get(), jobs_.get()}) {
    inf->SetFields(kube::AllButManagedFields());
    inf->Start();
  }
  for (auto* inf : {nodes_.get(), pods_.get(), services_.get(), jobs_.get()}) {
    if (!inf->WaitForSync(sync_timeout))
      return DeadlineExceededError("informer caches did not sync within " +
                                   std::to_string(sync_timeout.count()) + " ms");
  }
  metrics_->phases = std::make_shared<PhaseCollector>(jobs_.get(), &queue_);
  metrics_->registry.AddCollectable(metrics_->phases);
  EnqueueAll();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Worker(); });
  ready_ = true;
  log::Info("controller started", {{"workers", options_.workers},
                                   {"jobs", static_cast<int64_t>(jobs_->Size())},
                                   {"binder", binder_ ? binder_->placer_name() : "none"}});
  return Status::Ok();
}

void Controller::Stop() {
  if (stopped_.exchange(true)) return;
  ready_ = false;
  queue_.ShutDown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (auto* inf : {jobs_.get(), pods_.get(), services_.get(), nodes_.get()})
    if (inf) inf->Stop();
}

void Controller::EnqueueJob(const std::string& ns, const std::string& name) {
  if (!name.empty()) queue_.Add(ns + "/" + name);
}

void Controller::EnqueueOwner(const Json& job) {
  const Json& md = Child(job, "metadata");
  EnqueueJob(md.value("namespace", ""), md.value("name", ""));
}

void Controller::EnqueueWaiting() {
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> l(index_mu_);
    keys.assign(waiting_.begin(), waiting_.end());
  }
  for (const auto& k : keys) queue_.Add(k);
}

void Controller::IndexJob(const Json& job, bool deleted) {
  std::string key = kube::ObjectKey(job);
  bool queued = !deleted && Child(job, "status").value("phase", "") == "Queued";
  std::lock_guard<std::mutex> l(index_mu_);
  auto w = unseen_.find(key);
  if (w != unseen_.end()) {
    if (deleted) {
      unseen_.erase(w);
    } else if (w->second.job_version == Child(job, "metadata").value("resourceVersion", "")) {
      w->second.job_version.clear();
      if (w->second.Seen()) unseen_.erase(w);
    }
  }
  if (queued) {
    waiting_.insert(key);
  } else {
    waiting_.erase(key);
  }
}

void Controller::IndexPod(const Json& pod, bool deleted) {
  const Json& md = Child(pod, "metadata");
  std::string key = kube::ObjectKey(pod);
  std::string job = md.value("namespace", "") + "/" + Child(md, "labels").value(kJobLabel, "");
  if (deleted && binder_) binder_->Deleted(key, md.value("uid", ""));
  std::lock_guard<std::mutex> l(index_mu_);
  if (auto w = unseen_.find(job); w != unseen_.end()) {
    if (!deleted) w->second.created.erase(key);
    if (deleted || PodTerminating(pod)) w->second.deleted.erase(key);
    if (w->second.Seen()) unseen_.erase(w);
  }
  if (deleted) {
    usage_.erase(key);
    auto it = pods_by_job_.find(job);
    if (it != pods_by_job_.end()) {
      it->second.erase(key);
      if (it->second.empty()) pods_by_job_.erase(it);
    }
    return;
  }
  usage_[key] = UsageOf(pod);
  pods_by_job_[job].insert(key);
}

void Controller::EnqueueAll() {
  if (!jobs_) return;
  for (const auto& key : jobs_->Keys()) queue_.Add(key);
}

void Controller::Worker() {
  while (auto key = queue_.Get()) {
    auto t0 = clock_.Now();
    Status s = Sync(*key);
    metrics_->latency.Observe(std::chrono::duration<double>(clock_.Now() - t0).count());
    if (s.ok()) {
      metrics_->ok.Increment();
      queue_.Forget(*key);
    } else {
      metrics_->failed.Increment();
      // A conflict is a stale cache, expected and retried at once; others are worth a line.
      if (kube::IsConflict(s)) {
        log::Debug("reconcile conflict; retrying", {{"job", *key}, {"error", s}});
      } else {
        log::Warn("reconcile failed; retrying", {{"job", *key}, {"error", s}});
      }
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

Status Controller::Sync(const std::string& key) {
  auto cached = jobs_->GetShared(key);
  if (!cached) return Status::Ok();  // gone; the finalizer made sure its children went first
  {
    // The caches do not show this operator's last writes for the job yet: a reconcile now
    // would plan from the old status (and meet 409 Conflict) or create the pods again. The
    // writes' watch events queue the job again; the wait is bounded in case one is never seen
    // (a relist).
    std::lock_guard<std::mutex> l(index_mu_);
    auto w = unseen_.find(key);
    if (w != unseen_.end()) {
      auto age = clock_.Now() - w->second.at;
      bool behind =
          !w->second.job_version.empty() &&
          Child(*cached, "metadata").value("resourceVersion", "") != w->second.job_version;
      bool pending = behind || !w->second.created.empty() || !w->second.deleted.empty();
      if (pending && age < kWriteVisibleWithin) {
        queue_.AddAfter(key, kWriteVisibleWithin - age);
        return Status::Ok();
      }
      unseen_.erase(w);
    }
  }
  ReconcileInput in;
  in.job = *cached;
  std::vector<std::string> pod_keys;
  {
    std::lock_guard<std::mutex> l(index_mu_);
    auto it = pods_by_job_.find(key);
    if (it != pods_by_job_.end()) pod_keys.assign(it->second.begin(), it->second.end());
  }
  for (const auto& k : pod_keys)
    if (auto p = pods_->GetShared(k)) in.pods.push_back(std::move(p));
  in.service = services_->Get(key);
  for (const auto& n : nodes_->Keys()) in.nodes.insert(n);
  in.nodes_known = nodes_->HasSynced();
  in.now = clock_.WallNow();

  ZENITH_ASSIGN_OR_RETURN(Plan plan, Reconcile(in, config_));
  // A gang created whole is placed first and created bound: no bind calls, and no wait for
  // the informer to show the pods before they can be bound.
  std::optional<ZenithJob> job;
  auto usage = [this] {
    std::vector<PodUsage> out;
    std::lock_guard<std::mutex> l(index_mu_);
    out.reserve(usage_.size());
    for (const auto& [k, u] : usage_) out.push_back(u);
    return out;
  };
  std::vector<std::string> assumed;
  if (binder_ && !plan.create_pods.empty()) {
    if (auto parsed = ParseZenithJob(in.job); parsed.ok()) job = std::move(*parsed);
    bool whole = job && static_cast<int>(plan.create_pods.size()) == job->spec.replicas;
    for (const auto& p : plan.create_pods)
      whole = whole && Child(p, "spec").value("schedulerName", "") == options_.scheduler_name &&
              Child(p, "spec").value("nodeName", "").empty();
    if (whole) {
      BindResult r = binder_->PlaceNew(key, job->spec.topology, plan.create_pods,
                                       nodes_->ListShared(), usage());
      if (r.placed) {
        plan.create_pods_bound = true;
        assumed = std::move(r.assumed);
      } else {
        log::Debug("gang created unbound", {{"job", key}, {"reason", r.message}});
      }
    }
  }
  ExecuteResult written;
  Status executed = executor_.Execute(in.job, in.pods, plan, &written);
  if (!assumed.empty()) {
    // Pods that exist stay assumed (with their uid) until the informer shows them, even when
    // another write of this step failed; the others are forgotten at once.
    std::vector<std::pair<std::string, std::string>> made;
    std::set<std::string> exist;
    for (const auto& [pod, uid] : written.created) {
      if (uid.empty()) continue;
      made.emplace_back(pod, uid);
      exist.insert(pod);
    }
    std::vector<std::string> gone;
    for (const auto& k : assumed)
      if (!exist.count(k)) gone.push_back(k);
    binder_->Created(made);
    binder_->Forget(gone);
  }
  {
    Unseen u{written.job_version, {}, {}, clock_.Now()};
    // Checked under the lock the pod handlers take, so no event slips between the check and
    // the record: what the caches already show (the watch can beat a reply) is not waited for.
    std::lock_guard<std::mutex> l(index_mu_);
    if (executed.ok()) {
      for (const auto& [pod, uid] : written.created)
        if (!uid.empty() && !usage_.count(pod)) u.created.insert(pod);
      const std::string ns = key.substr(0, key.find('/') + 1);
      for (const auto* names : {&plan.delete_pods, &plan.force_delete_pods}) {
        for (const auto& name : *names) {
          auto now = pods_->GetShared(ns + name);
          if (now && !PodTerminating(*now)) u.deleted.insert(ns + name);
        }
      }
    }
    if (!u.Seen()) unseen_[key] = std::move(u);
  }
  if (!executed.ok()) return executed;
  for (const auto& e : plan.events)
    log::Info("job transition", {{"job", key}, {"reason", e.reason}, {"message", e.message}});
  if (plan.create_pods_bound) {
    metrics_->binds.Increment();
    log::Info("gang created bound", {{"job", key}, {"pods", static_cast<int64_t>(assumed.size())}});
  }

  if (!plan.place.empty() && binder_) {
    std::vector<Json> gang;
    for (const auto& p : in.pods) {
      const Json& md = Child(*p, "metadata");
      if (std::find(plan.place.begin(), plan.place.end(), md.value("name", "")) == plan.place.end())
        continue;
      // Pods for another scheduler are that scheduler's to bind.
      if (Child(*p, "spec").value("schedulerName", "") == options_.scheduler_name)
        gang.push_back(*p);
    }
    if (!gang.empty()) {
      if (!job) {
        if (auto parsed = ParseZenithJob(in.job); parsed.ok()) job = std::move(*parsed);
      }
      TopologySpec topology = job ? job->spec.topology : TopologySpec{};
      auto r = binder_->PlaceAndBind(key, topology, gang, nodes_->ListShared(), usage());
      if (!r.ok()) {
        metrics_->ApiError("bind pod");
        return r.status();
      }
      if (r->placed) {
        metrics_->binds.Increment();
        log::Info("gang bound", {{"job", key}, {"pods", static_cast<int64_t>(gang.size())}});
      } else {
        metrics_->unplaceable.Increment();
        log::Debug("gang waits for room", {{"job", key}, {"reason", r->message}});
        // Freed GPUs re-queue waiting jobs; this look is the fallback.
        queue_.AddAfter(key, std::chrono::seconds(5));
      }
    }
  }
  if (plan.requeue_after) queue_.AddAfter(key, *plan.requeue_after);
  return Status::Ok();
}

}  // namespace zenith::operator_
