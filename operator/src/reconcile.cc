#include "zenith/operator/reconcile.h"

#include <algorithm>
#include <map>

#include "zenith/common/retry.h"

namespace zenith::operator_ {

std::string PodPhase(const Json& pod) { return Child(pod, "status").value("phase", ""); }
std::string PodNode(const Json& pod) { return Child(pod, "spec").value("nodeName", ""); }
bool PodTerminating(const Json& pod) {
  const Json& md = Child(pod, "metadata");
  return md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
}
bool PodReady(const Json& pod) {
  if (PodPhase(pod) != "Running") return false;
  const Json& conds = Child(Child(pod, "status"), "conditions");
  for (const auto& c : conds)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return true;  // a running pod whose kubelet reports no conditions
}

std::string PodFailureReason(const Json& pod) {
  const Json& st = Child(pod, "status");
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    for (const auto& cs : st.value(list, Json::array())) {
      const Json& term = Child(Child(cs, "state"), "terminated");
      if (term.empty() || term.value("exitCode", 0) == 0) continue;
      std::string r = "container " + cs.value("name", "") + " exited with code " +
                      std::to_string(term.value("exitCode", 0));
      if (!term.value("reason", "").empty()) r += " (" + term.value("reason", "") + ")";
      if (!term.value("message", "").empty()) r += ": " + term.value("message", "");
      return r;
    }
  }
  std::string r = st.value("reason", "");
  std::string m = st.value("message", "");
  if (r.empty() && m.empty()) return "pod phase Failed";
  return r + (m.empty() ? "" : (r.empty() ? "" : ": ") + m);
}

common::Duration RestartBackoff(const RunPolicy& policy, int retry, common::Duration max) {
  if (policy.backoff_seconds <= 0 || retry <= 0) return common::Duration::zero();
  // The shared backoff helper without jitter: the wait must come out the same in every
  // reconcile (and every operator replica), since only the restart's time is stored.
  common::BackoffPolicy p{
      std::chrono::seconds(policy.backoff_seconds), max, 2.0, 0.0, 0, common::Duration::zero()};
  common::Backoff backoff(p, 0);
  common::Duration wait{};
  for (int i = 0; i < retry; ++i) wait = backoff.Next();
  return wait;
}

namespace {

struct PodInfo {
  const Json* pod = nullptr;
  std::string name;
  std::optional<int> rank;
  std::optional<int> attempt;
  std::string phase;
  std::string node;
  bool terminating = false;
};

PodInfo Describe(const Json& pod) {
  PodInfo p;
  p.pod = &pod;
  p.name = Child(pod, "metadata").value("name", "");
  p.rank = PodRank(pod);
  p.attempt = PodAttempt(pod);
  p.phase = PodPhase(pod);
  p.node = PodNode(pod);
  p.terminating = PodTerminating(pod);
  return p;
}

bool Finished(const PodInfo& p) { return p.phase == "Succeeded" || p.phase == "Failed"; }

// The condition that mirrors each phase; kNone and kPending have none.
const char* PhaseCondition(Phase phase) {
  switch (phase) {
    case Phase::kQueued:
      return "Queued";
    case Phase::kScheduled:
      return "Scheduled";
    case Phase::kRunning:
      return "Running";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
    case Phase::kSuspended:
      return "Suspended";
    case Phase::kCancelled:
      return "Cancelled";
    case Phase::kTimeout:
      return "Timeout";
    default:
      return nullptr;
  }
}

// Holds the step being planned: the status as it will be written, and the plan.
struct Step {
  JobStatus status;
  Plan plan;
  std::string now;

