#include "zenith/operator/reconcile.h"

#include <gtest/gtest.h>

#include <map>

#include "job_fixtures.h"

namespace zenith::operator_ {
namespace {

using namespace std::chrono_literals;

// A tiny stand-in for the API server: applies each Plan the way the Executor would, so a test
// drives a job through its life one reconcile at a time on a fake clock.
class World {
 public:
  explicit World(Json job) : job_(std::move(job)) {
    job_["metadata"].erase("finalizers");
    nodes_ = {"node-a", "node-b"};
  }

  Plan Step() {
    ReconcileInput in;
    in.job = job_;
    for (const auto& [name, pod] : pods_) in.pods.push_back(std::make_shared<const Json>(pod));
    in.service = service_;
    in.nodes = nodes_;
    in.nodes_known = true;
    in.now = clock_.WallNow();
    auto plan = Reconcile(in, config_);
    EXPECT_TRUE(plan.ok()) << plan.status();
    Apply(*plan);
    return *plan;
  }
  // Reconciles until nothing changes (at most n times).
  void Settle(int n = 10) {
    for (int i = 0; i < n; ++i) {
      Plan p = Step();
      if (!p.update_job && !p.status && p.create_pods.empty() && p.delete_pods.empty() &&
          p.place.empty() && !p.create_service)
        return;
    }
  }

  void SetPodPhase(int rank, const std::string& phase, int exit_code = 0) {
    Json& pod = pods_.at(PodName(rank));
    pod["status"]["phase"] = phase;
    if (phase == "Running") {
      pod["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
    }
    if (phase == "Failed" || phase == "Succeeded") {
      pod["status"]["containerStatuses"] = Json::array(
          {{{"name", "trainer"},
            {"state",
             {{"terminated",
               {{"exitCode", exit_code}, {"reason", exit_code ? "Error" : "Completed"}}}}}}});
    }
  }
  void SetAll(const std::string& phase) {
    for (int r = 0; r < replicas(); ++r) SetPodPhase(r, phase);
  }
  std::string PodName(int rank) const { return WorkerPodName(name(), rank); }

  JobStatus status() const { return ParseJobStatus(job_.value("status", Json::object())); }
  Phase phase() const { return status().phase; }
  std::string name() const { return job_["metadata"]["name"]; }
  int replicas() const { return job_["spec"]["replicas"]; }
  Json& job() { return job_; }
  std::map<std::string, Json>& pods() { return pods_; }
  std::set<std::string>& nodes() { return nodes_; }
  const std::optional<Json>& service() const { return service_; }
  bool job_deleted() const { return job_deleted_; }
  common::FakeClock& clock() { return clock_; }
  std::vector<EventSpec>& events() { return events_; }
  bool keep_terminating = false;  // pods linger with a deletionTimestamp until released

 private:
  void Apply(const Plan& p) {
    if (p.update_job) job_ = *p.update_job;
    if (p.status) job_["status"] = *p.status;
    if (p.delete_job) job_deleted_ = true;
    if (p.create_service) service_ = *p.create_service;
    if (p.delete_service) service_.reset();
    for (const auto& n : p.delete_pods) {
      if (keep_terminating) {
        pods_.at(n)["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
      } else {
        pods_.erase(n);
      }
    }
    for (const auto& n : p.force_delete_pods) pods_.erase(n);
    for (const auto& pod : p.create_pods) {
      std::string n = pod["metadata"]["name"];
      EXPECT_FALSE(pods_.count(n)) << "duplicate pod " << n;
      pods_[n] = pod;
      pods_[n]["status"] = {{"phase", "Pending"}};
    }
    int i = 0;
    for (const auto& n : p.place) pods_.at(n)["spec"]["nodeName"] = (i++ % 2) ? "node-b" : "node-a";
    for (const auto& e : p.events) events_.push_back(e);
  }

  Json job_;
  std::map<std::string, Json> pods_;
  std::optional<Json> service_;
  std::set<std::string> nodes_;
  common::FakeClock clock_;
  ReconcileConfig config_;
  std::vector<EventSpec> events_;
  bool job_deleted_ = false;
};

std::vector<std::string> Reasons(const std::vector<EventSpec>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.reason);
  return out;
}

TEST(ReconcileTest, HappyPathWalksEveryPhase) {
  World w(testing::SmallJob());
  // The first step puts the finalizer on (written first), then creates Service and pods.
  Plan p = w.Step();
  ASSERT_TRUE(p.update_job);
  EXPECT_EQ(p.update_job->at("metadata").at("finalizers")[0], kFinalizer);
  EXPECT_TRUE(p.create_service);
  EXPECT_EQ(p.create_pods.size(), 2u);
  EXPECT_EQ(w.phase(), Phase::kQueued);
  EXPECT_FALSE(w.status().start_time.empty());
  p = w.Step();  // all pods exist and are unbound: place them
  EXPECT_EQ(p.place, (std::vector<std::string>{"mnist-0", "mnist-1"}));
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kScheduled);
  EXPECT_EQ(w.status().placement.size(), 2u);
  w.SetAll("Running");
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kRunning);
  Json st = JobStatusToJson(w.status());
  EXPECT_EQ(st["ready"], "2/2");
  EXPECT_EQ(st["gpus"], 2);
  EXPECT_EQ(st["observedGeneration"], 1);
  EXPECT_TRUE(w.status().ConditionTrue("Scheduled"));
  EXPECT_TRUE(w.status().ConditionTrue("Running"));
  EXPECT_FALSE(w.status().ConditionTrue("Queued"));
  w.SetAll("Succeeded");
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kSucceeded);
  EXPECT_FALSE(w.status().completion_time.empty());
  EXPECT_FALSE(w.status().ConditionTrue("Running"));
  EXPECT_TRUE(w.status().ConditionTrue("Succeeded"));
  EXPECT_EQ(Reasons(w.events()),
            (std::vector<std::string>{"Created", "Queued", "Scheduled", "Running", "Succeeded"}));
  // Finished: reconciling again writes nothing (succeeded pods stay with policy Running).
  p = w.Step();
  EXPECT_FALSE(p.status);
  EXPECT_TRUE(p.delete_pods.empty());
  EXPECT_EQ(w.pods().size(), 2u);
}

