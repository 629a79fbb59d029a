// A cycle at cluster scale: 1000 nodes and 500 gangs, checked for correctness; its time is
// printed for the record, never asserted (speed goals live in bench/).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <random>

#include "scheduler_fixtures.h"
#include "zenith/operator/scheduler/cycle.h"

namespace zenith::operator_::scheduler {
namespace {

using namespace testing;

// With `running`, every other node runs a preemptible priority-0 gang on half its GPUs
// instead of the random single GPUs, so higher-priority jobs search for victims.
Snapshot ScaleSnapshot(int nodes, int jobs, uint32_t seed, bool running = false) {
  Snapshot s;
  std::mt19937 rng(seed);
  const char* machines[] = {"dgx-h100.yaml", "dgx-h100.yaml", "dgx1-v100.yaml",
                            "pcie-4gpu-2numa.yaml"};
  for (int i = 0; i < nodes; ++i) {
    Node n = MachineNode("node-" + std::to_string(100000 + i), machines[i % 4],
                         {{"topology.kubernetes.io/rack", "rack-" + std::to_string(i / 32)}});
    // A third of the nodes run something already: fragmentation to work around.
    if (!running && i % 3 == 0) Take(n, {static_cast<int>(rng() % n.topology->gpus.size())});
    s.nodes.push_back(std::move(n));
  }
  for (int i = 1; running && i < nodes; i += 2) {
    const int half = static_cast<int>(s.nodes[i].topology->gpus.size()) / 2;
    std::vector<int> gpus;
    for (int g = half; g < 2 * half; ++g) gpus.push_back(g);
    AddRunning(s, "low/run-" + std::to_string(i), 0, true, {{s.nodes[i].name, gpus}});
  }
  s.queues = {{"team-a", 2, std::nullopt}, {"team-b", 1, std::nullopt}, {"team-c", 1, 2000}};
  const char* queues[] = {"team-a", "team-b", "team-c", "default"};
  for (int j = 0; j < jobs; ++j) {
    JobRequest job = Gang("ns/job-" + std::to_string(j), 1 + static_cast<int>(rng() % 16),
                          std::vector<int>{1, 2, 4, 8}[rng() % 4]);
    job.queue = queues[rng() % 4];
    job.priority = static_cast<int32_t>(rng() % 3);
    job.created = common::WallTime(std::chrono::seconds(j));
    if (job.per_pod.gpus >= 2 && rng() % 2) job.topology.nvlink = NvlinkPolicy::kRequired;
    if (rng() % 3 == 0) job.topology.placement = PlacementPolicy::kSpread;
    s.pending.push_back(job);
  }
  s.now = common::WallTime(std::chrono::seconds(jobs));
  return s;
}

void TimeCycle(int nodes, int jobs, bool running = false) {
  const Snapshot s = ScaleSnapshot(nodes, jobs, 42, running);
  const auto start = std::chrono::steady_clock::now();
  const CycleResult r = RunCycle(s);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "scheduler cycle: " << nodes << " nodes x " << jobs << " jobs: " << ms << " ms, "
            << r.placed.size() << " placed, " << r.waiting.size() << " waiting, "
            << r.stats.gpus_placed << " GPUs placed, " << r.stats.free_gpus << " free of which "
            << r.stats.free_gpus_fragmented << " on partly used nodes, " << r.preemptions.size()
            << " preemptions\n";
  ::testing::Test::RecordProperty("cycle_ms", std::to_string(ms));
  EXPECT_EQ(r.placed.size() + r.waiting.size(), s.pending.size());
  EXPECT_GT(r.placed.size(), 0u);
  ExpectNoOverCommit(s, r);
}

TEST(CycleScaleTest, ThousandNodesFiveHundredJobs) { TimeCycle(1000, 500); }
TEST(CycleScaleTest, FiveThousandNodesTwoThousandJobs) { TimeCycle(5000, 2000); }
TEST(CycleScaleTest, ThousandNodesWithPreemptibleGangs) { TimeCycle(1000, 500, true); }

}  // namespace
}  // namespace zenith::operator_::scheduler
