#include "zenith/operator/gang/gang_scheduler.h"

#include <algorithm>
#include <set>
#include <vector>

#include "zenith/common/log.h"
#include "zenith/kube/api_error.h"
#include "zenith/operator/gang/cache_transform.h"
#include "zenith/operator/job_status.h"
#include "zenith/operator/scheduler/snapshot.h"
#include "zenith/operator/scheduler/snapshot_builder.h"

namespace zenith::operator_::gang {

namespace log = common::log;
namespace sched = scheduler;

namespace {

kube::GroupVersionResource ZenithNodes() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithnodes", false, "ZenithNode");
}
kube::GroupVersionResource ZenithQueues() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithqueues", false, "ZenithQueue");
}
kube::GroupVersionResource ZenithJobs() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs", true, "ZenithJob");
}

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

const Json& At(const Json& obj, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* cur = &obj;
  for (const char* p : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(p);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string StrAt(const Json& obj, std::initializer_list<const char*> path) {
  const Json& v = At(obj, path);
  return v.is_string() ? v.get<std::string>() : "";
}

// The API server copies a Binding's annotations
// onto the pod in the same write that sets spec.nodeName, so no reader ever sees the pod bound
// without its GPU indices, nor annotated but unbound.
Json BindingFor(const GangPod& pod, const sched::PodPlacement& where) {
  Json md = {{"name", pod.name},
             {"namespace", pod.ns},
             {"annotations", {{sched::kGpuIndicesAnnotation, FormatGpuIndices(where.gpus)}}}};
  if (!pod.uid.empty()) md["uid"] = pod.uid;
  return {{"apiVersion", "v1"},
          {"kind", "Binding"},
          {"metadata", md},
          {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", where.node}}}};
}

// What an Event and a status patch need of a job: the cache's object is not kept past the cycle.
Json Slim(const Json& job) {
  Json md = job.value("metadata", Json::object());
  Json out = {{"apiVersion", job.value("apiVersion", "zenith.ai/v1alpha1")},
              {"kind", job.value("kind", "ZenithJob")},
              {"metadata",
               {{"name", md.value("name", "")},
                {"namespace", md.value("namespace", "")},
                {"uid", md.value("uid", "")},
                {"resourceVersion", md.value("resourceVersion", "")}}}};
  const Json& sched = At(job, {"status", "scheduling"});
  if (sched.is_object()) out["status"]["scheduling"] = sched;
  return out;
}

}  // namespace

struct GangScheduler::Metrics {
  explicit Metrics(common::MetricsRegistry& r)
      : registry(r),
        cycle(r.Histogram("zenith_scheduler_cycle_duration_seconds",
                          "Time of one scheduling cycle: snapshot, placement and bindings",
                          common::LatencyBuckets())),
        place(r.Histogram("zenith_scheduler_placement_duration_seconds",
                          "Time of the placement decision alone (RunCycle)",
                          common::LatencyBuckets())),
        cycles(r.Counter("zenith_scheduler_cycles_total", "Scheduling cycles run")),
        pods_bound(r.Counter("zenith_scheduler_pods_bound_total",
                             "Pods bound through pods/binding (rate: pods per second)")),
        gangs_bound(r.Counter("zenith_scheduler_gangs_bound_total", "Gangs bound whole")),
        bind_failures(r.Counter("zenith_scheduler_gang_bind_failures_total",
                                "Gangs whose binding failed part-way and were rolled back")),
        evictions(r.Counter("zenith_scheduler_preempted_gangs_total",
                            "Gangs evicted to make room for higher-priority jobs")),
        gpus_allocated(r.Gauge("zenith_scheduler_gpus_allocated",
                               "GPUs held by bound or assumed pods on schedulable nodes")),
        gpus_free(r.Gauge("zenith_scheduler_gpus_free", "Free GPUs after the last cycle")),
        gpus_fragmented(r.Gauge("zenith_scheduler_gpus_free_fragmented",
                                "Free GPUs on nodes that are partly used")),
        fragmentation(r.Gauge("zenith_scheduler_fragmentation_ratio",
                              "gpus_free_fragmented / gpus_free (0 when nothing is free)")) {}

  prometheus::Gauge& Pending(const std::string& reason) {
    return registry.Gauge("zenith_scheduler_pending_jobs",
                          "Jobs waiting for placement, by why they wait", {{"reason", reason}});
  }

  common::MetricsRegistry& registry;
  prometheus::Histogram& cycle;
  prometheus::Histogram& place;
  prometheus::Counter& cycles;
  prometheus::Counter& pods_bound;
  prometheus::Counter& gangs_bound;
  prometheus::Counter& bind_failures;
  prometheus::Counter& evictions;
  prometheus::Gauge& gpus_allocated;
  prometheus::Gauge& gpus_free;
  prometheus::Gauge& gpus_fragmented;
  prometheus::Gauge& fragmentation;
};

GangScheduler::GangScheduler(kube::Client& client, kube::Client& notes,
                             GangSchedulerOptions options, common::MetricsRegistry& metrics,
                             common::Clock& clock)
    : client_(client),
      notes_(notes),
      options_(std::move(options)),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      events_(notes, options_.component, clock) {
  // Every reason is exported from the start, so a dashboard sees zeros rather than gaps.
  for (auto r : {sched::WaitReason::kInvalidRequest, sched::WaitReason::kNoEligibleNodes,
                 sched::WaitReason::kInsufficientGpus, sched::WaitReason::kNoConnectedSet,
                 sched::WaitReason::kInsufficientCpuMemory, sched::WaitReason::kNoSharedDomain,
                 sched::WaitReason::kQuotaExceeded, sched::WaitReason::kBlockedByStarvedJob,
                 sched::WaitReason::kPreempting}) {
    metrics_->Pending(std::string(sched::WaitReasonName(r))).Set(0);
  }
  kube::ResumableWatchOptions node_opts;
  node_opts.label_selector = options_.node_selector;
  kube::ResumableWatchOptions ns_opts;
  ns_opts.namespace_ = options_.namespace_;
  nodes_ = std::make_unique<kube::Informer>(client_, kube::resources::Nodes(), node_opts);
  pods_ = std::make_unique<kube::Informer>(client_, kube::resources::Pods(), ns_opts);
  zenith_nodes_ = std::make_unique<kube::Informer>(client_, ZenithNodes());
  queues_ = std::make_unique<kube::Informer>(client_, ZenithQueues());
  jobs_ = std::make_unique<kube::Informer>(client_, ZenithJobs(), ns_opts);
  // Each object is decoded only as far as the trims read (the rest is stepped over, never
  // built), then trimmed to what the snapshot keeps.
  nodes_->SetFields(NodeFields());
  nodes_->SetTransform(TrimNode);
  pods_->SetFields(PodFields());
  pods_->SetTransform(TrimPod);
  zenith_nodes_->SetFields(ZenithNodeFields());
  for (auto* inf : {queues_.get(), jobs_.get()}) inf->SetFields(kube::AllButManagedFields());

  kube::InformerHandlers wake{[this](const Json&) { Trigger(); },
                              [this](const Json&, const Json&) { Trigger(); },
                              [this](const Json&) { Trigger(); }};
  for (auto* inf : {nodes_.get(), zenith_nodes_.get(), queues_.get(), jobs_.get()})
    inf->AddHandlers(wake);
  // A pod's own status changes (Running, conditions) do not change what is free; only a new
  // pod, a binding, a finish or a deletion does.
  pods_->AddHandlers(
      {[this](const Json&) { Trigger(); },
       [this](const Json& before, const Json& after) {
         if (StrAt(before, {"spec", "nodeName"}) != StrAt(after, {"spec", "nodeName"}) ||
             StrAt(before, {"status", "phase"}) != StrAt(after, {"status", "phase"}) ||
             At(before, {"metadata", "deletionTimestamp"}) !=
                 At(after, {"metadata", "deletionTimestamp"}))
           Trigger();
       },
       [this](const Json&) { Trigger(); }});
}

GangScheduler::~GangScheduler() { Stop(); }

Status GangScheduler::Start(std::chrono::milliseconds sync_timeout, bool run_loop) {
  for (auto* inf : {nodes_.get(), pods_.get(), zenith_nodes_.get(), queues_.get(), jobs_.get()})
    inf->Start();
  for (auto* inf : {nodes_.get(), pods_.get(), zenith_nodes_.get(), queues_.get(), jobs_.get()}) {
    if (!inf->WaitForSync(sync_timeout))
      return DeadlineExceededError("gang scheduler: informers did not sync within " +
                                   std::to_string(sync_timeout.count()) + " ms");
  }
  for (int i = 0; i < std::max(1, options_.status_writers); ++i)
    writers_.emplace_back([this] { Writer(); });
  if (run_loop) loop_ = std::thread([this] { Loop(); });
  log::Info("gang scheduler started", {{"scheduler", options_.scheduler_name},
                                       {"namespace", options_.namespace_},
                                       {"nodes", nodes_->Size()}});
  return Status::Ok();
}

void GangScheduler::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    dirty_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  writes_cv_.notify_all();
  for (auto& t : writers_)
    if (t.joinable()) t.join();
  for (auto* inf : {nodes_.get(), pods_.get(), zenith_nodes_.get(), queues_.get(), jobs_.get()})
    if (inf) inf->Stop();
}

bool GangScheduler::Ready() const {
  for (auto* inf : {nodes_.get(), pods_.get(), zenith_nodes_.get(), queues_.get(), jobs_.get()})
    if (!inf->HasSynced()) return false;
  return true;
}

void GangScheduler::Post(const std::string& key, std::function<void()> write) {
  {
    std::lock_guard<std::mutex> lock(writes_mu_);
    writes_[key] = std::move(write);
  }
  writes_cv_.notify_one();
}

void GangScheduler::Writer() {
  std::unique_lock<std::mutex> lock(writes_mu_);
  while (true) {
    writes_cv_.wait(lock, [this] { return stopping_.load() || !writes_.empty(); });
    if (stopping_.load()) return;
    auto it = writes_.begin();
    std::function<void()> write = std::move(it->second);
    writes_.erase(it);
    ++writes_in_flight_;
    lock.unlock();
    write();
    lock.lock();
    --writes_in_flight_;
    writes_cv_.notify_all();
  }
}

void GangScheduler::FlushWrites() {
  std::unique_lock<std::mutex> lock(writes_mu_);
  writes_cv_.wait(lock, [this] {
    return stopping_.load() || writers_.empty() || (writes_.empty() && writes_in_flight_ == 0);
  });
}

void GangScheduler::Trigger() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    dirty_ = true;
  }
  loop_cv_.notify_one();
}