TEST(ReconcileTest, PhasesSkippedBetweenTwoLooksStillGetTheirEvents) {
  World w(testing::SmallJob());
  for (int i = 0; i < 2; ++i) w.Step();  // finalizer and pods, then placed
  ASSERT_EQ(w.phase(), Phase::kQueued);
  w.SetAll("Succeeded");  // bound, run and finished before the next reconcile
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kSucceeded);
  EXPECT_EQ(Reasons(w.events()),
            (std::vector<std::string>{"Created", "Queued", "Scheduled", "Running", "Succeeded"}));
  EXPECT_TRUE(w.status().ConditionTrue("Succeeded"));
  EXPECT_FALSE(w.status().ConditionTrue("Running"));
  EXPECT_FALSE(w.status().ConditionTrue("Scheduled"));
}

TEST(ReconcileTest, ReconcileIsIdempotent) {
  World w(testing::SmallJob());
  w.Settle();
  Json before = w.job();
  size_t pods = w.pods().size();
  Plan p = w.Step();
  EXPECT_FALSE(p.status);
  EXPECT_TRUE(p.create_pods.empty());
  EXPECT_EQ(w.job(), before);
  EXPECT_EQ(w.pods().size(), pods);
}

TEST(ReconcileTest, FailedWorkerRestartsTheGangWithBackoffThenSucceeds) {
  World w(testing::SmallJob());
  w.Settle();
  w.SetAll("Running");
  w.Step();
  ASSERT_EQ(w.phase(), Phase::kRunning);
  w.SetPodPhase(1, "Failed", 3);
  Plan p = w.Step();
  EXPECT_EQ(w.phase(), Phase::kPending);
  EXPECT_EQ(w.status().retries, 1);
  EXPECT_TRUE(w.status().ConditionTrue("Restarting"));
  EXPECT_EQ(w.status().FindCondition("Restarting")->reason, "WorkerFailed");
  EXPECT_NE(w.status().FindCondition("Restarting")->message.find("exited with code 3"),
            std::string::npos);
  EXPECT_EQ(p.delete_pods.size(), 2u);  // the whole gang goes
  EXPECT_TRUE(w.pods().empty());
  ASSERT_TRUE(p.requeue_after);
  EXPECT_EQ(*p.requeue_after, 1s);
  // Within the backoff nothing is created.
  p = w.Step();
  EXPECT_TRUE(p.create_pods.empty());
  w.clock().Advance(1s);
  p = w.Step();
  ASSERT_EQ(p.create_pods.size(), 2u);
  EXPECT_EQ(p.create_pods[0]["metadata"]["labels"]["zenith.ai/attempt"], "1");
  EXPECT_FALSE(w.status().ConditionTrue("Restarting"));
  w.Settle();
  w.SetAll("Succeeded");
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kSucceeded);
  EXPECT_EQ(w.status().retries, 1);
}

