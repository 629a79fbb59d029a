// Queues, quotas, priority, preemption and the starvation guard.
#include <gtest/gtest.h>

#include "scheduler_fixtures.h"
#include "zenith/operator/scheduler/cycle.h"

namespace zenith::operator_::scheduler {
namespace {

using namespace testing;
using std::chrono::minutes;

JobRequest InQueue(JobRequest j, const std::string& queue, int32_t priority = 0,
                   common::WallTime created = {}) {
  j.queue = queue;
  j.priority = priority;
  j.created = created;
  return j;
}

common::WallTime At(int minute) { return common::WallTime(minutes(minute)); }

TEST(QueueTest, PriorityThenFairShareByWeightThenAge) {
  Snapshot s;
  s.nodes = {MachineNode("a"), MachineNode("b"), MachineNode("c")};
  s.queues = {{"team-a", 1, std::nullopt}, {"team-b", 3, std::nullopt}};
  AddRunning(s, "team-a/old", 0, false, {{"a", {0, 1, 2, 3, 4, 5, 6, 7}}}, "team-a");
  AddRunning(s, "team-b/old", 0, false, {{"b", {0, 1, 2, 3, 4, 5, 6, 7}}}, "team-b");
  // Room for one 8-GPU job. Both queues hold 8 GPUs, but team-b weighs 3: its share is lower.
  s.pending = {InQueue(Gang("team-a/older", 1, 8), "team-a", 0, At(0)),
               InQueue(Gang("team-b/newer", 1, 8), "team-b", 0, At(5))};
  CycleResult r = RunCycle(s);
  EXPECT_NE(Placed(r, "team-b/newer"), nullptr);
  EXPECT_NE(Waiting(r, "team-a/older"), nullptr);

  // Priority comes before fair share.
  s.pending[0].priority = 5;
  r = RunCycle(s);
  EXPECT_NE(Placed(r, "team-a/older"), nullptr);

  // Within a queue, the older job first.
  s.pending = {InQueue(Gang("team-a/second", 1, 8), "team-a", 0, At(9)),
               InQueue(Gang("team-a/first", 1, 8), "team-a", 0, At(1))};
  r = RunCycle(s);
  EXPECT_NE(Placed(r, "team-a/first"), nullptr);
  EXPECT_NE(Waiting(r, "team-a/second"), nullptr);
}

TEST(QueueTest, EqualQueuesShareACycle) {
  Snapshot s;
  for (int i = 0; i < 4; ++i) s.nodes.push_back(MachineNode("n" + std::to_string(i)));
  s.queues = {{"team-a", 1, std::nullopt}, {"team-b", 1, std::nullopt}};
  // team-a's jobs are all older, yet each placement raises its share, so the queues alternate.
  for (int i = 0; i < 4; ++i) {
    s.pending.push_back(InQueue(Gang("team-a/j" + std::to_string(i), 1, 8), "team-a", 0, At(i)));
    s.pending.push_back(
        InQueue(Gang("team-b/j" + std::to_string(i), 1, 8), "team-b", 0, At(10 + i)));
  }
  CycleResult r = RunCycle(s);
  ASSERT_EQ(r.placed.size(), 4u);
  int a = 0, b = 0;
  for (const auto& p : r.placed) (p.job.rfind("team-a/", 0) == 0 ? a : b)++;
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(r.placed[0].job, "team-a/j0");
  EXPECT_EQ(r.placed[1].job, "team-b/j0");
}

TEST(QueueTest, QuotaIsEnforced) {
  Snapshot s;
  s.nodes = {MachineNode("a"), MachineNode("b"), MachineNode("c")};
  s.queues = {{"team-a", 1, 16}};
  AddRunning(s, "team-a/running", 0, false, {{"a", {0, 1, 2, 3, 4, 5, 6, 7}}}, "team-a");
  s.pending = {InQueue(Gang("team-a/one", 1, 8), "team-a", 0, At(0)),
               InQueue(Gang("team-a/two", 1, 8), "team-a", 0, At(1)),
               InQueue(Gang("team-a/small", 1, 0), "team-a", 0, At(2)), Gang("other/free", 1, 8)};
  CycleResult r = RunCycle(s);
  EXPECT_NE(Placed(r, "team-a/one"), nullptr);
  const WaitingJob* w = Waiting(r, "team-a/two");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, WaitReason::kQuotaExceeded);
  EXPECT_EQ(w->message, "needs 8 GPUs (1 pod × 8 GPUs); queue team-a uses 16/16 GPUs");
  EXPECT_NE(Placed(r, "team-a/small"), nullptr);  // a CPU-only job needs no GPU quota
  EXPECT_NE(Placed(r, "other/free"), nullptr);    // the default queue has no quota
}

TEST(QueueTest, UnknownQueueAndBadRequestsAreRejected) {
  Snapshot s;
  s.nodes = {MachineNode("a")};
  JobRequest zero = Gang("ns/zero", 0, 1);
  s.pending = {InQueue(Gang("ns/lost", 1, 1), "no-such-queue"), zero, Gang("ns/dup", 1, 1),
               Gang("ns/dup", 1, 1)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/lost"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/lost")->reason, WaitReason::kInvalidRequest);
  EXPECT_NE(Waiting(r, "ns/lost")->message.find("no-such-queue"), std::string::npos);
  EXPECT_EQ(Waiting(r, "ns/zero")->reason, WaitReason::kInvalidRequest);
  ASSERT_EQ(r.placed.size(), 1u);  // the first ns/dup only
  EXPECT_EQ(r.placed[0].job, "ns/dup");
}