void GangScheduler::Loop() {
  common::TimePoint last = clock_.Now() - options_.min_interval;
  while (!stopping_.load()) {
    {
      std::unique_lock<std::mutex> lock(loop_mu_);
      // Real waiting on a condition variable; the decision of when is on the injected clock.
      loop_cv_.wait_for(lock, options_.tick, [this] { return dirty_ || stopping_.load(); });
      if (stopping_.load()) return;
    }
    const auto since = clock_.Now() - last;
    if (since < options_.min_interval) {
      std::unique_lock<std::mutex> lock(loop_mu_);
      loop_cv_.wait_for(lock, options_.min_interval - since, [this] { return stopping_.load(); });
      if (stopping_.load()) return;
    }
    {
      std::lock_guard<std::mutex> lock(loop_mu_);
      dirty_ = false;  // events from here on ask for another cycle
    }
    last = clock_.Now();
    CycleReport r = RunOnce();
    if (r.pods_bound > 0 || r.gangs_failed > 0 || r.gangs_evicted > 0) {
      log::Info("scheduling cycle", {{"gangs_bound", r.gangs_bound},
                                     {"pods_bound", r.pods_bound},
                                     {"gangs_failed", r.gangs_failed},
                                     {"gangs_evicted", r.gangs_evicted},
                                     {"waiting", r.waiting},
                                     {"ms", static_cast<int64_t>(r.duration.count() / 1000000)}});
    }
  }
}