TEST(ReconcileTest, RetriesExhaustedFailsWithTheReason) {
  World w(testing::SmallJob());  // maxRetries 2, backoff 1s doubling
  w.Settle();
  for (int attempt = 0; attempt <= 2; ++attempt) {
    w.Settle();
    ASSERT_EQ(w.pods().size(), 2u) << attempt;
    w.SetAll("Running");
    w.SetPodPhase(1, "Failed", 3);
    w.Step();
    if (attempt < 2) {
      EXPECT_EQ(w.status().retries, attempt + 1);
      w.clock().Advance(
          RestartBackoff(ParseZenithJob(w.job())->spec.run_policy, attempt + 1, 10min));
    }
  }
  EXPECT_EQ(w.phase(), Phase::kFailed);
  JobStatus st = w.status();
  const Condition* c = st.FindCondition("Failed");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->reason, "WorkerFailed");
  EXPECT_NE(c->message.find("rank 1"), std::string::npos);
  EXPECT_NE(c->message.find("no retries left (maxRetries=2)"), std::string::npos);
  // cleanPodPolicy Running: the running rank 0 is deleted, the failed pod stays for its logs.
  EXPECT_EQ(w.pods().size(), 1u);
  EXPECT_TRUE(w.pods().count("mnist-1"));
  EXPECT_EQ(w.events().back().type, "Warning");
}

TEST(ReconcileTest, BackoffDoubles) {
  RunPolicy p;
  p.backoff_seconds = 10;
  EXPECT_EQ(RestartBackoff(p, 1, 10min), 10s);
  EXPECT_EQ(RestartBackoff(p, 2, 10min), 20s);
  EXPECT_EQ(RestartBackoff(p, 3, 10min), 40s);
  EXPECT_EQ(RestartBackoff(p, 20, 10min), 10min);
  p.backoff_seconds = 0;
  EXPECT_EQ(RestartBackoff(p, 3, 10min), 0s);
}

TEST(ReconcileTest, OldAttemptPodsAreDeletedBeforeTheGangIsRecreated) {
  World w(testing::SmallJob());
  w.keep_terminating = true;
  w.Settle();
  w.SetAll("Running");
  w.Step();
  w.SetPodPhase(0, "Failed", 1);
  w.Step();
  ASSERT_EQ(w.status().retries, 1);
  w.clock().Advance(5s);
  Plan p = w.Step();  // the old pods are still terminating: wait
  EXPECT_TRUE(p.create_pods.empty());
  w.pods().clear();
  p = w.Step();
  EXPECT_EQ(p.create_pods.size(), 2u);
}

TEST(ReconcileTest, LostNodeRestartsTheGang) {
  World w(testing::SmallJob());
  w.Settle();
  w.SetAll("Running");
  w.Step();
  w.nodes().erase("node-b");
  w.Step();
  EXPECT_EQ(w.status().retries, 1);
  EXPECT_EQ(w.status().FindCondition("Restarting")->reason, "NodeLost");
}