  // Moves to `to` (an Event and the conditions follow); nothing when already there.
  void Transition(Phase to, const std::string& reason, const std::string& message,
                  bool warning = false) {
    if (status.phase == to) return;
    status.phase = to;
    plan.events.push_back({warning ? "Warning" : "Normal", reason, message});
    // The new phase's condition turns True; conditions of phases the job has left turn False.
    // Scheduled stays True while the job runs: its pods are still placed.
    for (auto& c : status.conditions) {
      if (c.type == "Restarting" || c.status != "True") continue;
      if (c.type == "Scheduled" && to == Phase::kRunning) continue;
      if (c.type == (PhaseCondition(to) ? PhaseCondition(to) : "")) continue;
      if (c.type == "Queued" || c.type == "Scheduled" || c.type == "Running" ||
          c.type == "Suspended") {
        status.SetCondition(c.type, false, reason, message, now);
      }
    }
    if (const char* type = PhaseCondition(to))
      status.SetCondition(type, true, reason, message, now);
  }

  // Deletes a pod: gracefully, or at once (then even while terminating) when no kubelet will
  // ever confirm its end: its node is gone, or it is terminating without ever being bound.
  void Remove(const PodInfo& p) {
    bool lost = !p.node.empty() && nodes_known && !nodes->count(p.node);
    bool orphan = p.terminating && p.node.empty();
    if (lost || orphan) {
      plan.force_delete_pods.push_back(p.name);
    } else if (!p.terminating) {
      plan.delete_pods.push_back(p.name);
    }
  }
  // The pods the job's cleanPodPolicy says go once it has finished.
  void CleanUpFinished(const std::vector<PodInfo>& pods, const std::string& policy) {
    for (const auto& p : pods)
      if (policy == "All" || (policy == "Running" && !Finished(p))) Remove(p);
  }
  void RemoveAll(const std::vector<PodInfo>& pods) {
    for (const auto& p : pods) Remove(p);
  }
  const std::set<std::string>* nodes = nullptr;
  bool nodes_known = false;

