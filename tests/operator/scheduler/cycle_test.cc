#include "zenith/operator/scheduler/cycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "scheduler_fixtures.h"
#include "zenith/deviceplugin/gpu_set.h"

namespace zenith::operator_::scheduler {
namespace {

using namespace testing;

TEST(CycleTest, GangIsAllOrNothing) {
  Snapshot s;
  for (const char* n : {"a", "b", "c"}) s.nodes.push_back(MachineNode(n));
  s.pending = {Gang("ns/big", 4, 8)};
  CycleResult r = RunCycle(s);
  EXPECT_TRUE(r.placed.empty());
  const WaitingJob* w = Waiting(r, "ns/big");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->reason, WaitReason::kInsufficientGpus);
  EXPECT_NE(w->message.find("needs 4 pods × 8 GPUs"), std::string::npos) << w->message;
  EXPECT_NE(w->message.find("3 nodes have a free 8-set (room for 3 pods)"), std::string::npos)
      << w->message;

  // A smaller gang behind it still fits: one cycle does not let the big one hold anything.
  s.pending.push_back(Gang("ns/three", 3, 8));
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/three"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/three")).size(), 3u);
  EXPECT_EQ(Placed(r, "ns/big"), nullptr);
  ExpectNoOverCommit(s, r);
}

TEST(CycleTest, ManyJobsInOneCycleNeverOverCommit) {
  Snapshot s;
  std::mt19937 rng(7);
  const char* machines[] = {"dgx-h100.yaml", "dgx1-v100.yaml", "pcie-4gpu-2numa.yaml",
                            "single-h100.yaml"};
  for (int i = 0; i < 24; ++i) {
    Node n = MachineNode("n" + std::to_string(i), machines[i % 4]);
    if (i % 5 == 0 && n.topology->gpus.size() > 2) Take(n, {0, 1});
    n.allocatable.cpu_millis = 64'000;
    s.nodes.push_back(std::move(n));
  }
  for (int j = 0; j < 120; ++j) {
    const int gpus = std::vector<int>{0, 1, 2, 4, 8}[rng() % 5];
    const NvlinkPolicy nv =
        gpus >= 2 && rng() % 3 == 0 ? NvlinkPolicy::kRequired : NvlinkPolicy::kPreferred;
    JobRequest job = Gang("ns/j" + std::to_string(j), 1 + static_cast<int>(rng() % 4), gpus, nv);
    job.topology.placement = rng() % 2 ? PlacementPolicy::kPack : PlacementPolicy::kSpread;
    s.pending.push_back(job);
  }
  CycleResult r = RunCycle(s);
  EXPECT_GT(r.placed.size(), 10u);
  EXPECT_EQ(r.placed.size() + r.waiting.size(), s.pending.size());
  ExpectNoOverCommit(s, r);
  // NVLink-required pods got connected sets on machines that have them.
  for (const auto& p : r.placed) {
    const JobRequest& j = *std::find_if(s.pending.begin(), s.pending.end(),
                                        [&](const JobRequest& x) { return x.key == p.job; });
    if (j.topology.nvlink != NvlinkPolicy::kRequired) continue;
    for (const auto& pod : p.pods) {
      const Node& n = *std::find_if(s.nodes.begin(), s.nodes.end(),
                                    [&](const Node& x) { return x.name == pod.node; });
      auto score = deviceplugin::GpuSetChooser::Create(*n.topology)->Score(pod.gpus);
      ASSERT_TRUE(score.ok());
      EXPECT_TRUE(score->fully_connected) << p.job << " on " << pod.node;
    }
  }
}

