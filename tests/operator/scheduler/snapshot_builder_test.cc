#include "zenith/operator/scheduler/snapshot_builder.h"

#include <gtest/gtest.h>

#include "scheduler_fixtures.h"
#include "zenith/operator/scheduler/cycle.h"
#include "zenith/operator/scheduler/kube_convert.h"

namespace zenith::operator_::scheduler {
namespace {

using nlohmann::json;

json NodeJson(const std::string& name) {
  return {{"metadata", {{"name", name}}},
          {"status",
           {{"allocatable",
             {{"zenith.ai/gpu", "8"}, {"cpu", "200"}, {"memory", "2Ti"}, {"pods", "110"}}},
            {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

json WorkerPod(const std::string& job, int rank, const std::string& node, const std::string& gpus) {
  return {
      {"metadata",
       {{"namespace", "ml"},
        {"name", job + "-" + std::to_string(rank)},
        {"labels", {{"zenith.ai/job", job}}},
        {"annotations", {{"zenith.ai/gpu-indices", gpus}}}}},
      {"spec",
       {{"nodeName", node},
        {"containers",
         json::array({{{"name", "t"},
                       {"resources", {{"requests", {{"zenith.ai/gpu", "4"}, {"cpu", "8"}}}}}}})}}},
      {"status", {{"phase", "Running"}}}};
}

json ZenithJob(const std::string& name, int replicas, int gpus, int priority, bool preemptible) {
  return {{"metadata",
           {{"namespace", "ml"}, {"name", name}, {"creationTimestamp", "2026-11-27T06:00:00Z"}}},
          {"spec",
           {{"replicas", replicas},
            {"gpusPerReplica", gpus},
            {"topology", {{"nvlink", "Required"}}},
            {"scheduling",
             {{"queue", "team-a"}, {"priority", priority}, {"preemptible", preemptible}}}}}};
}

TEST(SnapshotBuilderTest, FromInformerObjectsToAPlacement) {
  SnapshotObjects o;
  o.nodes = ShareObjects(
      {NodeJson("dgx-a"), NodeJson("dgx-b"),
       json{{"metadata", {{"name", "broken"}}}, {"status", {{"allocatable", {{"cpu", "x"}}}}}}});
  const auto& dgx1 = testing::Fixture("dgx1-v100.yaml");
  o.zenith_nodes =
      ShareObjects({{{"metadata", {{"name", "dgx-a"}}},
                     {"status", {{"topology", deviceplugin::TopologyToJson(dgx1)}}}},
                    {{"metadata", {{"name", "dgx-b"}}}, {"status", {{"topology", "garbage"}}}}});
  o.pods = ShareObjects(
      {WorkerPod("old", 0, "dgx-a", "0,1,2,3"), WorkerPod("old", 1, "dgx-b", "0,1,2,3")});
  o.queues = ShareObjects(
      {{{"metadata", {{"name", "team-a"}}}, {"spec", {{"weight", 2}, {"gpuQuota", 32}}}}});
  o.running_jobs = ShareObjects({ZenithJob("old", 2, 4, 1, true)});
  o.pending_jobs = ShareObjects({ZenithJob("new", 1, 4, 5, false)});
  BuiltSnapshot b = BuildSnapshot(o, common::WallTime(std::chrono::hours(1)));

  ASSERT_EQ(b.problems.size(), 2u);  // the broken node and dgx-b's topology
  EXPECT_NE(b.problems[0].find("node broken"), std::string::npos) << b.problems[0];
  EXPECT_NE(b.problems[1].find("zenithnode dgx-b"), std::string::npos) << b.problems[1];
  const Snapshot& s = b.snapshot;
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_TRUE(s.nodes[0].topology.has_value());
  EXPECT_FALSE(s.nodes[1].topology.has_value());
  EXPECT_EQ(s.nodes[0].taken_gpus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(s.nodes[0].requested.gpus, 4);
  ASSERT_EQ(s.running.size(), 1u);
  EXPECT_EQ(s.running[0].key, "ml/old");
  EXPECT_EQ(s.running[0].queue, "team-a");
  EXPECT_TRUE(s.running[0].preemptible);
  EXPECT_EQ(s.running[0].TotalGpus(), 8);
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_EQ(s.queues[0].gpu_quota, 32);
  ASSERT_EQ(s.pending.size(), 1u);

  // The new job needs an NVLink-connected 4-set: only dgx-a's other quad qualifies.
  CycleResult r = RunCycle(s);
  ASSERT_EQ(r.placed.size(), 1u);
  EXPECT_EQ(r.placed[0].pods[0].node, "dgx-a");
  EXPECT_EQ(r.placed[0].pods[0].gpus, (std::vector<int>{4, 5, 6, 7}));
}

TEST(SnapshotBuilderTest, QueueErrorsNameTheField) {
  auto bad = QueueFromJson({{"metadata", {{"name", "q"}}}, {"spec", {{"weight", 0}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("zenithqueue q: spec.weight"), std::string::npos)
      << bad.status();
  auto q = QueueFromJson({{"metadata", {{"name", "q"}}}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->weight, 1);
  EXPECT_FALSE(q->gpu_quota.has_value());
}

TEST(SnapshotBuilderTest, TopologyCacheParsesEachZenithNodeObjectOnce) {
  const auto& dgx1 = testing::Fixture("dgx1-v100.yaml");
  auto zn = [&](const std::string& name) {
    return json{{"metadata", {{"name", name}}},
                {"status", {{"topology", deviceplugin::TopologyToJson(dgx1)}}}};
  };
  SnapshotObjects o;
  o.nodes = ShareObjects({NodeJson("a"), NodeJson("b"), NodeJson("c")});
  o.zenith_nodes = ShareObjects(
      {zn("a"), zn("b"), {{"metadata", {{"name", "c"}}}, {"status", {{"topology", "garbage"}}}}});
  const common::WallTime now(std::chrono::hours(1));
  TopologyCache cache;
  BuiltSnapshot fresh = BuildSnapshot(o, now);
  BuiltSnapshot first = BuildSnapshot(o, now, &cache);
  BuiltSnapshot second = BuildSnapshot(o, now, &cache);
  EXPECT_EQ(cache.parses(), 3u);  // once each, the bad one included
  for (const BuiltSnapshot* b : {&first, &second}) {
    EXPECT_EQ(b->problems, fresh.problems);
    ASSERT_EQ(b->snapshot.nodes.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(b->snapshot.nodes[i].topology.has_value(),
                fresh.snapshot.nodes[i].topology.has_value());
      if (!fresh.snapshot.nodes[i].topology) continue;
      EXPECT_EQ(deviceplugin::TopologyToJson(*b->snapshot.nodes[i].topology),
                deviceplugin::TopologyToJson(*fresh.snapshot.nodes[i].topology));
    }
  }
  // An updated ZenithNode is a new object: parsed again; a deleted one is forgotten.
  o.zenith_nodes[2] = ShareObjects({zn("c")})[0];
  o.zenith_nodes.erase(o.zenith_nodes.begin());
  BuiltSnapshot third = BuildSnapshot(o, now, &cache);
  EXPECT_EQ(cache.parses(), 4u);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(third.problems.empty());
  EXPECT_FALSE(third.snapshot.nodes[0].topology.has_value());
  EXPECT_TRUE(third.snapshot.nodes[2].topology.has_value());
}

}  // namespace
}  // namespace zenith::operator_::scheduler