  void RequeueAfter(common::Duration d) {
    if (d < common::Duration::zero()) d = common::Duration::zero();
    if (!plan.requeue_after || d < *plan.requeue_after) plan.requeue_after = d;
  }
};

bool HasFinalizer(const Json& job) {
  for (const auto& f : Child(Child(job, "metadata"), "finalizers"))
    if (f == kFinalizer) return true;
  return false;
}

Json WithFinalizer(const Json& job, bool present) {
  Json out = job;
  Json& md = out["metadata"];
  Json list = Json::array();
  for (const auto& f : Child(md, "finalizers"))
    if (f != kFinalizer) list.push_back(f);
  if (present) list.push_back(kFinalizer);
  md["finalizers"] = list;
  return out;
}

std::string Count(int n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

Result<Plan> Reconcile(const ReconcileInput& in, const ReconcileConfig& cfg) {
  Step step;
  step.now = FormatTime(in.now);
  step.nodes = &in.nodes;
  step.nodes_known = in.nodes_known;
  const JobStatus old = ParseJobStatus(Child(in.job, "status"));
  step.status = old;
  Plan& plan = step.plan;
  JobStatus& st = step.status;

  std::vector<PodInfo> pods;
  for (const auto& p : in.pods) pods.push_back(Describe(*p));
  std::sort(pods.begin(), pods.end(),
            [](const PodInfo& a, const PodInfo& b) { return a.name < b.name; });

  auto finish = [&]() -> Result<Plan> {
    if (!(st == old)) plan.status = JobStatusToJson(st);
    plan.phase = st.phase;
    return std::move(plan);
  };

  const Json& md = Child(in.job, "metadata");
  const bool deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  auto parsed = ParseZenithJob(in.job);

  // Deleted: mark it Cancelled, remove the children, then let the API server forget it.
  if (deleting) {
    if (!IsTerminal(st.phase))
      step.Transition(Phase::kCancelled, "Cancelled", "the job was deleted; removing its workers");
    step.RemoveAll(pods);
    if (in.service) plan.delete_service = true;
    // The Cancelled status is written first; the finalizer goes in a later step.
    if (pods.empty() && !in.service && st == old) {
      if (HasFinalizer(in.job)) plan.update_job = WithFinalizer(in.job, false);
    } else {
      step.RequeueAfter(cfg.poll);
    }
    return finish();
  }
  if (!parsed.ok()) {
    // The CRD's validation keeps bad specs out; one that slips past fails once, with the field.
    st.observed_generation = md.value("generation", int64_t{0});
    step.Transition(Phase::kFailed, "InvalidSpec", parsed.status().message(), true);
    if (st.completion_time.empty()) st.completion_time = step.now;
    return finish();
  }
  const ZenithJob& job = *parsed;
  const JobSpec& spec = job.spec;
  // The finalizer goes on first (the Executor writes it before anything else, and the status
  // onto the object that write returns), so no child exists that a deletion could miss.
  if (!HasFinalizer(in.job)) plan.update_job = WithFinalizer(in.job, true);
  st.observed_generation = job.generation;
  st.replicas = spec.replicas;
  st.gpus = job.TotalGpus();

  if (st.phase == Phase::kNone) {
    step.Transition(Phase::kPending, "Created",
                    "accepted: " + Count(spec.replicas, "worker") + " with " +
                        std::to_string(spec.gpus_per_replica) + " zenith.ai/gpu each");
  }

  // Finished: only the cleanup policy and the TTL are left.
  if (IsTerminal(st.phase)) {
    step.CleanUpFinished(pods, spec.run_policy.clean_pod_policy);
    st.ready_replicas = 0;
    if (spec.run_policy.ttl_seconds_after_finished && !st.completion_time.empty()) {
      auto done = ParseTime(st.completion_time);
      if (done.ok()) {
        auto expiry = *done + std::chrono::seconds(*spec.run_policy.ttl_seconds_after_finished);
        if (in.now >= expiry) {
          plan.delete_job = true;
        } else {
          step.RequeueAfter(expiry - in.now);
        }
      }
    }
    return finish();
  }

  if (spec.run_policy.suspend) {
    step.Transition(Phase::kSuspended, "Suspended",
                    "spec.runPolicy.suspend is true: workers removed, GPUs released");
    step.RemoveAll(pods);
    st.ready_replicas = 0;
    st.placement.clear();
    if (st.ConditionTrue("Restarting"))
      st.SetCondition("Restarting", false, "Suspended", "the job was suspended", step.now);
    return finish();
  }
  if (st.phase == Phase::kSuspended) {
    step.Transition(Phase::kPending, "Resumed",
                    "spec.runPolicy.suspend is false: the gang is queued again");
    st.start_time.clear();  // the active deadline counts from the resume
  }

  if (!in.service) plan.create_service = BuildHeadlessService(job, cfg.build);

  const int attempt = st.retries;
  std::map<int, const PodInfo*> current;
  bool leftovers = false;  // pods of an older attempt still exist
  for (const auto& p : pods) {
    bool ours = p.rank && p.attempt && *p.rank >= 0 && *p.rank < spec.replicas;
    if (ours && *p.attempt == attempt) {
      current[*p.rank] = &p;
    } else if (ours && *p.attempt > attempt) {
      // Created after a restart this cache has not seen in the job yet: wait for it.
      step.RequeueAfter(cfg.poll);
    } else {
      leftovers = true;
      step.Remove(p);
    }
  }

  auto timeout = [&]() -> bool {
    if (!spec.run_policy.active_deadline_seconds || st.start_time.empty()) return false;
    auto start = ParseTime(st.start_time);
    if (!start.ok()) return false;
    auto deadline = *start + std::chrono::seconds(*spec.run_policy.active_deadline_seconds);
    if (in.now < deadline) {
      step.RequeueAfter(deadline - in.now);
      return false;
    }
    return true;
  };
  if (timeout()) {
    step.Transition(Phase::kTimeout, "DeadlineExceeded",
                    "running longer than activeDeadlineSeconds=" +
                        std::to_string(*spec.run_policy.active_deadline_seconds) +
                        "; workers stopped",
                    true);
    st.completion_time = step.now;
    st.ready_replicas = 0;
    if (st.ConditionTrue("Restarting"))
      st.SetCondition("Restarting", false, "DeadlineExceeded", "the job timed out", step.now);
    for (const auto& [rank, p] : current)
      if (!Finished(*p)) step.Remove(*p);
    return finish();
  }

  // A gang restart in progress: old pods must be gone and the backoff over.
  if (st.ConditionTrue("Restarting")) {
    if (leftovers) {
      step.RequeueAfter(cfg.poll);
      return finish();
    }
    const Condition* c = st.FindCondition("Restarting");
    auto since = ParseTime(c->last_transition_time);
    if (since.ok()) {
      auto at = *since + RestartBackoff(spec.run_policy, attempt, cfg.max_backoff);
      if (in.now < at) {
        step.RequeueAfter(at - in.now);
        return finish();
      }
    }
    st.SetCondition("Restarting", false, "GangRecreated",
                    "workers recreated for retry " + std::to_string(attempt), step.now);
  }

  // Preempted: the gang scheduler wrote status.scheduling reason Preempted and is deleting the
  // workers. That is no failure of the job: it goes back to Queued without spending a retry,
  // and says why in a condition. A worker ending while its preemption takes it down is not one.
  const Json& scheduling = Child(Child(in.job, "status"), "scheduling");
  const bool preempted = st.ConditionTrue("Preempted");
  if (!preempted && scheduling.value("reason", "") == kPreemptedReason &&
      (st.phase == Phase::kScheduled || st.phase == Phase::kRunning)) {
    const std::string why = scheduling.value("message", "preempted by a higher-priority job");
    st.SetCondition("Preempted", true, kPreemptedByReason, why, step.now);
    step.Transition(Phase::kQueued, kPreemptedReason, why + "; the gang is queued again", true);
    st.ready_replicas = 0;
    st.placement.clear();
    for (const auto& [rank, p] : current) step.Remove(*p);
    step.RequeueAfter(cfg.poll);
    return finish();
  }

  // A failed worker, or one whose node is gone, restarts the whole gang.
  std::string failure, failure_reason;
  for (const auto& [rank, p] : current) {
    if (preempted && p->terminating) continue;
    if (p->phase == "Failed") {
      failure = "worker rank " + std::to_string(rank) + " (pod " + p->name +
                ") failed: " + PodFailureReason(*p->pod);
      failure_reason = "WorkerFailed";
    } else if (!p->node.empty() && in.nodes_known && !Finished(*p) && !in.nodes.count(p->node)) {
      failure =
          "worker rank " + std::to_string(rank) + " (pod " + p->name + ") lost its node " + p->node;
      failure_reason = "NodeLost";
    }
    if (!failure.empty()) break;
  }
  if (failure.empty() && (st.phase == Phase::kScheduled || st.phase == Phase::kRunning)) {
    for (int r = 0; r < spec.replicas; ++r) {
      if (current.count(r)) continue;
      failure = "worker rank " + std::to_string(r) + " (pod " + WorkerPodName(job.name, r) +
                ") disappeared (its node was lost or it was deleted)";
      failure_reason = "WorkerLost";
      break;
    }
  }
  if (!failure.empty()) {
    if (st.retries < spec.run_policy.max_retries) {
      st.retries += 1;
      std::string msg = failure + "; restarting the gang (retry " + std::to_string(st.retries) +
                        " of " + std::to_string(spec.run_policy.max_retries) + ")";
      st.SetCondition("Restarting", true, failure_reason, msg, step.now);
      step.Transition(Phase::kPending, "Restarting", msg, true);
      st.ready_replicas = 0;
      st.placement.clear();
      for (const auto& [rank, p] : current) step.Remove(*p);
      step.RequeueAfter(RestartBackoff(spec.run_policy, st.retries, cfg.max_backoff));
    } else {
      std::string msg =
          failure + "; no retries left (maxRetries=" + std::to_string(spec.run_policy.max_retries) +
          ")";
      step.Transition(Phase::kFailed, failure_reason, msg, true);
      st.completion_time = step.now;
      st.ready_replicas = 0;
      std::vector<PodInfo> cur;
      for (const auto& [rank, p] : current) cur.push_back(*p);
      step.CleanUpFinished(cur, spec.run_policy.clean_pod_policy);
    }
    st.failed_replicas = 0;
    for (const auto& [rank, p] : current) st.failed_replicas += p->phase == "Failed";
    return finish();
  }

  // Create what is missing while the gang is still being placed.
  if (st.phase == Phase::kPending || st.phase == Phase::kQueued) {
    for (int r = 0; r < spec.replicas; ++r)
      if (!current.count(r)) plan.create_pods.push_back(BuildWorkerPod(job, r, attempt, cfg.build));
  }

  int existing = 0, bound = 0, running = 0, ready = 0, succeeded = 0, failed = 0;
  std::set<std::string> nodes;
  st.placement.clear();
  for (const auto& [rank, p] : current) {
    ++existing;
    if (!p->node.empty() && !(preempted && p->terminating)) {
      ++bound;
      nodes.insert(p->node);
      st.placement.push_back({rank, p->name, p->node});
    }
    running += p->phase == "Running";
    ready += PodReady(*p->pod);
    succeeded += p->phase == "Succeeded";
    failed += p->phase == "Failed";
  }
  st.ready_replicas = ready;
  st.succeeded_replicas = succeeded;
  st.failed_replicas = failed;

  const int n = spec.replicas;
  // The caches may show a gang already running (or done) the first time it is seen bound; the
  // phases it passed through still get their conditions and Events, in order.
  const bool all_bound = existing == n && bound == n;
  auto through = [&](Phase target) {
    if (target >= Phase::kScheduled && (st.phase == Phase::kPending || st.phase == Phase::kQueued))
      step.Transition(Phase::kScheduled, "Scheduled",
                      "all " + Count(n, "worker") + " bound to " +
                          Count(static_cast<int>(nodes.size()), "node"));
    if (target >= Phase::kSucceeded && st.phase == Phase::kScheduled)
      step.Transition(Phase::kRunning, "Running", "all " + Count(n, "worker") + " running");
  };
  if (all_bound && preempted)
    st.SetCondition("Preempted", false, "Rescheduled", "the gang is placed again", step.now);
  if (succeeded == n) {
    if (all_bound) through(Phase::kSucceeded);
    step.Transition(Phase::kSucceeded, "Succeeded", "all " + Count(n, "worker") + " completed");
    st.completion_time = step.now;
    st.ready_replicas = 0;
  } else if (all_bound && running + succeeded == n) {
    through(Phase::kRunning);
    step.Transition(Phase::kRunning, "Running", "all " + Count(n, "worker") + " running");
  } else if (all_bound) {
    step.Transition(
        Phase::kScheduled, "Scheduled",
        "all " + Count(n, "worker") + " bound to " + Count(static_cast<int>(nodes.size()), "node"));
  } else {
    step.Transition(Phase::kQueued, "Queued",
                    Count(n, "worker") + " created; waiting for " + std::to_string(n) + "×" +
                        std::to_string(spec.gpus_per_replica) + " zenith.ai/gpu to be placed");
    if (st.start_time.empty()) st.start_time = step.now;
    bool settled = existing == n;
    for (const auto& [rank, p] : current) settled = settled && !p->terminating;
    if (settled) {
      for (const auto& [rank, p] : current)
        if (p->node.empty()) plan.place.push_back(p->name);
    }
  }
  if (st.start_time.empty() && st.phase != Phase::kPending) st.start_time = step.now;
  timeout();  // schedules the look at the deadline
  return finish();
}

}  // namespace zenith::operator_