// Node a: one preemptible 8-GPU gang. Node b: two preemptible 2-GPU gangs, 4 GPUs free.
// Node c: a 1-GPU preemptible gang beside a 1-GPU protected one. Node d: fully protected.
Snapshot PreemptionCluster() {
  Snapshot s;
  s.nodes = {MachineNode("a"), MachineNode("b"), MachineNode("c"), MachineNode("d")};
  AddRunning(s, "low/eight", 0, true, {{"a", {0, 1, 2, 3, 4, 5, 6, 7}}});
  AddRunning(s, "low/two-a", 0, true, {{"b", {0, 1}}});
  AddRunning(s, "low/two-b", 0, true, {{"b", {4, 5}}});
  AddRunning(s, "low/one", 0, true, {{"c", {0}}});
  AddRunning(s, "keep/one", 0, false, {{"c", {7}}});
  AddRunning(s, "keep/eight", 0, false, {{"d", {0, 1, 2, 3, 4, 5, 6, 7}}});
  return s;
}

TEST(PreemptionTest, EvictsTheCheapestWholeGangs) {
  Snapshot s = PreemptionCluster();
  s.pending = {InQueue(Gang("high/job", 1, 8), "default", 10, At(0))};
  CycleResult r = RunCycle(s);
  EXPECT_TRUE(r.placed.empty());
  ASSERT_EQ(r.preemptions.size(), 1u);
  const PreemptionDecision& d = r.preemptions[0];
  EXPECT_EQ(d.job, "high/job");
  EXPECT_EQ(std::set<std::string>(d.victims.begin(), d.victims.end()),
            (std::set<std::string>{"low/two-a", "low/two-b"}));
  EXPECT_EQ(d.gpus_evicted, 4);
  ASSERT_EQ(d.nominated.size(), 1u);
  EXPECT_EQ(d.nominated[0].node, "b");
  EXPECT_NE(d.reason.find("high/job"), std::string::npos) << d.reason;
  ASSERT_NE(Waiting(r, "high/job"), nullptr);
  EXPECT_EQ(Waiting(r, "high/job")->reason, WaitReason::kPreempting);
  ExpectNoOverCommit(s, r);
}

TEST(PreemptionTest, OnlyLowerPriorityPreemptibleGangs) {
  Snapshot s = PreemptionCluster();
  s.pending = {InQueue(Gang("peer/job", 1, 8), "default", 0, At(0))};  // equal priority
  CycleResult r = RunCycle(s);
  EXPECT_TRUE(r.preemptions.empty());
  ASSERT_NE(Waiting(r, "peer/job"), nullptr);
  EXPECT_EQ(Waiting(r, "peer/job")->reason, WaitReason::kInsufficientGpus);

  SchedulerOptions off;
  off.preemption = false;
  s.pending = {InQueue(Gang("high/job", 1, 8), "default", 10, At(0))};
  EXPECT_TRUE(RunCycle(s, off).preemptions.empty());

  // Marked terminating (already being evicted): never chosen again.
  for (RunningJob& run : s.running) {
    if (run.key.rfind("low/two", 0) == 0) run.terminating = true;
  }
  r = RunCycle(s);
  ASSERT_EQ(r.preemptions.size(), 1u);
  EXPECT_EQ(r.preemptions[0].victims, (std::vector<std::string>{"low/eight"}));
}

TEST(PreemptionTest, NominatedRoomIsNotHandedOutAgain) {
  Snapshot s = PreemptionCluster();
  // After the high job is nominated on b, the low job must not get b's free GPUs nor the
  // victims' GPUs in the same cycle.
  s.pending = {InQueue(Gang("high/job", 1, 8), "default", 10, At(0)),
               InQueue(Gang("low/new", 1, 4), "default", 0, At(1))};
  CycleResult r = RunCycle(s);
  ASSERT_EQ(r.preemptions.size(), 1u);
  const JobPlacement* low = Placed(r, "low/new");
  if (low != nullptr) {
    EXPECT_NE(low->pods[0].node, "b");
  }
  ExpectNoOverCommit(s, r);
  // A gang that needs more than all victims can free preempts nobody.
  s.pending = {InQueue(Gang("high/huge", 5, 8), "default", 10, At(0))};
  r = RunCycle(s);
  EXPECT_TRUE(r.preemptions.empty());
}