TEST(CycleTest, NvlinkRequirementOnDgx1) {
  // The DGX-1V's hybrid cube-mesh has no fully connected set beyond the two quads.
  Snapshot s;
  s.nodes = {MachineNode("dgx1", "dgx1-v100.yaml")};
  s.pending = {Gang("ns/eight", 1, 8, NvlinkPolicy::kRequired)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/eight"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/eight")->reason, WaitReason::kNoConnectedSet)
      << Waiting(r, "ns/eight")->message;
  EXPECT_EQ(Waiting(r, "ns/eight")->message,
            "needs 1 pod × 8 NVLink-connected GPUs; all 1 node eligible; 0 nodes have a free "
            "NVLink-connected 8-set (room for 0 pods); 1 node has enough free GPUs, not "
            "NVLink-connected; queue default uses 0 GPUs");

  s.pending = {Gang("ns/quads", 2, 4, NvlinkPolicy::kRequired)};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/quads"), nullptr);
  std::set<std::vector<int>> sets;
  for (const auto& pod : Placed(r, "ns/quads")->pods) sets.insert(pod.gpus);
  EXPECT_EQ(sets, (std::set<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));

  // With GPUs 0 and 4 taken no connected 4-set is left, though six GPUs are free: the pod
  // goes to the other machine; Preferred would have stayed.
  Take(s.nodes[0], {0, 4});
  s.nodes.push_back(MachineNode("h100", "dgx-h100.yaml"));
  s.pending = {Gang("ns/four", 1, 4, NvlinkPolicy::kRequired)};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/four"), nullptr);
  EXPECT_EQ(Placed(r, "ns/four")->pods[0].node, "h100");
  // Without NVLink or NUMA wishes, best fit takes the fragmented machine (6 free before 8);
  // asking for NUMA alignment alone moves it again (each DGX-1 socket has only 3 free).
  s.pending = {Gang("ns/four", 1, 4, NvlinkPolicy::kNone)};
  s.pending[0].topology.numa_aligned = false;
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/four"), nullptr);
  EXPECT_EQ(Placed(r, "ns/four")->pods[0].node, "dgx1");
  s.pending[0].topology.numa_aligned = true;
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/four"), nullptr);
  EXPECT_EQ(Placed(r, "ns/four")->pods[0].node, "h100");
}

TEST(CycleTest, PackUsesFewestNodesSpreadUsesMost) {
  Snapshot s;
  for (const char* n : {"a", "b", "c", "d"}) s.nodes.push_back(MachineNode(n));
  JobRequest pack = Gang("ns/pack", 4, 2);
  s.pending = {pack};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/pack"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/pack")).size(), 1u);

  JobRequest spread = Gang("ns/spread", 4, 2);
  spread.topology.placement = PlacementPolicy::kSpread;
  s.pending = {spread};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/spread"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/spread")).size(), 4u);

  // Spread is a preference: six pods on four nodes still place.
  spread.pods = 6;
  s.pending = {spread};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/spread"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/spread")).size(), 4u);
  ExpectNoOverCommit(s, r);
}

TEST(CycleTest, PackBestFitKeepsWholeNodesFree) {
  Snapshot s;
  s.nodes = {MachineNode("a"), MachineNode("b"), MachineNode("c")};
  Take(s.nodes[1], {0, 1, 2, 3, 4, 5});  // b has 2 free
  Take(s.nodes[2], {0, 1, 2, 3});        // c has 4 free
  s.pending = {Gang("ns/two", 1, 2), Gang("ns/four", 1, 4)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/two"), nullptr);
  ASSERT_NE(Placed(r, "ns/four"), nullptr);
  EXPECT_EQ(Placed(r, "ns/two")->pods[0].node, "b");
  EXPECT_EQ(Placed(r, "ns/four")->pods[0].node, "c");
  // Best fit left one node whole: 8 free GPUs, none of them fragmented.
  EXPECT_EQ(r.stats.pods_placed, 2);
  EXPECT_EQ(r.stats.gpus_placed, 6);
  EXPECT_EQ(r.stats.free_gpus, 8);
  EXPECT_EQ(r.stats.free_gpus_fragmented, 0);
  // Two pods of 4 = 8 GPUs: the whole empty node rather than splitting.
  s.pending = {Gang("ns/pair", 2, 4)};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/pair"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/pair")), (std::set<std::string>{"a"}));
}