void GangScheduler::ForgetAssumed() {
  const auto now = clock_.Now();
  std::lock_guard<std::mutex> lock(assumed_mu_);
  for (auto it = assumed_.begin(); it != assumed_.end();) {
    auto pod = pods_->GetShared(it->first);
    const bool seen_bound = pod && !StrAt(*pod, {"spec", "nodeName"}).empty();
    if (!pod || seen_bound || now - it->second.at > options_.assume_ttl)
      it = assumed_.erase(it);
    else
      ++it;
  }
  for (auto* held : {&evicting_, &rolled_back_}) {
    for (auto it = held->begin(); it != held->end();) {
      if (now - it->second > options_.assume_ttl)
        it = held->erase(it);
      else
        ++it;
    }
  }
}

CycleReport GangScheduler::RunOnce() {
  std::lock_guard<std::mutex> cycle_lock(cycle_mu_);
  const auto start = clock_.Now();
  CycleReport report;
  ForgetAssumed();

  // The caches' objects as they are now, shared (never copied): the informers keep replacing
  // theirs while the cycle thinks.
  std::map<std::string, AssumedPod> assumed;
  InputFilter filter{options_.scheduler_name, {}};
  {
    std::lock_guard<std::mutex> lock(assumed_mu_);
    for (const auto& [k, a] : assumed_) assumed[k] = a.pod;
    for (const auto* held : {&evicting_, &rolled_back_})
      for (const auto& [job, at] : *held) filter.hold.insert(job);
  }
  CycleInputs in =
      SortCycleInputs(nodes_->ListShared(), zenith_nodes_->ListShared(), pods_->ListShared(),
                      queues_->ListShared(), jobs_->ListShared(), assumed, filter);
  sched::BuiltSnapshot built = sched::BuildSnapshot(in.objects, clock_.WallNow(), &topologies_);
  // An evicted gang with nothing bound any more is done being evicted (its pods may come back).
  // A rolled-back one is held until assume_ttl: the caches may show its binding after this.
  {
    std::lock_guard<std::mutex> lock(assumed_mu_);
    for (auto it = evicting_.begin(); it != evicting_.end();)
      it = in.terminating.count(it->first) ? std::next(it) : evicting_.erase(it);
  }
  // Gangs whose eviction is under way still hold GPUs but must not be chosen again.
  for (sched::RunningJob& r : built.snapshot.running) {
    if (in.terminating[r.key] || evicting_.count(r.key)) r.terminating = true;
  }
  const auto place_start = clock_.Now();
  sched::CycleResult result = sched::RunCycle(built.snapshot, options_.cycle);
  metrics_->place.Observe(std::chrono::duration<double>(clock_.Now() - place_start).count());

  // Bind gangs side by side; each worker takes the next gang.
  std::atomic<size_t> next{0};
  std::atomic<int> pods_bound{0}, gangs_bound{0}, gangs_failed{0};
  std::vector<char> bound(result.placed.size(), 0);
  auto bind = [&](size_t i) {
    const auto& p = result.placed[i];
    auto gp = in.gang_pods.find(p.job);
    if (gp == in.gang_pods.end() || gp->second.size() < p.pods.size()) return;
    int n = BindGang(p, gp->second);
    if (n > 0) {
      pods_bound += n;
      ++gangs_bound;
      bound[i] = 1;
    } else {
      ++gangs_failed;
    }
  };
  auto worker = [&] {
    for (size_t i = next++; i < result.placed.size(); i = next++) bind(i);
  };
  const int threads =
      std::max(1, std::min<int>(options_.bind_parallelism, static_cast<int>(result.placed.size())));
  if (!result.placed.empty()) {
    // The first gang goes alone: on a fresh client its bindings open the first connection by
    // themselves, instead of queueing behind every binder's TLS handshake at once (measured
    // after a restart with 16 binders: 25-45 ms to the first binding, against a few ms alone).
    bind(next++);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }
  for (size_t i = 0; i < result.placed.size(); ++i)
    if (bound[i]) MarkScheduled(result.placed[i], in);
  for (const auto& d : result.preemptions) Evict(d, in);
  for (const auto& w : result.waiting) ExplainWaiting(w, in);
  UpdateQueues(in, built.snapshot, result);

  // Jobs that no longer wait are forgotten, so a later wait is explained afresh.
  std::set<std::string> still;
  for (const auto& w : result.waiting) still.insert(w.job);
  for (auto it = explained_.begin(); it != explained_.end();)
    it = still.count(it->first) ? std::next(it) : explained_.erase(it);

  std::map<std::string, int> by_reason;
  for (const auto& w : result.waiting) ++by_reason[std::string(sched::WaitReasonName(w.reason))];
  for (auto r : {sched::WaitReason::kInvalidRequest, sched::WaitReason::kNoEligibleNodes,
                 sched::WaitReason::kInsufficientGpus, sched::WaitReason::kNoConnectedSet,
                 sched::WaitReason::kInsufficientCpuMemory, sched::WaitReason::kNoSharedDomain,
                 sched::WaitReason::kQuotaExceeded, sched::WaitReason::kBlockedByStarvedJob,
                 sched::WaitReason::kPreempting}) {
    const std::string name(sched::WaitReasonName(r));
    metrics_->Pending(name).Set(by_reason[name]);
  }
  int64_t total = 0;
  for (const auto& n : built.snapshot.nodes)
    if (!n.unschedulable) total += n.allocatable.gpus;
  metrics_->gpus_free.Set(static_cast<double>(result.stats.free_gpus));
  metrics_->gpus_allocated.Set(
      static_cast<double>(std::max<int64_t>(0, total - result.stats.free_gpus)));
  metrics_->gpus_fragmented.Set(static_cast<double>(result.stats.free_gpus_fragmented));
  metrics_->fragmentation.Set(result.stats.free_gpus > 0
                                  ? static_cast<double>(result.stats.free_gpus_fragmented) /
                                        static_cast<double>(result.stats.free_gpus)
                                  : 0.0);
  for (const auto& w : result.warnings) log::Warn("scheduler snapshot", {{"warning", w}});

  report.pods_bound = pods_bound.load();
  report.gangs_bound = gangs_bound.load();
  report.gangs_failed = gangs_failed.load();
  report.gangs_evicted = static_cast<int>(result.preemptions.size());
  report.waiting = static_cast<int>(result.waiting.size());
  report.duration = clock_.Now() - start;
  metrics_->pods_bound.Increment(report.pods_bound);
  metrics_->gangs_bound.Increment(report.gangs_bound);
  metrics_->bind_failures.Increment(report.gangs_failed);
  metrics_->cycles.Increment();
  metrics_->cycle.Observe(std::chrono::duration<double>(report.duration).count());
  ++cycles_;
  return report;
}

