#include "zenith/operator/gang/cycle_inputs.h"

#include <gtest/gtest.h>

namespace zenith::operator_::gang {
namespace {

Json Job(const std::string& name, int replicas, const std::string& phase = "Pending") {
  return {{"apiVersion", "zenith.ai/v1alpha1"},
          {"kind", "ZenithJob"},
          {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", "u-" + name}}},
          {"spec", {{"replicas", replicas}, {"gpusPerReplica", 2}}},
          {"status", {{"phase", phase}}}};
}

Json Pod(const std::string& job, int rank, const std::string& node = "",
         const std::string& scheduler = "zenith") {
  Json p = {{"metadata",
             {{"name", job + "-" + std::to_string(rank)},
              {"namespace", "ns"},
              {"uid", "p-" + job + std::to_string(rank)},
              {"labels", {{"zenith.ai/job", job}, {"zenith.ai/rank", std::to_string(rank)}}}}},
            {"spec", {{"schedulerName", scheduler}, {"containers", Json::array()}}},
            {"status", {{"phase", "Pending"}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

TEST(SortCycleInputs, WholeUnboundGangWaitsInRankOrder) {
  std::vector<Json> jobs = {Job("a", 3)};
  std::vector<Json> pods = {Pod("a", 2), Pod("a", 0), Pod("a", 1)};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  ASSERT_EQ(in.objects.pending_jobs.size(), 1u);
  ASSERT_EQ(in.gang_pods["ns/a"].size(), 3u);
  EXPECT_EQ(in.gang_pods["ns/a"][0].name, "a-0");
  EXPECT_EQ(in.gang_pods["ns/a"][2].name, "a-2");
  EXPECT_EQ(in.gang_pods["ns/a"][1].uid, "p-a1");
}

TEST(SortCycleInputs, GangWithMissingWorkersIsNotPlacedYet) {
  std::vector<Json> jobs = {Job("a", 3)};
  std::vector<Json> pods = {Pod("a", 0), Pod("a", 1)};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  EXPECT_TRUE(in.objects.pending_jobs.empty());
  EXPECT_TRUE(in.gang_pods.empty());
}

TEST(SortCycleInputs, MinAvailableIsEnough) {
  Json job = Job("a", 4);
  job["spec"]["minAvailable"] = 2;
  std::vector<Json> jobs = {job};
  std::vector<Json> pods = {Pod("a", 3), Pod("a", 1)};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  ASSERT_EQ(in.objects.pending_jobs.size(), 1u);
  EXPECT_EQ(in.gang_pods["ns/a"][0].name, "a-1");
}

TEST(SortCycleInputs, BoundGangRunsAndOtherSchedulersPodsAreLeftAlone) {
  std::vector<Json> jobs = {Job("a", 2), Job("b", 1)};
  std::vector<Json> pods = {Pod("a", 0, "n1"), Pod("a", 1, "n2"),
                            Pod("b", 0, "", "default-scheduler")};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  EXPECT_TRUE(in.objects.pending_jobs.empty());
  ASSERT_EQ(in.objects.running_jobs.size(), 1u);
  EXPECT_EQ((*in.objects.running_jobs[0])["metadata"]["name"], "a");
}

TEST(SortCycleInputs, UnboundPodsOfARunningGangArePlacedBesideIt) {
  // A replacement for rank 1 and a worker beyond minAvailable (rank 3) of a running gang.
  Json job = Job("a", 4);
  job["spec"]["minAvailable"] = 2;
  std::vector<Json> jobs = {job};
  std::vector<Json> pods = {Pod("a", 3), Pod("a", 0, "n1"), Pod("a", 1), Pod("a", 2, "n2")};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  ASSERT_EQ(in.objects.running_jobs.size(), 1u);
  ASSERT_EQ(in.objects.pending_jobs.size(), 1u);
  EXPECT_EQ(in.objects.partial_pods["ns/a"], 2);
  ASSERT_EQ(in.gang_pods["ns/a"].size(), 2u);
  EXPECT_EQ(in.gang_pods["ns/a"][0].name, "a-1");
  EXPECT_EQ(in.gang_pods["ns/a"][1].name, "a-3");

  // Not while the gang is being taken down (an eviction or a gang restart).
  pods[1]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  EXPECT_TRUE(in.objects.pending_jobs.empty());
  EXPECT_TRUE(in.objects.partial_pods.empty());
}

TEST(SortCycleInputs, AssumedPodsCountWhereTheyWereBound) {
  std::vector<Json> jobs = {Job("a", 2)};
  std::vector<Json> pods = {Pod("a", 0), Pod("a", 1)};
  std::map<std::string, AssumedPod> assumed = {{"ns/a-0", {"n1", {0, 1}}},
                                               {"ns/a-1", {"n2", {4, 5}}}};
  CycleInputs in = SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {},
                                   scheduler::ShareObjects(jobs), assumed);
  EXPECT_TRUE(in.objects.pending_jobs.empty());
  ASSERT_EQ(in.objects.running_jobs.size(), 1u);
  ASSERT_EQ(in.objects.pods.size(), 2u);
  EXPECT_EQ((*in.objects.pods[1])["spec"]["nodeName"], "n2");
  EXPECT_EQ((*in.objects.pods[1])["metadata"]["annotations"]["zenith.ai/gpu-indices"], "4,5");
}

TEST(SortCycleInputs, FinishedSuspendedAndDeletedJobsAreNotPlaced) {
  Json suspended = Job("s", 1);
  suspended["spec"]["runPolicy"] = {{"suspend", true}};
  Json deleted = Job("d", 1);
  deleted["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  std::vector<Json> jobs = {Job("f", 1, "Failed"), suspended, deleted};
  std::vector<Json> pods = {Pod("f", 0), Pod("s", 0), Pod("d", 0)};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  EXPECT_TRUE(in.objects.pending_jobs.empty());
}

TEST(SortCycleInputs, DeletingPodMarksGangTerminating) {
  std::vector<Json> jobs = {Job("a", 1)};
  Json pod = Pod("a", 0, "n1");
  pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  std::vector<Json> pods = {pod};
  CycleInputs in =
      SortCycleInputs({}, {}, scheduler::ShareObjects(pods), {}, scheduler::ShareObjects(jobs), {});
  EXPECT_TRUE(in.terminating["ns/a"]);
}

TEST(FormatGpuIndices, CommaSeparated) {
  EXPECT_EQ(FormatGpuIndices({0, 1, 2, 3}), "0,1,2,3");
  EXPECT_EQ(FormatGpuIndices({}), "");
}

}  // namespace
}  // namespace zenith::operator_::gang