TEST(CycleTest, SharedLabelDomain) {
  Snapshot s;
  s.nodes = {MachineNode("a1", "dgx-h100.yaml", {{"rack", "r1"}}),
             MachineNode("a2", "dgx-h100.yaml", {{"rack", "r1"}}),
             MachineNode("b1", "dgx-h100.yaml", {{"rack", "r2"}}),
             MachineNode("b2", "dgx-h100.yaml", {{"rack", "r2"}}),
             MachineNode("b3", "dgx-h100.yaml", {{"rack", "r2"}}),
             MachineNode("x", "dgx-h100.yaml")};  // no rack label
  JobRequest j = Gang("ns/rack", 3, 8);
  j.topology.same_node_label = "rack";
  s.pending = {j};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/rack"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/rack")), (std::set<std::string>{"b1", "b2", "b3"}));

  // Four free nodes in all, but no rack has three: the gang waits and says why.
  Take(s.nodes[3], {0});
  r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/rack"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/rack")->reason, WaitReason::kNoSharedDomain);
  EXPECT_NE(Waiting(r, "ns/rack")->message.find("no single rack value"), std::string::npos)
      << Waiting(r, "ns/rack")->message;
}

TEST(CycleTest, RestOfAPartlyBoundGangJoinsItsDomain) {
  Snapshot s;
  s.nodes = {MachineNode("a1", "dgx-h100.yaml", {{"rack", "r1"}}),
             MachineNode("a2", "dgx-h100.yaml", {{"rack", "r1"}}),
             MachineNode("b1", "dgx-h100.yaml", {{"rack", "r2"}}),
             MachineNode("b2", "dgx-h100.yaml", {{"rack", "r2"}}),
             MachineNode("b3", "dgx-h100.yaml", {{"rack", "r2"}})};
  // Rank 0 and 1 of a 3-pod rack gang run on a1 in r1; rank 2's replacement is the rest.
  // r2 is the tighter fit (best fit would pick it for a fresh job) but the rest joins r1.
  AddRunning(s, "ns/rack", 0, false, {{"a1", {0, 1, 2, 3}}, {"a1", {4, 5, 6, 7}}});
  Take(s.nodes[2], {0, 1, 2, 3});
  Take(s.nodes[3], {0, 1, 2, 3, 4, 5, 6, 7});
  Take(s.nodes[4], {0, 1, 2, 3, 4, 5, 6, 7});
  JobRequest rest = Gang("ns/rack", 1, 4);
  rest.topology.same_node_label = "rack";
  rest.bound_nodes = {"a1", "a1"};
  s.pending = {rest};
  JobRequest fresh = rest;
  fresh.bound_nodes.clear();
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/rack"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/rack")), (std::set<std::string>{"a2"}));
  ExpectNoOverCommit(s, r);
  s.pending = {fresh};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/rack"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/rack")), (std::set<std::string>{"b1"}));

  // Two more 8-GPU pods do not fit in r1: the rest waits rather than leave the domain.
  rest.pods = 2;
  rest.per_pod.gpus = 8;
  s.pending = {rest};
  r = RunCycle(s);
  EXPECT_EQ(Placed(r, "ns/rack"), nullptr);
  ASSERT_NE(Waiting(r, "ns/rack"), nullptr);

  // Pack without a required label: the bound pods' rack is preferred, not required.
  s.running.clear();
  for (Node& n : s.nodes) n = MachineNode(n.name, "dgx-h100.yaml", n.labels);
  SchedulerOptions racks;
  racks.pack_domain_labels = {"rack"};
  AddRunning(s, "ns/pack", 0, false, {{"b1", {0, 1, 2, 3, 4, 5, 6, 7}}});
  JobRequest more = Gang("ns/pack", 2, 8);
  more.bound_nodes = {"b1"};
  s.pending = {more};
  r = RunCycle(s, racks);
  ASSERT_NE(Placed(r, "ns/pack"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/pack")), (std::set<std::string>{"b2", "b3"}));
  more.pods = 3;  // r2 has room for two more: the rest goes anywhere
  s.pending = {more};
  r = RunCycle(s, racks);
  ASSERT_NE(Placed(r, "ns/pack"), nullptr);
  EXPECT_EQ(Placed(r, "ns/pack")->pods.size(), 3u);
  ExpectNoOverCommit(s, r);
}

TEST(CycleTest, PackPrefersOneRackWithoutBeingAsked) {
  Snapshot s;
  s.nodes = {MachineNode("a", "dgx-h100.yaml", {{"topology.kubernetes.io/rack", "r1"}}),
             MachineNode("b", "dgx-h100.yaml", {{"topology.kubernetes.io/rack", "r2"}}),
             MachineNode("c", "dgx-h100.yaml", {{"topology.kubernetes.io/rack", "r2"}})};
  s.pending = {Gang("ns/two", 2, 8)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/two"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/two")), (std::set<std::string>{"b", "c"}));
  SchedulerOptions no_domains;
  no_domains.pack_domain_labels.clear();
  r = RunCycle(s, no_domains);
  ASSERT_NE(Placed(r, "ns/two"), nullptr);
  EXPECT_EQ(NodesOf(*Placed(r, "ns/two")), (std::set<std::string>{"a", "b"}));
}

