#include "zenith/operator/placer.h"

#include <algorithm>
#include <charconv>

#include "zenith/operator/reconcile.h"
#include "zenith/operator/workers.h"

namespace zenith::operator_ {

namespace {

// zenith.ai/gpu is a whole-number extended resource: "8" or 8.
int64_t GpuQuantity(const Json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return 0;
  const std::string& s = v.get_ref<const std::string&>();
  int64_t n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

bool NodeSchedulable(const Json& node) {
  if (Child(node, "spec").value("unschedulable", false)) return false;
  for (const auto& c : Child(Child(node, "status"), "conditions"))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

}  // namespace

int64_t PodGpuRequest(const Json& pod) {
  int64_t total = 0;
  for (const auto& c : Child(Child(pod, "spec"), "containers")) {
    const Json& res = Child(c, "resources");
    const Json& req = Child(res, "requests");
    const Json& lim = Child(res, "limits");
    if (req.contains(kGpuResource)) {
      total += GpuQuantity(req[kGpuResource]);
    } else if (lim.contains(kGpuResource)) {
      total += GpuQuantity(lim[kGpuResource]);
    }
  }
  return total;
}

GangMember MemberOf(const Json& pod) {
  GangMember m;
  m.pod = Child(pod, "metadata").value("name", "");
  m.gpus = PodGpuRequest(pod);
  const Json selector = Child(Child(pod, "spec"), "nodeSelector");
  for (auto& [k, v] : selector.items())
    if (v.is_string()) m.node_selector[k] = v.get<std::string>();
  return m;
}

PodUsage UsageOf(const Json& pod) {
  PodUsage u;
  const Json& md = Child(pod, "metadata");
  u.key = md.value("namespace", "") + "/" + md.value("name", "");
  u.uid = md.value("uid", "");
  u.node = PodNode(pod);
  u.gpus = PodGpuRequest(pod);
  std::string phase = PodPhase(pod);
  u.active = phase != "Succeeded" && phase != "Failed";
  return u;
}

std::vector<NodeCapacity> BuildNodeCapacity(const std::vector<Json>& nodes,
                                            const std::vector<PodUsage>& pods) {
  std::map<std::string, int64_t> used;
  for (const auto& p : pods)
    if (!p.node.empty() && p.active) used[p.node] += p.gpus;
  std::vector<NodeCapacity> out;
  for (const auto& n : nodes) {
    NodeCapacity c;
    const Json& md = Child(n, "metadata");
    c.name = md.value("name", "");
    const Json labels = Child(md, "labels");
    for (auto& [k, v] : labels.items())
      if (v.is_string()) c.labels[k] = v.get<std::string>();
    const Json& alloc = Child(Child(n, "status"), "allocatable");
    c.allocatable_gpus = alloc.contains(kGpuResource) ? GpuQuantity(alloc[kGpuResource]) : 0;
    c.used_gpus = used.count(c.name) ? used[c.name] : 0;
    c.schedulable = NodeSchedulable(n);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const NodeCapacity& a, const NodeCapacity& b) { return a.name < b.name; });
  return out;
}

Result<Assignment> FirstFitPlacer::Place(const GangRequest& gang,
                                         const std::vector<NodeCapacity>& nodes) {
  std::vector<int64_t> free;
  for (const auto& n : nodes) free.push_back(n.Free());
  auto excluded = [&](const std::string& name) {
    const auto& ex = gang.topology.excluded_nodes;
    return std::find(ex.begin(), ex.end(), name) != ex.end();
  };
  Assignment out;
  int64_t needed = 0, largest = 0, usable = 0;
  for (const auto& m : gang.members) needed += m.gpus;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].schedulable || excluded(nodes[i].name)) continue;
    ++usable;
    largest = std::max(largest, free[i]);
  }
  for (const auto& m : gang.members) {
    bool placed = false;
    for (size_t i = 0; i < nodes.size() && !placed; ++i) {
      const NodeCapacity& n = nodes[i];
      if (!n.schedulable || excluded(n.name) || free[i] < m.gpus) continue;
      bool match = true;
      for (const auto& [k, v] : m.node_selector) {
        auto it = n.labels.find(k);
        match = match && it != n.labels.end() && it->second == v;
      }
      if (!match) continue;
      free[i] -= m.gpus;
      out[m.pod] = n.name;
      placed = true;
    }
    if (!placed) {
      return ResourceExhaustedError(
          "gang " + gang.job + " does not fit: pod " + m.pod + " needs " + std::to_string(m.gpus) +
          " zenith.ai/gpu (" + std::to_string(gang.members.size()) + " pods, " +
          std::to_string(needed) + " GPUs in all); " + std::to_string(usable) +
          " schedulable nodes, the freest has " + std::to_string(largest));
    }
  }
  return out;
}

}  // namespace zenith::operator_