Status GangScheduler::DeletePod(const std::string& ns, const std::string& name,
                                const std::string& uid) {
  kube::DeleteOptions opts;
  if (!uid.empty()) opts.precondition_uid = uid;
  opts.grace_period_seconds = options_.delete_grace_seconds;
  auto r = client_.Delete(kube::resources::Pods(), ns, name, opts);
  // NotFound: gone already; Conflict: the name belongs to a newer pod now, which stays.
  if (!r.ok() && !kube::IsNotFound(r.status()) && kube::ApiHttpCode(r.status()) != 409)
    return r.status();
  return Status::Ok();
}

int GangScheduler::BindGang(const sched::JobPlacement& placement,
                            const std::vector<GangPod>& pods) {
  std::vector<size_t> done;
  Status failure = Status::Ok();
  for (size_t i = 0; i < placement.pods.size(); ++i) {
    const GangPod& pod = pods[i];
    auto r = client_.CreateSubresource(kube::resources::Pods(), pod.ns, pod.name, "binding",
                                       BindingFor(pod, placement.pods[i]));
    if (!r.ok()) {
      failure = r.status();
      break;
    }
    done.push_back(i);
    std::lock_guard<std::mutex> lock(assumed_mu_);
    assumed_[pod.ns + "/" + pod.name] = {{placement.pods[i].node, placement.pods[i].gpus},
                                         clock_.Now()};
  }
  if (failure.ok()) return static_cast<int>(done.size());

  // No partial gang may hold GPUs: delete what was bound; the controller recreates the pods.
  log::Warn("gang bind failed; rolling back",
            {{"job", placement.job}, {"bound", done.size()}, {"error", failure}});
  if (!done.empty()) {
    std::lock_guard<std::mutex> lock(assumed_mu_);
    rolled_back_[placement.job] = clock_.Now();
    for (size_t i : done) assumed_.erase(pods[i].ns + "/" + pods[i].name);
  }
  for (size_t i : done) {
    const GangPod& pod = pods[i];
    Status s = DeletePod(pod.ns, pod.name, pod.uid);
    if (!s.ok())
      log::Error("could not delete a pod of a partly bound gang",
                 {{"pod", pod.ns + "/" + pod.name}, {"error", s}});
  }
  return 0;
}