TEST(CycleTest, NumaAlignedSetPreferredOverTighterFit) {
  Snapshot s;
  s.nodes = {MachineNode("p1", "pcie-4gpu-2numa.yaml"), MachineNode("p2", "pcie-4gpu-2numa.yaml")};
  Take(s.nodes[0], {0, 3});  // p1: GPUs 1 (NUMA 0) and 2 (NUMA 1) free
  Take(s.nodes[1], {2});     // p2: 0 and 1 on NUMA 0, 3 on NUMA 1
  s.pending = {Gang("ns/pair", 1, 2)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/pair"), nullptr);
  EXPECT_EQ(Placed(r, "ns/pair")->pods[0].node, "p2");
  EXPECT_EQ(Placed(r, "ns/pair")->pods[0].gpus, (std::vector<int>{0, 1}));
  s.pending[0].topology.numa_aligned = false;
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/pair"), nullptr);
  EXPECT_EQ(Placed(r, "ns/pair")->pods[0].node, "p1");  // best fit wins without the preference
}

TEST(CycleTest, FiltersPreferredAndExcludedNodes) {
  Snapshot s;
  s.nodes = {MachineNode("a"), MachineNode("b"), MachineNode("c")};
  s.nodes[0].taints = {{"maintenance", "", "NoSchedule"}};
  s.nodes[1].labels["pool"] = "infer";
  JobRequest j = Gang("ns/j", 1, 1);
  j.node_selector = {{"pool", "train"}};
  s.pending = {j};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/j"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/j")->reason, WaitReason::kNoEligibleNodes);
  EXPECT_NE(Waiting(r, "ns/j")->message.find("node selector 3"), std::string::npos)
      << Waiting(r, "ns/j")->message;

  j.node_selector.clear();
  j.topology.excluded_nodes = {"b"};
  j.topology.preferred_nodes = {"c"};
  s.pending = {j};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/j"), nullptr);
  EXPECT_EQ(Placed(r, "ns/j")->pods[0].node, "c");
  j.topology.preferred_nodes.clear();
  j.topology.excluded_nodes = {"b", "c"};
  s.pending = {j};
  r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/j"), nullptr);
  EXPECT_NE(Waiting(r, "ns/j")->message.find("untolerated taint 1"), std::string::npos)
      << Waiting(r, "ns/j")->message;
  EXPECT_NE(Waiting(r, "ns/j")->message.find("excluded 2"), std::string::npos);
  j.tolerations = {{"maintenance", "Exists", "", ""}};
  s.pending = {j};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/j"), nullptr);
  EXPECT_EQ(Placed(r, "ns/j")->pods[0].node, "a");
}