TEST(PreemptionTest, OneMediumGangBeatsManySmallOnes) {
  Snapshot s;
  s.nodes = {MachineNode("p"), MachineNode("q")};
  // p: four 1-GPU gangs and 4 free (evicting all four costs 4 GPUs);
  // q: one 3-GPU gang and 5 free (evicting it costs 3).
  for (int g = 0; g < 4; ++g) AddRunning(s, "low/one-" + std::to_string(g), 0, true, {{"p", {g}}});
  AddRunning(s, "low/three", 0, true, {{"q", {0, 1, 2}}});
  s.pending = {InQueue(Gang("high/job", 1, 8), "default", 10, At(0))};
  CycleResult r = RunCycle(s);
  ASSERT_EQ(r.preemptions.size(), 1u);
  EXPECT_EQ(r.preemptions[0].victims, (std::vector<std::string>{"low/three"}));
  EXPECT_EQ(r.preemptions[0].gpus_evicted, 3);
  EXPECT_EQ(r.preemptions[0].nominated[0].node, "q");
  ExpectNoOverCommit(s, r);
}

TEST(PreemptionTest, VictimsLeftoverStaysHeldThisCycle) {
  Snapshot s;
  s.nodes = {MachineNode("x")};
  AddRunning(s, "low/four", 0, true, {{"x", {0, 1, 2, 3}}});
  AddRunning(s, "keep/four", 0, false, {{"x", {4, 5, 6, 7}}});
  // The high job needs 2 of the victim's 4 GPUs; the other 2 are free only once the victim's
  // pod is gone, so the low job (same node) must wait this cycle.
  s.pending = {InQueue(Gang("high/two", 1, 2), "default", 10, At(0)),
               InQueue(Gang("low/one", 1, 1), "default", 0, At(1))};
  CycleResult r = RunCycle(s);
  ASSERT_EQ(r.preemptions.size(), 1u);
  EXPECT_EQ(r.preemptions[0].victims, (std::vector<std::string>{"low/four"}));
  EXPECT_EQ(r.preemptions[0].nominated[0].gpus.size(), 2u);
  EXPECT_EQ(Placed(r, "low/one"), nullptr);
  ExpectNoOverCommit(s, r);
}

TEST(StarvationTest, MaximumWaitStopsSmallJobsOvertaking) {
  Snapshot s;
  s.nodes = {MachineNode("a")};
  AddRunning(s, "ns/running", 0, false, {{"a", {0, 1, 2, 3}}});
  s.now = At(120);
  JobRequest big = Gang("ns/big", 1, 8);
  big.created = At(0);
  big.max_wait = std::chrono::seconds(3600);
  JobRequest small = Gang("ns/small", 1, 4);
  small.created = At(119);
  s.pending = {big, small};
  SchedulerOptions no_guard;
  no_guard.default_max_wait = std::chrono::seconds(0);

  // Waited 2 h, more than its 1 h limit: the small job may not take the GPUs it waits for.
  CycleResult r = RunCycle(s, no_guard);
  ASSERT_NE(Waiting(r, "ns/small"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/small")->reason, WaitReason::kBlockedByStarvedJob);
  EXPECT_NE(Waiting(r, "ns/small")->message.find("ns/big"), std::string::npos);

  // Not yet starving: the small job backfills.
  s.now = At(30);
  r = RunCycle(s, no_guard);
  EXPECT_NE(Placed(r, "ns/small"), nullptr);

  // The scheduler-wide default applies to jobs without their own limit.
  s.pending[0].max_wait.reset();
  s.now = At(120);
  EXPECT_NE(Placed(RunCycle(s, no_guard), "ns/small"), nullptr);
  EXPECT_NE(Waiting(RunCycle(s), "ns/small"), nullptr);  // default 1 h

  // A higher-priority job is not held back.
  s.pending[1].priority = 3;
  EXPECT_NE(Placed(RunCycle(s), "ns/small"), nullptr);
}

TEST(ExplainTest, SaysInNumbersWhyAGangWaits) {
  Snapshot s;
  for (int i = 1; i <= 7; ++i) s.nodes.push_back(MachineNode("n" + std::to_string(i)));
  s.queues = {{"team-a", 1, 64}};
  AddRunning(s, "team-a/running", 0, false,
             {{"n1", {0, 1, 2, 3, 4, 5, 6, 7}},
              {"n2", {0, 1, 2, 3, 4, 5, 6, 7}},
              {"n3", {0, 1, 2, 3, 4, 5, 6, 7}}},
             "team-a");
  AddRunning(s, "other/one", 0, false, {{"n4", {3}}});
  s.pending = {InQueue(Gang("team-a/llm", 4, 8, NvlinkPolicy::kRequired), "team-a")};
  CycleResult r = RunCycle(s);
  const WaitingJob* w = Waiting(r, "team-a/llm");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, WaitReason::kInsufficientGpus);
  EXPECT_EQ(WaitReasonName(w->reason), "InsufficientGpus");
  EXPECT_EQ(w->message,
            "needs 4 pods × 8 NVLink-connected GPUs; all 7 nodes eligible; 3 nodes have a free "
            "NVLink-connected 8-set (room for 3 pods); queue team-a uses 24/64 GPUs");
}

}  // namespace
}  // namespace zenith::operator_::scheduler