void GangScheduler::MarkScheduled(const sched::JobPlacement& placement, const CycleInputs& in) {
  auto it = in.jobs.find(placement.job);
  if (it == in.jobs.end()) return;
  std::set<std::string> nodes;
  std::string where;
  for (const auto& p : placement.pods) {
    nodes.insert(p.node);
    if (!where.empty()) where += "; ";
    where += p.node + " [" + FormatGpuIndices(p.gpus) + "]";
  }
  const std::string message = "bound " + std::to_string(placement.pods.size()) + " pods on " +
                              std::to_string(nodes.size()) + " nodes: " + where;
  Post("job:" + placement.job, [this, job = Slim(*it->second), key = placement.job, message] {
    Status s = events_.Record(job, "Normal", "Scheduled", message);
    if (!s.ok()) log::Warn("could not record event", {{"job", key}, {"error", s}});
    PatchScheduling(job, "Scheduled", message);
  });
}

void GangScheduler::Evict(const sched::PreemptionDecision& d, const CycleInputs& in) {
  for (const std::string& victim : d.victims) {
    {
      std::lock_guard<std::mutex> lock(assumed_mu_);
      if (evicting_.count(victim)) continue;
      evicting_[victim] = clock_.Now();
    }
    metrics_->evictions.Increment();
    const auto [ns, job] = SplitKey(victim);
    log::Info("preempting gang", {{"victim", victim}, {"for", d.job}, {"reason", d.reason}});
    auto j = in.jobs.find(victim);
    if (j != in.jobs.end()) {
      // Said before the pods go, so the controller reads their going as a preemption (back to
      // Queued, condition Preempted) and not as lost workers (a retry spent); an older word on
      // the job still queued must not land after it.
      {
        std::lock_guard<std::mutex> lock(writes_mu_);
        writes_.erase("job:" + victim);
      }
      PatchScheduling(Slim(*j->second), kPreemptedReason, d.reason);
      Post("evicted:" + victim, [this, job = Slim(*j->second), victim, reason = d.reason] {
        Status s = events_.Record(job, "Warning", kPreemptedReason, reason);
        if (!s.ok()) log::Warn("could not record event", {{"job", victim}, {"error", s}});
      });
    }
    // Every pod of the gang, bound or not: a gang is evicted whole.
    for (const sched::ObjectPtr& ptr : in.objects.pods) {
      const Json& pod = *ptr;
      if (StrAt(pod, {"metadata", "namespace"}) != ns) continue;
      if (StrAt(pod, {"metadata", "labels", sched::kJobLabel}) != job) continue;
      if (!At(pod, {"metadata", "deletionTimestamp"}).is_null()) continue;
      Status s = DeletePod(ns, StrAt(pod, {"metadata", "name"}), StrAt(pod, {"metadata", "uid"}));
      if (!s.ok()) log::Warn("could not evict pod", {{"job", victim}, {"error", s}});
    }
  }
  // The preemptor waits (reason Preempting) and is explained with the waiting jobs.
}