TEST(CycleTest, NodesWithoutTopologyAndCpuOnlyPods) {
  Snapshot s;
  Node bare;
  bare.name = "bare";
  bare.allocatable = {8, 32'000, int64_t{256} << 30, 110};
  s.nodes = {bare};
  s.pending = {Gang("ns/two-by-four", 2, 4), Gang("ns/linked", 1, 2, NvlinkPolicy::kRequired),
               Gang("ns/cpu", 3, 0)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/two-by-four"), nullptr);
  std::set<int> all;
  for (const auto& pod : Placed(r, "ns/two-by-four")->pods)
    all.insert(pod.gpus.begin(), pod.gpus.end());
  EXPECT_EQ(all.size(), 8u);
  ASSERT_NE(Waiting(r, "ns/linked"), nullptr);
  // 3 CPU pods of 4 CPUs fit beside the GPU pods (8 + 12 = 20 of 32 CPUs); a fourth would not.
  ASSERT_NE(Placed(r, "ns/cpu"), nullptr);
  EXPECT_TRUE(Placed(r, "ns/cpu")->pods[0].gpus.empty());
  // Seven CPU pods (ordered first by key) take 28 of 32 CPUs: the 8 free GPUs are no use to a
  // gang that also needs 8 CPUs.
  s.pending = {Gang("ns/two-by-four", 2, 4), Gang("ns/cpu", 7, 0)};
  r = RunCycle(s);
  ASSERT_NE(Placed(r, "ns/cpu"), nullptr);
  ASSERT_NE(Waiting(r, "ns/two-by-four"), nullptr);
  EXPECT_EQ(Waiting(r, "ns/two-by-four")->reason, WaitReason::kInsufficientCpuMemory)
      << Waiting(r, "ns/two-by-four")->message;
  ExpectNoOverCommit(s, r);
}

TEST(CycleTest, UnhealthyGpusAreNeverChosen) {
  Snapshot s;
  s.nodes = {MachineNode("a")};
  for (int g = 0; g < 6; ++g) s.nodes[0].topology->gpus[g].healthy = false;
  s.pending = {Gang("ns/four", 1, 4), Gang("ns/two", 1, 2)};
  CycleResult r = RunCycle(s);
  ASSERT_NE(Waiting(r, "ns/four"), nullptr);
  ASSERT_NE(Placed(r, "ns/two"), nullptr);
  EXPECT_EQ(Placed(r, "ns/two")->pods[0].gpus, (std::vector<int>{6, 7}));
}

TEST(CycleTest, SameInputSamePlacement) {
  Snapshot s;
  std::mt19937 rng(11);
  for (int i = 0; i < 40; ++i) {
    Node n = MachineNode("n" + std::to_string(i), i % 3 ? "dgx-h100.yaml" : "dgx1-v100.yaml",
                         {{"rack", "r" + std::to_string(i % 5)}});
    if (i % 4 == 1) Take(n, {static_cast<int>(rng() % 8)});
    s.nodes.push_back(std::move(n));
  }
  for (int j = 0; j < 60; ++j) {
    JobRequest job = Gang("ns/j" + std::to_string(j), 1 + static_cast<int>(rng() % 6),
                          std::vector<int>{1, 2, 4, 8}[rng() % 4]);
    job.priority = static_cast<int32_t>(rng() % 3);
    if (j % 7 == 0) job.topology.same_node_label = "rack";
    s.pending.push_back(job);
  }
  const CycleResult a = RunCycle(s);
  // The same cluster listed in another order gives the same answer.
  Snapshot shuffled = s;
  std::shuffle(shuffled.nodes.begin(), shuffled.nodes.end(), rng);
  std::shuffle(shuffled.pending.begin(), shuffled.pending.end(), rng);
  const CycleResult b = RunCycle(shuffled);
  ASSERT_EQ(a.placed.size(), b.placed.size());
  for (size_t i = 0; i < a.placed.size(); ++i) {
    EXPECT_EQ(a.placed[i].job, b.placed[i].job);
    EXPECT_EQ(a.placed[i].pods, b.placed[i].pods) << a.placed[i].job;
  }
  ASSERT_EQ(a.waiting.size(), b.waiting.size());
  for (size_t i = 0; i < a.waiting.size(); ++i) {
    EXPECT_EQ(a.waiting[i].job, b.waiting[i].job);
    EXPECT_EQ(a.waiting[i].message, b.waiting[i].message);
  }
  ExpectNoOverCommit(s, a);
}

}  // namespace
}  // namespace zenith::operator_::scheduler