TEST(ReconcileTest, PodsOnALostNodeAreForceDeleted) {
  World w(testing::SmallJob());
  w.keep_terminating = true;  // no kubelet will confirm anything on the lost node
  w.Settle();
  w.SetAll("Running");
  w.Step();
  w.nodes().erase("node-b");
  Plan p = w.Step();
  EXPECT_EQ(p.force_delete_pods, (std::vector<std::string>{"mnist-1"}));
  EXPECT_EQ(p.delete_pods, (std::vector<std::string>{"mnist-0"}));
  w.pods().erase("mnist-0");  // its kubelet confirmed
  w.clock().Advance(1s);
  p = w.Step();
  EXPECT_EQ(p.create_pods.size(), 2u);
}

TEST(ReconcileTest, UnboundTerminatingPodIsForceDeleted) {
  World w(testing::SmallJob());
  w.keep_terminating = true;
  w.Step();  // pods created, not yet placed
  w.job()["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  Plan p = w.Step();
  EXPECT_EQ(p.delete_pods.size(), 2u);
  p = w.Step();  // still there, never bound: no kubelet will finish them
  EXPECT_EQ(p.force_delete_pods, (std::vector<std::string>{"mnist-0", "mnist-1"}));
}

TEST(ReconcileTest, VanishedWorkerRestartsTheGang) {
  World w(testing::SmallJob());
  w.Settle();
  w.SetAll("Running");
  w.Step();
  w.pods().erase("mnist-0");
  w.Step();
  EXPECT_EQ(w.status().retries, 1);
  EXPECT_EQ(w.status().FindCondition("Restarting")->reason, "WorkerLost");
}

TEST(ReconcileTest, PreemptedGangIsQueuedAgainWithoutSpendingARetry) {
  World w(testing::SmallJob());
  w.keep_terminating = true;
  w.Settle();
  w.SetAll("Running");
  w.Step();
  ASSERT_EQ(w.phase(), Phase::kRunning);
  // The gang scheduler says why, then deletes the workers; one ends Failed as it is killed.
  w.job()["status"]["scheduling"] = {
      {"reason", kPreemptedReason},
      {"message", "preempted for ml/big (priority 10), which needs 2 pods × 8 GPUs"}};
  for (auto& [name, pod] : w.pods()) pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  w.SetPodPhase(0, "Failed", 137);
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kQueued);
  EXPECT_EQ(w.status().retries, 0);
  EXPECT_FALSE(w.status().ConditionTrue("Restarting"));
  ASSERT_TRUE(w.status().ConditionTrue("Preempted"));
  EXPECT_EQ(w.status().FindCondition("Preempted")->reason, kPreemptedByReason);
  EXPECT_NE(w.status().FindCondition("Preempted")->message.find("ml/big"), std::string::npos);
  EXPECT_EQ(Reasons(w.events()).back(), kPreemptedReason);

  // Still terminating (one of them Failed): neither a failure nor a placed gang.
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kQueued);
  EXPECT_EQ(w.status().retries, 0);

  // Once they are gone the gang is recreated, placed again, and the condition turns False.
  w.pods().clear();
  w.keep_terminating = false;
  w.Settle();
  EXPECT_EQ(w.phase(), Phase::kScheduled);
  EXPECT_EQ(w.status().retries, 0);
  ASSERT_NE(w.status().FindCondition("Preempted"), nullptr);
  EXPECT_FALSE(w.status().ConditionTrue("Preempted"));
  EXPECT_EQ(w.status().FindCondition("Preempted")->reason, "Rescheduled");
}