void GangScheduler::ExplainWaiting(const sched::WaitingJob& w, const CycleInputs& in) {
  auto it = in.jobs.find(w.job);
  if (it == in.jobs.end()) return;
  const Json& job = *it->second;
  const std::string reason(sched::WaitReasonName(w.reason));
  const std::string stored_reason = StrAt(job, {"status", "scheduling", "reason"});
  const std::string stored_message = StrAt(job, {"status", "scheduling", "message"});
  auto& last = explained_[w.job];
  // An Event only when the reason changes (after a restart, the stored status tells).
  const bool event = last != reason && stored_reason != reason;
  last = reason;
  if (!event && stored_reason == reason && stored_message == w.message) return;
  Post("job:" + w.job, [this, job = Slim(job), key = w.job, reason, event, message = w.message] {
    if (event) {
      Status s =
          events_.Record(job, reason == "Preempting" ? "Normal" : "Warning", reason, message);
      if (!s.ok()) log::Warn("could not record event", {{"job", key}, {"error", s}});
    }
    PatchScheduling(job, reason, message);
  });
}

void GangScheduler::PatchScheduling(const Json& job, const std::string& reason,
                                    const std::string& message) {
  const std::string ns = StrAt(job, {"metadata", "namespace"});
  const std::string name = StrAt(job, {"metadata", "name"});
  std::string since = StrAt(job, {"status", "scheduling", "lastTransitionTime"});
  // The time moves only when the reason does; a new number in the message is no transition.
  if (since.empty() || StrAt(job, {"status", "scheduling", "reason"}) != reason)
    since = common::FormatTime(clock_.WallNow());
  Json patch = {{"status",
                 {{"scheduling",
                   {{"reason", reason}, {"message", message}, {"lastTransitionTime", since}}}}}};
  auto r = notes_.PatchStatus(ZenithJobs(), ns, name, kube::PatchType::kMerge, patch);
  if (!r.ok() && !kube::IsNotFound(r.status()))
    log::Warn("could not patch status.scheduling",
              {{"job", ns + "/" + name}, {"error", r.status()}});
}

