// Synthetic clusters for the scheduler tests: GPU nodes built from the machine fixtures of
// examples/topologies/, and gang requests in one line.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "device-plugin/example_topologies.h"
#include "zenith/operator/scheduler/cycle.h"

namespace zenith::operator_::scheduler::testing {

inline const deviceplugin::NodeTopology& Fixture(const std::string& file) {
  static std::map<std::string, deviceplugin::NodeTopology> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, deviceplugin::fixtures::LoadTopology(file)).first;
  return it->second;
}

// A node of the fixture's machine type, empty: all GPUs free, 200 CPUs, 2 TiB, 110 pods.
inline Node MachineNode(const std::string& name, const std::string& file = "dgx-h100.yaml",
                        std::map<std::string, std::string> labels = {}) {
  Node n;
  n.name = name;
  n.topology = Fixture(file);
  n.allocatable = {static_cast<int64_t>(n.topology->gpus.size()), 200'000, int64_t{2} << 40, 110};
  n.labels = std::move(labels);
  return n;
}

// Marks GPUs taken on a node, as pods bound there would.
inline void Take(Node& n, std::vector<int> gpus) {
  for (int g : gpus) n.taken_gpus.push_back(g);
  n.requested.gpus += static_cast<int64_t>(gpus.size());
  n.requested.pods += 1;
}

// A running gang of `pods` pods with the given GPUs, counted on its nodes.
inline void AddRunning(Snapshot& s, const std::string& key, int32_t priority, bool preemptible,
                       std::vector<PodPlacement> pods, const std::string& queue = "default") {
  RunningJob r;
  r.key = key;
  r.queue = queue;
  r.priority = priority;
  r.preemptible = preemptible;
  r.per_pod = {static_cast<int64_t>(pods.at(0).gpus.size()), 4000, int64_t{32} << 30, 1};
  r.pods = std::move(pods);
  for (const auto& pod : r.pods) {
    for (Node& n : s.nodes) {
      if (n.name != pod.node) continue;
      n.taken_gpus.insert(n.taken_gpus.end(), pod.gpus.begin(), pod.gpus.end());
      n.requested += r.per_pod;
    }
  }
  s.running.push_back(std::move(r));
}

inline JobRequest Gang(const std::string& key, int pods, int gpus_per_pod,
                       NvlinkPolicy nvlink = NvlinkPolicy::kPreferred) {
  JobRequest j;
  j.key = key;
  j.pods = pods;
  j.per_pod = {gpus_per_pod, 4000, int64_t{32} << 30, 1};
  j.topology.nvlink = nvlink;
  return j;
}

inline const JobPlacement* Placed(const CycleResult& r, const std::string& key) {
  for (const auto& p : r.placed) {
    if (p.job == key) return &p;
  }
  return nullptr;
}

inline const WaitingJob* Waiting(const CycleResult& r, const std::string& key) {
  for (const auto& w : r.waiting) {
    if (w.job == key) return &w;
  }
  return nullptr;
}

inline std::set<std::string> NodesOf(const JobPlacement& p) {
  std::set<std::string> out;
  for (const auto& pod : p.pods) out.insert(pod.node);
  return out;
}

// Every GPU handed out at most once per node, counting what was already taken, and no node's
// CPU, memory or pods beyond allocatable. Fails the calling test otherwise.
inline void ExpectNoOverCommit(const Snapshot& s, const CycleResult& r) {
  std::map<std::string, const Node*> nodes;
  for (const Node& n : s.nodes) nodes[n.name] = &n;
  std::map<std::string, std::set<int>> gpus;
  std::map<std::string, Resources> used;
  for (const Node& n : s.nodes) {
    gpus[n.name].insert(n.taken_gpus.begin(), n.taken_gpus.end());
    used[n.name] = n.requested;
  }
  std::map<std::string, const JobRequest*> jobs;
  for (const JobRequest& j : s.pending) jobs[j.key] = &j;
  auto account = [&](const std::string& key, const std::vector<PodPlacement>& pods) {
    const JobRequest& j = *jobs.at(key);
    ASSERT_EQ(static_cast<int>(pods.size()), j.pods) << key << ": partial gang";
    for (const auto& pod : pods) {
      ASSERT_TRUE(nodes.count(pod.node)) << pod.node;
      EXPECT_EQ(static_cast<int64_t>(pod.gpus.size()), j.per_pod.gpus) << key;
      for (int g : pod.gpus) {
        EXPECT_TRUE(gpus[pod.node].insert(g).second)
            << key << " reuses GPU " << g << " on " << pod.node;
      }
      Resources r = j.per_pod;
      r.pods = 1;
      used[pod.node] += r;
    }
  };
  for (const auto& p : r.placed) account(p.job, p.pods);
  // Jobs placed now must not touch what victims still hold; nominated jobs get it once the
  // victims are gone.
  for (const auto& p : r.preemptions) {
    for (const std::string& victim : p.victims) {
      for (const RunningJob& run : s.running) {
        if (run.key != victim) continue;
        for (const auto& pod : run.pods) {
          for (int g : pod.gpus) gpus[pod.node].erase(g);
          Resources req = run.per_pod;
          req.pods = 1;
          used[pod.node] -= req;
        }
      }
    }
  }
  for (const auto& p : r.preemptions) account(p.job, p.nominated);
  for (const auto& [name, u] : used) {
    const Resources& a = nodes.at(name)->allocatable;
    EXPECT_LE(u.gpus, a.gpus) << name;
    EXPECT_LE(u.cpu_millis, a.cpu_millis) << name;
    EXPECT_LE(u.memory_bytes, a.memory_bytes) << name;
    EXPECT_LE(u.pods, a.pods) << name;
  }
}

}  // namespace zenith::operator_::scheduler::testing