TEST(ReconcileTest, SuspendRemovesPodsAndResumeQueuesAgain) {
  World w(testing::SmallJob());
  w.Settle();
  w.SetAll("Running");
  w.Step();
  w.job()["spec"]["runPolicy"]["suspend"] = true;
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kSuspended);
  EXPECT_TRUE(w.pods().empty());
  EXPECT_TRUE(w.status().ConditionTrue("Suspended"));
  EXPECT_FALSE(w.status().ConditionTrue("Running"));
  EXPECT_TRUE(w.service());  // the Service stays
  w.job()["spec"]["runPolicy"]["suspend"] = false;
  Plan p = w.Step();
  EXPECT_EQ(p.create_pods.size(), 2u);
  EXPECT_EQ(w.phase(), Phase::kQueued);
  EXPECT_FALSE(w.status().ConditionTrue("Suspended"));
  auto r = Reasons(w.events());
  EXPECT_EQ(std::vector<std::string>(r.end() - 3, r.end()),
            (std::vector<std::string>{"Suspended", "Resumed", "Queued"}));
  EXPECT_EQ(w.status().retries, 0);  // suspending is not a failure
}

TEST(ReconcileTest, ActiveDeadlineTimesOut) {
  Json j = testing::SmallJob();
  j["spec"]["runPolicy"]["activeDeadlineSeconds"] = 60;
  World w(j);
  w.Settle();
  w.SetAll("Running");
  Plan p = w.Step();
  ASSERT_TRUE(p.requeue_after);
  EXPECT_LE(*p.requeue_after, 60s);
  w.clock().Advance(61s);
  w.Step();
  EXPECT_EQ(w.phase(), Phase::kTimeout);
  EXPECT_EQ(w.status().FindCondition("Timeout")->reason, "DeadlineExceeded");
  EXPECT_TRUE(w.pods().empty());
}

TEST(ReconcileTest, DeletionCancelsCleansUpThenDropsTheFinalizer) {
  World w(testing::SmallJob());
  w.keep_terminating = true;
  w.Settle();
  w.job()["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  Plan p = w.Step();
  EXPECT_EQ(w.phase(), Phase::kCancelled);
  EXPECT_EQ(p.delete_pods.size(), 2u);
  EXPECT_TRUE(p.delete_service);
  EXPECT_FALSE(p.update_job);  // pods still terminating
  p = w.Step();
  EXPECT_TRUE(p.delete_pods.empty());  // already terminating: not deleted twice
  w.pods().clear();
  p = w.Step();
  ASSERT_TRUE(p.update_job);
  EXPECT_TRUE(p.update_job->at("metadata").at("finalizers").empty());
}

TEST(ReconcileTest, TtlDeletesTheFinishedJob) {
  Json j = testing::SmallJob();
  j["spec"]["runPolicy"]["ttlSecondsAfterFinished"] = 30;
  World w(j);
  w.Settle();
  w.SetAll("Succeeded");
  w.Step();
  ASSERT_EQ(w.phase(), Phase::kSucceeded);
  Plan p = w.Step();
  EXPECT_FALSE(p.delete_job);
  ASSERT_TRUE(p.requeue_after);
  EXPECT_LE(*p.requeue_after, 30s);
  w.clock().Advance(31s);
  p = w.Step();
  EXPECT_TRUE(p.delete_job);
}

TEST(ReconcileTest, StaleJobCacheNeverDeletesNewerPods) {
  World w(testing::SmallJob());
  w.Settle();
  Json stale = w.job();
  w.SetAll("Running");
  w.SetPodPhase(0, "Failed", 1);
  w.Step();  // retries -> 1
  w.clock().Advance(2s);
  w.Settle();  // attempt-1 pods exist now
  ASSERT_EQ(w.pods().at("mnist-0")["metadata"]["labels"]["zenith.ai/attempt"], "1");
  // A reconcile that still sees retries=0 must leave attempt-1 pods alone.
  ReconcileInput in;
  in.job = stale;
  for (const auto& [n, pod] : w.pods()) in.pods.push_back(std::make_shared<const Json>(pod));
  in.service = w.service();
  in.nodes = w.nodes();
  in.nodes_known = true;
  in.now = w.clock().WallNow();
  auto p = Reconcile(in, {});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->delete_pods.empty());
  EXPECT_TRUE(p->create_pods.empty());
}

}  // namespace
}  // namespace zenith::operator_