void GangScheduler::UpdateQueues(const CycleInputs& in, const sched::Snapshot& snapshot,
                                 const sched::CycleResult& result) {
  struct Use {
    int64_t gpus = 0;
    int64_t running = 0;
    int64_t pending = 0;
  };
  std::map<std::string, Use> use;
  std::map<std::string, std::string> queue_of;
  for (const auto& j : snapshot.pending) queue_of[j.key] = j.queue;
  for (const auto& r : snapshot.running) {
    use[r.queue].gpus += r.TotalGpus();
    ++use[r.queue].running;
  }
  std::map<std::string, int64_t> per_job_gpus;
  for (const auto& j : snapshot.pending) per_job_gpus[j.key] = j.TotalGpus();
  std::set<std::string> running;
  for (const auto& r : snapshot.running) running.insert(r.key);
  for (const auto& p : result.placed) {
    Use& u = use[queue_of[p.job]];
    u.gpus += per_job_gpus[p.job];
    if (!running.count(p.job)) ++u.running;  // the rest of a running gang is no new job
  }
  for (const auto& w : result.waiting)
    if (!running.count(w.job)) ++use[queue_of[w.job]].pending;
  for (const sched::ObjectPtr& ptr : in.objects.queues) {
    const Json& q = *ptr;
    const std::string name = StrAt(q, {"metadata", "name"});
    const Use& u = use[name];
    const Json& st = At(q, {"status"});
    auto num = [&](const char* k) {
      const Json& v = At(st, {k});
      return v.is_number_integer() ? v.get<int64_t>() : int64_t{-1};
    };
    if (num("gpusAllocated") == u.gpus && num("runningJobs") == u.running &&
        num("pendingJobs") == u.pending)
      continue;
    Json patch = {
        {"status",
         {{"gpusAllocated", u.gpus}, {"runningJobs", u.running}, {"pendingJobs", u.pending}}}};
    Post("queue:" + name, [this, name, patch] {
      auto r = notes_.PatchStatus(ZenithQueues(), "", name, kube::PatchType::kMerge, patch);
      if (!r.ok() && !kube::IsNotFound(r.status()))
        log::Warn("could not patch queue status", {{"queue", name}, {"error", r.status()}});
    });
  }
}

}  // namespace zenith::operator_::gang
